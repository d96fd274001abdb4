#!/usr/bin/env bash
# Cached lookups through two `verdict serve` replicas on one PostgreSQL database, next to one replica on SQLite,
# in the same run (wrk on loopback: requests/s and p99); lookups that each ask the source a new value, through
# one replica on each database (what PostgreSQL adds to an upstream lookup); then what the shared stores cost per
# call on each database (`verdict bench budget`).
#
#   swift build -c release --product verdict && scripts/bench-replicas.sh [seconds] [connections] [upstream]
#
# `upstream` (1 by default) is how many lookups ask the source at once: one at a time shows what each store call
# adds to a lookup's latency; more load the 2 cores until the figures are of CPU, not of waiting.
#
# The PostgreSQL server is a throwaway one (scripts/test-postgres.sh, Debian's `postgresql` package), with fsync
# on as a real one, removed at the end. scripts/mock-abuseipdb.py answers as AbuseIPDB does, so the first lookup fills the cache; every measured
# request is then a cache hit. The per-key rate limit and in-flight caps are off (wrk uses one key).
set -euo pipefail

duration=${1:-10}
connections=${2:-32}
upstream=${3:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
verdict="${VERDICT_BUILD:-$root/.build/release}/verdict"
[ -x "$verdict" ] || { echo "build first: swift build -c release --product verdict" >&2; exit 2; }
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${VERDICT_TEST_POSTGRES_DIR:-}" ] && "$root/scripts/test-postgres.sh" stop
    rm -rf "$work"
}
trap cleanup EXIT

postgres_environment="$(VERDICT_TEST_POSTGRES_FSYNC=on "$root/scripts/test-postgres.sh" start)"
eval "$postgres_environment"
# The password goes in a password file (PostgreSQL's format, read by verdict and psql alike), never on a command
# line, where ps shows it.
port=$(sed -E 's|.*@127\.0\.0\.1:([0-9]+)/.*|\1|' <<<"$VERDICT_TEST_POSTGRES_URL")
password=$(sed -E 's|^postgres://[^:]*:([^@]*)@.*|\1|' <<<"$VERDICT_TEST_POSTGRES_URL")
(umask 077 && printf '127.0.0.1:%s:postgres:verdict:%s\n' "$port" "$password" >"$work/pgpass")
export PGPASSFILE="$work/pgpass"
database="postgres://verdict@127.0.0.1:$port/postgres?sslmode=disable&passfile=$work/pgpass"

python3 "$root/scripts/mock-abuseipdb.py" >"$work/mock.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/mock.port" ] && break; sleep 0.1; done

export VERDICT_CONFIG="" VERDICT_INTERNETDB_ENABLED=false VERDICT_LOG_LEVEL=warning
export VERDICT_ABUSEIPDB_API_KEY=bench-key VERDICT_ABUSEIPDB_URL="http://127.0.0.1:$(cat "$work/mock.port")"
export VERDICT_ABUSEIPDB_RATE=1000000000/day
export VERDICT_SERVER_KEY_RATE_LIMIT=off VERDICT_SERVER_MAX_IN_FLIGHT_PER_KEY=1024 VERDICT_SERVER_MAX_IN_FLIGHT=4096

# start NAME [--database URL]: a replica with a data directory of its own; sets `url` to where it listens (not a
# command substitution: the replica's pid must reach `pids` for the cleanup to stop it).
start() {
    local name=$1
    shift
    VERDICT_DATA_DIR="$work/$name" "$verdict" serve --port 0 "$@" >"$work/$name.out" 2>"$work/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do grep -q 'listening on' "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/$name.out" | tail -1)
}
start sqlite
sqlite_url=$url
start pg1 --database "$database"
pg1_url=$url
start pg2 --database "$database"
pg2_url=$url
sqlite_key=$(cat "$work/sqlite/admin-key")
pg_key=$(VERDICT_DATA_DIR="$work/cli" "$verdict" keys create --name bench --plan enterprise --database "$database" | tail -1)

body='{"indicators": ["185.220.101.4"]}'
# The value is looked up once through replica 1: replica 2 answers it from the shared cache.
for pair in "$sqlite_url $sqlite_key" "$pg1_url $pg_key"; do
    read -r url key <<<"$pair"
    curl -sf -o /dev/null -X POST "$url/v1/enrichment/lookup" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' -d "$body"
done

# wrk NAME URL KEY CONNECTIONS [new]: one RESULT line (requests/s, p50 ms, p99 ms, non-2xx, requests); with
# "new", every request asks a random public address (from 45.0.0.0/8), so nearly every one reaches the source.
load() {
    local name=$1 url=$2 key=$3 count=$4 fresh=${5:-}
    local request=""
    [ "$fresh" = new ] && request='request = function()
  return wrk.format(nil, nil, nil, string.format("{\"indicators\": [\"45.%d.%d.%d\"]}",
    math.random(0, 255), math.random(0, 255), math.random(1, 254)))
end'
    cat >"$work/$name.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
$request
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
EOF
    wrk -t1 -c"$count" -d"${duration}s" --latency -s "$work/$name.lua" "$url/v1/enrichment/lookup" | grep '^RESULT'
}
report() {
    read -r _ rps p50 p99 bad total <<<"$2"
    printf '%-34s %8s req/s   p50 %7s ms   p99 %7s ms   non-2xx %s of %s\n' "$1" "$rps" "$p50" "$p99" "$bad" "$total"
}

echo "cached lookups, wrk -c$connections -d${duration}s on loopback (2 cores shared by wrk, replicas and PostgreSQL)"
report "1 replica on SQLite" "$(load sqlite "$sqlite_url" "$sqlite_key" "$connections")"
half=$((connections / 2))
commits() { psql "postgresql://verdict@127.0.0.1:$port/postgres?sslmode=disable" -qAt -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
before=$(commits)
load pg1 "$pg1_url" "$pg_key" "$half" >"$work/pg1.result" &
other=$!
load pg2 "$pg2_url" "$pg_key" "$half" >"$work/pg2.result"
wait "$other"
after=$(commits)
report "2 replicas on PostgreSQL: replica 1" "$(cat "$work/pg1.result")"
report "2 replicas on PostgreSQL: replica 2" "$(cat "$work/pg2.result")"
requests=$(( $(awk '{print $6}' "$work/pg1.result") + $(awk '{print $6}' "$work/pg2.result") ))
# The key check (once a second per replica), the usage batches and the monitoring queries are all there is.
echo "PostgreSQL transactions during those $requests lookups: $((after - before))"
echo
echo "lookups that ask AbuseIPDB (a loopback stand-in) a new value each, wrk -c$upstream -d${duration}s, one replica each:"
report "1 replica on SQLite" "$(load sqlite-new "$sqlite_url" "$sqlite_key" "$upstream" new)"
report "1 replica on PostgreSQL" "$(load pg1-new "$pg1_url" "$pg_key" "$upstream" new)"
echo
echo "store costs per call:"
"$verdict" bench budget --takes 2000 --connections 2 | sed 's/^/  /'
"$verdict" bench budget --takes 2000 --connections 2 --database "$database" | sed 's/^/  /'
