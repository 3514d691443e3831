package proxy

import (
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

func TestAccessLogLine(t *testing.T) {
	var buf fgtest.Buffer
	a := newAccessLog(&buf, metrics.NewSet().NewCounter("dropped"))
	ctx := &fasthttp.RequestCtx{}
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	ctx.Init(&req, net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:1")), nil)
	x := &Exchange{Ctx: ctx, Path: []byte("/buy/7"), ClientIP: netip.MustParseAddr("198.51.100.7"),
		Now: 1_794_355_201_000_000_000, RequestID: []byte("abc-1"), Route: &Route{Name: "buy"}}
	a.record(x, 201, x.Now+1_500_000)
	a.close()
	want := `2026-11-11T00:00:01Z 198.51.100.7 POST "/buy/7" 201 buy 1500us abc-1` + "\n"
	if buf.String() != want {
		t.Errorf("access log line\n got %q\nwant %q", buf.String(), want)
	}
}

// blockingWriter blocks every Write until released.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

func TestAccessLogDropsWhenFull(t *testing.T) {
	w := blockingWriter{make(chan struct{})}
	dropped := metrics.NewSet().NewCounter("dropped")
	a := newAccessLog(w, dropped)
	x := &Exchange{Ctx: &fasthttp.RequestCtx{}, Path: []byte("/")}
	// The writer holds at most one line, the queue accessLogQueue more.
	for range accessLogQueue + 10 {
		a.record(x, 200, 0)
	}
	if d := dropped.Get(); d < 9 || d > 10 {
		t.Errorf("dropped %d lines, want 9 or 10 (queue %d + at most one being written)", d, accessLogQueue)
	}
	close(w.release)
	a.close()
}

func TestAccessLogThroughServer(t *testing.T) {
	path := t.TempDir() + "/access.log"
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Logging.AccessLog = path
	g := newGateway(t, cfg, Options{})
	g.do(t, "GET", "/item/9", nil)
	g.do(t, "GET", "/nope", nil)
	if err := g.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\S+ 203\.0\.113\.7 GET "/item/9" 200 item \d+us [0-9a-f]{16}-\w+\n\S+ 203\.0\.113\.7 GET "/nope" 404 - \d+us \S+\n$`)
	if !re.Match(b) {
		t.Errorf("access log:\n%s", b)
	}
	if m := g.metricsText(); !strings.Contains(m, `flashgate_requests_total{route="item",class="2xx"} 1`) ||
		!strings.Contains(m, `flashgate_requests_total{route="_edge",class="4xx"} 1`) {
		t.Errorf("request metrics:\n%s", grep(m, "requests_total"))
	}
}
