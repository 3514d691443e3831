package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestOriginDown(t *testing.T) {
	cfg := testConfig(deadAddr(t), testRoute(t, "item", "/item/{id}", "shop"))
	g := newGateway(t, cfg, Options{})
	for _, tc := range []struct {
		name, accept, wantType, wantBody string
	}{
		{"browser", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8", "<h1>Service unavailable</h1>"},
		{"api", "application/json", "application/json", `"error":"bad_gateway","status":502`},
		{"no accept", "", "application/json", `"message":"The shop could not be reached`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := g.do(t, "GET", "/item/1", nil, "Accept", tc.accept)
			if resp.StatusCode() != 502 {
				t.Fatalf("status = %d, want 502", resp.StatusCode())
			}
			if got := string(resp.Header.ContentType()); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			body := string(resp.Body())
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body = %q, want it to contain %q", body, tc.wantBody)
			}
			for _, leak := range []string{"dial", "connect", "127.0.0.1", "fasthttp"} {
				if strings.Contains(body, leak) {
					t.Errorf("body %q leaks error detail %q", body, leak)
				}
			}
			if got := string(resp.Header.Peek("Cache-Control")); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store: a CDN must not keep a 502", got)
			}
		})
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_origin_errors_total{origin="shop",kind="refused"} 3`) {
		t.Errorf("metrics do not count 3 refused origin calls:\n%s", grep(m, "origin_errors"))
	}
}

func TestOriginSlow(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	cfg := testConfig(startOrigin(t, func(ctx *fasthttp.RequestCtx) { <-release }),
		testRoute(t, "slow", "/slow", "shop"))
	cfg.Routes[0].Timeout = 150 * time.Millisecond
	g := newGateway(t, cfg, Options{})
	start := time.Now()
	resp := g.do(t, "GET", "/slow", nil, "Accept", "application/json")
	took := time.Since(start)
	if resp.StatusCode() != 504 || !strings.Contains(string(resp.Body()), `"error":"gateway_timeout"`) {
		t.Fatalf("got %d %q, want 504 gateway_timeout", resp.StatusCode(), resp.Body())
	}
	if took > 2*time.Second {
		t.Errorf("the 504 took %v; the route timeout is 150ms", took)
	}
}

// TestOriginBusy: with the origin's connections all in use beyond
// max_conn_wait, the gateway answers 503 with Retry-After at once instead
// of queueing.
func TestOriginBusy(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	cfg := testConfig(startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/item/hold" {
			close(arrived)
			<-release
		}
	}), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Origins[0].MaxConns = 1
	cfg.Origins[0].MaxConnWait = 50 * time.Millisecond
	g := newGateway(t, cfg, Options{})
	done := make(chan int)
	go func() { done <- g.do(t, "GET", "/item/hold", nil).StatusCode() }()
	<-arrived
	resp := g.do(t, "GET", "/item/2", nil, "Accept", "application/json")
	if resp.StatusCode() != 503 || string(resp.Header.Peek("Retry-After")) != "1" ||
		!strings.Contains(string(resp.Body()), `"error":"origin_busy"`) {
		t.Errorf("got %d Retry-After %q %q, want 503 origin_busy with Retry-After: 1",
			resp.StatusCode(), resp.Header.Peek("Retry-After"), resp.Body())
	}
	close(release)
	if s := <-done; s != 200 {
		t.Errorf("the request holding the connection got %d, want 200", s)
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_origin_errors_total{origin="shop",kind="busy"} 1`) {
		t.Errorf("busy not counted:\n%s", grep(m, "origin_errors"))
	}
}

func TestEdgeAnswers(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle),
		testRoute(t, "item", "/item/{id}", "shop", "GET"),
		testRoute(t, "buy", "/buy/{id}", "shop", "POST"),
		testRoute(t, "buy-check", "/buy/{id}", "shop", "GET"),
		testRoute(t, "upload", "/upload", "shop", "POST"),
	)
	cfg.Server.MaxBodyBytes = 4096
	cfg.Routes[1].MaxBodyBytes = 100
	g := newGateway(t, cfg, Options{})

	for _, tc := range []struct {
		name, method, path string
		body               []byte
		status             int
		wantBody           string
		header, value      string
	}{
		{"encoded slash", "GET", "/item/a%2Fb", nil, 400, "malformed", "", ""},
		{"above root", "GET", "/../etc/passwd", nil, 400, "malformed", "", ""},
		{"no route", "GET", "/nowhere", nil, 404, "nothing at this address", "", ""},
		{"wrong method", "DELETE", "/buy/1", nil, 405, "does not accept this method", "Allow", "POST, GET"},
		{"body over server limit", "POST", "/upload", make([]byte, 5000), 413, "larger than this address accepts", "", ""},
		{"body over route limit", "POST", "/buy/1", make([]byte, 200), 413, "larger than this address accepts", "", ""},
		{"body within limits", "POST", "/upload", make([]byte, 3000), 200, "", "", ""},
		{"headers over max_header_size", "GET", "/item/1", nil, 431, "headers are larger", "", ""},
		{"normalised path upstream", "GET", "/item/./a/../7", nil, 200, "", "X-Seen-URI", "/item/7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.status == 431 {
				hdr = []string{"X-Big", strings.Repeat("b", 20<<10)}
			}
			var resp *fasthttp.Response
			if tc.status == 413 || tc.status == 431 {
				// fasthttp answers and closes while the client may still
				// be writing: read the answer the way a TCP client would.
				resp = g.doRaw(t, tc.method, tc.path, tc.body, hdr...)
			} else {
				resp = g.do(t, tc.method, tc.path, tc.body, hdr...)
			}
			if resp.StatusCode() != tc.status {
				t.Fatalf("status = %d, want %d; body %q", resp.StatusCode(), tc.status, resp.Body())
			}
			if !strings.Contains(string(resp.Body()), tc.wantBody) {
				t.Errorf("body = %q, want it to contain %q", resp.Body(), tc.wantBody)
			}
			if tc.header != "" {
				if got := string(resp.Header.Peek(tc.header)); got != tc.value {
					t.Errorf("%s = %q, want %q", tc.header, got, tc.value)
				}
			}
			if len(resp.Header.Peek("X-Request-Id")) == 0 {
				t.Error("no X-Request-Id on the answer")
			}
		})
	}
	if rec.count() != 2 {
		t.Errorf("origin got %d requests, want 2: edge answers must not reach it", rec.count())
	}
}

func TestUnmatchedForwarded(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Server.Unmatched = "shop"
	g := newGateway(t, cfg, Options{})
	resp := g.do(t, "GET", "/about//us", nil)
	if resp.StatusCode() != 200 || string(resp.Header.Peek("X-Seen-URI")) != "/about/us" {
		t.Fatalf("got %d, origin saw %q; want the unmatched request forwarded with its normalised path",
			resp.StatusCode(), resp.Header.Peek("X-Seen-URI"))
	}
}

func TestGatewayEndpoints(t *testing.T) {
	clock := time.Date(2026, 11, 11, 0, 0, 1, 500e6, time.UTC)
	cfg := testConfig(deadAddr(t), testRoute(t, "item", "/item/{id}", "shop"))
	g := newGateway(t, cfg, Options{Now: func() time.Time { return clock }})

	resp := g.do(t, "GET", "/_flashgate/time", nil)
	if got, want := string(resp.Body()), `{"now_ms":1794355201500,"iso":"2026-11-11T00:00:01.500Z"}`+"\n"; got != want {
		t.Errorf("/_flashgate/time = %q, want %q", got, want)
	}
	if got := string(resp.Header.Peek("Cache-Control")); got != "no-store" {
		t.Errorf("/_flashgate/time Cache-Control = %q, want no-store", got)
	}

	resp = g.do(t, "GET", "/_flashgate/health", nil)
	var h struct {
		Status string `json:"status"`
		Reload struct {
			OK bool      `json:"ok"`
			At time.Time `json:"at"`
		} `json:"last_reload"`
	}
	if err := json.Unmarshal(resp.Body(), &h); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("/_flashgate/health: %d %q (%v)", resp.StatusCode(), resp.Body(), err)
	}
	if h.Status != "ok" || !h.Reload.OK || !h.Reload.At.Equal(clock) {
		t.Errorf("/_flashgate/health = %+v, want ok with last_reload ok at %v", h, clock)
	}

	if resp = g.do(t, "GET", "/_flashgate/nope", nil); resp.StatusCode() != 404 {
		t.Errorf("/_flashgate/nope: status %d, want 404", resp.StatusCode())
	}
}

// grep returns the lines of s containing sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
