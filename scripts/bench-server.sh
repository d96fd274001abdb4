#!/usr/bin/env bash
# Load test of `verdict serve` on loopback with wrk (Debian package `wrk`): cached single-indicator lookups
# and cached 10-indicator batches. Reports requests/s, p50/p99 latency and the server's peak RSS.
#
#   swift build -c release --product verdict && scripts/bench-server.sh [seconds] [connections]
#
# VERDICT_BUILD names another build folder (another checkout's, to compare two versions on one machine).
#
# scripts/mock-abuseipdb.py answers on 127.0.0.1 as AbuseIPDB does (docs/sources.md) so the first lookup of
# each value fills the cache; every measured request is then a cache hit, as the issue asks. The per-key rate
# limit is turned off (VERDICT_SERVER_KEY_RATE_LIMIT=off): it would otherwise answer most requests with 429;
# so are the in-flight caps, since every wrk connection uses the one key.
set -euo pipefail

duration=${1:-15}
connections=${2:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
verdict="${VERDICT_BUILD:-$root/.build/release}/verdict"
[ -x "$verdict" ] || { echo "build first: swift build -c release --product verdict" >&2; exit 2; }
command -v wrk >/dev/null || { echo "install wrk: apt-get install -y wrk" >&2; exit 2; }

work=$(mktemp -d)
cleanup() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    [ -n "${mock_pid:-}" ] && kill "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$root/scripts/mock-abuseipdb.py" >"$work/mock.port" &
mock_pid=$!
for _ in $(seq 50); do [ -s "$work/mock.port" ] && break; sleep 0.1; done

export VERDICT_DATA_DIR="$work/data" VERDICT_CONFIG="" VERDICT_INTERNETDB_ENABLED=false
export VERDICT_ABUSEIPDB_API_KEY=bench-key VERDICT_ABUSEIPDB_URL="http://127.0.0.1:$(cat "$work/mock.port")"
export VERDICT_SERVER_KEY_RATE_LIMIT=off VERDICT_SERVER_MAX_IN_FLIGHT_PER_KEY=1024 VERDICT_SERVER_MAX_IN_FLIGHT=4096
export VERDICT_LOG_LEVEL=${VERDICT_LOG_LEVEL:-info}
"$verdict" serve --port 0 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.out" | tail -1)
key=$(cat "$work/data/admin-key")  # the first start writes the admin key there

single='{"indicators": ["185.220.101.4"]}'
batch='{"indicators": ["185.220.101.1","185.220.101.2","185.220.101.3","185.220.101.4","185.220.101.5","185.220.101.6","185.220.101.7","185.220.101.8","185.220.101.9","185.220.101.10"]}'
for body in "$single" "$batch"; do
    curl -sf -o /dev/null -X POST "$url/v1/enrichment/lookup" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' -d "$body"
done

run() {
    local name=$1 body=$2
    cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
EOF
    local line
    line=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" "$url/v1/enrichment/lookup" | grep '^RESULT')
    read -r _ rps p50 p99 bad total <<<"$line"
    printf '%-28s %10s req/s   p50 %7s ms   p99 %7s ms   non-2xx %s of %s\n' "$name" "$rps" "$p50" "$p99" "$bad" "$total"
}

echo "verdict serve on $url, wrk -t2 -c$connections -d${duration}s, log level $VERDICT_LOG_LEVEL"
run "cached single indicator" "$single"
run "cached 10-indicator batch" "$batch"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2 / 1024}' /proc/$server_pid/status)"
echo "upstream calls to the mock provider: $(curl -s "$url/metrics" | awk -F' ' '/^verdict_source_answers_total/ {n += $2} END {print n + 0}')"
