#!/bin/bash
# Daemon start -> every app adopted (issue 7; target < 1 s with 50 apps): N bridged apps
# run under a daemon; the daemon is killed with SIGKILL and started again, ROUNDS times;
# each round measures from the new daemon's exec to the API listing all N apps ready
# with their old pids and no restart counted. Prints one markdown table row.
#
#   bash bench/adoption.sh [N]        (as root, after scripts/build.sh)
#
# Everything runs in a network namespace of its own (bridge, veths and the nftables
# table live there); the trap stops the daemon (which stops the apps), deletes the
# namespace and the cgroups, and removes the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
ROUNDS=${ROUNDS:-5}
B=$PWD/build
W=$(mktemp -d /tmp/isolated-bench-adopt.XXXXXX)
NS=isolated-bench-adopt-$$
CG=isolated-bench-adopt-$$
DPID=

cleanup() {
  set +e
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
    kill -TERM "$DPID"
    for _ in $(seq 300); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DPID" 2>/dev/null
  fi
  # Apps left by a daemon that could not stop them: everything in our cgroups.
  for h in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
    [ -d "$h" ] || continue
    find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  sleep 0.3
  for h in /sys/fs/cgroup/*/"$CG" /sys/fs/cgroup/"$CG"; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W/apps" "$W/run" "$W/state" "$W/log"
: >"$W/isolated.conf"
for i in $(seq "$N"); do
  printf '{"command": ["sleep", "1000000"], "stop": {"timeout": "2s"}}\n' >"$W/apps/app$i.json"
done
ip netns add "$NS"
ip -n "$NS" link set lo up

start_daemon() {
  nsenter --net=/run/netns/"$NS" -- "$B/isolated" --config "$W/isolated.conf" --apps-dir "$W/apps" \
    --run-dir "$W/run" --state-dir "$W/state" --log-dir "$W/log" --cgroup-root "$CG" --log-driver file \
    >>"$W/daemon.log" 2>&1 &
  DPID=$!
}
# "<ready count> <pid list>" from the API (empty until it answers).
snapshot() {
  curl -s --max-time 2 --unix-socket "$W/run/isolated.sock" http://x/v1/apps 2>/dev/null |
    python3 -c 'import json,sys
a = json.load(sys.stdin)["apps"]
print(sum(x["state"] == "ready" and x["restarts"] == 0 for x in a), " ".join(str(x["pid"]) for x in a))' 2>/dev/null || true
}
# Fast poll: just count "ready" in the listing.
ready_count() {
  curl -s --max-time 2 --unix-socket "$W/run/isolated.sock" http://x/v1/apps 2>/dev/null |
    grep -o '"state": *"ready"' | wc -l
}

start_daemon
for _ in $(seq 600); do [ "$(ready_count)" = "$N" ] && break; sleep 0.1; done
[ "$(ready_count)" = "$N" ] || { echo "bench/adoption.sh: $N apps did not become ready" >&2; tail -5 "$W/daemon.log" >&2; exit 1; }
before=$(snapshot)

times=()
for r in $(seq "$ROUNDS"); do
  kill -KILL "$DPID"
  wait "$DPID" 2>/dev/null || true
  t0=$(date +%s%N)
  start_daemon
  until [ "$(ready_count)" = "$N" ]; do sleep 0.005; done
  t1=$(date +%s%N)
  after=$(snapshot)
  [ "$after" = "$before" ] || { echo "bench/adoption.sh: round $r: apps changed: $after vs $before" >&2; exit 1; }
  times+=($(( (t1 - t0) / 1000000 )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
max=$(echo "$sorted" | tail -1)
rss=$(awk '/VmRSS/ { print $2 }' /proc/"$DPID"/status)
echo "| daemon start -> $N running apps adopted (kill -9, start; same pids, 0 restarts) | $ROUNDS | ${median} ms | ${max} ms | daemon RSS ${rss} kB |"
