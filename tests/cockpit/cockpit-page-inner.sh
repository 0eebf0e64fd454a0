#!/bin/bash
# The part of tests/cockpit/cockpit-page.sh that runs inside its new mount and network
# namespaces (unshare --mount --net): the daemon, cockpit-ws and chromium, then drive.js.
#
#   cockpit-page-inner.sh BUILD_DIR SOURCE_DIR WORK_DIR SCREENSHOT_DIR COCKPIT_WS CGROUP_ROOT
#
# Only loopback exists here, so the fixed ports below cannot meet anything else.
set -uo pipefail
BUILD=$1 SRC=$2 W=$3 SHOTS=$4 WS_BIN=$5 CGROOT=$6
HERE=$(cd "$(dirname "$0")" && pwd)
WS_PORT=9090 WS_USER_PORT=9091 CDP_PORT=9222

DAEMON= WS= WS_USER= BROWSER= DRIVER=
# stop PID [SECONDS]: SIGTERM, then SIGKILL if it is still there after SECONDS.
stop() {
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq $(( ${2:-5} * 10 ))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  stop "$DRIVER" 2
  stop "$BROWSER" 5
  stop "$WS" 5      # its bridge ends with its session
  stop "$WS_USER" 5
  stop "$DAEMON" 30 # it stops its apps first
  # What they left behind that outlived its parent (the bridge's dbus-daemon and
  # ssh-agent, chromium's crash handler) is in this network namespace, as nothing else
  # is: end it, by PID. (The apps have network namespaces of their own.)
  local me p sock
  # Their sockets in /tmp (the dbus-daemon's /tmp/dbus-*, ssh-agent's /tmp/ssh-*/agent.*)
  # are not removed by a kill: note this namespace's own (Unix sockets belong to a
  # network namespace, so /proc/net/unix here lists only ours), to remove them after.
  local socks
  socks=$(awk 'NR > 1 && ($8 ~ "^/tmp/dbus-" || $8 ~ "^/tmp/ssh-[^/]*/agent[.]") { print $8 }' /proc/$$/net/unix | sort -u)
  me=$(readlink /proc/$$/ns/net)
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != $$ ] && [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  for sock in $socks; do
    rm -f "$sock"
    case $sock in /tmp/ssh-*/agent.*) rmdir "${sock%/*}" 2>/dev/null ;; esac
  done
  mountpoint -q /run/isolated && umount -l /run/isolated
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP

fail() { echo "FAIL: $*"; for f in daemon ws ws-user chromium; do [ -s "$W/$f.log" ] && { echo "---- $f.log (last lines)"; tail -n 25 "$W/$f.log"; }; done; exit 1; }
waitfor() {  # waitfor DESCRIPTION COMMAND...: up to 30 s
  local d=$1 i; shift
  for i in $(seq 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$d"
}

mount --make-rprivate / || fail "mount --make-rprivate /"
ip link set lo up || fail "ip link set lo up"
# The page's fixed paths (/run/isolated/isolated{,-ro}.sock) lead to this test's daemon.
mount -t tmpfs -o mode=0755,size=16m isolated-cockpit-run /run/isolated || fail "tmpfs on /run/isolated"

mkdir -p "$W/apps" "$W/state" "$W/log" "$W/home" "$W/xdg/cockpit"
# The bridge finds the page in the source tree, as a developer's ~/.local/share/cockpit link.
ln -s "$SRC/cockpit/isolated" "$W/xdg/cockpit/isolated"
echo "# tests/cockpit" >"$W/isolated.conf"

# Four apps with different states: ready (a readiness probe, limits), ready (restarted
# by policy when the test kills it), stopped (autostart false), failed (no such command).
# "$W" in each command line marks them as this test's processes.
cat >"$W/apps/web.json" <<JSON
{"command": ["sh", "-c", "echo web up; i=0; while :; do i=\$((i+1)); echo web tick \$i; sleep 1; done; : $W"],
 "network": {"mode": "none"},
 "probes": {"readiness": {"exec": {"command": ["true"]}, "period": "1s"}},
 "resources": {"cpu": "50%", "memory": "64M", "pids": 64},
 "stop": {"timeout": "3s"}}
JSON
cat >"$W/apps/worker.json" <<JSON
{"command": ["sh", "-c", "echo worker started; while :; do sleep 0.2; done; : $W"],
 "network": {"mode": "none"},
 "restart": {"policy": "always", "backoff": {"initial": "200ms"}},
 "stop": {"timeout": "3s"}}
JSON
cat >"$W/apps/idle.json" <<JSON
{"command": ["sh", "-c", "while :; do sleep 1; done; : $W"], "network": {"mode": "none"}, "autostart": false}
JSON
cat >"$W/apps/broken.json" <<JSON
{"command": ["/nonexistent/isolated-cockpit-test"], "network": {"mode": "none"}, "restart": {"policy": "never"}}
JSON

"$BUILD/isolated" --config "$W/isolated.conf" --apps-dir "$W/apps" --run-dir /run/isolated \
  --state-dir "$W/state" --log-dir "$W/log" --log-driver file --cgroup-root "$CGROOT" --log-level debug \
  >"$W/daemon.log" 2>&1 </dev/null &
DAEMON=$!
waitfor "the daemon answers on /run/isolated/isolated.sock" \
  curl -sf --unix-socket /run/isolated/isolated.sock http://x/v1/health
echo "ok: isolated $(curl -s --unix-socket /run/isolated/isolated.sock http://x/v1/version)"

XDG_DATA_DIRS=$W/xdg:/usr/share HOME=$W/home \
  "$WS_BIN" --no-tls --local-session=cockpit-bridge --address 127.0.0.1 --port "$WS_PORT" \
  >"$W/ws.log" 2>&1 </dev/null &
WS=$!
waitfor "cockpit-ws serves the page" curl -sf "http://127.0.0.1:$WS_PORT/cockpit/@localhost/isolated/manifest.json"
echo "ok: cockpit-ws $("$WS_BIN" --version 2>/dev/null | sed -n 's/^Version: //p') on 127.0.0.1:$WS_PORT (bridge as root)"
# A second session, an ordinary user's (nobody, without administrative access): the
# page must show the apps read-only and hide the actions.
mkdir -p "$W/nobody" && chown nobody "$W/nobody"
XDG_DATA_DIRS=$W/xdg:/usr/share HOME=$W/nobody \
  setpriv --reuid=nobody --regid=nogroup --clear-groups \
  "$WS_BIN" --no-tls --local-session=cockpit-bridge --address 127.0.0.1 --port "$WS_USER_PORT" \
  >"$W/ws-user.log" 2>&1 </dev/null &
WS_USER=$!
waitfor "cockpit-ws (as nobody) serves the page" curl -sf "http://127.0.0.1:$WS_USER_PORT/cockpit/@localhost/isolated/manifest.json"
echo "ok: cockpit-ws on 127.0.0.1:$WS_USER_PORT (bridge as nobody)"

HOME=$W/home XDG_CONFIG_HOME=$W/home/.config XDG_CACHE_HOME=$W/home/.cache \
  chromium --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
  --disable-extensions --disable-sync --disable-background-networking --disable-component-update \
  --remote-debugging-address=127.0.0.1 --remote-debugging-port="$CDP_PORT" \
  --user-data-dir="$W/chrome" --window-size=1280,900 about:blank \
  >"$W/chromium.log" 2>&1 </dev/null &
BROWSER=$!
waitfor "chromium answers on its DevTools port" curl -sf "http://127.0.0.1:$CDP_PORT/json/version"
echo "ok: $(curl -s "http://127.0.0.1:$CDP_PORT/json/version" | sed -n 's/.*"Browser": *"\([^"]*\)".*/\1/p')"

PAGE_URL="http://127.0.0.1:$WS_PORT/cockpit/@localhost/isolated/index.html" \
  USER_PAGE_URL="http://127.0.0.1:$WS_USER_PORT/cockpit/@localhost/isolated/index.html" CDP_PORT=$CDP_PORT \
  SCREENSHOTS=$SHOTS NODE_MODULES=$SRC/tests/js/node_modules \
  node "$HERE/drive.js" &
DRIVER=$!
# (In the background, so that a TERM runs the trap at once rather than after node.)
wait "$DRIVER"
rc=$?
DRIVER=
[ $rc = 0 ] || fail "drive.js exit $rc"
