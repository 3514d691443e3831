#!/bin/sh
# Makes a self-signed certificate for localhost in deploy/compose/tls/, for
# trying the compose setup. Use your real certificate (or cert-manager on
# Kubernetes) anywhere else.
set -eu
dir=$(dirname "$0")/tls
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -keyout "$dir/tls.key" -out "$dir/tls.crt"
chmod 644 "$dir/tls.key"   # the image runs as uid 65532, not as you
echo "wrote $dir/tls.crt and $dir/tls.key"
