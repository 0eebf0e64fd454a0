#!/bin/bash
# Installs every Debian 12 package that building isolated and running its whole test
# suite needs. Idempotent; safe on a fresh machine (run as root).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: run as root" >&2; exit 2; }

PACKAGES=(
  # build
  build-essential cmake pkg-config musl-tools
  libboost-dev libboost-program-options-dev nlohmann-json3-dev catch2 libsystemd-dev
  libnl-route-3-dev libmnl-dev libnftables-dev libseccomp-dev libcap-dev
  libssl-dev libarchive-dev
  # isoctl export/import kube: YAML
  libyaml-cpp-dev
  # tests: real programs and tools the integration tests drive
  curl iproute2 nftables procps util-linux systemd-container bubblewrap
  # the Prometheus project's own text-format parser (python3 prometheus_client), for /v1/metrics
  python3 python3-prometheus-client
  # promtool (Debian ships it in prometheus, whose server is kept from starting as the
  # scenario's are, below), for the alerting rules in conf/monitoring
  prometheus
  # image fixtures and oracles (tests/integration/images_test.cpp): umoci builds and
  # unpacks OCI images, skopeo converts them between formats
  umoci skopeo
  # a real registry for the pull tests (tests/integration/registry_pull_test.cpp):
  # Debian's docker-registry (CNCF distribution 2.8), htpasswd -B for its Basic auth
  docker-registry apache2-utils
  # the seed scenario (conf/apps: nginx, vsftpd with PAM virtual users, PostgreSQL) and
  # its clients (curl above, lftp, psql and pgbench from postgresql-client)
  nginx vsftpd libpam-pwdfile postgresql postgresql-contrib postgresql-client lftp openssl
  # manual pages (scdoc sources in docs/man)
  scdoc
  # the Debian package (packaging/build-deb.sh) and its test (packaging/test-deb.sh:
  # lintian, bash completion with bash-completion's framework)
  dpkg-dev debhelper lintian bash-completion
  # the Cockpit page's test (tests/cockpit): Cockpit's web server and bridge, and a
  # headless browser driven over the DevTools protocol
  cockpit-ws cockpit-bridge chromium
  # tests on a real cgroup v2 with controllers (tests/vm/qemu-cgroup2.sh boots a guest)
  qemu-system-x86 busybox-static cpio kmod
  # isoctl export kube's real consumer (tests/kube/podman-play.sh): podman kube play with
  # runc (crun refuses hybrid cgroups), catatonit for its locally built pause image, and
  # umoci/skopeo to build the test's tiny image as an OCI archive
  podman runc catatonit umoci skopeo
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The scenario's servers run only inside isolated's sandboxes: keep their packages
  # from starting (and enabling) host services while they are installed, unless the
  # machine already has a policy (Docker images ship one that says the same).
  policy=/usr/sbin/policy-rc.d ours=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && ours=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  if [ -n "$ours" ]; then rm -f "$policy"; fi
  [ "$rc" = 0 ] || exit "$rc"
  # ... nor at the next boot, where systemd runs the host's services.
  if [ -d /run/systemd/system ]; then
    for unit in nginx vsftpd postgresql prometheus docker-registry; do
      if printf '%s\n' "${missing[@]}" | grep -qx "$unit"; then systemctl disable -q "$unit" 2>/dev/null || true; fi
    done
  fi
fi

# Node.js runs test tooling only (tests/js: a PromQL parser, a DevTools client), pinned
# by tests/js/package-lock.json. Debian's nodejs and npm unless the machine has its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# npm ci again only when the lockfile changed since the last install (the stamp is its copy).
if ! cmp -s tests/js/package-lock.json tests/js/node_modules/.isolated-lock 2>/dev/null; then
  echo "install-deps.sh: npm ci in tests/js"
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.isolated-lock)
fi
