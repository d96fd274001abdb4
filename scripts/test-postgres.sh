#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests and prints the line that points them at it:
#   eval "$(scripts/test-postgres.sh start)"   ...   scripts/test-postgres.sh stop
# The cluster lives in a temporary folder owned by an unprivileged user (PostgreSQL refuses to run as root).
set -euo pipefail
folder="${VERDICT_TEST_POSTGRES_DIR:-/tmp/verdict-test-postgres}"
port="${VERDICT_TEST_POSTGRES_PORT:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server here: apt-get install -y postgresql" >&2; exit 1; }
user=postgres
id "$user" >/dev/null 2>&1 || user=nobody
as_user() { if [ "$(id -u)" = 0 ]; then setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"; else "$@"; fi; }

case "${1:-}" in
start)
    rm -rf "$folder"
    mkdir -p "$folder"
    [ "$(id -u)" = 0 ] && chown "$user" "$folder"
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    printf '%s\n' "$password" > "$folder.password"
    [ "$(id -u)" = 0 ] && chown "$user" "$folder.password"
    as_user "$bin/initdb" -D "$folder/data" -U verdict --pwfile="$folder.password" -A scram-sha-256 >"$folder.log" 2>&1
    rm -f "$folder.password"
    as_user "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $folder -c max_connections=300 -c fsync=off" start >>"$folder.log" 2>&1 \
        || { cat "$folder.log" "$folder/server.log" >&2; exit 1; }
    echo "export VERDICT_TEST_POSTGRES_URL='postgres://verdict:$password@127.0.0.1:$port/postgres?sslmode=disable'"
    echo "export VERDICT_TEST_POSTGRES_DATA='$folder/data'"
    ;;
stop)
    as_user "$bin/pg_ctl" -D "$folder/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$folder"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
