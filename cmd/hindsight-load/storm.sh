#!/bin/sh
# Alert storm: 100,000 alerts (10,000 Alertmanager notifications of 10) into
# a fresh daemon, then four parallel GET /api/v1/incidents?limit=1000, with
# the daemon's VmRSS sampled every 100ms throughout. See BENCHMARKS.md.
set -e
B=${B:-.}  # directory holding hindsight and hindsight-load (make build; go build -o hindsight-load ./cmd/hindsight-load)
D=$(mktemp -d)
PORT=${PORT:-19097}
$B/hindsight --storage.path $D/data --web.listen-address 127.0.0.1:$PORT --nats.listen-address 127.0.0.1:0 --log.level warn 2>$D/log &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf $D' EXIT
until curl -sf http://127.0.0.1:$PORT/-/ready >/dev/null; do sleep 0.2; done
sleep 5
idle=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
echo "idle VmRSS: $((idle/1024)) MiB"
echo 0 > $D/peak
( peak=0; while kill -0 $PID 2>/dev/null; do r=$(awk '/VmRSS/{print $2}' /proc/$PID/status); [ "$r" -gt "$peak" ] && peak=$r && echo $peak > $D/peak; sleep 0.1; done ) &
$B/hindsight-load ingest --url http://127.0.0.1:$PORT/api/v1/ingest/alertmanager --requests 10000 --alerts 10 --concurrency 64 --services 50
storm=$(cat $D/peak); after=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
echo "storm VmRSS peak: $((storm/1024)) MiB, after: $((after/1024)) MiB"
n=$(curl -s "http://127.0.0.1:$PORT/api/v1/incidents?limit=1000" | wc -c)
echo "one incidents?limit=1000 answer: $n bytes"
pids=""
for i in 1 2 3 4; do curl -s -o /dev/null -w "%{http_code} %{size_download}\n" "http://127.0.0.1:$PORT/api/v1/incidents?limit=1000" & pids="$pids $!"; done
wait $pids
sleep 1
echo "VmRSS peak through the queries: $(( $(cat $D/peak)/1024 )) MiB; VmHWM $(awk '/VmHWM/{print $2}' /proc/$PID/status | awk '{print int($1/1024)}') MiB"
