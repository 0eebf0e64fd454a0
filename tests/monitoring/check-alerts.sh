#!/bin/bash
# ctest "monitoring: ...": the alerting rules (conf/monitoring/isolated-alerts.yml) pass
# `promtool check rules`, their unit tests pass `promtool test rules`, and those tests can
# fail: a scratch copy whose expected alert is broken must fail them.
# Fails (never skips) when promtool is missing: scripts/install-deps.sh installs it.
set -euo pipefail
dir=${1:?usage: check-alerts.sh CONF_MONITORING_DIR}
rules=$dir/isolated-alerts.yml tests=$dir/isolated-alerts.test.yml

if ! command -v promtool >/dev/null; then
  echo "FAIL: promtool not found on PATH; install Debian's prometheus package (scripts/install-deps.sh does)" >&2
  exit 1
fi
promtool --version 2>&1 | head -n1

promtool check rules "$rules"
promtool test rules "$tests"

# The tests must be able to fail: expect the wrong severity for one alert.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$rules" "$tests" "$scratch/"
python3 - "$scratch/isolated-alerts.test.yml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = "              severity: critical\n              job: isolated\n              instance: host-a\n              app: web\n              name: web\n              state: failed\n"
assert s.count(old) == 1, "the IsolatedAppFailed case to break is not in the tests"
open(p, "w").write(s.replace(old, old.replace("critical", "warning")))
PY
if promtool test rules "$scratch/isolated-alerts.test.yml" >"$scratch/out" 2>&1; then
  cat "$scratch/out" >&2
  echo "FAIL: promtool test rules passed a test whose expected alert is wrong" >&2
  exit 1
fi
grep -q 'alertname: IsolatedAppFailed' "$scratch/out" || {
  cat "$scratch/out" >&2; echo "FAIL: the broken case did not fail on IsolatedAppFailed" >&2; exit 1; }
echo "OK: a broken expectation (IsolatedAppFailed with severity warning) fails promtool test rules"
