#!/bin/bash
# ctest "cockpit: ...": the Cockpit page (cockpit/isolated) in a real browser.
#
#   tests/cockpit/cockpit-page.sh BUILD_DIR
#
# Runs, in a mount and network namespace of its own (only loopback, up):
#   - the build's isolated daemon with four apps, its run dir on a tmpfs mounted at
#     /run/isolated inside the namespace, so the page's fixed socket paths reach this
#     daemon and never one the host runs; state, logs and app files in a temp dir;
#   - Debian's cockpit-ws with --local-session=cockpit-bridge (no login; the bridge
#     runs as root, as an administrator's session with administrative access does),
#     finding the page in the source tree through XDG_DATA_DIRS;
#   - headless Debian chromium, driven over the DevTools protocol by drive.js
#     (chrome-remote-interface from tests/js/node_modules), which checks the page
#     against the daemon's API and writes a PNG of each view to
#     BUILD_DIR/cockpit-screenshots/.
# Everything it starts is ended by PID on any exit; the temp dir and the mount go, and
# the namespaces end with their last process.
# Exit 0 when every check passed, 1 when one failed, 77 (skip) when a prerequisite is
# missing, unless ISOLATED_REQUIRE_ALL=1, where a missing prerequisite fails.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

BUILD=$(cd "${1:?usage: cockpit-page.sh BUILD_DIR}" && pwd)

skip() {
  if [ "${ISOLATED_REQUIRE_ALL:-0}" = 1 ]; then echo "FAIL: missing prerequisite: $*"; exit 1; fi
  echo "SKIP: missing prerequisite: $*"; exit 77
}
[ "$(id -u)" = 0 ] || skip "root"
WS_BIN=
for p in /usr/lib/cockpit/cockpit-ws /usr/libexec/cockpit-ws; do [ -x "$p" ] && { WS_BIN=$p; break; }; done
[ -n "$WS_BIN" ] || skip "cockpit-ws (package cockpit-ws; scripts/install-deps.sh installs it)"
command -v cockpit-bridge >/dev/null || skip "cockpit-bridge (package cockpit-bridge)"
command -v chromium >/dev/null || skip "chromium (package chromium)"
command -v node >/dev/null || skip "node (package nodejs)"
[ -f "$SRC/tests/js/node_modules/chrome-remote-interface/package.json" ] ||
  skip "chrome-remote-interface in tests/js/node_modules (scripts/install-deps.sh runs npm ci there)"
for b in isolated isolated-init; do [ -x "$BUILD/$b" ] || skip "$BUILD/$b (build the project first)"; done
command -v unshare >/dev/null || skip "unshare (util-linux)"

W=$(mktemp -d /tmp/isolated-cockpit.XXXXXX)
chmod 755 "$W"
SHOTS=$BUILD/cockpit-screenshots
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
# The mount point of the namespace's tmpfs must exist on the host's /run. Made here when
# missing (no isolated installed) and removed at the end.
MADE_RUN_DIR=
if [ ! -e /run/isolated ]; then mkdir /run/isolated && MADE_RUN_DIR=1; fi

INNER=
NETNS_ID=
cleanup() {
  if [ -n "$INNER" ] && kill -0 "$INNER" 2>/dev/null; then
    kill -TERM "$INNER" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$INNER" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$INNER" 2>/dev/null
  fi
  [ -n "$INNER" ] && wait "$INNER" 2>/dev/null
  # A safety net when the inner script could not clean up (killed): whatever still
  # runs in the test's network namespace was started by this test.
  if [ -n "$NETNS_ID" ]; then
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$NETNS_ID" ] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
  fi
  # The daemon's cgroup subtrees (it removes them itself when it stops cleanly).
  for root in /sys/fs/cgroup/*/"isolated-cockpit-$$" /sys/fs/cgroup/"isolated-cockpit-$$"; do
    [ -d "$root" ] || continue
    for _ in $(seq 50); do
      find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
      find "$root" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$root" ] || break
      sleep 0.1
    done
  done
  [ -n "$MADE_RUN_DIR" ] && rmdir /run/isolated 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' TERM INT HUP

# A new mount and network namespace; the inner script makes its mounts private first.
unshare --mount --net bash "$HERE/cockpit-page-inner.sh" "$BUILD" "$SRC" "$W" "$SHOTS" "$WS_BIN" "isolated-cockpit-$$" &
INNER=$!
for _ in $(seq 50); do
  id=$(readlink "/proc/$INNER/ns/net" 2>/dev/null)
  [ -n "$id" ] && [ "$id" != "$(readlink /proc/self/ns/net)" ] && { NETNS_ID=$id; break; }
  sleep 0.05
done
wait "$INNER"
rc=$?
INNER=
ls "$SHOTS"/*.png >/dev/null 2>&1 && echo "screenshots: $(cd "$SHOTS" && ls *.png | tr '\n' ' ')in $SHOTS"
exit $rc
