#!/bin/bash
# Runs every benchmark and writes bench/RESULTS.md (one table of medians and ratios,
# measured in the same run). As root, on the machine to measure; takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root" >&2; exit 2; }
bash scripts/install-deps.sh
if ! command -v bwrap >/dev/null; then apt-get install -y -qq bubblewrap >/dev/null; fi
bash scripts/build.sh >/dev/null
ROUNDS=${ROUNDS:-100}
out=bench/RESULTS.md
{
  echo "# Benchmark results"
  echo
  echo "Measured by \`bench/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) CPUs, kernel $(uname -r)."
  echo "Each peer runs interleaved with the others in one loop of $ROUNDS rounds; ratios are to a plain"
  echo "fork+exec of /bin/true measured in the same loop (absolute times move with machine load)."
  echo
  echo "## Sandbox start -> exit"
  echo
  # In a network namespace of its own: the networked sandbox makes a bridge and a table.
  BENCH_NETWORK=1 unshare --net -- sh -c 'ip link set lo up && exec "$0" "$@"' build/isolated-bench-start --rounds "$ROUNDS" \
    --peer "unshare --fork --pid --mount --uts --ipc --net --mount-proc true=unshare --fork --pid --mount --uts --ipc --net --mount-proc true" \
    --peer "bwrap --unshare-all (ro / bind, /proc, /dev)=bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev true"
  echo
  if command -v crun >/dev/null; then echo "crun: installed but not measured (needs a bundle)"; else
    echo "crun: not measured (refuses to run on this hybrid-cgroup machine; ../shared/reference/peer-baselines.md: 6.7x)"; fi
} | tee "$out"
