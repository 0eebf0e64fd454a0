#!/bin/bash
# The main job: set up, build, and run the isolated daemon on the bundled scenario apps
# (conf/apps: nginx, vsftpd, postgres from Debian's packages; hello), wait until they
# are ready, then show `isoctl status`. The daemon keeps running in the background;
# stop it with `scripts/demo.sh stop` (or `kill $(cat /run/isolated/isolated.pid)`).
#
# The app files name their shipped files under /etc/isolated/files and their volumes
# under /var/lib/isolated/data (where the package puts them); the demo runs copies in
# $RUN_DIR/demo-apps that use this checkout's conf/files instead. The one thing it
# writes to /etc is postgres's password, a secret: /etc/isolated/secrets/pg-password
# (0400 root, in a 0700 directory), made random when it is missing and kept after.
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

# postgres's password: a root-only file the daemon hands to the app as
# /run/secrets/pg-password (isolated.app(5), "secrets").
SECRETS_DIR=/etc/isolated/secrets
install -d -m 0700 -o root -g root "$SECRETS_DIR"
if [ ! -s "$SECRETS_DIR/pg-password" ]; then
  (umask 077; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRETS_DIR/pg-password.tmp"; echo >>"$SECRETS_DIR/pg-password.tmp")
  chmod 0400 "$SECRETS_DIR/pg-password.tmp"
  mv "$SECRETS_DIR/pg-password.tmp" "$SECRETS_DIR/pg-password"
  echo "postgres password generated: $SECRETS_DIR/pg-password"
fi

APPS_DIR=$RUN_DIR/demo-apps
mkdir -p "$APPS_DIR"
for f in conf/apps/*.json; do
  sed -e "s#\"/etc/isolated/files/#\"$PWD/conf/files/#g" "$f" >"$APPS_DIR/.tmp" && mv "$APPS_DIR/.tmp" "$APPS_DIR/$(basename "$f")"
done

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "isolated already running (pid $(cat "$PIDFILE")); reloading the apps"
  kill -HUP "$(cat "$PIDFILE")"
else
  mkdir -p "$RUN_DIR" /var/lib/isolated /var/log/isolated
  nohup build/isolated --config conf/isolated.conf --apps-dir "$APPS_DIR" \
    --run-dir "$RUN_DIR" --state-dir /var/lib/isolated --log-dir /var/log/isolated \
    >>/var/log/isolated/daemon.log 2>&1 &
  echo $! >"$PIDFILE"
  echo "isolated started (pid $!); its own log: /var/log/isolated/daemon.log"
fi

export ISOCTL_SOCKET=$RUN_DIR/isolated.sock
for _ in $(seq 100); do [ -S "$ISOCTL_SOCKET" ] && break; sleep 0.1; done
# The first start of postgres runs initdb: give the three services up to 2 minutes.
for _ in $(seq 120); do
  [ "$(build/isoctl -o json status nginx vsftpd postgres 2>/dev/null | grep -o '"ready": *true' | wc -l)" = 3 ] && break
  sleep 1
done
build/isoctl status
cat <<'TRY'

Try them from this host (through the port forwards):
  curl http://127.0.0.1:8080/
  lftp -u ftpuser,ftppass -e 'set ftp:ssl-allow no; ls; bye' 127.0.0.1
  PGPASSWORD=$(cat /etc/isolated/secrets/pg-password) psql -h 127.0.0.1 -U postgres -c 'SELECT 1'
(The FTP user is a demo value: see conf/files/vsftpd/users. The postgres password is
random, in /etc/isolated/secrets/pg-password.)
TRY
