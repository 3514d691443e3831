package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/proxy"
	"flashgate/rules"
)

// testToken is the admin token of the test gateways.
const testToken = "test-token-0123456789abcdef"

// testRules: a cached item page (tag item:{id}), a buy route with a
// waiting room and a stock gate, an async order route (a purchase queue),
// in front of the test's origin; item 7 is a static hot key.
const testRules = `server: {listen: "127.0.0.1:0", hosts: [shop.test, 127.0.0.1]}
logging: {level: warn}
hotspot: {rate: 1000/s, static: [{kind: param, key: "item:7"}]}
origins:
  shop: {servers: ["%ORIGIN%"]}
routes:
  - name: item
    methods: [GET]
    path: /item/{id}
    origin: shop
    cache: {ttl: 60s, tags: ["item:{id}"]}
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - queue: {group: sale, admit_rate: 1000/s}
      - stock: {stock: {"7": 2}, sold_out: {status: 409}}
  - name: order
    methods: [POST]
    path: /order/{id}
    origin: shop
    async: {queue: 100, rate: 1000/s, concurrency: 2, user: "header:X-Buyer"}
`

// syncBuffer is a log destination read while the gateway writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testGateway is a real gateway (public listener on loopback) in front of
// a real origin, and its admin listener.
type testGateway struct {
	public string // http://127.0.0.1:port of the public listener
	admin  string // http://host:port of the admin listener
	gw     *proxy.Server
	logs   *syncBuffer
	hits   map[string]int // origin requests by path
	mu     sync.Mutex
}

func (g *testGateway) originHits(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[path]
}

// startGateway starts the gateway and an admin listener on listen with
// token (either may be "" / "127.0.0.1:0").
func startGateway(t *testing.T, listen, token string) *testGateway {
	t.Helper()
	g := &testGateway{logs: &syncBuffer{}, hits: map[string]int{}}
	origin := serveFast(t, func(ctx *fasthttp.RequestCtx) {
		g.mu.Lock()
		g.hits[string(ctx.Path())]++
		g.mu.Unlock()
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("page " + string(ctx.Path()))
	})
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(testRules, "%ORIGIN%", origin)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(g.logs, nil))
	g.gw, err = proxy.New(proxy.Options{ConfigPath: path, Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go g.gw.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.gw.Shutdown(ctx)
	})
	g.public = "http://" + ln.Addr().String()
	a, err := New(Options{Gateway: g.gw, Listen: listen, Token: token, Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := a.Listen(listen)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve() //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	_, port, _ := net.SplitHostPort(addr.String())
	g.admin = "http://127.0.0.1:" + port
	return g
}

func serveFast(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

// answer is one HTTP answer, its body decoded as JSON when it is.
type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
	list   []any
}

func (a answer) errorCode() string {
	if e, ok := a.json["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func (a answer) errorMessage() string {
	if e, ok := a.json["error"].(map[string]any); ok {
		s, _ := e["message"].(string)
		return s
	}
	return ""
}

// call sends method base+path with an optional token and body.
func call(t *testing.T, method, url, token, body string, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.json); err != nil {
			_ = json.Unmarshal(b, &a.list)
		}
	}
	return a
}
