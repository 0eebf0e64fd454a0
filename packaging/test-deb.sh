#!/bin/bash
# The Debian package's system test: build the .debs (isolated and cockpit-isolated),
# lint them, check what isolated ships,
# then install it on a booted systemd (systemd-nspawn over a copy-on-write view of
# this host's /) and check the
# maintainer scripts' work: group, enabled and started service, control socket,
# the scrape socket (shipped disabled; enabled, it answers through its proxy),
# reload, restart, reinstall, remove and purge.
#
#   packaging/test-deb.sh --prebuilt BUILD_DIR   package an existing build (CI; fast)
#   packaging/test-deb.sh                        full dpkg-buildpackage build (slow)
#   packaging/test-deb.sh --deb FILE             test an already built .deb
# Options: --keep (leave the work dir and the container up for a look).
#
# Needs root, dpkg-dev, debhelper, lintian, scdoc and systemd-container. Exit 0 when
# every check passed, 1 when one failed, 77 (skip) when a prerequisite is missing,
# unless ISOLATED_REQUIRE_ALL=1, where a missing prerequisite fails. No network use:
# the container has a private network namespace with only loopback.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
PREBUILT= DEB= KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) PREBUILT=$2; shift 2 ;;
    --deb) DEB=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "test-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

T0=$(date +%s)
PASS=0 FAIL=0
ok()   { PASS=$((PASS + 1)); echo "PASS: $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
info() { echo "INFO: $*"; }
phase() { echo "---- $* ($(( $(date +%s) - T0 ))s)"; }
skip() {
  if [ "${ISOLATED_REQUIRE_ALL:-0}" = 1 ]; then echo "FAIL: missing prerequisite: $*"; exit 1; fi
  echo "SKIP: missing prerequisite: $*"; exit 77
}
# check DESCRIPTION COMMAND...: PASS if the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

[ "$(id -u)" = 0 ] || skip "root"
for t in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian scdoc:scdoc systemd-nspawn:systemd-container; do
  command -v "${t%%:*}" >/dev/null || skip "${t%%:*} (package ${t#*:}; scripts/install-deps.sh installs it)"
done

W=$(mktemp -d /tmp/isolated-test-deb.XXXXXX)
NAME=isolated-deb-$$ R=$W/root CG=isolated-test-deb-$$
NSPAWN_PID= L=
cleanup() {
  # The watchdog and its sleep, which would hold ctest's output pipe open.
  [ -n "${WATCHDOG:-}" ] && { pkill -P "$WATCHDOG" sleep; kill "$WATCHDOG"; } 2>/dev/null
  if [ "$KEEP" = 1 ]; then
    echo "KEPT: work dir $W${L:+; container leader $L (nsenter -t $L -a bash; stop: kill $NSPAWN_PID; umount $R $W/ovl)}"
    return
  fi
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  mountpoint -q "$R" && umount "$R"
  mountpoint -q "$W/ovl" && umount "$W/ovl"
  for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h/$CG" ] && find "/sys/fs/cgroup/$h/$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "/run/systemd/nspawn/propagate/$NAME" "$W"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted (or over the deadline)"; exit 1' TERM INT HUP
# Finish (and clean up: unmount, stop the container) before ctest's TIMEOUT of 600 s
# would kill this script without running the trap.
DEADLINE=${ISOLATED_TEST_DEB_DEADLINE:-540}
# (The trap runs once the foreground command ends: end that command too.)
( sleep "$DEADLINE"; kill -TERM $$ $(pgrep -P $$ | grep -vx "$BASHPID") ) >/dev/null 2>&1 &
WATCHDOG=$!

# ---------------------------------------------------------------------------------
phase "build"
if [ -z "$DEB" ]; then
  args=()
  [ -n "$PREBUILT" ] && args=(--prebuilt "$PREBUILT")
  DEB=$(bash "$HERE/build-deb.sh" "${args[@]}" "$W/out" | tail -n 1) || { bad "build-deb.sh ${args[*]}"; exit 1; }
fi
[ -f "$DEB" ] && ok "built $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB)" || { bad "no .deb at '$DEB'"; exit 1; }
# The Cockpit page's package comes out of the same build, next to it.
COCKPIT_DEB=$(ls "$(dirname "$DEB")"/cockpit-isolated_*_all.deb 2>/dev/null | head -n 1)
[ -f "$COCKPIT_DEB" ] && ok "built $(basename "$COCKPIT_DEB")" || bad "no cockpit-isolated_*_all.deb next to $DEB"

# ---------------------------------------------------------------------------------
phase "lintian"
# Errors and warnings fail; overrides shipped in the package (each with its reason)
# are honoured. A --prebuilt tree was compiled with the developer's flags rather
# than dpkg-buildflags', so the hardening tags only speak for the release build.
lint_args=(--fail-on error,warning --display-info --tag-display-limit 0)
[ -n "$PREBUILT" ] && lint_args+=(--suppress-tags hardening-no-bindnow,hardening-no-fortify-functions,hardening-no-relro)
lintian "${lint_args[@]}" "$DEB" ${COCKPIT_DEB:+"$COCKPIT_DEB"} >"$W/lintian.txt" 2>&1
rc=$?
sed 's/^/  lintian: /' "$W/lintian.txt"
[ $rc = 0 ] && ok "lintian: no errors or warnings" || bad "lintian exit $rc"

# ---------------------------------------------------------------------------------
phase "contents"
dpkg-deb -c "$DEB" | awk '{ p = $6; sub(/^\./, "", p); print p }' >"$W/contents.txt"
for p in /usr/sbin/isolated /usr/bin/isoctl /usr/libexec/isolated/isolated-init /usr/libexec/isolated/isolated-unpack \
         /lib/systemd/system/isolated.service /etc/isolated/isolated.conf /etc/isolated/apps/ \
         /usr/lib/tmpfiles.d/isolated.conf /usr/lib/sysusers.d/isolated.conf \
         /usr/share/bash-completion/completions/isoctl \
         /usr/share/man/man8/isolated.8.gz /usr/share/man/man1/isoctl.1.gz /usr/share/man/man5/isolated.app.5.gz \
         /usr/share/doc/isolated/copyright /usr/share/doc/isolated/changelog.Debian.gz \
         /usr/share/doc/isolated/README.Debian /usr/share/doc/isolated/examples/hello.json; do
  grep -qxF "$p" "$W/contents.txt" && ok "ships $p" || bad "does not ship $p"
done
# The scrape socket's units, and every rules, rule-test and dashboard file of conf/monitoring.
for p in /lib/systemd/system/isolated-metrics.socket /lib/systemd/system/isolated-metrics.service \
         $(cd "$SRC/conf/monitoring" && ls *.yml *.json 2>/dev/null | sed 's#^#/usr/share/isolated/monitoring/#'); do
  grep -qxF "$p" "$W/contents.txt" && ok "ships $p" || bad "does not ship $p"
done
dpkg-deb -c "$DEB" | awk '$6 ~ /isolated-init$|isolated-unpack$|sbin\/isolated$|bin\/isoctl$/ && $1 !~ /^-rwxr-xr-x/ { print }' | grep -q . \
  && bad "a binary is not mode 0755" || ok "binaries are mode 0755"
# Nothing but the listed top directories (no /usr/local, no /usr/etc, no build paths).
stray=$(grep -vE '^/(etc/isolated|lib/systemd/system|usr/(bin|sbin|libexec/isolated|lib/(tmpfiles|sysusers)\.d|share/(man|doc|bash-completion|lintian/overrides|isolated/monitoring)))(/|$)' "$W/contents.txt" | grep -vxE '/|/etc/|/lib/|/lib/systemd/|/usr/|/usr/lib/|/usr/libexec/|/usr/share/|/usr/share/lintian/|/usr/share/isolated/')
[ -z "$stray" ] && ok "no files outside the expected directories" || bad "unexpected paths: $(echo $stray)"

dpkg-deb -e "$DEB" "$W/control"
check "conffiles lists /etc/isolated/isolated.conf (and nothing else)" \
  test "$(cat "$W/control/conffiles" 2>/dev/null)" = /etc/isolated/isolated.conf
depends=$(dpkg-deb -f "$DEB" Depends)
info "Depends: $depends"
for d in libsystemd0 libseccomp2 libboost-program-options; do
  [[ $depends == *"$d"* ]] && ok "Depends on $d (shlibs)" || bad "Depends lacks $d: $depends"
done
[[ $depends == *systemd-sysusers* ]] && ok "Depends provides systemd-sysusers" || bad "no sysusers dependency: $depends"
grep -q 'systemd-sysusers.*isolated.conf' "$W/control/postinst" && ok "postinst runs systemd-sysusers isolated.conf" \
  || bad "postinst does not create the group"
grep -q 'deb-systemd-helper enable isolated.service\|deb-systemd-helper.*enable.*isolated.service' "$W/control/postinst" \
  && ok "postinst enables isolated.service" || bad "postinst does not enable the unit"
grep -q 'systemd-tmpfiles.*--create.*isolated.conf' "$W/control/postinst" && ok "postinst creates the tmpfiles" \
  || bad "postinst does not run systemd-tmpfiles"
# The group must exist before the daemon starts: it looks the socket group up once.
awk '/systemd-sysusers/ { s = NR } /deb-systemd-invoke/ && !i { i = NR } END { exit !(s && i && s < i) }' "$W/control/postinst" \
  && ok "postinst creates the group before starting the service" || bad "postinst starts the service before creating the group"

# ---------------------------------------------------------------------------------
phase "bash completion (no daemon)"
comp() {  # comp "WORDS..." -> the completions, space separated
  ISOCTL_SOCKET=$W/nosocket bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _isoctl; printf "%s " "${COMPREPLY[@]}"' _ "$SRC/packaging/bash-completion/isoctl" "$@"
}
r=$(comp isoctl st); [[ $r == *status* && $r == *start* && $r == *stop* ]] && ok "completes verbs: $r" || bad "verbs: '$r'"
r=$(comp isoctl -o ""); [ "$r" = "table json " ] && ok "completes -o values" || bad "-o values: '$r'"
r=$(comp isoctl logs --); [[ $r == *--follow* && $r == *--tail* && $r == *--socket* ]] && ok "completes logs options" || bad "logs options: '$r'"
r=$(comp isoctl --socket /x help re); [[ $r == "restart reload " ]] && ok "completes help topics after --socket" || bad "help: '$r'"
r=$(comp isoctl t); [ "$r" = "top " ] && ok "completes top" || bad "top: '$r'"
r=$(comp isoctl top --); [[ $r == *--interval* && $r == *--no-stream* ]] && ok "completes top options" || bad "top options: '$r'"
r=$(comp isoctl stop --a); [ "$r" = "--all " ] && ok "completes --all" || bad "--all: '$r'"

# ---------------------------------------------------------------------------------
phase "boot systemd in a container"
# A copy-on-write view of this host's / (tmpfs upper layer; the host is untouched).
mkdir -p "$W/ovl" "$R"
mount -t tmpfs -o size=2G,mode=755 isolated-deb-ovl "$W/ovl" && mkdir -p "$W/ovl/upper" "$W/ovl/work" &&
  mount -t overlay isolated-deb-root -o "lowerdir=/,upperdir=$W/ovl/upper,workdir=$W/ovl/work" "$R" \
  || { bad "overlay mount"; exit 1; }
# A deterministic boot: none of the host's locally enabled units; no isolated from
# an earlier manual install.
rm -f "$R"/etc/systemd/system/*.wants/* 2>/dev/null
# A real host: this machine's image forbids starting services from maintainer
# scripts (a Docker-style policy-rc.d that exits 101); the container must not.
rm -f "$R/usr/sbin/policy-rc.d"
ln -sf /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"
cp "$DEB" "$R/var/tmp/isolated.deb"
[ -f "$COCKPIT_DEB" ] && cp "$COCKPIT_DEB" "$R/var/tmp/cockpit-isolated.deb"
cp "$SRC/conf/apps/hello.json" "$W/hello.json"

# nspawn in a cgroup of its own (it makes payload/ and supervisor/ below the one it
# starts in), on this host's hybrid layout; on a pure cgroup v2 host it stays put.
setsid bash -c 'for h in systemd unified; do [ -d /sys/fs/cgroup/$h ] || continue; mkdir -p /sys/fs/cgroup/$h/'"$CG"' && echo $$ > /sys/fs/cgroup/$h/'"$CG"'/cgroup.procs; done; exec systemd-nspawn "$@"' \
  nspawn -D "$R" -b --register=no --keep-unit -M "$NAME" --console=read-only --private-network \
  >"$W/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
# The leader is nspawn's child once it has become the container's systemd (an
# intermediate child exists for a moment before that).
for _ in $(seq 150); do
  L=$(ps -o pid=,comm= --ppid "$NSPAWN_PID" | awk '$2 == "systemd" { print $1; exit }'); [ -n "$L" ] && break; sleep 0.1
done
[ -n "$L" ] || { bad "no container (console: $(tail -3 "$W/console.log"))"; exit 1; }
ct() { nsenter -t "$L" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
st=
for _ in $(seq 120); do
  st=$(ct systemctl is-system-running 2>/dev/null); case "$st" in running|degraded) break ;; esac; sleep 0.25
done
case "$st" in running|degraded) ok "container booted ($st)" ;;
  *) bad "boot: '$st'; console: $(tail -5 "$W/console.log")"; exit 1 ;; esac
if ct dpkg-query -W -f='${Status}' isolated 2>/dev/null | grep -q installed; then
  ct dpkg --purge isolated >/dev/null 2>&1 && info "purged an isolated package the host had"
fi

# ---------------------------------------------------------------------------------
phase "install"
if ct dpkg -i /var/tmp/isolated.deb >"$W/install.log" 2>&1; then ok "dpkg -i"; else bad "dpkg -i: $(tail -5 "$W/install.log")"; fi
check "group isolated exists (a system group)" \
  ct sh -c 'gid=$(getent group isolated | cut -d: -f3) && [ "$gid" -lt 1000 ]'
check "systemctl is-enabled isolated = enabled" test "$(ct systemctl is-enabled isolated 2>&1)" = enabled
check "systemctl is-active isolated = active (started by postinst)" test "$(ct systemctl is-active isolated 2>&1)" = active
check "/run/isolated exists" ct test -d /run/isolated
check "control socket is root:isolated 0660" \
  test "$(ct stat -c '%U:%G %a' /run/isolated/isolated.sock 2>&1)" = "root:isolated 660"
out=$(ct isoctl status 2>&1); rc=$?
[ $rc = 0 ] && ok "isoctl status (root): exit 0" || bad "isoctl status: exit $rc: $out"
out=$(ct isoctl -o json status 2>&1)
tr -d ' \n' <<<"$out" | grep -q '"apps":\[\]' && ok "isoctl -o json status: no apps yet" || bad "isoctl -o json status: $out"
ct useradd -M -G isolated tester
out=$(ct runuser -u tester -- isoctl status 2>&1); rc=$?
[ $rc = 0 ] && ok "isoctl status as a member of group isolated" || bad "isoctl status as group member: exit $rc: $out"
ct useradd -M outsider
out=$(ct runuser -u outsider -- isoctl status 2>&1); rc=$?
[ $rc != 0 ] && ok "isoctl status refused to a non-member (exit $rc)" || bad "a non-member used the control socket"
out=$(ct runuser -u outsider -- isoctl --socket /run/isolated/isolated-ro.sock status 2>&1); rc=$?
[ $rc = 0 ] && ok "the read-only socket serves a non-member" || bad "read-only socket for non-member: exit $rc: $out"
check "isoctl validate on the shipped examples" ct sh -c "isoctl validate /usr/share/doc/isolated/examples >/dev/null"
check "man -w finds isolated(8), isoctl(1), isolated.app(5)" \
  ct sh -c '{ man -w 8 isolated && man -w 1 isoctl && man -w 5 isolated.app; } >/dev/null'

# ---------------------------------------------------------------------------------
phase "cockpit-isolated installs the Cockpit page (the page itself: tests/cockpit)"
if ct dpkg -i /var/tmp/cockpit-isolated.deb >"$W/cockpit.log" 2>&1; then ok "dpkg -i cockpit-isolated"; else bad "dpkg -i cockpit-isolated: $(tail -5 "$W/cockpit.log")"; fi
for f in manifest.json index.html isolated.js isolated.css; do
  check "/usr/share/cockpit/isolated/$f is installed" ct test -s "/usr/share/cockpit/isolated/$f"
done
check "cockpit-bridge --packages lists isolated from /usr/share/cockpit/isolated" \
  ct sh -c 'cockpit-bridge --packages | grep -qE "^isolated +isolated +/usr/share/cockpit/isolated\$"'
if ct dpkg -r cockpit-isolated >"$W/cockpit-remove.log" 2>&1; then ok "dpkg -r cockpit-isolated"; else bad "dpkg -r cockpit-isolated: $(tail -5 "$W/cockpit-remove.log")"; fi
check "the page is gone after remove" ct test ! -e /usr/share/cockpit/isolated

# ---------------------------------------------------------------------------------
phase "scrape socket: disabled by default; enabled, Prometheus' GET /metrics goes through the proxy"
check "isolated-metrics.socket is not enabled by the install" \
  test "$(ct systemctl is-enabled isolated-metrics.socket 2>&1)" = disabled
check "... nor listening" sh -c "! nsenter -t $L -a systemctl is-active -q isolated-metrics.socket"
for f in $(cd "$SRC/conf/monitoring" && ls *.yml *.json 2>/dev/null); do
  check "/usr/share/isolated/monitoring/$f is installed" ct test -s "/usr/share/isolated/monitoring/$f"
done
if ct systemctl enable --now isolated-metrics.socket >"$W/metrics.log" 2>&1; then
  ok "systemctl enable --now isolated-metrics.socket"
else
  bad "enable --now isolated-metrics.socket: $(tail -3 "$W/metrics.log")"
fi
out=$(ct curl -fsS --max-time 10 http://127.0.0.1:9739/metrics 2>&1); rc=$?
[ $rc = 0 ] && grep -qx 'isolated_up 1' <<<"$out" \
  && ok "curl http://127.0.0.1:9739/metrics answers through the proxy, with isolated_up 1" \
  || bad "scrape through the proxy: curl exit $rc: $(head -c 300 <<<"$out"); $(ct systemctl status isolated-metrics.service --no-pager 2>&1 | tail -5)"
proxy=$(ct systemctl show -p MainPID --value isolated-metrics.service)
uid=$(ct ps -o uid= -p "$proxy" 2>/dev/null | tr -d ' ')
[ -n "$uid" ] && [ "$uid" != 0 ] && ok "the proxy runs unprivileged (DynamicUser, uid $uid)" || bad "proxy pid '$proxy' uid '$uid'"

# ---------------------------------------------------------------------------------
phase "reload, completion with the daemon, restart"
cp "$W/hello.json" "$R/etc/isolated/apps/hello.json"
ct systemctl reload isolated && ok "systemctl reload isolated" || bad "systemctl reload isolated"
seen=
for _ in $(seq 50); do
  ct isoctl -o json status 2>/dev/null | grep -q '"name": *"hello"' && { seen=1; break; }; sleep 0.2
done
[ -n "$seen" ] && ok "reload picked up /etc/isolated/apps/hello.json" || bad "hello not listed after reload"
info "isoctl status: $(ct isoctl status 2>&1 | tr '\n' '|')"
# As bash does it: bash-completion's framework loaded, then isoctl's file.
ct_comp() {  # ct_comp [runuser -u USER --] WORDS... -> completions of the last word
  local pre=()
  [ "$1" = runuser ] && { pre=("$1" "$2" "$3" "$4"); shift 4; }
  ct "${pre[@]}" bash -c '
    [ -f /usr/share/bash-completion/bash_completion ] && source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/isoctl
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _isoctl; printf "%s " "${COMPREPLY[@]}"' _ "$@" 2>&1
}
r=$(ct_comp isoctl restart h)
[ "$r" = "hello " ] && ok "bash completion offers app names from the daemon" || bad "app name completion: '$r'"
r=$(ct_comp isoctl --socket /run/isolated/isolated.sock logs -n 5 "")
[ "$r" = "hello " ] && ok "... after options with values" || bad "app name completion after options: '$r'"
r=$(ct_comp runuser -u outsider -- isoctl status "")
[ "$r" = "hello " ] && ok "... and to non-members, through the read-only socket" || bad "app names for non-member: '$r'"
ct systemctl restart isolated && test "$(ct systemctl is-active isolated)" = active \
  && ok "systemctl restart isolated" || bad "systemctl restart: $(ct systemctl status isolated --no-pager 2>&1 | tail -5)"

# ---------------------------------------------------------------------------------
phase "apps outlive the daemon: restart, kill -9, exits while down, watchdog; journald; stop"
# app FIELD -> a field of an app in `isoctl -o json status` ("" when absent).
app() {
  ct isoctl -o json status 2>/dev/null | python3 -c '
import json, sys
apps = {a["name"]: a for a in json.load(sys.stdin)["apps"]}
v = apps.get(sys.argv[1], {})
for k in sys.argv[2].split("."): v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$1" "$2" 2>/dev/null
}
waitfor() { local i; for i in $(seq "${2:-150}"); do eval "$1" && return 0; sleep 0.2; done; return 1; }
mainpid() { ct systemctl show -p MainPID --value isolated; }
mkdir -p "$R/var/tmp/itest"
# A probed app that says goodbye in a file when it gets its stop signal.
cat >"$R/etc/isolated/apps/probed.json" <<'JSON'
{"command": ["sh", "-c", "trap 'echo graceful > /data/bye; exit 0' TERM; echo probed up; while :; do sleep 0.2; done"],
 "mounts": [{"type": "bind", "source": "/var/tmp/itest", "target": "/data"}],
 "probes": {"liveness": {"exec": {"command": ["true"]}, "period": "1s"}},
 "resources": {"cpu": "50%", "memory": "64M", "pids": 100},
 "restart": {"policy": "always", "backoff": {"initial": "200ms"}}, "stop": {"timeout": "5s"}}
JSON
ct systemctl reload isolated
waitfor '[ "$(app probed state)" = ready ] && [ "$(app hello state)" = ready ]' \
  && ok "probed and hello are ready" || bad "apps not ready: $(ct isoctl status 2>&1 | tr '\n' '|')"
p1=$(app probed pid) h1=$(app hello pid) m1=$(mainpid)
info "probed pid $p1, hello pid $h1, daemon $m1; $(ct systemctl show -p StatusText --value isolated)"
# The STATUS= line follows the apps' states once a second: wait for it.
waitfor "ct systemctl show -p StatusText --value isolated | grep -q '2 apps: 2 ready'" \
  && ok "STATUS= line: $(ct systemctl show -p StatusText --value isolated)" || bad "StatusText: $(ct systemctl show -p StatusText --value isolated)"
props=$(ct systemctl show isolated-probed.scope -p Slice -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec -p Delegate | sort | tr '\n' ' ')
[ "$props" = "CPUQuotaPerSecUSec=500ms Delegate=yes MemoryMax=67108864 Slice=isolated.slice TasksMax=100 " ] \
  && ok "the scope has the app's limits as unit properties: $props" || bad "scope properties: $props"
case "$(ct systemd-cgls --no-pager -u isolated.slice 2>/dev/null)" in *isolated-probed.scope*) ok "apps run in scopes under isolated.slice" ;;
  *) bad "no isolated-probed.scope: $(ct systemd-cgls --no-pager -u isolated.slice 2>&1 | head -5 | tr '\n' '|')" ;; esac

ct systemctl restart isolated
waitfor '[ "$(mainpid)" != "$m1" ] && [ "$(app probed state)" = ready ]' && m2=$(mainpid) \
  && ok "systemctl restart isolated: new daemon $m2" || bad "restart: $(ct systemctl status isolated --no-pager 2>&1 | tail -5)"
[ "$(app probed pid)" = "$p1" ] && [ "$(app hello pid)" = "$h1" ] && ok "after restart: same app pids" \
  || bad "after restart: pids $(app probed pid) $(app hello pid), were $p1 $h1"
[ "$(app probed restarts)" = 0 ] && [ "$(app hello restarts)" = 0 ] && ok "after restart: no restart counted" \
  || bad "restarts counted: $(app probed restarts) $(app hello restarts)"

ct kill -KILL "$m2"
waitfor 'm3=$(mainpid); [ "$m3" != "$m2" ] && [ "$m3" != 0 ] && [ "$(app probed state)" = ready ]' \
  && ok "kill -9 of the daemon: systemd started another ($m3)" || bad "no daemon after kill -9: $(ct systemctl status isolated --no-pager 2>&1 | tail -5)"
[ "$(app probed pid)" = "$p1" ] && [ "$(app hello pid)" = "$h1" ] && [ "$(app probed restarts)" = 0 ] \
  && ok "after kill -9: apps untouched" || bad "after kill -9: pids $(app probed pid) $(app hello pid), restarts $(app probed restarts)"
waitfor '[ "$(app probed health.liveness.consecutiveSuccesses)" -ge 1 ] 2>/dev/null' \
  && ok "the adopted app is probed again" || bad "no liveness result after adoption: $(app probed health)"

# An app that ends while no daemon runs: seen with its exit, restarted by its policy.
ct kill -STOP "$m3"
ct kill -KILL "$p1"
waitfor '! ct kill -0 "$p1" 2>/dev/null' 50
ct kill -KILL "$m3"
waitfor '[ "$(app probed restarts)" = 1 ] && [ "$(app probed state)" = ready ]' \
  && ok "an app killed while the daemon was down was restarted by policy (restarts 1)" \
  || bad "exit while down: state $(app probed state), restarts $(app probed restarts)"
[ "$(app probed lastExit.signal)" = SIGKILL ] && ok "... with its exit: $(app probed lastExit.message)" \
  || bad "lastExit: $(app probed lastExit)"
p2=$(app probed pid)

# journald: the app's output is in the journal, and isoctl logs reads it there.
waitfor 'ct journalctl -q --no-pager ISOLATED_APP=probed -o cat | grep "probed up" >/dev/null' \
  && ok "journalctl ISOLATED_APP=probed shows the app's output" || bad "journal: $(ct journalctl -q --no-pager ISOLATED_APP=probed -o cat | tail -3)"
ct journalctl -q --no-pager ISOLATED_APP=probed ISOLATED_STREAM=stdout -o verbose | grep 'SYSLOG_IDENTIFIER=probed' >/dev/null \
  && ok "... with SYSLOG_IDENTIFIER=probed" || bad "no SYSLOG_IDENTIFIER"
ct isoctl logs probed 2>&1 | grep "probed up" >/dev/null && ok "isoctl logs reads the journal" || bad "isoctl logs: $(ct isoctl logs probed 2>&1 | tail -3)"
ct journalctl -q --no-pager -u isolated SYSLOG_IDENTIFIER=isolated ISOLATED_APP=probed -o cat | grep "adopted the running instance" >/dev/null \
  && ok "the daemon's own messages are structured (SYSLOG_IDENTIFIER=isolated, ISOLATED_APP=probed)" \
  || bad "daemon messages: $(ct journalctl -q --no-pager -u isolated -n 5 -o cat | tr '\n' '|')"
ct journalctl -q --no-pager -u isolated PRIORITY=4 -o cat >/dev/null && ok "... with priorities" || bad "journalctl PRIORITY="
ct isoctl logs probed 2>&1 | grep "adopted the running instance" >/dev/null && bad "isoctl logs mixes in the daemon's messages" \
  || ok "isoctl logs shows the app's output only"

# The watchdog: a stalled daemon is restarted by systemd; the apps stay.
mkdir -p "$R/etc/systemd/system/isolated.service.d"
printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=2s\n' >"$R/etc/systemd/system/isolated.service.d/watchdog.conf"
ct systemctl daemon-reload
ct systemctl restart isolated
waitfor '[ "$(app probed state)" = ready ]'
m4=$(mainpid)
ct kill -STOP "$m4"
waitfor 'm5=$(mainpid); [ "$m5" != "$m4" ] && [ "$m5" != 0 ] && [ "$(app probed state)" = ready ]' 200 \
  && ok "watchdog: a stopped daemon was restarted ($m4 -> $m5)" || bad "watchdog: MainPID $(mainpid), was $m4"
[ "$(app probed pid)" = "$p2" ] && ok "... and the apps kept running" || bad "watchdog restart changed pids: $(app probed pid) vs $p2"
rm -rf "$R/etc/systemd/system/isolated.service.d"
ct systemctl daemon-reload

# reload applies an edited app file.
sed -i 's/"stop": {"timeout": "5s"}/"stop": {"timeout": "5s"}, "env": {"EDITED": "1"}/' "$R/etc/isolated/apps/probed.json"
ct systemctl reload isolated
waitfor '[ "$(app probed pid)" != "$p2" ] && [ "$(app probed state)" = ready ]' \
  && ok "systemctl reload restarted the edited app" || bad "edited app not restarted: pid $(app probed pid)"
ct sh -c "cat /proc/$(app probed pid)/environ" | tr '\0' '\n' | grep -qx EDITED=1 \
  && ok "... with its new definition" || bad "EDITED=1 not in the app's environment"

# systemctl stop: the apps are stopped gracefully, by their stop signal.
p3=$(app probed pid)
ct systemctl stop isolated
ct kill -0 "$p3" 2>/dev/null && bad "systemctl stop left the app running" || ok "systemctl stop stopped the apps"
[ "$(cat "$R/var/tmp/itest/bye" 2>/dev/null)" = graceful ] && ok "... gracefully (the app got SIGTERM)" \
  || bad "no goodbye from the app"
ct systemctl list-units --no-legend 'isolated-*.scope' | grep -q . && bad "scopes left: $(ct systemctl list-units --no-legend 'isolated-*.scope')" \
  || ok "no isolated-*.scope left"
rm -f "$R/var/tmp/itest/bye"
ct systemctl start isolated
waitfor '[ "$(app probed state)" = ready ]' && ok "started again: apps start afresh" || bad "apps after start: $(ct isoctl status 2>&1 | tr '\n' '|')"
p4=$(app probed pid)

# ---------------------------------------------------------------------------------
phase "reinstall (the upgrade path), remove, purge"
ct sh -c 'echo "log-level = debug" >> /etc/isolated/isolated.conf'
if ct dpkg -i /var/tmp/isolated.deb >"$W/reinstall.log" 2>&1; then ok "dpkg -i again (upgrade path)"; else bad "reinstall: $(tail -5 "$W/reinstall.log")"; fi
check "the edited conffile is kept" ct grep -q "log-level = debug" /etc/isolated/isolated.conf
check "the service is active after the upgrade" test "$(ct systemctl is-active isolated)" = active
out=$(ct curl -fsS --max-time 10 http://127.0.0.1:9739/metrics 2>&1); rc=$?
[ $rc = 0 ] && grep -qx 'isolated_up 1' <<<"$out" && ok "the scrape socket enabled before the upgrade still answers" \
  || bad "scrape after the upgrade: curl exit $rc: $(head -c 300 <<<"$out"); $(ct systemctl status isolated-metrics.socket isolated-metrics.service --no-pager 2>&1 | tail -20)"
waitfor '[ "$(app probed state)" = ready ]'
[ "$(app probed pid)" = "$p4" ] && ok "the upgrade left the apps running (pid $p4)" || bad "upgrade restarted apps: pid $(app probed pid), was $p4"
if ct dpkg -r isolated >"$W/remove.log" 2>&1; then ok "dpkg -r"; else bad "dpkg -r: $(tail -5 "$W/remove.log")"; fi
check "the service is stopped after remove" sh -c "! nsenter -t $L -a systemctl is-active -q isolated"
check "the scrape socket is closed after remove" test -z "$(ct ss -Hltn 'sport = :9739' 2>&1)"
check "the app file stays after remove" ct test -f /etc/isolated/apps/hello.json
if ct dpkg --purge isolated >"$W/purge.log" 2>&1; then ok "dpkg --purge"; else bad "dpkg --purge: $(tail -5 "$W/purge.log")"; fi
check "purge removed the conffile" ct test ! -e /etc/isolated/isolated.conf
check "purge removed /var/log/isolated and /run/isolated" ct test ! -e /var/log/isolated -a ! -e /run/isolated
check "purge left the operator's app file" ct test -f /etc/isolated/apps/hello.json
check "no unit left enabled" test ! -e "$R/etc/systemd/system/multi-user.target.wants/isolated.service" \
  -a ! -e "$R/etc/systemd/system/sockets.target.wants/isolated-metrics.socket"
check "no isolated process left" sh -c "! nsenter -t $L -a pgrep -x isolated >/dev/null"
if ct dpkg -i /var/tmp/isolated.deb >"$W/install2.log" 2>&1 && test "$(ct systemctl is-active isolated)" = active; then
  ok "install after purge (group already there)"
else
  bad "install after purge: $(tail -5 "$W/install2.log")"
fi

# ---------------------------------------------------------------------------------
phase "power off"
if [ "$KEEP" != 1 ]; then
  waitfor '[ "$(app probed state)" = ready ]'
  rm -f "$R/var/tmp/itest/bye"
  ct systemctl poweroff --no-block >/dev/null 2>&1
  for _ in $(seq 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$NSPAWN_PID" 2>/dev/null && bad "container did not power off" || ok "container powered off"
  [ "$(cat "$R/var/tmp/itest/bye" 2>/dev/null)" = graceful ] && ok "power off stopped the apps gracefully" \
    || bad "no goodbye from the app at power off"
fi
echo "test-deb.sh: $PASS passed, $FAIL failed in $(( $(date +%s) - T0 ))s"
[ "$FAIL" = 0 ]
