#!/bin/bash
# ctest "kube: podman kube play ...": a real consumer of isoctl export kube.
#
#   tests/kube/podman-play.sh BUILD_DIR
#
# Builds a tiny image (busybox-static's httpd serving one page, its Entrypoint and a Cmd
# that the app's args replace, and the curl podman runs an httpGet probe with -- podman
# turns a livenessProbe into a healthcheck that runs "curl -f URL" inside the container
# -- made from busybox's wget) as an OCI layout with umoci, packed as an oci-archive
# with skopeo. Then, in a mount and network namespace of its own (no traffic leaves
# it; podman-play-inner.sh): loads that SAME archive into the image store of a test
# isolated daemon (isoctl image load; its run, state and log dirs in the temp dir, its
# cgroups under a root of its own) and into a podman store of the test's own (podman
# load); exports an image app (rootfs type image, no command: the image's Entrypoint
# with the app's args) WITHOUT --image, and once with --pin, whose digest must be the
# one podman sees; runs podman kube play of each with runc (crun refuses this
# machine's hybrid cgroups), a CNI bridge whose config and IPAM state live in the temp
# dir, and podman's own pause image built from catatonit; curls the host port, runs
# the liveness healthcheck and reads its state, and podman kube down. Podman's root,
# runroot, tmpdir, events and network config are in the temp dir; podman system reset,
# the daemon's stop, removing its cgroup root and rm of the temp dir leave nothing
# behind.
# Exit 0 when every check passed, 1 when one failed, 77 (skip) when a prerequisite is
# missing, unless ISOLATED_REQUIRE_ALL=1, where a missing prerequisite fails.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: podman-play.sh BUILD_DIR}" && pwd)

skip() {
  if [ "${ISOLATED_REQUIRE_ALL:-0}" = 1 ]; then echo "FAIL: missing prerequisite: $*"; exit 1; fi
  echo "SKIP: missing prerequisite: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "root"
for c in podman runc umoci skopeo unshare curl; do command -v $c >/dev/null || skip "$c (scripts/install-deps.sh)"; done
[ -x /usr/libexec/podman/catatonit ] || [ -x /usr/bin/catatonit ] || skip "catatonit (podman's pause image)"
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
[ -x "$BUSYBOX" ] || skip "busybox-static"
for b in isoctl isolated isolated-init; do [ -x "$BUILD/$b" ] || skip "$BUILD/$b (build the project first)"; done

W=$(mktemp -d /tmp/isolated-kube-podman.XXXXXX)
CGROOT=isolated-kube-podman-$$
cleanup() {
  # The inner script took podman's pod and store down and stopped the daemon; what
  # could remain are mounts under the temp dir (only in the namespace, gone with it),
  # the daemon's cgroup root (it removes it itself when it stops cleanly) and the files.
  local root
  for root in /sys/fs/cgroup/*/"$CGROOT" /sys/fs/cgroup/"$CGROOT"; do
    [ -d "$root" ] || continue
    for _ in $(seq 50); do
      find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
      find "$root" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$root" ] || break
      sleep 0.1
    done
  done
  rm -rf "$W"
}
trap cleanup EXIT

# ---- the image ----------------------------------------------------------------------
set -e
umoci init --layout "$W/oci" >/dev/null
umoci new --image "$W/oci:httpd" >/dev/null
# The image's own program: httpd, with a Cmd the app's args replace (port 8000 would
# serve nothing on 80: the page through the host port shows the args won).
umoci config --image "$W/oci:httpd" --config.entrypoint /bin/busybox --config.entrypoint httpd \
  --config.entrypoint -f --config.cmd -p --config.cmd 8000 --config.cmd -h --config.cmd /www >/dev/null
umoci unpack --image "$W/oci:httpd" "$W/bundle" >/dev/null
R=$W/bundle/rootfs
mkdir -p "$R/bin" "$R/www" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for applet in sh wget cat; do ln -s busybox "$R/bin/$applet"; done
cat >"$R/bin/curl" <<'EOF'
#!/bin/sh
# podman kube play runs an httpGet probe as "curl -f URL"; busybox has wget.
# Podman 4.3 writes the probe's scheme as it is ("HTTP://"), which curl reads and
# wget does not: lower-case it.
for a; do url=$a; done
case $url in [Hh][Tt][Tt][Pp]://*) url="http://${url#*://}" ;; esac
exec /bin/busybox wget -q -O /dev/null "$url"
EOF
chmod 755 "$R/bin/curl"
echo "served by an exported isolated app" >"$R/www/index.html"
umoci repack --image "$W/oci:httpd" "$W/bundle" >/dev/null
skopeo copy -q "oci:$W/oci:httpd" "oci-archive:$W/httpd.tar:localhost/isolated-kube-httpd:1"
set +e

# ---- the app (exported inside, once its image is in the daemon's store) ----------------
# An image app: no command (the image's Entrypoint), args replacing its Cmd, a
# read-only root.
mkdir -p "$W/apps"
cat >"$W/apps/web.json" <<'EOF'
{
  "rootfs": {"type": "image", "image": "localhost/isolated-kube-httpd:1", "writable": "readonly"},
  "args": ["-p", "80", "-h", "/www"],
  "network": {"ports": [{"host": 8080, "app": 80}]},
  "probes": {"liveness": {"http": {"port": 80, "path": "/index.html"}, "period": "2s", "timeout": "1s"}}
}
EOF
touch "$W/started"

# libcni keeps its results cache in /var/lib/cni/results (not configurable in podman
# 4.3); the entries go with the pod, the directories are removed when this test made them.
made_cni=
[ -e /var/lib/cni ] || made_cni=1
# With cgroupfs podman puts pods under libpod_parent in every hierarchy and leaves the
# empty directories: the ones this test made are removed after it.
cgroups_before=$(find /sys/fs/cgroup/*/libpod_parent -type d 2>/dev/null | sort)
unshare --net --mount --propagation private bash "$HERE/podman-play-inner.sh" "$W" "$BUILD" "$CGROOT"
rc=$?
if [ -n "$made_cni" ]; then rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null; fi
comm -13 <(echo "$cgroups_before") <(find /sys/fs/cgroup/*/libpod_parent -type d 2>/dev/null | sort) |
  sort -r | while read -r d; do rmdir "$d" 2>/dev/null || { echo "FAIL: cannot remove cgroup $d"; }; done
left=$(comm -13 <(echo "$cgroups_before") <(find /sys/fs/cgroup/*/libpod_parent -type d 2>/dev/null | sort))
[ -z "$left" ] || { echo "FAIL: cgroups left: $left"; rc=1; }
# Nothing of podman's may remain outside the temp dir (its default places).
for p in /var/lib/containers/storage /run/containers/storage /var/lib/cni/networks /var/lib/cni/results; do
  if [ -e "$p" ] && find "$p" -newer "$W/started" -print -quit 2>/dev/null | grep -q .; then
    echo "FAIL: podman left something in $p"
    rc=1
  fi
done
exit $rc
