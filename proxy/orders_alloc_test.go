//go:build !race

package proxy

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestTicketPollAllocs: a program polling its pending ticket (JSON), which
// every waiting buyer does about once a second during a sale, costs no
// allocation.
func TestTicketPollAllocs(t *testing.T) {
	s, err := New(Options{Config: admissionConfig(t, asyncBenchRules), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.env.Close)
	h := s.Handler()
	// The dispatcher takes the first purchase; the second waits in line.
	for _, buyer := range []string{"ann", "bob"} {
		buy := acceptCtx("POST", "/buy/42")
		buy.Request.Header.Set("X-Buyer", buyer)
		h(buy)
	}
	buy := acceptCtx("POST", "/buy/42")
	buy.Request.Header.Set("X-Buyer", "bob") // asks again: the same ticket
	h(buy)
	tk := string(buy.Response.Header.Peek("X-Order-Ticket"))
	poll := acceptCtx("GET", "/_flashgate/orders/"+tk)
	h(poll)
	if poll.Response.StatusCode() != 202 {
		t.Fatalf("poll: %d %s", poll.Response.StatusCode(), poll.Response.Body())
	}
	if n := testing.AllocsPerRun(200, func() {
		poll.Response.Reset()
		h(poll)
	}); n != 0 {
		t.Errorf("polling a pending ticket: %v allocs, want 0", n)
	}
}

func acceptCtx(method, uri string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "application/json")
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}
