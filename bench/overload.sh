#!/usr/bin/env bash
# Origin protection under overload: flashgate beside nginx, one run.
#
# A slow origin (overload -mode origin: 20 ms per request, so 8 in flight
# serve 400 req/s) sits behind each gateway; browse requests arrive at
# 8,000/s (open loop: 20× what 8 slots take) beside 4 checkout clients
# (closed loop). Each row reports the browse requests sent (and those the
# generator could not send, all its workers busy), the unloaded and
# admitted p99, the origin's peak in flight (the limit is 8), the shed
# fraction and the shed answers' p99, and checkout successes.
#
# usage: bench/overload.sh [-d SECONDS] [-r RATE]
# Needs: go, nginx. Servers on CPU 1, the load and the origin on CPU 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=5 RATE=8000
while getopts "d:r:" o; do case $o in d) D=$OPTARG;; r) RATE=$OPTARG;; *) exit 2;; esac; done
work=$(mktemp -d /tmp/flashgate-overload.XXXXXX)
. "$here/lib.sh"
exec 9>/tmp/flashgate-bench.lock
flock -w 900 9 || { echo "another bench holds /tmp/flashgate-bench.lock" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do stop "$p"; done; rm -rf "$work"; }
trap cleanup EXIT

(cd "$here/.." && go build -o "$work/overload" ./bench/overload && go build -o "$work/flashgate" ./cmd/flashgate)
OPORT=$(free_port); ORIGIN=127.0.0.1:$OPORT
taskset -c 0 "$work/overload" -mode origin -addr "$ORIGIN" -delay 20ms & pids+=($!)
wait_port "$OPORT"

echo "| gateway | browse sent | not sent | unloaded p99 ms | admitted p99 ms | origin peak in flight | browse shed | shed p99 ms | checkout ok |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for row in fg nginx; do
  port=$(free_port)
  case $row in
    fg)
      sed -e "s#@ORIGIN@#$ORIGIN#g" "$here/overload/gateway.yaml" >"$work/gateway.yaml"
      taskset -c 1 "$work/flashgate" -config "$work/gateway.yaml" -listen "127.0.0.1:$port" -no-demo >/dev/null & spid=$! ;;
    nginx)
      dir=$work/nginx; mkdir -p "$dir"
      sed -e "s#@PORT@#$port#; s#@ORIGIN@#$ORIGIN#; s#@DIR@#$dir#g" "$here/peers/nginx-overload.conf.tmpl" >"$dir/nginx.conf"
      taskset -c 1 nginx -c "$dir/nginx.conf" -e "$dir/err.log" & spid=$! ;;
  esac
  pids+=("$spid")
  wait_port "$port"
  timeout $((D * 2 + 30)) taskset -c 0 "$work/overload" -mode load -name "$row" -target "127.0.0.1:$port" \
    -origin "$ORIGIN" -rate "$RATE" -checkout 4 -d "${D}s"
  stop "$spid"
done
