#!/usr/bin/env bash
# Local intelligence at scale: `verdict feeds sync` time, memory and store size for N generated feed entries
# (default 1,000,000: IPv4 addresses, CIDR blocks, domains, URLs, SHA-256), and custom-verdict's per-alert cost
# as integratord runs it with no feeds at all, with the feed configured but its index empty, and with the full
# index (a miss and a hit).
#
#   swift build -c release --product verdict --product custom-verdict
#   scripts/bench-feeds.sh [entries] [runs]
set -euo pipefail

entries=${1:-1000000}
runs=${2:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICT_BUILD:-$root/.build/release}
for tool in hyperfine python3; do command -v $tool >/dev/null || { echo "install $tool" >&2; exit 2; }; done
[ -x "$build/custom-verdict" ] && [ -x "$build/verdict" ] || { echo "build first (see the header)" >&2; exit 2; }

work=$(mktemp -d)
home="$work/ossec"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$home"/{queue/sockets,logs,integrations,etc,var} "$work/feed"
cp "$build/custom-verdict" "$home/integrations/custom-verdict"

# The feed: deterministic, no value in 45.155.205.0/24 (the alerts' addresses), one a line.
python3 - "$entries" "$work/feed/bench.txt" <<'EOF'
import random, sys, hashlib
n, path = int(sys.argv[1]), sys.argv[2]
random.seed(7)
words = ["cdn", "update", "login", "secure", "mail", "api", "files", "panel", "gate", "host"]
tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "io"]
with open(path, "w") as out:
    out.write("# generated bulk feed\n")
    for i in range(n):
        kind = i % 20
        if kind < 12:
            a = random.randint(1, 223)
            if a in (10, 127):
                a = 11
            b, c, d = random.randint(0, 255), random.randint(0, 255), random.randint(1, 254)
            if (a, b, c) == (45, 155, 205):
                c = 204
            out.write(f"{a}.{b}.{c}.{d}\n")
        elif kind == 12:
            out.write(f"{random.randint(1, 223)}.{random.randint(0, 255)}.{random.randint(0, 255)}.0/24\n")
        elif kind < 18:
            out.write(f"{random.choice(words)}{i}.{random.choice(words)}-{random.randint(0, 99999)}.{random.choice(tlds)}\n")
        elif kind == 18:
            out.write(f"http://{random.choice(words)}{i}.{random.choice(tlds)}/{random.choice(words)}/{i}.bin\n")
        else:
            out.write(hashlib.sha256(str(i).encode()).hexdigest() + "\n")
    out.write("45.155.205.77\n")
EOF
echo "feed: $entries entries, $(du -h "$work/feed/bench.txt" | cut -f1)"

# The publisher (If-Modified-Since answered with 304) and analysisd's queue.
python3 - "$work/feed" "$work/feed.port" <<'EOF' &
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
open(sys.argv[2], "w").write(str(server.server_address[1]))
server.serve_forever()
EOF
pids+=($!)
python3 - "$home/queue/sockets/queue" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True: s.recv(70000)
EOF
pids+=($!)
for _ in $(seq 50); do [ -s "$work/feed.port" ] && [ -S "$home/queue/sockets/queue" ] && break; sleep 0.1; done
cat >"$work/verdict.yaml" <<EOF
feeds:
  bench:
    url: http://127.0.0.1:$(cat "$work/feed.port")/bench.txt
    format: plain
    max_size: 1GB
EOF

export VERDICT_WAZUH_HOME="$home" VERDICT_INTERNETDB_ENABLED=false
echo
echo "== verdict feeds sync ($entries entries into SQLite)"
/usr/bin/time -f "first sync: %e s wall, %U s user, %M KB peak memory" \
    env VERDICT_DATA_DIR="$work/full" VERDICT_CONFIG="$work/verdict.yaml" "$build/verdict" feeds sync
/usr/bin/time -f "second sync (304): %e s wall" \
    env VERDICT_DATA_DIR="$work/full" VERDICT_CONFIG="$work/verdict.yaml" "$build/verdict" feeds sync
echo "store: $(du -cb "$work"/full/verdict.sqlite* | tail -1 | cut -f1 | awk '{printf "%.1f MB", $1/1048576}')"

# The empty index: the same settings, the feed never synced (its table is there, with nothing in it).
mkdir -p "$work/empty"
VERDICT_DATA_DIR="$work/empty" VERDICT_CONFIG="$work/verdict.yaml" "$build/verdict" feeds list >/dev/null

alert() {
    cat >"$work/$1.alert" <<EOF
{"timestamp":"2026-11-30T18:33:12.000+0000","rule":{"level":10,"description":"sshd: authentication failed.","id":"5710","groups":["syslog","sshd","authentication_failed"]},"agent":{"id":"001","name":"web-server-01","ip":"10.0.2.15"},"manager":{"name":"wazuh-manager"},"id":"1796000000.1","full_log":"Failed password for root from $2 port 22 ssh2","decoder":{"name":"sshd"},"data":{"srcip":"$2","srcuser":"root"},"location":"/var/log/auth.log"}
EOF
}
alert miss 45.155.205.10
alert hit 45.155.205.77
cv="$home/integrations/custom-verdict"
run() { echo "env VERDICT_DATA_DIR=$work/$1 VERDICT_CONFIG=$2 $cv $work/$3.alert '' '' '' '' 10 3"; }

echo
echo "== custom-verdict per alert ($runs runs each, hyperfine)"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/runs.json" \
    -n "no feeds" "$(run nofeeds '' miss)" \
    -n "feed configured, empty index" "$(run empty "$work/verdict.yaml" miss)" \
    -n "$entries entries, miss" "$(run full "$work/verdict.yaml" miss)" \
    -n "$entries entries, hit" "$(run full "$work/verdict.yaml" hit)" >/dev/null
python3 - "$work/runs.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
for r in results:
    print(f'{r["command"]:<36} mean {r["mean"]*1000:7.2f} ms  median {r["median"]*1000:7.2f} ms  '
          f'(+{(r["mean"]-base)*1000:5.2f} ms over no feeds)')
EOF
grep -c "malicious" "$home/logs/integrations.log" >/dev/null 2>&1 || true
tail -n 2 "$home/logs/integrations.log" 2>/dev/null || true
