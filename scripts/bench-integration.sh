#!/usr/bin/env bash
# Per-alert cost of custom-verdict as wazuh-integratord runs it, next to Wazuh's bundled maltiverse.py run the
# same way against a mock Maltiverse on loopback. Reports wall time and CPU (user + system) per alert.
#
#   swift build -c release --product custom-verdict --product verdict     # or with --static-swift-stdlib
#   scripts/bench-integration.sh /path/to/maltiverse.py [runs]
#
# maltiverse.py comes from Wazuh's repository (integrations/maltiverse.py at the 4.14 tag); it is not part of
# Verdict and this script neither fetches nor builds it. It needs python3 and `requests`.
# Measured: custom-verdict embedded mode with a cached answer, client mode against `verdict serve` with a
# cached answer, and a cold embedded lookup (fresh cache each run) against the mock Maltiverse; the two cache
# hits also without the warm engine (VERDICT_ENGINE_IDLE=0: each alert starts the whole program); verdict-ar's
# cache hit the same two ways.
set -euo pipefail

maltiverse=${1:?"give the path to Wazuh's integrations/maltiverse.py"}
runs=${2:-100}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICT_BUILD:-$root/.build/release}
for tool in hyperfine python3; do command -v $tool >/dev/null || { echo "install $tool" >&2; exit 2; }; done
[ -x "$build/custom-verdict" ] && [ -x "$build/verdict" ] || { echo "build first (see the header)" >&2; exit 2; }

work=$(mktemp -d)
home="$work/ossec"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$home"/{queue/sockets,logs,integrations,etc,var}
cp "$maltiverse" "$home/integrations/maltiverse.py"
# As `verdict wazuh install` lays it out: the relay and, beside it, the engine it hands runs to.
for program in custom-verdict verdict; do
    cp "$build/$program" "$home/integrations/$program"
    strip "$home/integrations/$program"
done

# analysisd's queue: a datagram socket that keeps draining.
python3 - "$home/queue/sockets/queue" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True: s.recv(70000)
EOF
pids+=($!)

# Maltiverse: the documented answer for /ip/{ip} (docs/sources.md).
python3 - "$work/maltiverse.port" <<'EOF' &
import http.server, json, sys
class Maltiverse(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if not self.path.startswith("/ip/"):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        body = json.dumps({"ip_addr": self.path[4:], "type": "ip", "classification": "malicious",
            "blacklist": [{"source": "Blocklist.de", "description": "Mail Spammer", "count": 1,
                           "first_seen": "2017-11-30 12:39:45", "last_seen": "2017-11-30 12:39:45"},
                          {"source": "CIArmy", "description": "Malicious Host", "count": 1,
                           "first_seen": "2020-01-28 00:45:48", "last_seen": "2020-01-29 07:10:12"}],
            "tag": ["mail", "spam"], "country_code": "CN", "creation_time": "2017-11-30 12:39:45",
            "modification_time": "2020-02-19 06:34:10"}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *args): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Maltiverse)
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
EOF
pids+=($!)
for _ in $(seq 50); do [ -s "$work/maltiverse.port" ] && [ -S "$home/queue/sockets/queue" ] && break; sleep 0.1; done
mock="http://127.0.0.1:$(cat "$work/maltiverse.port")"

alert="$work/custom-verdict-1716200000--42.alert"
cat >"$alert" <<'EOF'
{"timestamp":"2024-05-29T18:33:12.000+0000","rule":{"level":10,"description":"sshd: brute force trying to get access to the system. Authentication failed.","id":"5712","groups":["syslog","sshd","authentication_failures"]},"agent":{"id":"001","name":"web-server-01","ip":"10.0.2.15"},"manager":{"name":"wazuh-manager"},"id":"1716200000.12345","full_log":"May 29 18:33:10 web sshd[1234]: Failed password for root from 185.220.101.4 port 22 ssh2","decoder":{"name":"sshd"},"data":{"srcip":"185.220.101.4","srcuser":"root"},"location":"/var/log/auth.log"}
EOF

# Verdict with Maltiverse as its only source, as a fair match for maltiverse.py.
export VERDICT_WAZUH_HOME="$home" VERDICT_CONFIG="" VERDICT_INTERNETDB_ENABLED=false
export VERDICT_MALTIVERSE_API_KEY=bench-key VERDICT_MALTIVERSE_URL="$mock"
cv="$home/integrations/custom-verdict"
args=("$alert" "" "" "" "" 10 3 "> /dev/null 2>&1")

VERDICT_DATA_DIR="$work/server" VERDICT_SERVER_KEY_RATE_LIMIT=off VERDICT_LOG_LEVEL=warning \
    "$build/verdict" serve --port 0 >"$work/server.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$work/server.out" 2>/dev/null && break; sleep 0.1; done
server=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.out" | tail -1)
key=$(cat "$work/server/admin-key")  # the first start writes the admin key there

"$cv" "${args[@]}"                                     # fills the embedded cache
"$cv" "$alert" "$key" "$server" "" "" 10 3 "> /dev/null 2>&1"   # fills the server's cache
grep -q 'events written' "$home/logs/integrations.log" || { cat "$home/logs/integrations.log"; exit 1; }

quote() { printf '%q ' "$@"; }
client=("$alert" "$key" "$server" "" "" 10 3 "> /dev/null 2>&1")
# From the Wazuh home, as integratord runs integrations. One --prepare per command, in order (a single one
# would apply to all): only the cold run loses its cache.
cd "$home"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/results.json" \
    --prepare true --prepare true --prepare true --prepare true --prepare true --prepare "rm -rf $home/var/verdict" \
    -n "maltiverse.py (Python, asks the mock each time)" "python3 $home/integrations/maltiverse.py $alert bench-key $mock" \
    -n "custom-verdict embedded, cache hit" "$(quote "$cv" "${args[@]}")" \
    -n "custom-verdict client mode, cache hit" "$(quote "$cv" "${client[@]}")" \
    -n "embedded, cache hit, no warm engine" "$(quote env VERDICT_ENGINE_IDLE=0 "$cv" "${args[@]}")" \
    -n "client mode, cache hit, no warm engine" "$(quote env VERDICT_ENGINE_IDLE=0 "$cv" "${client[@]}")" \
    -n "custom-verdict embedded, cold (fresh cache)" "$(quote "$cv" "${args[@]}")" \
    >"$work/hyperfine.out" 2>&1 || { cat "$work/hyperfine.out"; exit 1; }
cd - >/dev/null

python3 - "$work/results.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
print(f"{'command':50} {'wall ms':>9} {'± ms':>7} {'user ms':>8} {'sys ms':>7} {'× faster':>9}")
for r in results:
    print(f"{r['command']:50} {r['mean']*1000:9.1f} {r['stddev']*1000:7.1f} {r['user']*1000:8.1f} {r['system']*1000:7.1f} {base / r['mean']:9.1f}")
EOF
# verdict-ar as wazuh-execd runs it: one message on standard input, as root when this script is (it then becomes
# the owner of var/verdict, as installed: nobody stands in for wazuh). hyperfine 1.15 has no --input, so these
# run through its shell, whose own start hyperfine measures and subtracts.
ar_home="$work/ar"
chmod 0755 "$work"  # the engine runs as nobody then, and must reach its executable
mkdir -p "$ar_home"/{logs,etc,var/verdict,active-response/bin}
ln -s "$home/queue" "$ar_home/queue"
chmod 0666 "$home/queue/sockets/queue"
cp "$build/verdict-ar" "$ar_home/active-response/bin/verdict-ar"
strip "$ar_home/active-response/bin/verdict-ar"
ln "$home/integrations/verdict" "$ar_home/active-response/bin/verdict" 2>/dev/null ||
    cp "$home/integrations/verdict" "$ar_home/active-response/bin/verdict"
if [ "$(id -u)" = 0 ]; then chown nobody "$ar_home/logs" "$ar_home/var/verdict"; fi
printf '{"version":1,"origin":{"name":"node01","module":"wazuh-execd"},"command":"add","parameters":{"extra_args":[],"alert":%s,"program":"active-response/bin/verdict-ar"}}\n' \
    "$(cat "$alert")" >"$work/ar.message"
ar="$ar_home/active-response/bin/verdict-ar"
export VERDICT_WAZUH_HOME="$ar_home"
(cd "$ar_home" && "$ar" <"$work/ar.message")  # fills its cache
cd "$ar_home"
hyperfine --warmup 5 --runs "$runs" --export-json "$work/ar.json" \
    -n "verdict-ar embedded, cache hit" "$ar < $work/ar.message" \
    -n "verdict-ar cache hit, no warm engine" "VERDICT_ENGINE_IDLE=0 $ar < $work/ar.message" \
    >"$work/ar.out" 2>&1 || { cat "$work/ar.out" "$ar_home/logs/active-responses.log"; exit 1; }
cd - >/dev/null
python3 - "$work/ar.json" "$work/results.json" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = json.load(open(sys.argv[2]))["results"][0]["mean"]
for r in results:
    print(f"{r['command']:50} {r['mean']*1000:9.1f} {r['stddev']*1000:7.1f} {r['user']*1000:8.1f} {r['system']*1000:7.1f} {base / r['mean']:9.1f}")
EOF
grep -q 'events written' "$ar_home/logs/active-responses.log" || { cat "$ar_home/logs/active-responses.log"; exit 1; }
echo "events received by the mock analysisd socket: $(grep -c 'events written' "$home/logs/integrations.log") custom-verdict runs logged"
