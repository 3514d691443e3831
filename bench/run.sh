#!/usr/bin/env bash
# Side-by-side throughput of flashgate and its peers on one box.
#
# Every server under test (and the bench origin) is pinned to CPU 1, the load generator (wrk)
# to CPU 0, so each peer gets the same single core. Ratios between rows of one run are what
# count: absolute numbers drift from run to run on a shared machine.
#
# usage: run.sh [-d SECONDS] [-c CONNECTIONS] [-r ROUNDS] [-p DEPTH] [-o RESULTS.md] [scenario ...]
# -p DEPTH pipelines DEPTH requests per write (peers/pipeline.lua): without it, one wrk core
# cannot outrun one server core on tiny responses (rejections), and every server looks alike.
# With -r N the whole list runs N times interleaved; the table gives medians, and each ratio is
# the median of the per-round ratios (both sides measured minutes apart at most).
# scenarios: ceiling ceiling-same ceiling-reject ceiling-reject-same ceiling-esi origin nginx-hit varnish-hit nginx-pass nginx-reject
#            varnish-esi fg-hit fg-pass fg-reject fg-esi
# Ratios are to the ceiling of the same kind of answer: ceiling-reject for *-reject rows
# (ceiling-reject-same, flashgate's own 429 from a bare server, and ceiling-same, its cache
# hit, are rows of their own: compare fg-reject and fg-hit with them by hand),
# ceiling-esi (the assembled page's bytes, bare fasthttp) for *-esi rows when it ran, else
# ceiling (the 8 KiB item page, bare fasthttp).
#
# Run it from anywhere; without scenarios it runs every peer and every fg-* row.
# FLASHGATE_CMD: a command that starts flashgate in the foreground, with @PORT@ and @ORIGIN@
# replaced by the port to listen on and the bench origin's host:port. Default:
#   FLASHGATE_CMD='bench/flashgate.sh @PORT@ @ORIGIN@'
# which builds this module's flashgate once per run and serves bench/gateway.bench.yaml.
# Its rules must serve, like the nginx peer (peers/nginx.conf.tmpl):
#   /item/1        cached (a hit after warm-up)
#   /pass/item/1   forwarded uncached to /item/1
#   /limited/...   limited to 1 request/s per client, the rest answered 429 at the edge
#   /esi/page      assembled from its 3 cached <esi:include> fragments
# Needs: go, wrk, nginx, varnish (apt-get install -y wrk nginx-light varnish).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
D=10 C=64 R=1 P=0 OUTFILE=""
while getopts "d:c:r:p:o:" o; do case $o in d) D=$OPTARG;; c) C=$OPTARG;; r) R=$OPTARG;; p) P=$OPTARG;; o) OUTFILE=$OPTARG;; *) exit 2;; esac; done
pipe=(); [ "$P" -gt 0 ] && pipe=(-s "$here/peers/pipeline.lua") && export PIPELINE=$P
shift $((OPTIND-1))
scenarios=("$@")
# Grouped by kind, each group after its ceiling, so a row and its reference are measured
# seconds apart rather than minutes.
[ ${#scenarios[@]} -gt 0 ] || scenarios=(ceiling nginx-hit varnish-hit fg-hit origin nginx-pass fg-pass
                                         ceiling-esi varnish-esi fg-esi ceiling-reject nginx-reject fg-reject)
FLASHGATE_CMD=${FLASHGATE_CMD:-"$here/flashgate.sh @PORT@ @ORIGIN@"}

# One measurement at a time on this box: a second run.sh or profile.sh (another engineer's)
# would share CPUs 0 and 1 with this one and corrupt both; it waits here instead (≤ 15 min).
exec 9>/tmp/flashgate-bench.lock
flock -w 900 9 || { echo "another benchmark holds /tmp/flashgate-bench.lock" >&2; exit 1; }
work=$(mktemp -d /tmp/fgbench.XXXXXX)
export FGBENCH_WORK=$work   # flashgate.sh builds its binary here, once per run
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT

. "$here/lib.sh"

( cd "$here/origin" && go build -o "$work/benchorigin" . )
case " ${scenarios[*]} " in *" fg-"*)
  case $FLASHGATE_CMD in *flashgate.sh*) "$here/flashgate.sh" build ;; esac ;;   # not on the clock of wait_port
esac
OPORT=$(free_port); ORIGIN=127.0.0.1:$OPORT
taskset -c 1 "$work/benchorigin" -addr "$ORIGIN" -mode origin 2>"$work/origin.log" & OPID=$!; pids+=($OPID); wait_port "$OPORT"

# load URL PID → "rps p50-ms p99-ms non2xx cpu-us/req" (cpu of PID's process tree)
load() {
  local url=$1 pid=$2 t0 t1 n
  timeout 30 taskset -c 0 wrk -t1 -c"$C" -d2s $(wrk_script "$s") "$url" >/dev/null 2>&1 || true          # warm-up
  probe "$url"
  t0=$(cpu_ticks "$pid")
  timeout $((D + 30)) taskset -c 0 wrk -t1 -c"$C" -d"${D}s" --latency $(wrk_script "$s") "$url" >"$work/wrk.out" 2>&1 || true
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/{print $2}' "$work/wrk.out")
  p50=$(awk '$1=="50%"{print $2}' "$work/wrk.out" | to_ms)
  p99=$(awk '$1=="99%"{print $2}' "$work/wrk.out" | to_ms)
  non2xx=$(awk '/Non-2xx/{print $NF}' "$work/wrk.out"); non2xx=${non2xx:-0}
  t1=$(cpu_ticks "$pid")
  n=$(awk '/requests in/{print $1}' "$work/wrk.out")
  echo "$rps $p50 $p99 $non2xx $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${n:-0}" 'BEGIN{ if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "-" }')"
}

declare -A row
run() {
  local name=$1 server=$2 path=$3 port pid
  if [ "$server" = origin ]; then port=$OPORT; pid=""
  else
    port=$(free_port)
    start "$server" "$port"
    pid=$spid
    pids+=("$pid"); wait_port "$port"
  fi
  load "$(scheme "$server")://127.0.0.1:$port$path" "${pid:-$OPID}" >"$work/row"; row[$name]=$(cat "$work/row")
  [ -n "$pid" ] && stop "$pid"
  printf '%-14s %s\n' "$name" "${row[$name]}" >&2
}

declare -A all
for round in $(seq 1 "$R"); do
for s in "${scenarios[@]}"; do
  sc=$(scenario "$s") || exit 2
  read -r server path <<<"$sc"
  run "$s" "$server" "$path"
  all[$s:$round]=${row[$s]}
done
done

# the reference row for ratios: the ceiling of the same kind of response
has() { case " ${scenarios[*]} " in *" $1 "*) return 0;; esac; return 1; }
ref_of() {
  case $1 in
    *reject*) echo ceiling-reject ;;
    *esi*) if has ceiling-esi; then echo ceiling-esi; else echo ceiling; fi ;;
    *) echo ceiling ;;
  esac
}
{
  echo "| scenario | req/s (median of $R) | p50 ms | p99 ms | non-2xx | vs its ceiling (median ratio) | server CPU µs/req | CPU ratio (ceiling µs / row µs) |"
  echo "|---|---|---|---|---|---|---|---|"
  for s in "${scenarios[@]}"; do
    rps=""; p50=""; p99=""; n=""; ratios=""; cpus=""; cratios=""
    ref=$(ref_of "$s")
    for round in $(seq 1 "$R"); do
      read -r a b c d e <<<"${all[$s:$round]}"
      rps+="$a "; p50+="$b "; p99+="$c "; n+="$d "; cpus+="${e/-/} "
      if [ -n "${all[$ref:$round]:-}" ]; then
        r=$(awk -v x="$a" -v y="$(echo "${all[$ref:$round]}" | awk '{print $1}')" 'BEGIN{printf "%.3f", x/y}'); ratios+="$r "
        r=$(awk -v x="$e" -v y="$(echo "${all[$ref:$round]}" | awk '{print $5}')" 'BEGIN{ if (x > 0 && y > 0) printf "%.3f", y/x }'); cratios+="$r "
      fi
    done
    echo "| $s | $(echo "$rps" | median) | $(echo "$p50" | median) | $(echo "$p99" | median) | $(echo "$n" | median) | $(echo "$ratios" | median) | $(echo "$cpus" | median) | $(echo "$cratios" | median) |"
  done
  echo
  echo "wrk -t1 -c$C -d${D}s$([ "$P" -gt 0 ] && echo " pipelined x$P") on CPU 0; servers and origin on CPU 1; $R round(s); $(date -u +%F) $(nginx -v 2>&1 | tr -d '\n'); $(varnishd -V 2>&1 | head -1)"
} | tee ${OUTFILE:+"$OUTFILE"}
