package esi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testVars is a Vars over fixed maps.
type testVars struct {
	host     string
	rawQuery string
	cookies  map[string]string
	headers  map[string]string
}

func (v *testVars) Host() []byte { return []byte(v.host) }
func (v *testVars) Cookie(name string) []byte {
	if c, ok := v.cookies[name]; ok {
		return []byte(c)
	}
	return nil
}
func (v *testVars) Query(name string) []byte {
	q, _ := url.ParseQuery(v.rawQuery)
	if s := q.Get(name); s != "" {
		return []byte(s)
	}
	return nil
}
func (v *testVars) RawQuery() []byte { return []byte(v.rawQuery) }
func (v *testVars) Header(name string) []byte {
	if h, ok := v.headers[strings.ToLower(name)]; ok {
		return []byte(h)
	}
	return nil
}

// fixture is one fragment of a .frags file.
type fixture struct {
	frag  Fragment
	slow  bool // Fetch blocks until its context ends
	fail  bool // Fetch returns an error
	async bool // FetchNow says not ready
}

// memFetcher serves fixtures by "path" (page host) or "//host/path".
// It implements NowFetcher unless noNow is set.
type memFetcher struct {
	pageHost string
	frags    map[string]*fixture
	mu       sync.Mutex
	log      map[string]bool
}

func (m *memFetcher) key(req *FragmentRequest) string {
	if string(req.Host) == m.pageHost && !req.Absolute {
		return string(req.Path)
	}
	return "//" + string(req.Host) + string(req.Path)
}

func (m *memFetcher) record(k string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		m.log = map[string]bool{}
	}
	m.log[k] = true
}

func (m *memFetcher) FetchNow(req *FragmentRequest) (*Fragment, bool) {
	k := m.key(req)
	m.record(k)
	fx, ok := m.frags[k]
	if !ok {
		return &Fragment{Status: 404, Body: []byte("not found")}, true
	}
	if fx.slow || fx.fail || fx.async {
		return nil, false
	}
	return &fx.frag, true
}

func (m *memFetcher) Fetch(ctx context.Context, req *FragmentRequest) (*Fragment, error) {
	k := m.key(req)
	m.record(k)
	fx, ok := m.frags[k]
	switch {
	case !ok:
		return &Fragment{Status: 404, Body: []byte("not found")}, nil
	case fx.slow:
		<-ctx.Done()
		return nil, ctx.Err()
	case fx.fail:
		return nil, errors.New("origin refused the connection")
	}
	return &fx.frag, nil
}

func (m *memFetcher) fetched() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.log {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// asyncOnly hides FetchNow so every fragment goes through a worker.
type asyncOnly struct{ f *memFetcher }

func (a asyncOnly) Fetch(ctx context.Context, req *FragmentRequest) (*Fragment, error) {
	return a.f.Fetch(ctx, req)
}

// scenario is a parsed .frags file: the page request, config and fragments.
type scenario struct {
	page    Page
	vars    testVars
	cfg     Config
	allowed []string
	fetcher *memFetcher
	ready   bool // Page.Ready writes "<ready>" into the output
}

// parseFrags reads the .frags format:
//
//	# comment
//	@page host=shop.test path=/item/1?x=1 [buffered] [ready] [continue] [maxdepth=N] [maxfetches=N] [maxbytes=N] [allow=h1,h2]
//	@cookie name=value
//	@header Name: value
//	== /path-or-//host/path [status=N] [maxage=60s] [personal] [gzip] [esi] [slow] [fail] [binary] [async]
//	body lines (until the next "==" line; the final newline is dropped)
func parseFrags(t testing.TB, data string) *scenario {
	sc := &scenario{vars: testVars{host: "shop.test", cookies: map[string]string{}, headers: map[string]string{}}}
	sc.page = Page{Host: []byte("shop.test"), Path: []byte("/item/1")}
	sc.fetcher = &memFetcher{pageHost: "shop.test", frags: map[string]*fixture{}}
	var cur *fixture
	var body []string
	flush := func() {
		if cur != nil {
			sc.finishFixture(t, cur, strings.Join(body, "\n"))
		}
		body = nil
	}
	sn := bufio.NewScanner(strings.NewReader(data))
	for sn.Scan() {
		line := sn.Text()
		switch {
		case cur == nil && (line == "" || strings.HasPrefix(line, "#")):
		case strings.HasPrefix(line, "@page "):
			sc.pageLine(t, strings.Fields(line)[1:])
		case strings.HasPrefix(line, "@cookie "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "@cookie "), "=")
			sc.vars.cookies[k] = v
		case strings.HasPrefix(line, "@header "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "@header "), ":")
			sc.vars.headers[strings.ToLower(k)] = strings.TrimSpace(v)
		case strings.HasPrefix(line, "== "):
			flush()
			f := strings.Fields(line)
			cur = &fixture{frag: Fragment{Status: 200, MaxAge: time.Hour}}
			sc.fetcher.frags[f[1]] = cur
			sc.fragFlags(t, cur, f[2:])
		default:
			body = append(body, line)
		}
	}
	flush()
	sc.page.Vars = &sc.vars
	sc.cfg.HostAllowed = func(h string) bool { return slices.Contains(sc.allowed, h) }
	return sc
}

func (sc *scenario) pageLine(t testing.TB, fields []string) {
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "host":
			sc.page.Host, sc.vars.host, sc.fetcher.pageHost = []byte(v), v, v
		case "path":
			sc.page.Path = []byte(v)
			_, sc.vars.rawQuery, _ = strings.Cut(v, "?")
		case "buffered":
			sc.page.Buffered = true
		case "ready":
			sc.ready = true
		case "continue":
			sc.cfg.ContinueOnError = true
		case "maxdepth":
			sc.cfg.MaxDepth = n
		case "maxfetches":
			sc.cfg.MaxFetches = n
		case "maxbytes":
			sc.cfg.MaxFragmentBytes = n
		case "allow":
			sc.allowed = strings.Split(v, ",")
		default:
			t.Fatalf("@page: unknown field %q", f)
		}
	}
}

func (sc *scenario) fragFlags(t testing.TB, fx *fixture, flags []string) {
	for _, f := range flags {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "status":
			fx.frag.Status, _ = strconv.Atoi(v)
		case "maxage":
			fx.frag.MaxAge, _ = time.ParseDuration(v)
		case "personal":
			fx.frag.Personal = true
		case "gzip":
			fx.frag.Gzip = true
		case "esi":
			fx.frag.Template = &Template{} // parsed in finishFixture
		case "slow":
			fx.slow = true
		case "fail":
			fx.fail = true
		case "async":
			fx.async = true
		case "binary":
			fx.frag.Body = []byte{0}
		default:
			t.Fatalf("fragment flag %q unknown", f)
		}
	}
}

func (sc *scenario) finishFixture(t testing.TB, fx *fixture, body string) {
	b := append([]byte(body), fx.frag.Body...) // "binary" appended a NUL
	if fx.frag.Template != nil {
		tpl, err := Parse(b, ParseOptions{})
		if err != nil {
			t.Fatalf("fragment template: %v", err)
		}
		fx.frag.Template = tpl
	}
	if fx.frag.Gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		b = z.Bytes()
	}
	fx.frag.Body = b
}

// formatResult renders the assembly outcome appended to a golden file.
func formatResult(out []byte, res Result, err error, fetched []string) string {
	var b strings.Builder
	b.Write(out)
	b.WriteString("\n--- result\n")
	maxAge := "none"
	if res.MaxAge != NoMaxAge {
		maxAge = res.MaxAge.String()
	}
	fmt.Fprintf(&b, "included=%d failed=%d personal=%v maxage=%s\n", res.Included, res.Failed, res.Personal, maxAge)
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	fmt.Fprintf(&b, "fetched: %s\n", strings.Join(fetched, " "))
	return b.String()
}
