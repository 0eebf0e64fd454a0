#!/bin/bash
# The seed design's way to start a sandbox, as a peer of isolated's own start path:
# `ip netns add`, a veth into it (host end on the bridge), addresses, cgroup dirs with
# limits, then `ip netns exec` + `unshare` (pid, mount, uts, ipc, /proc) + chroot to run
# `true`, and the teardown (veth, netns, cgroups). One `ip` / `mkdir` / `echo` per step,
# as a shell script does it.
#
#   seed-approach.sh CGROUP_PARENT [BRIDGE]
#
# bench/run.sh runs it ONLY inside the benchmark's own `unshare --net --mount` with a
# private tmpfs on /run: the netns, the veth and the /run/netns mounts exist only there,
# never on the machine's own network. CGROUP_PARENT is the bench's own cgroup subtree
# (run.sh removes it at the end).
set -eu
cg_parent=${1:?usage: seed-approach.sh CGROUP_PARENT [BRIDGE]}
bridge=${2:-}
id=seed$$
cg_dirs=()
for c in cpu memory pids; do cg_dirs+=("/sys/fs/cgroup/$c/$cg_parent/$id"); done

teardown() {
    ip link del "v$id" 2>/dev/null || true
    ip netns del "$id" 2>/dev/null || true
    for d in "${cg_dirs[@]}"; do rmdir "$d" 2>/dev/null || true; done
}
trap teardown EXIT

# Network: a netns, a veth pair (host end on the bridge), an address, routes.
ip netns add "$id"
ip link add "v$id" type veth peer name eth0 netns "$id"
if [ -n "$bridge" ]; then ip link set "v$id" master "$bridge"; fi
ip link set "v$id" up
ip -n "$id" link set lo up
ip -n "$id" addr add "10.101.$((RANDOM % 250)).$((RANDOM % 250 + 2))/16" dev eth0
ip -n "$id" link set eth0 up
ip -n "$id" route add default dev eth0

# Resources: one directory per controller, with limits.
for d in "${cg_dirs[@]}"; do mkdir -p "$d"; done
echo 50000 > "${cg_dirs[0]}/cpu.cfs_quota_us"
echo $((512 << 20)) > "${cg_dirs[1]}/memory.limit_in_bytes"
echo 512 > "${cg_dirs[2]}/pids.max"

# The app: enter the cgroups first (ip netns exec remounts /sys, hiding the cgroup
# mounts), then the netns, then the other namespaces and the root.
(
    for d in "${cg_dirs[@]}"; do echo "$BASHPID" > "$d/cgroup.procs"; done
    exec ip netns exec "$id" unshare --fork --pid --mount --uts --ipc --mount-proc chroot / true
)
# The script's own shell is in the cgroups no more (only the subshell moved): teardown
# can rmdir them once `true` has exited.
