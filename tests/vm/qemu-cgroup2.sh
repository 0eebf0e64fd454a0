#!/bin/bash
# A vendored copy of a qemu recipe (its guest side is in guest/ and src/ beside this file)
# so that CI on a fresh clone can run the cgroup v2 tests on a real v2 kernel; the
# ctest entry "integration: cgroup v2 with controllers, for real in a qemu guest" uses --run.
# qemu-cgroup2.sh -- real cgroup v2 WITH controllers (cpu, memory, pids, io) on this host, via
# qemu-system-x86_64 under TCG (no /dev/kvm here) booting Debian's 6.1 kernel.
#
# PROVES (inside the guest): pure cgroup2 with +cpu +memory +pids +io in subtree_control;
#   memory.max OOM-kills (memory.events oom_kill), cpu.max throttles (cpu.stat nr_throttled),
#   pids.max blocks forks (pids.events max), cgroup.freeze / cgroup.kill, clone3(CLONE_INTO_CGROUP)
#   into a controller-enabled cgroup, netns+veth+bridge+nftables with a ping across, userns+overlayfs.
#   --mode systemd additionally boots the host's own systemd 252 as PID 1 on pure cgroup v2
#   (switch_root from the initramfs), runs the test as a Delegate=yes service, and checks that
#   systemd-run -p MemoryMax= is ENFORCED, CPUQuota/TasksMax land in cpu.max/pids.max, a
#   Type=notify unit enables --now, journald gets structured fields.
# HOW: the guest's root is the HOST's / exported read-only over virtio-9p (-virtfs, implemented in
#   qemu userspace; the host kernel has no 9p and needs none) with a tmpfs overlay on top, so every
#   host binary (ip, nft, gcc-built test programs, systemd) is usable in the guest unchanged.
#   Results come back through a second, writable 9p share ($W/share/results.txt).
#   Kernel: Debian's linux-image-6.1.0-*-amd64, apt-get download + dpkg-deb -x into $CACHE
#   (no install, no update-initramfs, /boot untouched). initramfs: busybox-static + 11 modules.
# TIME (2 vCPU TCG on the 2-core host, measured): --mode script: full probe 43-52 s, `--run true` 12 s;
#   --mode systemd: boot 16-27 s, `--run true` 36-45 s, full probe 75-150 s (load-dependent).
#   First run adds: apt-get install qemu-system-x86 busybox-static cpio (14 s, 28 MB) + kernel
#   apt-get download + dpkg-deb -x (7 s) + initramfs build (1 s); both cached in $CACHE.
# USAGE: bash tests/vm/qemu-cgroup2.sh [--mode script|systemd] [--run 'CMD'] [--keep]
#   default: runs guest/guest-test.sh (the probe; ends "N passed, N failed")
#   --run CMD: runs `sh -c CMD` in the guest instead (cwd = the caller's cwd, seen through the
#              read-only 9p root + tmpfs overlay, so a build tree is visible and writable-but-discarded);
#              its output is printed and its exit status becomes this script's exit status.
#              In --mode systemd CMD runs as a Delegate=yes transient service (envlab-run) once
#              the boot has finished (is-system-running=running).
set -u
MODE=script KEEP=0 RUN=
while [ $# -gt 0 ]; do case "$1" in --mode) MODE=$2; shift 2;; --run) RUN=$2; shift 2;; --keep) KEEP=1; shift;; *) echo "bad arg $1" >&2; exit 2;; esac; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${ENVLAB_CACHE:-/var/cache/envlab}
T0=$(date +%s.%N); el() { printf '%.1f' "$(echo "$(date +%s.%N) - ${1:-$T0}" | bc)"; }

# ---- 1. packages ----------------------------------------------------------------------------------
need=""; command -v qemu-system-x86_64 >/dev/null || need="$need qemu-system-x86"
[ -x /bin/busybox ] || need="$need busybox-static"
command -v cpio >/dev/null || need="$need cpio"
command -v depmod >/dev/null || need="$need kmod"          # not in the base image; guest uses host's modprobe too
command -v nft >/dev/null || need="$need nftables"
command -v ping >/dev/null || need="$need iputils-ping"
if [ -n "$need" ]; then t=$(date +%s.%N); apt-get install -y --no-install-recommends $need >/dev/null || exit 2; echo "INFO: apt-get install$need: $(el $t)s"; fi

# ---- 2. guest kernel (extracted, not installed) -----------------------------------------------------
mkdir -p "$CACHE"
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { echo "FAIL: cannot resolve linux-image-amd64 (run apt-get update first)"; exit 2; }
KV=${KPKG#linux-image-}; KDIR=$CACHE/kernel-$KV
if [ ! -f "$KDIR/boot/vmlinuz-$KV" ]; then
  t=$(date +%s.%N); rm -rf "$KDIR.tmp"; mkdir -p "$KDIR.tmp"
  (cd "$KDIR.tmp" && apt-get download "$KPKG" >/dev/null 2>&1 && dpkg-deb -x ./*.deb . && rm -f ./*.deb) || { echo "FAIL: kernel download"; exit 2; }
  depmod -b "$KDIR.tmp" "$KV" 2>/dev/null; mv "$KDIR.tmp" "$KDIR"; echo "INFO: kernel $KPKG downloaded+extracted: $(el $t)s"
fi
VMLINUZ=$KDIR/boot/vmlinuz-$KV

# ---- 3. initramfs (cached) ----------------------------------------------------------------------------
INITRD=$CACHE/initrd-$KV.gz
if [ ! -f "$INITRD" ] || [ "$HERE/guest/initramfs-init.sh" -nt "$INITRD" ]; then
  t=$(date +%s.%N); IR=$(mktemp -d); mkdir -p "$IR"/{bin,dev,proc,sys,newroot}
  cp /bin/busybox "$IR/bin/busybox"; cp "$HERE/guest/initramfs-init.sh" "$IR/init"; chmod +x "$IR/init"
  : > "$IR/modules.list"
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$KDIR" -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    rel=${ko#$KDIR/}; mkdir -p "$IR/$(dirname "$rel")"; cp "$KDIR/$rel" "$IR/$rel"; echo "$rel" >> "$IR/modules.list"
  done
  (cd "$IR" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$INITRD.tmp") && mv "$INITRD.tmp" "$INITRD"; rm -rf "$IR"
  echo "INFO: initramfs built ($(du -h "$INITRD" | cut -f1)): $(el $t)s"
fi

# ---- 4. share with the test + probes -------------------------------------------------------------------
W=$(mktemp -d /tmp/envlab-qemu.XXXXXX); S=$W/share; mkdir -p "$S"
cleanup() { [ -n "${QPID:-}" ] && kill "$QPID" 2>/dev/null; [ "$KEEP" = 1 ] || rm -rf "$W"; }
trap cleanup EXIT
if [ -n "$RUN" ]; then
  printf '%s\n' "$RUN" > "$S/cmd.sh"
  { echo '#!/bin/sh'; echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    printf 'cd %q 2>/dev/null || cd /\n' "$PWD"; echo 'sh /envlab/cmd.sh; echo "ENVLAB_EXIT=$?"'; } > "$S/guest-test.sh"
else cp "$HERE/guest/guest-test.sh" "$S/"; fi
chmod +x "$S/guest-test.sh"
gcc -O2 -static -o "$S/pidfd_clone3" "$HERE/src/pidfd_clone3.c" 2>/dev/null || echo "INFO: no pidfd probe (gcc failed)"
if [ "$MODE" = systemd ]; then
  [ -f /usr/include/systemd/sd-daemon.h ] || apt-get install -y --no-install-recommends libsystemd-dev pkg-config >/dev/null
  gcc -O2 -o "$S/notifyd" "$HERE/src/notifyd.c" $(pkg-config --cflags --libs libsystemd) || echo "INFO: notifyd build failed"
fi

# ---- 5. boot ------------------------------------------------------------------------------------------
APPEND="console=ttyS0 panic=-1 quiet loglevel=3 envlab.mode=$MODE envlab.kmod=$KDIR/lib/modules"
[ "$MODE" = systemd ] && APPEND="$APPEND systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
echo "INFO: booting $KV under TCG, mode=$MODE"
TB=$(date +%s.%N)
timeout 580 qemu-system-x86_64 -machine pc -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
  -display none -monitor none -serial stdio -no-reboot -nic none \
  -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$S",mount_tag=envlab,security_model=none,multidevs=remap \
  < /dev/null > "$W/console.log" 2>&1 &
QPID=$!; wait $QPID; QRC=$?; QPID=
echo "INFO: qemu exited rc=$QRC after $(el "$TB")s (boot->poweroff); total $(el)s"
grep -a 'ENVLAB:' "$W/console.log" | sed 's/^/INFO: console: /'
if [ -s "$S/results.txt" ]; then cat "$S/results.txt"; else echo "FAIL: no results; console tail:"; tail -30 "$W/console.log"; echo "0 passed, 1 failed"; exit 1; fi
[ "$KEEP" = 1 ] && echo "INFO: kept $W (console.log, share/)"
if [ -n "$RUN" ]; then x=$(sed -n 's/^ENVLAB_EXIT=//p' "$S/results.txt" | tail -1); exit "${x:-1}"; fi
tail -1 "$S/results.txt" | grep -q ', 0 failed' 
