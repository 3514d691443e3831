#!/usr/bin/env bash
# Paired throughput: every row's server runs at once, and the load alternates between them in
# short windows, so that each ratio compares two windows seconds apart.
#
# Why: on a shared VM the box has slow and fast spells lasting seconds that move req/s and
# CPU per request by ±20% (run.sh restarts a server per row and measures rows 10–20 s apart,
# so one spell can land on one side of a ratio only). Here all servers start first (each on
# CPU 1, idle until loaded; wrk on CPU 0), then every round loads each row for -d seconds,
# the order reversed every other round so that a drift within a round falls on both sides.
# A row's ratio is taken against the first row in the same round; the table gives the median
# of those ratios, its 95% confidence interval and the quartiles, for req/s, and the median
# and interval for server CPU per request.
#
# usage: paired.sh [-d SECONDS] [-n ROUNDS] [-c CONNECTIONS] [-p DEPTH] REF ROW...
#   e.g. paired.sh -d 2 -n 20 ceiling fg-hit nginx-hit varnish-hit
# Rows are run.sh's scenarios; REF is the row ratios are taken against.
# An fgb-* row (fgb-hit, fgb-pass, ...) runs FLASHGATE_CMD_B instead of FLASHGATE_CMD: two builds
# side by side, e.g. FLASHGATE_CMD_B="env FLASHGATE_BIN=/tmp/fg-old bench/flashgate.sh @PORT@ @ORIGIN@". FLASHGATE_CMD,
# FLASHGATE_BIN and the needed packages are as for run.sh. Takes /tmp/flashgate-bench.lock.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=2 N=20 C=64 P=0
while getopts "d:n:c:p:" o; do case $o in d) D=$OPTARG;; n) N=$OPTARG;; c) C=$OPTARG;; p) P=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND-1))
[ $# -ge 2 ] || { echo "usage: $0 [-d SECONDS] [-n ROUNDS] [-c CONNECTIONS] [-p DEPTH] REF ROW..." >&2; exit 2; }
rows=("$@")
pipe=(); [ "$P" -gt 0 ] && pipe=(-s "$here/peers/pipeline.lua") && export PIPELINE=$P
FLASHGATE_CMD=${FLASHGATE_CMD:-"$here/flashgate.sh @PORT@ @ORIGIN@"}

exec 9>/tmp/flashgate-bench.lock
flock -w 900 9 || { echo "another benchmark holds /tmp/flashgate-bench.lock" >&2; exit 1; }
work=$(mktemp -d /tmp/fgpaired.XXXXXX)
export FGBENCH_WORK=$work
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT
. "$here/lib.sh"

( cd "$here/origin" && go build -o "$work/benchorigin" . )
case " ${rows[*]} " in *"-tls-full"*) ( cd "$here/tlsload" && go build -o "$work/tlsload" . ) ;; esac
case " ${rows[*]} " in *" fg-"*) case $FLASHGATE_CMD in *flashgate.sh*) "$here/flashgate.sh" build ;; esac ;; esac
OPORT=$(free_port); ORIGIN=127.0.0.1:$OPORT
taskset -c 1 "$work/benchorigin" -addr "$ORIGIN" -mode origin 2>"$work/origin.log" & pids+=($!); wait_port "$OPORT"

declare -A url pid
for r in "${rows[@]}"; do
  sc=$(scenario "$r") || exit 2
  read -r server path <<<"$sc"
  if [ "$server" = origin ]; then url[$r]=http://$ORIGIN$path; pid[$r]=${pids[0]}; continue; fi
  port=$(free_port)
  start "$server" "$port"; pids+=("$spid"); pid[$r]=$spid
  wait_port "$port"
  url[$r]=$(scheme "$server")://127.0.0.1:$port$path
done
for r in "${rows[@]}"; do   # warm every cache, then check each row answers what it should
  loadgen "$r" 2 "${url[$r]}" >/dev/null 2>&1 || true
  probe "${url[$r]}"
done

# window ROW → "rps cpu-us/req"
window() {
  local t0 t1 n rps
  t0=$(cpu_ticks "${pid[$1]}")
  loadgen "$1" "$D" "${url[$1]}" >"$work/wrk.out" 2>&1 || true
  t1=$(cpu_ticks "${pid[$1]}")
  rps=$(awk '/^Requests\/sec/{print $2}' "$work/wrk.out")
  n=$(awk '/requests in/{print $1}' "$work/wrk.out")
  echo "${rps:-0} $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${n:-0}" 'BEGIN{ if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print 0 }')"
}

declare -A rps cpu
for round in $(seq 1 "$N"); do
  order=("${rows[@]}")
  if [ $((round % 2)) -eq 0 ]; then order=(); for ((i = ${#rows[@]} - 1; i >= 0; i--)); do order+=("${rows[$i]}"); done; fi
  line="round $round:"
  for r in "${order[@]}"; do
    read -r rps[$r:$round] cpu[$r:$round] <<<"$(window "$r")"
    line+=" $r ${rps[$r:$round]}"
  done
  echo "$line" >&2
done

# quartiles: "Q1 median Q3 lo hi" of the numbers on stdin: quartiles by linear interpolation,
# and lo–hi the distribution-free 95% confidence interval of the median (the order statistics
# n/2 ∓ 0.98·√n, as for a sign test), which is what tells two rows apart.
quartiles() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '
  function at(p,  i, f) { i = 1 + (NR - 1) * p; f = int(i); return a[f] + (i - f) * (a[f + 1] - a[f]) }
  {a[NR]=$1} END{ if (NR==0) { print "- - - - -"; exit }
    a[NR+1]=a[NR]; lo = int(NR / 2 - 0.98 * sqrt(NR)); hi = int(NR / 2 + 0.98 * sqrt(NR)) + 1
    if (lo < 1) lo = 1; if (hi > NR) hi = NR
    printf "%.3f %.3f %.3f %.3f %.3f\n", at(0.25), at(0.5), at(0.75), a[lo], a[hi] }'; }
ref=${rows[0]}
echo "| row | req/s (median of $N) | vs $ref (median ratio) | its 95% CI | ratio Q1–Q3 | CPU µs/req (median) | CPU ratio ($ref µs / row µs) | its 95% CI |"
echo "|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  rs=""; cs=""; ratios=""; cratios=""
  for round in $(seq 1 "$N"); do
    rs+="${rps[$r:$round]} "; cs+="${cpu[$r:$round]} "
    ratios+="$(awk -v x="${rps[$r:$round]}" -v y="${rps[$ref:$round]}" 'BEGIN{ if (y > 0) printf "%.4f", x / y }') "
    cratios+="$(awk -v x="${cpu[$r:$round]}" -v y="${cpu[$ref:$round]}" 'BEGIN{ if (x > 0) printf "%.4f", y / x }') "
  done
  read -r q1 m q3 lo hi <<<"$(echo "$ratios" | quartiles)"
  read -r _ cm _ clo chi <<<"$(echo "$cratios" | quartiles)"
  echo "| $r | $(echo "$rs" | median) | $m | $lo–$hi | $q1–$q3 | $(echo "$cs" | median) | $cm | $clo–$chi |"
done
echo
echo "paired: wrk -t1 -c$C -d${D}s$([ "$P" -gt 0 ] && echo " pipelined x$P") per window on CPU 0, every server up at once on CPU 1, $N rounds (order reversed every other round); $(date -u +%F)"
