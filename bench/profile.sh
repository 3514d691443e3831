#!/usr/bin/env bash
# Profiles flashgate under the benchmark's load with perf, to see where a row's time goes.
#
#   bench/profile.sh [-p DEPTH] [-d SECONDS] PATH      e.g. bench/profile.sh /item/1
#                                                            bench/profile.sh -p 16 /limited/item/1
#
# Same setup as run.sh (bench origin and flashgate on CPU 1, wrk on CPU 0, the rules of
# gateway.bench.yaml); perf samples flashgate only, after a 2s warm-up. Prints the hottest
# functions by self time and by inclusive time (flashgate's own packages, fasthttp, the clock
# and the deadline calls), and keeps perf.data for `perf report -i`. Needs perf (linux-perf)
# and permission to attach to the process (root, or kernel.perf_event_paranoid <= 1).
# FLASHGATE_BIN / FLASHGATE_SRC as for flashgate.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=5 P=0
while getopts "d:p:" o; do case $o in d) D=$OPTARG;; p) P=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND-1))
[ $# -eq 1 ] || { echo "usage: $0 [-p DEPTH] [-d SECONDS] PATH" >&2; exit 2; }
path=$1
command -v perf >/dev/null || { echo "perf is not installed (apt-get install -y linux-perf)" >&2; exit 1; }

# One measurement at a time on this box: a second run.sh or profile.sh (another engineer's)
# would share CPUs 0 and 1 with this one and corrupt both; it waits here instead (≤ 15 min).
exec 9>/tmp/flashgate-bench.lock
flock -w 900 9 || { echo "another benchmark holds /tmp/flashgate-bench.lock" >&2; exit 1; }
work=$(mktemp -d /tmp/fgprofile.XXXXXX)
export FGBENCH_WORK=$work
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

( cd "$here/origin" && go build -o "$work/benchorigin" . )
"$here/flashgate.sh" build
oport=$(free_port); port=$(free_port)
taskset -c 1 "$work/benchorigin" -addr "127.0.0.1:$oport" -mode origin 2>/dev/null & pids+=($!)
wait_port "$oport"
# flashgate runs under perf, not attached to later (perf -p misses the threads the Go runtime
# starts after it attached); sampling starts 3s in, after start-up and the warm-up.
perf record -F 1999 -g -D 3000 -o "$work/perf.data" -- taskset -c 1 "$here/flashgate.sh" "$port" "127.0.0.1:$oport" \
  >"$work/fg.log" 2>&1 & perfpid=$!; pids+=($perfpid)
wait_port "$port"

pipe=(); [ "$P" -gt 0 ] && pipe=(-s "$here/peers/pipeline.lua") && export PIPELINE=$P
url=http://127.0.0.1:$port$path
timeout 30 taskset -c 0 wrk -t1 -c64 -d2s "${pipe[@]}" "$url" >/dev/null
timeout $((D + 30)) taskset -c 0 wrk -t1 -c64 -d$((D + 1))s "${pipe[@]}" "$url" >"$work/wrk.out" || true
kill "$(pgrep -P "$perfpid")" 2>/dev/null || true   # flashgate; perf then writes its data
wait "$perfpid" || true
grep -E "requests in|Requests/sec|Non-2xx" "$work/wrk.out"
echo "== self time"
perf report -i "$work/perf.data" --no-children --stdio --percent-limit 1 -g none 2>/dev/null | grep '%' | head -25
echo "== inclusive time (flashgate, fasthttp response write, clock, deadlines)"
perf report -i "$work/perf.data" --children --stdio --percent-limit 0.5 -g none 2>/dev/null |
  grep -E 'flashgate/|fasthttp\.writeResponse|clock_gettime|setDeadline|bufio\.\(\*Writer\)\.Flush' | head -40
trap - EXIT; cleanup
echo "perf data: $work/perf.data (perf report -i $work/perf.data)"
