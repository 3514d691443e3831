package filters

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/route"
	"flashgate/rules"
)

// t0 is the tests' "now": a fixed instant, so windows and TTLs are exact.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano()

func testEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewEnv(newTestStore(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	env.Now = func() int64 { return t0 }
	return env
}

// loadConfig writes a rule file holding one route "buy" (/buy/{id}) with
// the given filters (YAML list items) and optional admission section.
func loadConfig(t testing.TB, filtersYAML, admissionYAML string, extra map[string]string) *rules.Config {
	t.Helper()
	dir := t.TempDir()
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var sb strings.Builder
	sb.WriteString("origins:\n  shop:\n    servers: [\"127.0.0.1:9\"]\n")
	if admissionYAML != "" {
		sb.WriteString("admission:\n" + indent(admissionYAML, "  "))
	}
	sb.WriteString("routes:\n  - name: buy\n    path: /buy/{id}\n    origin: shop\n    filters:\n")
	sb.WriteString(indent(filtersYAML, "      "))
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatalf("rules.Load: %v\n%s", err, sb.String())
	}
	return cfg
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// compileErr compiles the "buy" route's filters and returns the error.
func compileErr(t testing.TB, env *Env, filtersYAML, admissionYAML string, extra map[string]string) (*Chain, error) {
	t.Helper()
	cfg := loadConfig(t, filtersYAML, admissionYAML, extra)
	if err := env.Begin(cfg.Admission, nil); err != nil {
		return nil, err
	}
	c, err := Compile("buy", cfg.Routes[0].Filters, env)
	if err == nil {
		env.Commit()
	}
	return c, err
}

func mustCompile(t testing.TB, env *Env, filtersYAML string) *Chain {
	t.Helper()
	c, err := compileErr(t, env, filtersYAML, "", nil)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// reqOpt shapes a test request.
type reqOpt func(*Request)

func withIP(ip string) reqOpt { return func(r *Request) { r.ClientIP = netip.MustParseAddr(ip) } }
func withHeader(k, v string) reqOpt {
	return func(r *Request) { r.Ctx.Request.Header.Set(k, v) }
}
func withCookie(k, v string) reqOpt {
	return func(r *Request) { r.Ctx.Request.Header.SetCookie(k, v) }
}
func at(ns int64) reqOpt { return func(r *Request) { r.Now = ns } }

var buyTable = func() *route.Table {
	p, err := route.Parse("/buy/{id}")
	if err != nil {
		panic(err)
	}
	t, err := route.NewTable([]route.Entry{{Pattern: p}}, false)
	if err != nil {
		panic(err)
	}
	return t
}()

// browserAccept is the Accept header a browser sends on a page load.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// newReq builds a request for path (matched against /buy/{id}), from a
// browser unless an option sets another Accept.
func newReq(path string, opts ...reqOpt) *Request {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetRequestURI(path)
	ctx.Request.Header.Set(fasthttp.HeaderAccept, browserAccept)
	r := &Request{Ctx: ctx, Route: "buy", Params: &route.Params{}, Now: t0,
		ClientIP: netip.MustParseAddr("192.0.2.1")}
	if _, res := buyTable.Match([]byte("example.com"), []byte("GET"), ctx.Path(), r.Params); res != route.Found {
		r.Params = nil
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// verdictOf runs c on a fresh request and renders the answer.
func verdictOf(c *Chain, path string, opts ...reqOpt) (Verdict, *Request) {
	r := newReq(path, opts...)
	v := c.Check(r)
	if v.Rejected() {
		v.Write(r.Ctx)
	}
	return v, r
}

func reason(v Verdict) string {
	if !v.Rejected() {
		return "pass"
	}
	return v.Rejection().Reason()
}

// respond builds an origin response for Observe.
func respond(status int, body string, headers ...string) *fasthttp.Response {
	resp := &fasthttp.Response{}
	resp.SetStatusCode(status)
	resp.SetBodyString(body)
	for i := 0; i+1 < len(headers); i += 2 {
		resp.Header.Set(headers[i], headers[i+1])
	}
	return resp
}

// allocCase is one filter decision measured for allocations: the chain,
// the request, and what every run must decide.
type allocCase struct {
	name, yaml string
	opts       []reqOpt
	step       time.Duration // how far each run moves the clock
	observe    int           // origin status shown after a pass; 0 = none
	want       string
}

// run makes one decision on r as the proxy would, reusing r's buffers.
func (ac *allocCase) run(c *Chain, r *Request) Verdict {
	r.nids, r.held, r.Tags = 0, 0, 0
	r.Now += int64(ac.step)
	v := c.Check(r)
	if v.Rejected() {
		v.Write(r.Ctx)
	} else if ac.observe != 0 {
		c.Observe(r, allocResp[ac.observe])
	}
	return v
}

var allocResp = map[int]*fasthttp.Response{200: respond(200, "ok"), 402: respond(402, "declined"), 409: respond(409, "sold_out")}
