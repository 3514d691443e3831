#!/bin/sh
# Starts redis-server, the demo shop and three flashgate instances on
# loopback, all sharing state through Redis; Ctrl-C stops everything.
# Run from anywhere: examples/cluster/run.sh
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap stop EXIT INT TERM

command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install redis-server)" >&2; exit 1; }
# One token key for the three instances, new each run.
FLASHGATE_TOKEN_KEY="base64:$(head -c 32 /dev/urandom | base64)"
export FLASHGATE_TOKEN_KEY

(cd "$repo" && go build -o "$work/flashgate" ./cmd/flashgate)
redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --loglevel warning &
pids="$pids $!"
sleep 0.3
rules="$repo/examples/cluster/gateway.yaml"
"$work/flashgate" -config "$rules" -listen 127.0.0.1:8081 &
pids="$pids $!"
"$work/flashgate" -config "$rules" -listen 127.0.0.1:8082 -no-demo &
pids="$pids $!"
"$work/flashgate" -config "$rules" -listen 127.0.0.1:8083 -no-demo &
pids="$pids $!"
sleep 1

cat <<'TXT'

Three gateways: http://127.0.0.1:8081/  :8082  :8083 (one shop behind them, one Redis).

One limit for all three (5/s): 30 requests spread over the three, about 5-10 pass:
  for i in $(seq 30); do curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:808$((i % 3 + 1))/api/items/1; done | sort | uniq -c

One line for all three (1 admission a second, 3 at once): open /item/3 on each port
in different browsers, signed in as different users (/login), or with curl, as users
q1..q7 over the three instances: the first is let in (200), the others wait in one
line (503 with their places 1, 2, 3, ...):
  n=0; for u in q1 q2 q3 q4 q5 q6 q7; do n=$((n + 1)); curl -s -o /dev/null -w "%{http_code} " -b uid=$u http://127.0.0.1:808$((n % 3 + 1))/item/3; done; echo

Sold out everywhere: item 3 has 5 units at the gate; 10 buyers over the three instances,
5 get 200, the rest 410 from whichever instance they reach (and "a" buys once only):
  n=0; for u in a a b c d e f g h i j; do n=$((n + 1)); curl -s -o /dev/null -w "%{http_code} " -X POST -b uid=$u http://127.0.0.1:808$((n % 3 + 1))/buy/3; done; echo

Health, with the cluster's state:  curl http://127.0.0.1:8082/_flashgate/health
Ctrl-C stops everything.
TXT
wait
