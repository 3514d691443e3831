#!/usr/bin/env bash
# Starts flashgate in the foreground on the bench rules, for bench/run.sh:
#
#   FLASHGATE_CMD='bench/flashgate.sh @PORT@ @ORIGIN@' bench/run.sh ...
#   bench/flashgate.sh build          # only build the binary (run.sh does this once)
#
# The binary is built from the module this script belongs to (or from
# $FLASHGATE_SRC, a module root, e.g. an exported commit) into $FGBENCH_WORK
# (run.sh's scratch directory) once, or into a new temporary directory when
# run on its own. $FLASHGATE_BIN skips the build and runs that binary.
# The rules are a copy of gateway.bench.yaml with @ORIGIN@ replaced.
# The script execs flashgate, so stopping this process stops the gateway.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${FLASHGATE_SRC:-$(dirname "$here")}
work=${FGBENCH_WORK:-}
[ -n "$work" ] || work=$(mktemp -d /tmp/flashgate-bench.XXXXXX)
bin=${FLASHGATE_BIN:-$work/flashgate}

build() {
  if [ ! -x "$bin" ]; then
    (cd "$src" && go build -o "$bin.tmp" ./cmd/flashgate) && mv "$bin.tmp" "$bin"
  fi
}

if [ "${1:-}" = build ]; then build; exit 0; fi
[ $# -eq 2 ] || { echo "usage: $0 PORT ORIGIN_HOST:PORT | $0 build" >&2; exit 2; }
port=$1 origin=$2
build
config=$(mktemp "$work/gateway.bench.XXXXXX.yaml")
sed -e "s#@ORIGIN@#$origin#g" "$here/gateway.bench.yaml" >"$config"
if [ -n "${FGBENCH_TLS:-}" ]; then   # the TLS rows: the same certificate as nginx's
  sed -i "s#^server:#server:\n  tls: {certificates: [{cert: $FGBENCH_TLS/bench.crt, key: $FGBENCH_TLS/bench.key}]}#" "$config"
fi
exec "$bin" -config "$config" -listen "127.0.0.1:$port" -no-demo
