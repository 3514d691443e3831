// Package admin is the gateway's admin listener: a JSON API to read and
// change the running gateway (status, reload, the effective rules, purge,
// stock, waiting rooms), its Prometheus metrics with HELP and TYPE, and a
// live dashboard whose assets are embedded in the binary.
//
// It listens on its own address, never the public port. A bearer token
// (from a file or an environment variable, compared in constant time) is
// required for every call that changes something, and for every data
// call when the listener is reachable beyond loopback; New refuses a
// non-loopback address without a token. Every change is logged with what
// it changed and who asked.
package admin
