#!/bin/sh
# Entry point of the postgres app (as the official Docker image's entrypoint): runs as
# root, owns the data volume to postgres, runs initdb once when it is empty (superuser
# password from the file POSTGRES_PASSWORD_FILE, by default the app's secret
# $CREDENTIALS_DIRECTORY/pg-password), then becomes the postmaster as user postgres
# (exec: the postmaster is the app's main process). The password only matters to
# initdb: once the cluster exists, change it with ALTER ROLE (and the secret with it).
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

mkdir -p /run/postgresql "$PGDATA"
chown postgres:postgres /run/postgresql "$PGDATA"
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    secret=${POSTGRES_PASSWORD_FILE:-${CREDENTIALS_DIRECTORY:-/run/secrets}/pg-password}
    if [ ! -s "$secret" ]; then
        echo "postgres: no password in $secret (the app's secret pg-password); refusing to initialise $PGDATA without one" >&2
        exit 1
    fi
    # initdb runs as postgres, which may not read the secret: a private copy for it.
    pwfile=$(mktemp)
    head -n 1 "$secret" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres "$bin/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8
    rm -f "$pwfile"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin/postgres" -D "$PGDATA" \
    -c listen_addresses='*' \
    -c hba_file=/opt/isolated/pg_hba.conf \
    -c unix_socket_directories=/run/postgresql \
    -c password_encryption=scram-sha-256
