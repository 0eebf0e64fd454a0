#!/bin/bash
# The part of podman-play.sh that runs inside its own mount and network namespace.
# Usage: podman-play-inner.sh WORKDIR BUILD_DIR CGROUP_ROOT (httpd.tar and apps/ in WORKDIR)
set -uo pipefail
W=$1 BUILD=$2 CGROOT=$3
ip link set lo up

mkdir -p "$W/cni" "$W/tmp"
cat >"$W/cni/isokube.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "isokube", "plugins": [
  {"type": "bridge", "bridge": "isokube0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}],
            "ranges": [[{"subnet": "10.89.7.0/24", "gateway": "10.89.7.1"}]], "dataDir": "$W/cni-ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF
# Podman raises RLIMIT_NOFILE and RLIMIT_NPROC to 1048576 for root's containers; where
# the test runs under a lower hard limit without CAP_SYS_RESOURCE (in a container),
# runc is refused. Ask for our open-files limit and 4096 tasks (measured: asking for
# the full RLIMIT_NPROC hard limit is refused there too).
cat >"$W/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/events.log"
tmp_dir = "$W/tmp"
[network]
network_backend = "cni"
network_config_dir = "$W/cni"
default_network = "isokube"
EOF
export CONTAINERS_CONF=$W/containers.conf
P=(podman --root "$W/root" --runroot "$W/run" --storage-driver vfs)

fail=0
check() { if "$@"; then echo "ok: ${CHECK_NAME}"; else echo "FAIL: ${CHECK_NAME}"; fail=1; fi; }

DAEMON=
stop_daemon() {
  [ -n "$DAEMON" ] && kill -0 "$DAEMON" 2>/dev/null || return 0
  kill -TERM "$DAEMON"
  for _ in $(seq 100); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$DAEMON" 2>/dev/null
  wait "$DAEMON" 2>/dev/null
  DAEMON=
}
down() {
  stop_daemon
  for y in "$W/web.yaml" "$W/web-pinned.yaml"; do [ -e "$y" ] && "${P[@]}" kube down "$y" >/dev/null 2>&1; done
  "${P[@]}" pod rm -af >/dev/null 2>&1
  "${P[@]}" rm -af >/dev/null 2>&1
  "${P[@]}" system reset -f >/dev/null 2>&1
}
trap down EXIT
trap 'exit 1' TERM INT HUP

# ---- the image in isolated's store: a daemon of the test's own loads the archive --------
mkdir -p "$W/iso/apps" "$W/iso/run" "$W/iso/state" "$W/iso/log"
echo "state-dir = $W/iso/state" >"$W/isolated.conf"
"$BUILD/isolated" --config "$W/isolated.conf" --apps-dir "$W/iso/apps" --run-dir "$W/iso/run" \
  --state-dir "$W/iso/state" --log-dir "$W/iso/log" --cgroup-root "$CGROOT" >"$W/daemon.log" 2>&1 </dev/null &
DAEMON=$!
for _ in $(seq 150); do
  curl -sf --unix-socket "$W/iso/run/isolated.sock" http://x/v1/health >/dev/null 2>&1 && break
  sleep 0.2
done
ISOCTL=("$BUILD/isoctl" --socket "$W/iso/run/isolated.sock")
if ! "${ISOCTL[@]}" image load "$W/httpd.tar"; then
  echo "FAIL: isoctl image load"; tail -n 25 "$W/daemon.log"; exit 1
fi
"${ISOCTL[@]}" image ls
stop_daemon  # the export reads the store's index itself: no daemon needed
CHECK_NAME="isoctl validate finds the app's image in the store"
check bash -c "'$BUILD/isoctl' validate --strict --config '$W/isolated.conf' '$W/apps' >/dev/null"

# ---- the exports: the app's own image, and --pin ----------------------------------------
if ! "$BUILD/isoctl" export kube "$W/apps" --config "$W/isolated.conf" --host-ports --strict >"$W/web.yaml"; then
  echo "FAIL: isoctl export kube (an image app, without --image)"; exit 1
fi
echo "--- exported:"; cat "$W/web.yaml"
CHECK_NAME="the export names the app's own image"
check grep -qx ' *image: localhost/isolated-kube-httpd:1' "$W/web.yaml"
CHECK_NAME="the export leaves the Entrypoint to the image and passes the args"
check bash -c "! grep -q '^ *command:' '$W/web.yaml' && grep -q '^ *args:' '$W/web.yaml'"
if ! "$BUILD/isoctl" export kube "$W/apps" --config "$W/isolated.conf" --host-ports --strict --pin >"$W/web-pinned.yaml"; then
  echo "FAIL: isoctl export kube --pin"; exit 1
fi
pinned=$(sed -n 's/^ *image: localhost\/isolated-kube-httpd@\(sha256:[0-9a-f]\{64\}\)$/\1/p' "$W/web-pinned.yaml")
echo "pinned: $pinned"

# ---- the same archive in podman's store ----------------------------------------------
"${P[@]}" load -q -i "$W/httpd.tar" || { echo "FAIL: podman load"; exit 1; }
CHECK_NAME="--pin writes the manifest digest podman sees for the image"
check test -n "$pinned" -a "$pinned" = "$("${P[@]}" image inspect -f '{{.Digest}}' localhost/isolated-kube-httpd:1)"

# play YAML: podman kube play of it; sets CTR. No systemd here: podman cannot add the
# healthcheck's timer (it says so); the test runs the healthcheck itself below.
play() {
  if ! out=$("${P[@]}" kube play --network isokube "$1" 2>"$W/play.err"); then
    echo "FAIL: podman kube play $(basename "$1")"
    cat "$W/play.err"
    "${P[@]}" pod ps; "${P[@]}" ps -a
    exit 1
  fi
  echo "$out"
  CTR=$(echo "$out" | awk '/^Container:/ { getline; print; exit }')
  [ -n "$CTR" ] || { echo "FAIL: no container in podman kube play's output"; exit 1; }
}
# The page through the host port (the Pod's hostPort 8080 -> 80), from inside the namespace.
page() {
  local body=
  for _ in $(seq 50); do
    body=$(curl -fsS --max-time 2 http://10.89.7.1:8080/ 2>/dev/null) && break
    sleep 0.2
  done
  test "$body" = "served by an exported isolated app"
}

# The pinned manifest runs the image podman has by that digest.
play "$W/web-pinned.yaml"
CHECK_NAME="the --pin export runs and serves the page"
check page
CHECK_NAME="podman kube down removes the pinned pod"
check "${P[@]}" kube down "$W/web-pinned.yaml"

play "$W/web.yaml"
CHECK_NAME="curl http://10.89.7.1:8080/ serves the page (hostPort 8080 -> 80; the app's args over the image's Cmd)"
check page

# The liveness probe, which podman made a healthcheck: run it, read its state.
CHECK_NAME="podman made the livenessProbe a healthcheck"
check test -n "$("${P[@]}" inspect -f '{{.Config.Healthcheck}}' "$CTR" 2>/dev/null | grep -v '^<nil>$')"
"${P[@]}" inspect -f 'healthcheck: {{.Config.Healthcheck}}' "$CTR"
CHECK_NAME="the liveness healthcheck passes (podman healthcheck run)"
check "${P[@]}" healthcheck run "$CTR"
CHECK_NAME="podman inspect says healthy"
check test "$("${P[@]}" inspect -f '{{.State.Health.Status}}' "$CTR")" = healthy
sleep 4  # two probe periods
CHECK_NAME="the container still runs after two probe periods"
check test "$("${P[@]}" inspect -f '{{.State.Running}}' "$CTR")" = true
# ... and the check can fail: the same probe command on a page that is not there
# (the root is read-only, as exported, so the page cannot be taken away).
CHECK_NAME="the probe's command fails on a missing page"
check bash -c "! ${P[*]} exec $CTR /bin/sh -c 'curl -f HTTP://localhost:80/missing.html' >/dev/null 2>&1"
CHECK_NAME="the exported root file system is read-only"
check bash -c "! ${P[*]} exec $CTR /bin/busybox touch /www/x >/dev/null 2>&1"

CHECK_NAME="podman kube down removes the pod"
check "${P[@]}" kube down "$W/web.yaml"
CHECK_NAME="no pod is left"
check test -z "$("${P[@]}" pod ps -q)"
exit $fail
