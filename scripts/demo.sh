#!/bin/bash
# The main job: set up, build, and run the isolated daemon on the bundled demo apps
# (conf/apps), then show `isoctl status`. The daemon keeps running in the background;
# stop it with `kill $(cat /run/isolated/isolated.pid)` or `scripts/demo.sh stop`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 2; }

RUN_DIR=${ISOLATED_RUN_DIR:-/run/isolated}
PIDFILE=$RUN_DIR/isolated.pid

if [ "${1:-}" = stop ]; then
  [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" && echo "isolated stopping"
  exit 0
fi

bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "isolated already running (pid $(cat "$PIDFILE")); reloading the apps"
  kill -HUP "$(cat "$PIDFILE")"
else
  mkdir -p "$RUN_DIR" /var/lib/isolated /var/log/isolated
  nohup build/isolated --config conf/isolated.conf --apps-dir "$PWD/conf/apps" \
    --run-dir "$RUN_DIR" --state-dir /var/lib/isolated --log-dir /var/log/isolated \
    >>/var/log/isolated/daemon.log 2>&1 &
  echo $! >"$PIDFILE"
  echo "isolated started (pid $!); its own log: /var/log/isolated/daemon.log"
fi

export ISOCTL_SOCKET=$RUN_DIR/isolated.sock
for _ in $(seq 100); do [ -S "$ISOCTL_SOCKET" ] && break; sleep 0.1; done
sleep 1   # let the apps come up
build/isoctl status
