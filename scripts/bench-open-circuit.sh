#!/usr/bin/env bash
# How long an alert takes through custom-verdict while one source's shared circuit is open: the first two
# runs wait out a VirusTotal that accepts connections and never answers (1 s deadline, failure threshold 2);
# every later run skips it at once, as every process on the data directory now sees the circuit open. Prints
# each run's wall time and the time custom-verdict logs for the alert.
#
#   swift build -c release --product custom-verdict --product verdict && scripts/bench-open-circuit.sh [runs]
set -euo pipefail

runs=${1:-12}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VERDICT_BUILD:-$root/.build/release}
build=$(cd "$build" 2>/dev/null && pwd || echo "$build")
[ -x "$build/custom-verdict" ] && [ -x "$build/verdict" ] || {
    echo "build first: swift build -c release --product custom-verdict --product verdict" >&2
    exit 2
}

home=$(mktemp -d)
cleanup() {
    kill "${socket_pid:-}" "${hang_pid:-}" 2>/dev/null || true
    rm -rf "$home"
}
trap cleanup EXIT
mkdir -p "$home/queue/sockets" "$home/logs" "$home/etc" "$home/feeds/blocklists"
echo 185.220.101.4 >"$home/feeds/blocklists/soc.txt"
# analysisd's queue socket, read by nobody: the events only need somewhere to go.
python3 -c "
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind('$home/queue/sockets/queue'); time.sleep(3600)" &
socket_pid=$!
# A provider that takes connections and never answers.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port)); s.listen(64)
held = []
while True: held.append(s.accept()[0])" &
hang_pid=$!
sleep 1

export VERDICT_FEEDS_DIR="$home/feeds" VERDICT_INTERNETDB_ENABLED=false VERDICT_DATA_DIR="$home/var/verdict" \
    VERDICT_VIRUSTOTAL_API_KEY=bench VERDICT_VIRUSTOTAL_URL="http://127.0.0.1:$port" VERDICT_VIRUSTOTAL_TIMEOUT_MS=1000 \
    VERDICT_VIRUSTOTAL_FAILURE_THRESHOLD=2 VERDICT_VIRUSTOTAL_OPEN_SECONDS=3600
for run in $(seq 1 "$runs"); do
    echo '{"rule":{"level":10,"id":"5760","groups":["sshd"]},"agent":{"id":"001","name":"web-01","ip":"10.0.2.15"},"id":"1.'"$run"'","full_log":"Failed password from 45.155.205.'"$run"'","data":{"srcip":"45.155.205.'"$run"'"}}' >"$home/$run.alert"
    start=$(date +%s%N)
    (cd "$home" && exec -a integrations "$build/custom-verdict" "$home/$run.alert" "" "" "" "" 10 3 "> /dev/null 2>&1")
    end=$(date +%s%N)
    logged=$(tail -1 "$home/logs/integrations.log" | grep -o 'in [0-9]* ms$' || echo "?")
    circuit=$(tail -1 "$home/logs/integrations.log" | grep -q circuit_open && echo "circuit open" || echo "asked virustotal")
    echo "run $run: wall $(((end - start) / 1000000)) ms, logged $logged ($circuit)"
done
