#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests and prints the lines that point them at it:
#   env="$(scripts/test-postgres.sh start)"; eval "$env"   ...   scripts/test-postgres.sh stop
# The cluster lives in a new temporary folder owned by an unprivileged user (PostgreSQL refuses to run as root),
# on the first free port from 54329; `stop` reads the folder from VERDICT_TEST_POSTGRES_DIR, as do `pause` (the
# server stops, its data kept) and `resume` (it starts again on its port), with which tests play an outage.
set -euo pipefail
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server here: apt-get install -y postgresql" >&2; exit 1; }
user=postgres
id "$user" >/dev/null 2>&1 || user=nobody
as_user() { if [ "$(id -u)" = 0 ]; then setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"; else "$@"; fi; }

# pg_ctl start for the folder's cluster on its port; without fsync (tests lose nothing by it) unless
# VERDICT_TEST_POSTGRES_FSYNC=on, as benchmarks ask, so their figures are a durable server's.
run_server() {
    # The server inherits every open descriptor: the caller's, closed here, would be held open as long as it runs
    # (a caller waiting for them to close would wait for ever).
    local descriptors descriptor
    descriptors="$(ls /proc/$$/fd)"
    for descriptor in $descriptors; do
        [ "$descriptor" -gt 2 ] && eval "exec $descriptor>&-" 2>/dev/null || true
    done
    as_user "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $(cat "$folder/port") -k $folder -c max_connections=300 -c fsync=${VERDICT_TEST_POSTGRES_FSYNC:-off}" \
        start >/dev/null 2>&1 || { cat "$folder/server.log" >&2; exit 1; }
}

case "${1:-}" in
start)
    folder="$(mktemp -d /tmp/verdict-test-postgres.XXXXXX)"
    chmod 755 "$folder"
    [ "$(id -u)" = 0 ] && chown "$user" "$folder"
    # A paused cluster's port is free but still its own (resume binds it again), so a port is taken when anything
    # listens on it or any cluster folder names it; the lock keeps two starts at once from choosing the same one.
    exec 9>/tmp/verdict-test-postgres.lock
    flock 9
    claimed=" $(cat /tmp/verdict-test-postgres.*/port 2>/dev/null | tr "\n" " " || true) "
    port=54329
    while [[ "$claimed" == *" $port "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$port" > "$folder/port"
    exec 9>&-
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    printf '%s\n' "$password" > "$folder/password"
    [ "$(id -u)" = 0 ] && chown "$user" "$folder/password"
    as_user "$bin/initdb" -D "$folder/data" -U verdict --pwfile="$folder/password" -A scram-sha-256 >"$folder/initdb.log" 2>&1 \
        || { cat "$folder/initdb.log" >&2; exit 1; }
    rm -f "$folder/password"
    run_server
    echo "export VERDICT_TEST_POSTGRES_URL='postgres://verdict:$password@127.0.0.1:$port/postgres?sslmode=disable'"
    echo "export VERDICT_TEST_POSTGRES_DIR='$folder'"
    ;;
pause)
    folder="${VERDICT_TEST_POSTGRES_DIR:?VERDICT_TEST_POSTGRES_DIR is not set}"
    as_user "$bin/pg_ctl" -D "$folder/data" -m immediate -w stop >/dev/null
    ;;
resume)
    folder="${VERDICT_TEST_POSTGRES_DIR:?VERDICT_TEST_POSTGRES_DIR is not set}"
    run_server
    ;;
stop)
    folder="${VERDICT_TEST_POSTGRES_DIR:?VERDICT_TEST_POSTGRES_DIR is not set: nothing to stop}"
    as_user "$bin/pg_ctl" -D "$folder/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$folder"
    ;;
*)
    echo "usage: $0 start|pause|resume|stop" >&2
    exit 2
    ;;
esac
