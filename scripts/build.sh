#!/bin/bash
# Configures and builds isolated (daemon, init, isoctl, tests) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
# Prefix /usr: the daemon compiles in where the installed isolated-init lives, and the
# package test (packaging/test-deb.sh --prebuilt build) packages this very tree.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build -j"$(nproc)"
