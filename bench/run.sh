#!/bin/bash
# Runs every benchmark and writes bench/RESULTS.md (tables of medians and ratios,
# measured in the same run). As root, on the machine to measure; takes about 5 minutes
# (plus the build).
#
#   bash bench/run.sh              full run -> bench/RESULTS.md
#   QUICK=1 bash bench/run.sh      smoke run (few rounds, 10 apps) -> bench/RESULTS.quick.md
#   ROUNDS=N  OUT=FILE  NO_BUILD=1 override the rounds of the start benchmark, the output
#                                  file, and skip install-deps + build
#
# Nothing here touches the machine's own network: every benchmark that makes a bridge,
# a veth, a netns or an nftables table runs inside `unshare --net` (the start benchmark
# also in a private mount namespace with its own tmpfs on /run, for `ip netns`). The
# cgroups all live under one subtree, isolated-bench-<pid of this script>, which the
# trap below empties (kill by PID) and removes however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root" >&2; exit 2; }
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-5}; FWD_ROUNDS=200; FWD_EDITS=10; DAEMON_ARGS=(--quick)
    out=${OUT:-bench/RESULTS.quick.md}
else
    ROUNDS=${ROUNDS:-60}; FWD_ROUNDS=2000; FWD_EDITS=50; DAEMON_ARGS=()
    out=${OUT:-bench/RESULTS.md}
fi
if [ "${NO_BUILD:-0}" != 1 ]; then
    bash scripts/install-deps.sh
    if ! command -v bwrap >/dev/null; then apt-get install -y -qq bubblewrap >/dev/null; fi
    bash scripts/build.sh >/dev/null
fi

cgroot=isolated-bench-$$
remove_cgroups() {
    local round dir pid
    for round in 1 2 3 4 5 6 7 8 9 10; do
        local left=0
        for dir in $(find /sys/fs/cgroup/*/"$cgroot" -depth -type d 2>/dev/null); do
            while read -r pid; do kill -9 "$pid" 2>/dev/null || true; left=1; done < "$dir/cgroup.procs"
            rmdir "$dir" 2>/dev/null || left=1
        done
        [ "$left" = 0 ] && return 0
        sleep 0.1
    done
    echo "bench/run.sh: could not remove every cgroup under $cgroot" >&2
}
trap remove_cgroups EXIT
trap 'exit 130' INT TERM

tmp_out=$(mktemp)
{
  echo "# Benchmark results"
  echo
  echo "Measured by \`bench/run.sh\`$([ "$QUICK" = 1 ] && echo ' (QUICK=1: smoke run, too few rounds to read)') on $(date -u +%Y-%m-%d), $(nproc) CPUs, kernel $(uname -r)."
  echo "Peers run interleaved with each other in one loop; ratios are to a reference measured in"
  echo "the same run (absolute times move with machine load, ratios much less)."
  echo
  echo "## Sandbox start -> exit"
  echo
  echo "$ROUNDS rounds; ratios to a plain fork+exec of /bin/true in the same loop. Each start waits 50 ms"
  echo "first, so that the previous sandbox's network namespace teardown (asynchronous in the kernel)"
  echo "does not land on it (ours and the peers' alike)."
  echo
  # In a network and mount namespace of its own: the networked sandbox makes a bridge
  # and a table; the seed script makes netns (mounted under the private /run) and veths.
  BENCH_NETWORK=1 unshare --net --mount --propagation private -- \
    sh -c 'mount -t tmpfs -o size=1M,mode=755 isolated-bench /run && ip link set lo up && exec "$0" "$@"' \
    build/isolated-bench-start --rounds "$ROUNDS" \
    --peer "unshare --fork --pid --mount --uts --ipc --net --mount-proc true=unshare --fork --pid --mount --uts --ipc --net --mount-proc true" \
    --peer "bwrap --unshare-all (ro / bind, /proc, /dev)=bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev true" \
    --peer "seed design's bash script (bench/seed-approach.sh: ip netns + veth on the bridge + cgroups + unshare + chroot, teardown)=bash bench/seed-approach.sh $cgroot isobench0"
  echo
  # Only figures measured here go into RESULTS.md: crun would need an OCI bundle (and a
  # host it accepts), which bench/ does not build.
  if command -v crun >/dev/null; then echo "crun: installed but not measured (bench/ builds no OCI bundle for it)"; else
    echo "crun: not measured (not installed)"; fi
  echo
  echo "## Port forwards: 10 vs 10,000 in the map"
  echo
  echo "One bridged sandbox serving HTTP on :80 with the forward 18080 -> 80; a client in another"
  echo "netns behind a veth (so it comes in through prerouting, like another machine). Each"
  echo "connection is connect + \`GET /\` + answer + close; forward and no-NAT (the app's address"
  echo "directly) alternate in one loop of $FWD_ROUNDS rounds. Add/remove one forward = the"
  echo "nftables transaction the daemon runs ($FWD_EDITS times each)."
  echo
  BENCH_OWN_NETNS=1 unshare --net -- sh -c 'ip link set lo up && exec "$0" "$@"' \
    build/isolated-bench-forward --rounds "$FWD_ROUNDS" --edits "$FWD_EDITS" || echo "(forward benchmark failed)"
  echo
  build/isolated-bench-daemon --build build --cgroup-root "$cgroot" "${DAEMON_ARGS[@]}" || echo "(daemon benchmark failed)"
  echo
  echo "## Image apps (issue 14)"
  echo
  echo "Start -> exit of an image app against a directory-rootfs app over the same tree, alternating"
  echo "in one loop; load of one oci-archive by isolated, \`skopeo copy\` (to oci: and to containers-storage,"
  echo "which is podman load's work) and \`umoci unpack\`; pull of the same image from docker-registry on"
  echo "127.0.0.1 (in the bench's own network namespace) by isolated and \`skopeo copy\` (to oci: and to"
  echo "containers-storage, podman pull's work); each alternating in one loop, each run followed by sync"
  echo "(bench/image_bench.cpp). Goals: start ratio <= 1.05x; load and pull at least as fast as the faster"
  echo "of the peers."
  echo
  build/isolated-bench-image --rounds "$([ "$QUICK" = 1 ] && echo 5 || echo 60)" \
    --load-rounds "$([ "$QUICK" = 1 ] && echo 1 || echo 5)" || echo "(image benchmark failed)"
  echo
  echo "## Daemon start -> every app adopted"
  echo
  echo "50 bridged apps run; the daemon is killed with SIGKILL and started again (in the same"
  echo "network namespace), $([ "$QUICK" = 1 ] && echo 2 || echo 5) times; from the new daemon's exec to the API listing all 50"
  echo "ready with their old pids and no restart counted (bench/adoption.sh; target < 1 s)."
  echo
  echo "| measurement | rounds | median | max | |"
  echo "|---|---:|---:|---:|---|"
  ROUNDS=$([ "$QUICK" = 1 ] && echo 2 || echo 5) bash bench/adoption.sh 50 || echo "(adoption benchmark failed)"
} | tee "$tmp_out"
cp "$tmp_out" "$out"
rm -f "$tmp_out"
echo "bench/run.sh: wrote $out" >&2
