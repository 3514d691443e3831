package proxy

import (
	"bufio"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestHostAllowList(t *testing.T) {
	var hits atomic.Int32
	origin := startOrigin(t, func(ctx *fasthttp.RequestCtx) { hits.Add(1); ctx.SetBodyString("page") })
	cfg := testConfig(origin, testRoute(t, "page", "/page", "shop"))
	cfg.Server.Hosts = []string{"shop.example", "[::1]"}
	g := newGateway(t, cfg, Options{})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"shop.example", 200},
		{"SHOP.example.:8080", 200},
		{"[::1]:8080", 200},
		{"x1.example", 421},
		{"shop.example.evil", 421},
		{"evil:shop.example", 400}, // refused by fasthttp's Host parser
	} {
		resp := g.do(t, "GET", "/page", nil, "Host", tc.host)
		if resp.StatusCode() != tc.want {
			t.Errorf("Host %q: %d, want %d", tc.host, resp.StatusCode(), tc.want)
		}
		if tc.want == 421 && !strings.Contains(string(resp.Body()), "does not serve that host") {
			t.Errorf("Host %q: body %q", tc.host, resp.Body())
		}
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("origin saw %d requests, want 3 (refused hosts never reach it)", n)
	}
}

func TestMissingHostIs400(t *testing.T) {
	origin := startOrigin(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("page") })
	g := newGateway(t, testConfig(origin, testRoute(t, "page", "/page", "shop")), Options{})
	c, err := g.ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /page HTTP/1.0\r\nAccept: application/json\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 400 || !strings.Contains(string(resp.Body()), `"missing_host"`) {
		t.Fatalf("HTTP/1.0 without Host: %d %s, want 400 missing_host", resp.StatusCode(), resp.Body())
	}
}
