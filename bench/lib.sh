# Shell functions shared by run.sh and paired.sh (sourced, not run).
# They read: here (this directory), work (a scratch directory), ORIGIN and OPORT (the bench
# origin), FLASHGATE_CMD; start_* leave the started process's pid in spid.

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# Every wait is bounded: a server that does not open its port in 10s, or
# does not exit 5s after SIGTERM, fails the row rather than hanging the run.
wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
stop() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
}

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

# start SERVER PORT: starts one server under test on CPU 1 (ceiling* modes of the bench
# origin, nginx, varnish or fg); its pid is left in spid. Each gets its own files under
# $work, so several can run at once (paired.sh).
start() {
  local server=$1 port=$2
  case $server in
    ceiling*) taskset -c 1 "$work/benchorigin" -addr "127.0.0.1:$port" -mode "$server" 2>/dev/null & spid=$! ;;
    nginx) start_nginx "$port" ;;
    nginx-bare) start_nginx "$port" "" bare ;;
    nginx-tls) tls_cert; start_nginx "$port" tls ;;
    fg-tls) tls_cert; start_fg "$port" "$FLASHGATE_CMD" "$work/tls" ;;
    varnish) start_varnish "$port" ;;
    haproxy) start_haproxy "$port" ;;
    haproxy-bare) start_haproxy "$port" bare ;;
    fg) start_fg "$port" ;;
    fgb) start_fg "$port" "${FLASHGATE_CMD_B:?fgb rows need FLASHGATE_CMD_B, the command of the build compared with fg}" ;;
    *) echo "unknown server $server" >&2; return 2 ;;
  esac
}
# start_nginx PORT [tls] [bare]: with tls, the listener speaks TLS with tls_cert's certificate;
# with bare, the pass-through locations forward nothing of their own (no X-Forwarded-*, Via
# or request id: peers/nginx-forwarded.conf is left out).
start_nginx() {
  local port=$1 dir=$work/nginx.$1 ssl="" tls="" drop='^@NEVER@$'; mkdir -p "$dir"
  [ "${3:-}" = bare ] && drop='nginx-forwarded.conf'
  if [ "${2:-}" = tls ]; then
    ssl=" ssl"
    tls="ssl_certificate $work/tls/bench.crt; ssl_certificate_key $work/tls/bench.key; ssl_protocols TLSv1.2 TLSv1.3;"
  fi
  sed -e "s#@PORT@#$port$ssl#; s#@ORIGIN@#$ORIGIN#; s#@DIR@#$dir#g; s#@TLS@#$tls#; s#@PEERS@#$here/peers#g; \#$drop#d" "$here/peers/nginx.conf.tmpl" >"$dir/nginx.conf"
  taskset -c 1 nginx -c "$dir/nginx.conf" -e "$dir/err.log" & spid=$!
}
start_varnish() {
  local port=$1 dir=$work/varnish.$1; mkdir -p "$dir"; chmod 755 "$work"
  sed -e "s#@ORIGIN_HOST@#127.0.0.1#; s#@ORIGIN_PORT@#$OPORT#" "$here/peers/varnish.vcl.tmpl" >"$dir/default.vcl"
  taskset -c 1 varnishd -F -a "127.0.0.1:$port" -f "$dir/default.vcl" -s malloc,256m \
    -n "$dir/n" -p thread_pools=1 -p thread_pool_min=50 >"$dir/out.log" 2>&1 & spid=$!
}
# start_haproxy PORT [bare]: with bare, the frontend forwards nothing of its own (the lines
# marked "forwarded" in peers/haproxy.cfg.tmpl are left out).
start_haproxy() {
  local port=$1 dir=$work/haproxy.$1 drop='^@NEVER@$'; mkdir -p "$dir"
  [ "${2:-}" = bare ] && drop='# forwarded$'
  sed -e "s#@PORT@#$port#; s#@ORIGIN@#$ORIGIN#; s#@DIR@#$dir#g; \%$drop%d" "$here/peers/haproxy.cfg.tmpl" >"$dir/haproxy.cfg"
  taskset -c 1 haproxy -db -f "$dir/haproxy.cfg" >"$dir/out.log" 2>&1 & spid=$!
}
# start_fg PORT [CMD [TLSDIR]]: CMD defaults to FLASHGATE_CMD; the fgb-* rows pass
# FLASHGATE_CMD_B, a second build, so an A/B comparison runs in one paired run. With
# TLSDIR, flashgate.sh adds server.tls with its bench.crt/key.
start_fg() {
  local port=$1 cmd=${2:-$FLASHGATE_CMD}
  cmd=${cmd//@PORT@/$port}; cmd=${cmd//@ORIGIN@/$ORIGIN}
  taskset -c 1 env FGBENCH_TLS="${3:-}" bash -c "exec $cmd" >"$work/fg.$port.log" 2>&1 & spid=$!
}

# tls_cert: the one certificate every TLS row serves (ECDSA P-256 for localhost), made once
# per run, so flashgate and nginx do the same handshake work.
tls_cert() {
  [ -s "$work/tls/bench.crt" ] && return 0
  mkdir -p "$work/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/tls/bench.key" -out "$work/tls/bench.crt" 2>/dev/null
}

# scheme SERVER: https for the TLS servers.
scheme() { case $1 in *-tls) echo https ;; *) echo http ;; esac; }

# scenario NAME → "SERVER PATH": which server a row runs and the URL path it loads.
scenario() {
  case $1 in
    ceiling|ceiling-same) echo "$1 /item/1" ;;
    ceiling-reject|ceiling-reject-same) echo "$1 /limited/item/1" ;;
    ceiling-esi) echo "ceiling-esi /esi/page" ;;
    origin) echo "origin /item/1" ;;
    nginx-hit|varnish-hit|fg-hit|fgb-hit) echo "${1%-hit} /item/1" ;;
    nginx-tls-hit|fg-tls-hit) echo "${1%-hit} /item/1" ;;                  # a cache hit over TLS, keep-alive
    nginx-tls-resumed|fg-tls-resumed) echo "${1%-resumed} /item/1" ;;  # a new connection per request, session resumed
    nginx-tls-full|fg-tls-full) echo "${1%-full} /item/1" ;;           # a new connection per request, full handshake
    fg-tls-full-mlkem) echo "fg-tls /item/1" ;;                         # the same, with X25519MLKEM768 offered
    nginx-pass|haproxy-pass|fg-pass|fgb-pass|nginx-bare-pass|haproxy-bare-pass) echo "${1%-pass} /pass/item/1" ;;
    nginx-post|haproxy-post|fg-post|fgb-post|nginx-bare-post|haproxy-bare-post) echo "${1%-post} /pass/buy/1" ;;
    nginx-reject|fg-reject|fgb-reject) echo "${1%-reject} /limited/item/1" ;;
    varnish-esi|fg-esi|fgb-esi) echo "${1%-esi} /esi/page" ;;
    *) echo "unknown scenario $1" >&2; return 2 ;;
  esac
}

# wrk_script ROW: the wrk -s arguments of a row: the POST rows send the
# purchase form (peers/post.lua, pipelined when -p is given); the others use
# the pipelining script when -p is given (the caller's pipe array).
wrk_script() {
  case $1 in
    *-post) echo "-s $here/peers/post.lua" ;;
    *-resumed) echo "-s $here/peers/close.lua" ;;   # the server closes: wrk reconnects, resuming the session
    *) echo "${pipe[*]:-}" ;;
  esac
}

# probe: one request after the warm-up, so a row that measures the wrong thing (a miss, an
# unassembled page, a 200 where a 429 was meant) says so on stderr.
probe() {
  local url=$1 h b post=()
  case $url in */pass/buy/*) post=(-X POST -d qty=1) ;; esac
  h=$(curl -sk --max-time 3 "${post[@]}" -o "$work/probe.body" -D - "$url" | tr -d '\r') || true
  b=$(grep -c '<esi:' "$work/probe.body" 2>/dev/null || true)
  echo "  probe $url: $(echo "$h" | head -1) $(echo "$h" | grep -i '^x-cache:' || true) esi-tags=${b:-0}" >&2
}

# loadgen ROW SECONDS URL: one load window on CPU 0, reported as wrk reports: wrk, or for
# the full-handshake rows tlsload (wrk resumes every session it can, so it cannot measure
# full handshakes).
# The TLS rows' wrk offers AES-128-GCM first, as browsers do (peers/openssl-client.cnf).
loadgen() {
  case $1 in
    *-tls-full) timeout $(($2 + 30)) taskset -c 0 "$work/tlsload" -c "$C" -d "${2}s" "$3" ;;
    *-tls-full-mlkem) timeout $(($2 + 30)) taskset -c 0 "$work/tlsload" -mlkem -c "$C" -d "${2}s" "$3" ;;
    *-tls-*) OPENSSL_CONF=$here/peers/openssl-client.cnf timeout $(($2 + 30)) taskset -c 0 wrk -t1 -c"$C" -d"${2}s" $(wrk_script "$1") "$3" ;;
    *) timeout $(($2 + 30)) taskset -c 0 wrk -t1 -c"$C" -d"${2}s" $(wrk_script "$1") "$3" ;;
  esac
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
