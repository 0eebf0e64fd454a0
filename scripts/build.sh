#!/bin/bash
# Configures and builds isolated (daemon, init, isoctl, tests) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
# Prefix /usr: the daemon compiles in where the installed isolated-init lives, and the
# package test (packaging/test-deb.sh --prebuilt build) packages this very tree.
# Warnings are errors in CI (CI=true, as CI services set it, or ISOLATED_WERROR=ON) and
# only there; the value is passed every time so that a reused build dir follows it.
werror=${ISOLATED_WERROR:-$([ "${CI:-}" = true ] && echo ON || echo OFF)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DISOLATED_WERROR="$werror" >/dev/null
cmake --build build -j"$(nproc)"
