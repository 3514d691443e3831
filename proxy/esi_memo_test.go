package proxy

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/rules"
)

// memoOrigin serves ESI shells and fragments whose bodies carry a version
// the test bumps, and counts requests per path.
type memoOrigin struct {
	*countingOrigin
	mu       sync.Mutex
	versions map[string]int
}

func newMemoOrigin() *memoOrigin {
	o := &memoOrigin{versions: map[string]int{}}
	o.countingOrigin = newCountingOrigin(o.serve)
	return o
}

func (o *memoOrigin) bump(path string) {
	o.mu.Lock()
	o.versions[path]++
	o.mu.Unlock()
}

func (o *memoOrigin) serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	o.mu.Lock()
	v := o.versions[path] + 1
	o.mu.Unlock()
	h := &ctx.Response.Header
	shell := func(body string) {
		h.Set("Surrogate-Control", `content="ESI/1.0"`)
		h.Set("Cache-Control", "public, s-maxage=60")
		ctx.SetContentType("text/html")
		ctx.SetBodyString(body)
	}
	switch {
	case path == "/page/1":
		shell(`<h1>1</h1><esi:include src="/frag/a"/>|<esi:include src="/frag/b"/>|<esi:include src="/short/c"/>`)
	case path == "/vars/query":
		shell(`<h1>q</h1><esi:include src="/frag/$(QUERY_STRING{f})"/>`)
	case path == "/vars/cookie":
		shell(`<h1>c</h1><esi:include src="/frag/$(HTTP_COOKIE{uid})"/>`)
	case path == "/private/1":
		shell(`<h1>p</h1><esi:include src="/frag/a"/>|<esi:include src="/pfrag/cart"/>`)
	case path == "/failing/1":
		shell(`<h1>f</h1><esi:include src="/frag/a"/>|<esi:include src="/nowhere" onerror="continue"/>`)
	case path == "/brief/1":
		shell(`<h1>b</h1><esi:include src="/frag/a"/>`)
	case path == "/nested/1":
		shell(`<h1>n</h1><esi:include src="/nfrag/q"/>`)
	case path == "/nfrag/q":
		h.Set("Surrogate-Control", `content="ESI/1.0"`)
		ctx.SetBodyString(`[<esi:include src="/frag/$(QUERY_STRING{f})"/>]`)
	case path == "/pfrag/cart":
		h.Set("Cache-Control", "private")
		ctx.SetBodyString("cart#" + strconv.Itoa(o.count(path)))
	case strings.HasPrefix(path, "/frag/"), strings.HasPrefix(path, "/short/"):
		h.Set("Cache-Control", "public, s-maxage=30")
		ctx.SetBodyString(path[strings.LastIndexByte(path, '/')+1:] + "v" + strconv.Itoa(v))
	default:
		ctx.SetStatusCode(404)
	}
}

const memoRules = `
origins:
  shop:
    servers: [ORIGIN]
    hosts: [shop.example]
routes:
  - name: brief
    path: /brief/{id}
    origin: shop
    cache: {ttl: 5s, stale_while_revalidate: 1m}
  - name: page
    path: /{kind}/{id}
    origin: shop
    cache: {ttl: 1h}
  - name: frag
    path: /frag/{name}
    origin: shop
    cache: {ttl: 10s, stale_while_revalidate: 1m, tags: ["frag:{name}"]}
  - name: short
    path: /short/{name}
    origin: shop
    cache: {ttl: 2s, stale_while_revalidate: 1m}
  - name: nested
    path: /nfrag/{name}
    origin: shop
    cache: {ttl: 10s}
  - name: cart
    path: /pfrag/{name}
    origin: shop
    cache: {ttl: 10s}
`

var pagesMetric = regexp.MustCompile(`flashgate_esi_pages_total\{path="(\w+)"\} (\d+)`)

// pages returns flashgate_esi_pages_total by path.
func (g *gateway) pages() map[string]int {
	out := map[string]int{}
	for _, m := range pagesMetric.FindAllStringSubmatch(g.metricsText(), -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// memoPage is one answer and how it was assembled.
type memoPage struct {
	body, cc string
	path     string // fast, memo, streamed, ...
}

// page gets uri and reports which flashgate_esi_pages_total path grew.
func (g *gateway) page(t *testing.T, uri string, hdr ...string) memoPage {
	t.Helper()
	before := g.pages()
	resp := g.get(t, uri, hdr...)
	p := memoPage{body: string(resp.Body()), cc: string(resp.Header.Peek("Cache-Control"))}
	for path, n := range g.pages() {
		if n > before[path] {
			p.path += path
		}
	}
	if resp.StatusCode() != 200 {
		t.Fatalf("%s: status %d %q", uri, resp.StatusCode(), p.body)
	}
	return p
}

func memoGateway(t *testing.T, opts Options) (*gateway, *memoOrigin, *fakeClock) {
	o := newMemoOrigin()
	clock := newFakeClock()
	opts.Now, opts.cacheBackground = clock.Now, func(f func()) { f() }
	return newGateway(t, loadYAML(t, startOrigin(t, o.handle), memoRules), opts), o, clock
}

// expect checks that uri is answered by path with body, and the page's
// Cache-Control.
func expect(t *testing.T, g *gateway, what, uri, path, body, cc string) memoPage {
	t.Helper()
	p := g.page(t, uri)
	if p.path != path || p.body != body || cc != "" && p.cc != cc {
		t.Fatalf("%s: %s page %q (Cache-Control %q), want %s page %q (%q)", what, p.path, p.body, p.cc, path, body, cc)
	}
	return p
}

const page1v1 = "<h1>1</h1>av1|bv1|cv1"

// warmPage1 fills /page/1 and its fragments, then assembles it once on
// the fast path (which memoises it) and once from the memo.
func warmPage1(t *testing.T, g *gateway) {
	t.Helper()
	expect(t, g, "first page: fragments miss", "/page/1", "streamed", page1v1, "")
	fast := expect(t, g, "fragments cached", "/page/1", "fast", page1v1, "public, s-maxage=30")
	expect(t, g, "memoised", "/page/1", "memo", fast.body, fast.cc)
}

// TestESIMemoReused: once a page of fresh shared fragments was assembled,
// later requests get the very same bytes and headers without a fragment
// lookup or fetch; HEAD keeps its own path.
func TestESIMemoReused(t *testing.T) {
	g, o, _ := memoGateway(t, Options{})
	warmPage1(t, g)
	for range 5 {
		expect(t, g, "again", "/page/1", "memo", page1v1, "public, s-maxage=30")
	}
	for _, path := range []string{"/page/1", "/frag/a", "/frag/b", "/short/c"} {
		if n := o.count(path); n != 1 {
			t.Fatalf("origin asked for %s %d times, want 1", path, n)
		}
	}
	if resp := g.do(t, "HEAD", "/page/1", nil); resp.StatusCode() != 200 || g.pages()["memo"] != 6 {
		t.Fatalf("HEAD: status %d, memo pages %d; want 200 and the memo untouched (6)", resp.StatusCode(), g.pages()["memo"])
	}
}

// TestESIMemoExpiresWithFragments: the memo lives until the earliest
// fragment turns stale (/short/c: 2s, the others 10s); then the page is
// assembled again (from the stale fragment, refreshed in the background)
// and the refreshed content is memoised in turn.
func TestESIMemoExpiresWithFragments(t *testing.T) {
	g, o, clock := memoGateway(t, Options{})
	warmPage1(t, g)
	clock.Advance(1900 * time.Millisecond)
	expect(t, g, "all fragments fresh", "/page/1", "memo", page1v1, "")
	o.bump("/short/c")
	clock.Advance(200 * time.Millisecond)
	expect(t, g, "/short/c stale", "/page/1", "fast", page1v1, "public, s-maxage=0")
	expect(t, g, "/short/c refreshed", "/page/1", "fast", "<h1>1</h1>av1|bv1|cv2", "public, s-maxage=30")
	expect(t, g, "memoised again", "/page/1", "memo", "<h1>1</h1>av1|bv1|cv2", "public, s-maxage=30")
	o.bump("/frag/a")
	clock.Advance(8 * time.Second) // 10.1s: /frag/a and /frag/b stale
	expect(t, g, "/frag/a stale", "/page/1", "fast", "<h1>1</h1>av1|bv1|cv2", "public, s-maxage=0")
	expect(t, g, "/frag/a refreshed", "/page/1", "fast", "<h1>1</h1>av2|bv1|cv2", "")
	expect(t, g, "memoised again", "/page/1", "memo", "<h1>1</h1>av2|bv1|cv2", "")
}

// TestESIMemoPurge: purging a fragment, by URL or by tag, hard or soft,
// ends the memo at once; the next pages show the fragment's new content.
func TestESIMemoPurge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		purge cache.Purge
		after string // the page right after the purge
	}{
		{"url hard", cache.Purge{Kind: cache.PurgeURL, Host: "shop.example", Path: "/frag/a"}, "streamed"},
		{"url soft", cache.Purge{Kind: cache.PurgeURL, Host: "shop.example", Path: "/frag/a", Soft: true}, "fast"},
		{"tag hard", cache.Purge{Kind: cache.PurgeTag, Tag: "frag:a"}, "streamed"},
		{"tag soft", cache.Purge{Kind: cache.PurgeTag, Tag: "frag:a", Soft: true}, "fast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, o, _ := memoGateway(t, Options{})
			warmPage1(t, g)
			o.bump("/frag/a")
			if n := g.Purge(tc.purge); n != 1 {
				t.Fatalf("purge touched %d entries, want 1", n)
			}
			p := g.page(t, "/page/1")
			if p.path != tc.after {
				t.Fatalf("page after the purge: %s %q, want a %s assembly", p.path, p.body, tc.after)
			}
			want := "<h1>1</h1>av2|bv1|cv1"
			if !tc.purge.Soft && p.body != want {
				t.Fatalf("page after a hard purge: %q, want %q", p.body, want)
			}
			// Soft: that page was served stale while the refresh ran
			// (synchronously here); hard: it streamed the fetched fragment.
			expect(t, g, "fragment cached again", "/page/1", "fast", want, "")
			expect(t, g, "memoised again", "/page/1", "memo", want, "")
			if n := o.count("/frag/a"); n != 2 {
				t.Fatalf("origin asked for /frag/a %d times, want 2", n)
			}
		})
	}
}

// TestESIMemoReload: a reload recompiles the fragment routes, so the memo
// of the old rules is not used; the new rules memoise the page again.
func TestESIMemoReload(t *testing.T) {
	o := newMemoOrigin()
	addr := startOrigin(t, o.handle)
	next := loadYAML(t, addr, memoRules+"\n# edited\n")
	clock := newFakeClock()
	g := newGateway(t, loadYAML(t, addr, memoRules), Options{Now: clock.Now, cacheBackground: func(f func()) { f() },
		load: func(string) (*rules.Config, error) { return next, nil }})
	warmPage1(t, g)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	expect(t, g, "after the reload", "/page/1", "fast", page1v1, "")
	expect(t, g, "memoised again", "/page/1", "memo", page1v1, "")
}

// TestESIMemoNotForRequestDependentPages: a template that reads a variable
// is assembled for each request, even when the variable is not personal
// (the query string: the shell's cache key ignores it), and so is one
// whose fragment is such a template; so is a page with a per-user
// fragment, and a page with a failed include.
func TestESIMemoNotForRequestDependentPages(t *testing.T) {
	g, o, _ := memoGateway(t, Options{})
	for range 3 {
		for _, f := range []string{"a", "b"} {
			if p := g.page(t, "/vars/query?f="+f); p.body != "<h1>q</h1>"+f+"v1" || p.path == "memo" {
				t.Fatalf("/vars/query?f=%s: %s page %q, want %sv1 assembled", f, p.path, p.body, f)
			}
			if p := g.page(t, "/nested/1?f="+f); p.body != "<h1>n</h1>["+f+"v1]" || p.path == "memo" {
				t.Fatalf("/nested/1?f=%s: %s page %q, want [%sv1] assembled", f, p.path, p.body, f)
			}
		}
		for _, uid := range []string{"a", "b"} {
			p := g.page(t, "/vars/cookie", "Cookie", "uid="+uid)
			if p.body != "<h1>c</h1>"+uid+"v1" || p.path == "memo" || p.cc != "private, no-store" {
				t.Fatalf("/vars/cookie for %s: %s page %q (%q), want %sv1 assembled, private", uid, p.path, p.body, p.cc, uid)
			}
		}
	}
	for i := range 3 {
		p := g.page(t, "/private/1")
		if want := "<h1>p</h1>av1|cart#" + strconv.Itoa(i+1); p.body != want || p.path == "memo" || p.cc != "private, no-store" {
			t.Fatalf("page with a private fragment: %s page %q (%q), want %q assembled, private", p.path, p.body, p.cc, want)
		}
		p = g.page(t, "/failing/1")
		if p.body != "<h1>f</h1>av1|" || p.path == "memo" || p.cc != "no-store" {
			t.Fatalf("page with a failed include: %s page %q (%q), want it assembled, no-store", p.path, p.body, p.cc)
		}
	}
	if n := g.pages()["memo"]; n != 0 {
		t.Fatalf("%d pages from a memo, want 0", n)
	}
	if n := o.count("/pfrag/cart"); n != 3 {
		t.Fatalf("private fragment fetched %d times, want 3", n)
	}
}

// TestESIMemoStaleFragments: while a fragment is served stale (its
// refresh held at the origin), pages are assembled each time, never
// memoised with the stale body.
func TestESIMemoStaleFragments(t *testing.T) {
	o := newMemoOrigin()
	clock := newFakeClock()
	var held []func()
	g := newGateway(t, loadYAML(t, startOrigin(t, o.handle), memoRules), Options{Now: clock.Now,
		cacheBackground: func(f func()) { held = append(held, f) }})
	warmPage1(t, g)
	o.bump("/short/c")
	clock.Advance(3 * time.Second)
	for range 3 {
		expect(t, g, "/short/c stale", "/page/1", "fast", page1v1, "public, s-maxage=0")
	}
	if len(held) != 1 {
		t.Fatalf("%d refreshes started, want 1", len(held))
	}
	held[0]()
	g.env.Cache().Wait()
	expect(t, g, "refreshed", "/page/1", "fast", "<h1>1</h1>av1|bv1|cv2", "public, s-maxage=30")
	expect(t, g, "memoised", "/page/1", "memo", "<h1>1</h1>av1|bv1|cv2", "public, s-maxage=30")
}

// TestESIMemoable: pages of a route that forwards cookies or headers to
// its fragments, or renders client-side includes, are never memoised.
func TestESIMemoable(t *testing.T) {
	cfg := loadYAML(t, "127.0.0.1:1", `
origins:
  shop: {servers: [ORIGIN]}
routes:
  - {name: plain, path: /a, origin: shop, esi: on}
  - {name: cookies, path: /b, origin: shop, esi: {forward_cookies: [uid]}}
  - {name: headers, path: /c, origin: shop, esi: {forward_headers: [X-Tier]}}
  - {name: csi, path: /d, origin: shop, esi: csi}
`)
	s, err := Compile(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"plain": true, "cookies": false, "headers": false, "csi": false} {
		if got := s.Route(name).ESI.(*esiStage).memoable; got != want {
			t.Errorf("route %s: memoable %v, want %v", name, got, want)
		}
	}
}

// TestESIMemoConcurrent: concurrent requests build and read the memo
// (run with -race); no request that starts after a purge of a fragment
// returns gets the page of before, memoised or not.
func TestESIMemoConcurrent(t *testing.T) {
	g, o, _ := memoGateway(t, Options{})
	warmPage1(t, g)
	phase := func(want string) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				c := g.client("203.0.113.7")
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI("http://shop.example/page/1")
				for range 50 {
					if err := c.DoTimeout(req, resp, 10*time.Second); err != nil || string(resp.Body()) != want {
						t.Errorf("page %q, err %v; want %q", resp.Body(), err, want)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	phase(page1v1)
	o.bump("/frag/a")
	g.Purge(cache.Purge{Kind: cache.PurgeURL, Host: "shop.example", Path: "/frag/a"})
	phase("<h1>1</h1>av2|bv1|cv1")
	if n := g.pages()["memo"]; n < 400 {
		t.Fatalf("%d of 801 pages from the memo, want most", n)
	}
}

// TestESIMemoStaleShell: a shell served stale (its refresh held) is
// assembled for each request, and its fragments are looked up once per
// page, not a second time to build a memo that could not be used.
func TestESIMemoStaleShell(t *testing.T) {
	o := newMemoOrigin()
	clock := newFakeClock()
	var held []func()
	g := newGateway(t, loadYAML(t, startOrigin(t, o.handle), memoRules), Options{Now: clock.Now,
		cacheBackground: func(f func()) { held = append(held, f) }})
	expect(t, g, "first page", "/brief/1", "streamed", "<h1>b</h1>av1", "")
	expect(t, g, "fragments cached", "/brief/1", "fast", "<h1>b</h1>av1", "")
	expect(t, g, "memoised", "/brief/1", "memo", "<h1>b</h1>av1", "")
	clock.Advance(6 * time.Second) // the shell stale (5s), /frag/a fresh (10s)
	hits := func() int {
		m := regexp.MustCompile(`flashgate_cache_requests_total\{result="hit"\} (\d+)`).FindStringSubmatch(g.metricsText())
		n, _ := strconv.Atoi(m[1])
		return n
	}
	for range 3 {
		before := hits()
		expect(t, g, "stale shell", "/brief/1", "fast", "<h1>b</h1>av1", "")
		if n := hits() - before; n != 1 {
			t.Fatalf("%d cache hits for a page of one fragment, want 1", n)
		}
	}
	if len(held) != 1 {
		t.Fatalf("%d refreshes started, want the shell's", len(held))
	}
}
