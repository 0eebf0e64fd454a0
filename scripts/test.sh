#!/bin/bash
# Sets up, builds and runs the whole test suite: unit and integration tiers.
# Integration tests need root; with ISOLATED_REQUIRE_ALL=1 (the default here) a
# test whose prerequisite is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export ISOLATED_REQUIRE_ALL="${ISOLATED_REQUIRE_ALL:-1}"
cd build
# --output-on-failure: a failing test shows its Catch2 report; the last lines are
# ctest's summary ("100% tests passed, 0 tests failed out of N").
ctest --output-on-failure --timeout 900 "$@"
