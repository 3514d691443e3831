//go:build !race

package proxy

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestConnTimeoutsRequestAllocs: the per-request marks (first byte, the
// handler wrap, response written) allocate nothing.
func TestConnTimeoutsRequestAllocs(t *testing.T) {
	tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
	srv, cli := net.Pipe()
	defer srv.Close()
	defer cli.Close()
	tm.connState(srv, fasthttp.StateNew)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init2(srv, nil, false)
	h := tm.wrap(func(*fasthttp.RequestCtx, netip.Addr) {})
	if n := testing.AllocsPerRun(1000, func() {
		tm.connState(srv, fasthttp.StateActive)
		h(ctx)
		tm.connState(srv, fasthttp.StateIdle)
	}); n != 0 {
		t.Fatalf("per-request connection timeout marks: %v allocs, want 0", n)
	}
}
