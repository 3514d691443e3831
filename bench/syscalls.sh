#!/usr/bin/env bash
# Per-request kernel work of each row's server: system calls, context switches, and CPU split
# into user and system time, counted with `perf stat` over the same wrk windows and pinning as
# paired.sh. Counts do not move with a neighbour's load the way req/s does, so they tell where
# a server's extra CPU goes (a syscall more, a wake-up more) when two rows are close.
#
# usage: syscalls.sh [-d SECONDS] [-n ROUNDS] ROW...
#   e.g. syscalls.sh -d 2 -n 3 nginx-pass haproxy-pass fg-pass nginx-post haproxy-post fg-post
# Rows are run.sh's scenarios (the server's whole process tree is counted: nginx's worker
# too). FLASHGATE_CMD, FLASHGATE_BIN and FLASHGATE_CMD_B are as for paired.sh; needs perf
# with the raw_syscalls tracepoint. Takes /tmp/flashgate-bench.lock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=2 N=3 C=64
while getopts "d:n:" o; do case $o in d) D=$OPTARG;; n) N=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND-1))
[ $# -ge 1 ] || { echo "usage: $0 [-d SECONDS] [-n ROUNDS] ROW..." >&2; exit 2; }
rows=("$@")
FLASHGATE_CMD=${FLASHGATE_CMD:-"$here/flashgate.sh @PORT@ @ORIGIN@"}

exec 9>/tmp/flashgate-bench.lock
flock -w 900 9 || { echo "another benchmark holds /tmp/flashgate-bench.lock" >&2; exit 1; }
work=$(mktemp -d /tmp/fgsyscalls.XXXXXX)
export FGBENCH_WORK=$work
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT
. "$here/lib.sh"

( cd "$here/origin" && go build -o "$work/benchorigin" . )
case " ${rows[*]} " in *" fg-"*) case $FLASHGATE_CMD in *flashgate.sh*) "$here/flashgate.sh" build ;; esac ;; esac
OPORT=$(free_port); ORIGIN=127.0.0.1:$OPORT
taskset -c 1 "$work/benchorigin" -addr "$ORIGIN" -mode origin 2>"$work/origin.log" & pids+=($!); wait_port "$OPORT"

declare -A url pid
for r in "${rows[@]}"; do
  sc=$(scenario "$r") || exit 2
  read -r server path <<<"$sc"
  port=$(free_port)
  start "$server" "$port"; pids+=("$spid"); pid[$r]=$spid
  wait_port "$port"
  url[$r]=http://127.0.0.1:$port$path
done
for r in "${rows[@]}"; do
  timeout 30 taskset -c 0 wrk -t1 -c"$C" -d2s $(wrk_script "$r") "${url[$r]}" >/dev/null 2>&1 || true
  probe "${url[$r]}"
done

# tree PID: PID and its descendants, comma-separated (for perf -p).
tree() { local p out=$1; for p in $(pgrep -P "$1" 2>/dev/null || true); do out+=,$(tree "$p"); done; echo "$out"; }
# ut PID: "user system" clock ticks of PID and its descendants.
ut() {
  local p u s a b
  read -r u s < <(awk '{sub(/^.*\) /, ""); print $12, $13}' "/proc/$1/stat" 2>/dev/null || echo "0 0")
  for p in $(pgrep -P "$1" 2>/dev/null || true); do read -r a b < <(ut "$p"); u=$((u + a)); s=$((s + b)); done
  echo "$u $s"
}

# window ROW → "syscalls/req ctxsw/req user-us/req sys-us/req"
window() {
  local u0 s0 u1 s1 n
  read -r u0 s0 < <(ut "${pid[$1]}")
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$(tree "${pid[$1]}")" -o "$work/perf.out" -- \
    timeout $((D + 30)) taskset -c 0 wrk -t1 -c"$C" -d"${D}s" $(wrk_script "$1") "${url[$1]}" >"$work/wrk.out" 2>&1 || true
  read -r u1 s1 < <(ut "${pid[$1]}")
  n=$(awk '/requests in/{print $1}' "$work/wrk.out")
  awk -F, -v n="${n:-0}" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$CLK_TCK" '
    /raw_syscalls/{sc=$1} /context-switches/{cs=$1}
    END{ if (n > 0) printf "%.2f %.3f %.2f %.2f\n", sc/n, cs/n, u*1e6/hz/n, s*1e6/hz/n; else print "0 0 0 0" }' "$work/perf.out"
}

declare -A res
for round in $(seq 1 "$N"); do
  for r in "${rows[@]}"; do
    res[$r:$round]=$(window "$r")
    echo "round $round: $r ${res[$r:$round]}" >&2
  done
done

col() { local r=$1 i=$2 k; for k in $(seq 1 "$N"); do echo "${res[$r:$k]}" | awk -v i="$i" '{print $i}'; done | tr '\n' ' ' | median; }
echo "| row | syscalls/req | context switches/req | user CPU µs/req | system CPU µs/req |"
echo "|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "| $r | $(col "$r" 1) | $(col "$r" 2) | $(col "$r" 3) | $(col "$r" 4) |"; done
echo
echo "syscalls.sh: perf stat over wrk -t1 -c$C -d${D}s windows on CPU 0, servers on CPU 1, medians of $N rounds; $(date -u +%F)"
