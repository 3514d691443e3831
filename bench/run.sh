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

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# Every wait is bounded: a server that does not open its port in 10s, or
# does not exit 5s after SIGTERM, fails the row rather than hanging the run.
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
stop() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
}

( cd "$here/origin" && go build -o "$work/benchorigin" . )
case " ${scenarios[*]} " in *" fg-"*)
  case $FLASHGATE_CMD in *flashgate.sh*) "$here/flashgate.sh" build ;; esac ;;   # not on the clock of wait_port
esac
OPORT=$(free_port); ORIGIN=127.0.0.1:$OPORT
taskset -c 1 "$work/benchorigin" -addr "$ORIGIN" -mode origin 2>"$work/origin.log" & OPID=$!; pids+=($OPID); wait_port "$OPORT"

# cpu_ticks PID: user+system CPU ticks of PID and all its descendants (nginx and Varnish
# serve from child processes). Server CPU per request is steadier than req/s on a shared
# machine: a neighbour's load steals time from the server but hardly changes its cost.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null || true); do
    [ "$p" = "$1" ] || { total=$((total + $(cpu_ticks "$p"))); continue; }
    total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# wrk latency ("698.00us", "1.21ms", "1.02s") → milliseconds, so rounds have medians.
to_ms() { awk '{v=$1+0; if ($1 ~ /us$/) v/=1000; else if ($1 ~ /ms$/) v=v; else if ($1 ~ /s$/) v*=1000; printf "%.2f\n", v}'; }

# load URL PID → "rps p50-ms p99-ms non2xx cpu-us/req" (cpu of PID's process tree)
load() {
  local url=$1 pid=$2 t0 t1 n
  timeout 30 taskset -c 0 wrk -t1 -c"$C" -d2s "${pipe[@]}" "$url" >/dev/null 2>&1 || true          # warm-up
  probe "$url"
  t0=$(cpu_ticks "$pid")
  timeout $((D + 30)) taskset -c 0 wrk -t1 -c"$C" -d"${D}s" --latency "${pipe[@]}" "$url" >"$work/wrk.out" 2>&1 || true
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/{print $2}' "$work/wrk.out")
  p50=$(awk '$1=="50%"{print $2}' "$work/wrk.out" | to_ms)
  p99=$(awk '$1=="99%"{print $2}' "$work/wrk.out" | to_ms)
  non2xx=$(awk '/Non-2xx/{print $NF}' "$work/wrk.out"); non2xx=${non2xx:-0}
  t1=$(cpu_ticks "$pid")
  n=$(awk '/requests in/{print $1}' "$work/wrk.out")
  echo "$rps $p50 $p99 $non2xx $(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${n:-0}" 'BEGIN{ if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "-" }')"
}

start_nginx() {
  local port=$1; mkdir -p "$work/nginx"
  sed -e "s#@PORT@#$port#; s#@ORIGIN@#$ORIGIN#; s#@DIR@#$work/nginx#g" "$here/peers/nginx.conf.tmpl" >"$work/nginx/nginx.conf"
  taskset -c 1 nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/err.log" & spid=$!
}
start_varnish() {
  local port=$1; mkdir -p "$work/varnish"; chmod 755 "$work"
  sed -e "s#@ORIGIN_HOST@#127.0.0.1#; s#@ORIGIN_PORT@#$OPORT#" "$here/peers/varnish.vcl.tmpl" >"$work/varnish/default.vcl"
  taskset -c 1 varnishd -F -a "127.0.0.1:$port" -f "$work/varnish/default.vcl" -s malloc,256m \
    -n "$work/varnish/n" -p thread_pools=1 -p thread_pool_min=50 >"$work/varnish/out.log" 2>&1 & spid=$!
}
start_fg() {
  local port=$1 cmd=$FLASHGATE_CMD
  cmd=${cmd//@PORT@/$port}; cmd=${cmd//@ORIGIN@/$ORIGIN}
  taskset -c 1 bash -c "exec $cmd" >"$work/fg.log" 2>&1 & spid=$!
}

# probe: one request after the warm-up, so a row that measures the wrong thing (a miss, an
# unassembled page, a 200 where a 429 was meant) says so on stderr.
probe() {
  local url=$1 h b
  h=$(curl -s --max-time 3 -o "$work/probe.body" -D - "$url" | tr -d '\r') || true
  b=$(grep -c '<esi:' "$work/probe.body" 2>/dev/null || true)
  echo "  probe $url: $(echo "$h" | head -1) $(echo "$h" | grep -i '^x-cache:' || true) esi-tags=${b:-0}" >&2
}

declare -A row
run() {
  local name=$1 starter=$2 path=$3 port pid
  if [ "$starter" = origin ]; then port=$OPORT; pid=""
  else
    port=$(free_port)
    case $starter in
      ceiling|ceiling-same|ceiling-reject|ceiling-reject-same|ceiling-esi) taskset -c 1 "$work/benchorigin" -addr "127.0.0.1:$port" -mode "$starter" 2>/dev/null & spid=$! ;;
      nginx) start_nginx "$port" ;;
      varnish) start_varnish "$port" ;;
      fg) start_fg "$port" ;;
    esac
    pid=$spid
    pids+=("$pid"); wait_port "$port"
  fi
  load "http://127.0.0.1:$port$path" "${pid:-$OPID}" >"$work/row"; row[$name]=$(cat "$work/row")
  [ -n "$pid" ] && stop "$pid"
  printf '%-14s %s\n' "$name" "${row[$name]}" >&2
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
declare -A all
for round in $(seq 1 "$R"); do
for s in "${scenarios[@]}"; do
  case $s in
    ceiling)      run ceiling ceiling /item/1 ;;
    ceiling-same) run ceiling-same ceiling-same /item/1 ;;
    ceiling-reject) run ceiling-reject ceiling-reject /limited/item/1 ;;
    ceiling-reject-same) run ceiling-reject-same ceiling-reject-same /limited/item/1 ;;
    ceiling-esi)  run ceiling-esi ceiling-esi /esi/page ;;
    origin)       run origin origin /item/1 ;;
    nginx-hit)    run nginx-hit nginx /item/1 ;;
    varnish-hit)  run varnish-hit varnish /item/1 ;;
    nginx-pass)   run nginx-pass nginx /pass/item/1 ;;
    nginx-reject) run nginx-reject nginx /limited/item/1 ;;
    varnish-esi)  run varnish-esi varnish /esi/page ;;
    fg-hit)       run fg-hit fg /item/1 ;;
    fg-pass)      run fg-pass fg /pass/item/1 ;;
    fg-reject)    run fg-reject fg /limited/item/1 ;;
    fg-esi)       run fg-esi fg /esi/page ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
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
