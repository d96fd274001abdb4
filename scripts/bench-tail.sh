#!/usr/bin/env bash
# verdict tail end to end: a 100,000-alert alerts.json read from the start with a warm cache, one event per
# alert to a datagram socket; reports alerts/s and the daemon's peak RSS, next to the rate of running
# custom-verdict once per alert as integratord does (measured on 200 alerts here).
#
#   swift build -c release --product verdict --product custom-verdict && scripts/bench-tail.sh [alerts]
set -euo pipefail
count=${1:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICT_BUILD:-$root/.build/release}
work=$(mktemp -d)
home="$work/ossec"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$home"/{queue/sockets,logs/alerts,etc,integrations} "$work/feeds/blocklists"

# 5,000 malicious addresses (local feed, no network) across the alerts: every alert gives one event.
python3 - "$home/logs/alerts/alerts.json" "$work/feeds/blocklists/bench.txt" "$count" <<'PY'
import json, sys
alerts, feed, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ips = [f"185.220.{i // 250}.{i % 250 + 1}" for i in range(5000)]
open(feed, "w").write("\n".join(ips) + "\n")
with open(alerts, "w") as out:
    for n in range(count):
        ip = ips[(n * 7919) % len(ips)]
        out.write(json.dumps({"timestamp": "2024-05-29T18:33:12.000+0000",
            "rule": {"level": 10, "description": "sshd: brute force trying to get access to the system.", "id": "5712",
                     "groups": ["syslog", "sshd", "authentication_failures"]},
            "agent": {"id": "001", "name": "web-server-01", "ip": "10.0.2.15"}, "manager": {"name": "wazuh-manager"},
            "id": f"1716200000.{n}", "full_log": f"Failed password for root from {ip} port 22 ssh2",
            "decoder": {"name": "sshd"}, "data": {"srcip": ip, "srcuser": "root"}, "location": "/var/log/auth.log"}) + "\n")
PY
python3 - "$home/queue/sockets/queue" "$work/received" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(sys.argv[1]); n = 0
while True:
    s.recv(70000); n += 1
    if n % 1000 == 0: open(sys.argv[2], "w").write(str(n))
PY
pids+=($!)
sleep 0.3
export VERDICT_WAZUH_HOME="$home" VERDICT_DATA_DIR="$work/data" VERDICT_FEEDS_DIR="$work/feeds" \
    VERDICT_INTERNETDB_ENABLED=false VERDICT_CONFIG=""

# Warm the cache (every address answered once), then measure.
"$build/verdict" replay "$home/logs/alerts/alerts.json" >/dev/null 2>&1
start=$(date +%s.%N)
"$build/verdict" tail --wazuh-home "$home" --level 5 --group sshd --from-start --metrics-port 19464 2>"$work/tail.log" &
tail_pid=$!
pids+=($tail_pid)
until curl -s localhost:19464/metrics 2>/dev/null | grep -q "^verdict_tail_alerts_read_total $count\$"; do sleep 0.05; done
end=$(date +%s.%N)
rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' /proc/$tail_pid/status)
kill -TERM $tail_pid; wait $tail_pid 2>/dev/null || true
sleep 0.5
written=$(grep -c . "$work/received" >/dev/null && cat "$work/received")
python3 - "$start" "$end" "$count" "$rss" <<'PY'
import sys
start, end, count, rss = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"verdict tail: {count} alerts in {end - start:.2f} s = {count / (end - start):,.0f} alerts/s, peak RSS {rss} MB")
PY
echo "events received by the socket (counted per 1,000): $written"

# integratord's way: one custom-verdict process per alert, one after another.
cp "$build/custom-verdict" "$build/verdict" "$home/integrations/"  # the relay and its engine
head -200 "$home/logs/alerts/alerts.json" | split -l 1 - "$work/alert-"
start=$(date +%s.%N)
for file in "$work"/alert-*; do
    "$home/integrations/custom-verdict" "$file" "" "" "" "" 10 3 "> /dev/null 2>&1"
done
end=$(date +%s.%N)
python3 - "$start" "$end" <<'PY'
import sys
elapsed = float(sys.argv[2]) - float(sys.argv[1])
print(f"custom-verdict once per alert: 200 alerts in {elapsed:.2f} s = {200 / elapsed:,.0f} alerts/s")
PY
