package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/esi"
	"flashgate/rules"
)

// esiMode says when a route's answers are assembled.
type esiMode uint8

const (
	// esiAuto (the default): only answers whose origin asked with
	// Surrogate-Control: content="ESI/1.0" (untargeted or aimed at
	// "flashgate"). The origin knows which pages are templates.
	esiAuto esiMode = iota
	// esiOn: every answer holding ESI markup, whatever the origin says.
	esiOn
	// esiCSI: like on, but rendered for client-side includes (the browser
	// fetches the fragments); nothing is fetched at the edge.
	esiCSI
	// esiOff: never; Surrogate-Control and ESI markup pass through.
	esiOff
)

// surrogateDevice is our device token in Surrogate-Capability and in
// targeted Surrogate-Control directives (same as cache.Options.SurrogateName).
const surrogateDevice = "flashgate"

var (
	hdrSurrogateCap  = []byte(esi.CapabilityHeader)
	surrogateCapVal  = esi.AppendCapability(nil, surrogateDevice)
	hdrSurrogateCtl  = []byte(esi.ControlHeader)
	hdrCacheControl  = []byte("Cache-Control")
	ccPrivateNoStore = []byte("private, no-store")
	ccNoStore        = []byte("no-store")
)

// esiNode is a route's `esi:` mapping (or the scalar `esi: on|off|auto|csi`).
type esiNode struct {
	Mode            string         `yaml:"mode"`
	Buffer          bool           `yaml:"buffer"`
	MaxDepth        int            `yaml:"max_depth"`
	FragmentTimeout rules.Duration `yaml:"fragment_timeout"`
	PageTimeout     rules.Duration `yaml:"page_timeout"`
	MaxParallel     int            `yaml:"max_parallel"`
	MaxIncludes     int            `yaml:"max_includes"`
	ContinueOnError bool           `yaml:"continue_on_error"`
	ForwardHeaders  []string       `yaml:"forward_headers"`
	ForwardCookies  []string       `yaml:"forward_cookies"`
}

var esiModes = map[string]esiMode{"auto": esiAuto, "on": esiOn, "csi": esiCSI, "off": esiOff}

// decodeESI decodes a route's `esi:` node strictly. A zero node is mode
// auto with the defaults.
func decodeESI(n rules.Node) (esiNode, error) {
	var en esiNode
	if n.IsZero() {
		return en, nil
	}
	if err := n.Decode(&en.Mode); err != nil {
		if err := n.Decode(&en); err != nil {
			return en, err
		}
	}
	var errs rules.Errors
	if _, ok := esiModes[orStr(en.Mode, "auto")]; !ok {
		errs = append(errs, n.Errorf("mode", "unknown mode %q (allowed: auto, on, off, csi)", en.Mode))
	}
	for _, l := range []struct {
		key string
		v   int64
	}{{"max_depth", int64(en.MaxDepth)}, {"max_parallel", int64(en.MaxParallel)},
		{"max_includes", int64(en.MaxIncludes)}, {"fragment_timeout", int64(en.FragmentTimeout.Duration())},
		{"page_timeout", int64(en.PageTimeout.Duration())}} {
		if l.v < 0 {
			errs = append(errs, n.Errorf(l.key, "must not be negative"))
		}
	}
	if en.MaxIncludes > esi.DefaultMaxIncludes {
		// Cached shells are parsed once with the default bound, before any
		// route is known (the includes past it are marked failing then); a
		// route can only lower it, which the assembler applies.
		errs = append(errs, n.Errorf("max_includes", "at most %d, got %d", esi.DefaultMaxIncludes, en.MaxIncludes))
	}
	for _, h := range en.ForwardHeaders {
		if strings.EqualFold(h, "Cookie") || strings.EqualFold(h, "Authorization") {
			errs = append(errs, n.Errorf("forward_headers", "%s must not be forwarded wholesale: list the cookies in forward_cookies, and let per-user fragments authenticate by cookie", h))
		}
	}
	if len(errs) > 0 {
		return en, errs
	}
	return en, nil
}

// esiStage is a route's ESI stage: when and how its answers are
// assembled, and the assemblers that do it. Immutable after compile; safe
// for concurrent use.
type esiStage struct {
	mode     esiMode
	buffered bool
	parse    esi.ParseOptions
	// a assembles for real (its Fetcher runs the fragment pipeline);
	// probe has the same fast path but refuses to wait, to find out on
	// the request goroutine whether every fragment is ready.
	a, probe   *esi.Assembler
	fwdHeaders []string
	fwdCookies []string
	// memoable: assembled pages may be memoised (esi_memo.go): not csi,
	// and no cookie or header forwarded, so that a fragment sub-request
	// is the same for every client.
	memoable bool
	fr       *fragmentRouter
	errors   *metrics.Counter // failures the pipeline cannot see (streamed pages)
	pages    [numESIPaths]*metrics.Counter
	// templates counts and logs templates that cannot be parsed.
	templates *esiTemplateErrors
	log       *slog.Logger
	route     string
}

// How a page was assembled: flashgate_esi_pages_total{path}.
const (
	esiFast     = iota // every fragment ready: on the request goroutine
	esiStreamed        // a fragment had to be fetched: streamed
	esiBuffered        // ... and waited for (esi.buffer)
	esiClient          // csi mode
	esiMemo            // the shell's memoised page (esi_memo.go)
	numESIPaths
)

var esiPathNames = [numESIPaths]string{"fast", "streamed", "buffered", "csi", "memo"}

var _ Assembler = (*esiStage)(nil)

// compileResponseStages compiles a route's `esi:` and `cache:` nodes into
// its ESI and Cache stages (left nil when off). c is the Env's cache (nil
// for -check). Errors are positioned rule errors, joined.
func compileResponseStages(rt *Route, c *cache.Cache, fr *fragmentRouter, env *Env) error {
	es, errESI := compileESI(rt.Spec, fr, env.Metrics, env.log)
	if es != nil {
		rt.ESI = es
		rt.fetch = withCapability(rt.fetch)
	}
	cs, errCache := compileCache(rt.Spec, c, es)
	if cs != nil {
		rt.Cache = cs
	}
	return errors.Join(errESI, errCache)
}

// compileESI compiles a route's `esi:` node; nil for mode off.
func compileESI(r *rules.Route, fr *fragmentRouter, m *Metrics, log *slog.Logger) (*esiStage, error) {
	en, err := decodeESI(r.ESI)
	if err != nil {
		return nil, err
	}
	st := &esiStage{mode: esiModes[orStr(en.Mode, "auto")], buffered: en.Buffer,
		parse:      esi.ParseOptions{MaxIncludes: en.MaxIncludes},
		fwdHeaders: en.ForwardHeaders, fwdCookies: en.ForwardCookies, fr: fr, errors: m.esiErrors,
		templates: m.esiTemplates, log: log, route: r.Name}
	st.memoable = st.mode != esiCSI && len(st.fwdHeaders) == 0 && len(st.fwdCookies) == 0
	for i, name := range esiPathNames {
		st.pages[i] = m.set.GetOrCreateCounter(`flashgate_esi_pages_total{path="` + name + `"}`)
	}
	if st.mode == esiOff {
		return nil, nil
	}
	cfg := esi.Config{
		HostAllowed: fr.hostAllowed, MaxDepth: en.MaxDepth, MaxParallel: en.MaxParallel, MaxIncludes: en.MaxIncludes,
		FragmentTimeout: en.FragmentTimeout.Duration(), PageTimeout: en.PageTimeout.Duration(),
		ContinueOnError: en.ContinueOnError,
	}
	ff := &fragmentFetcher{st: st}
	cfg.Fetcher = ff
	if st.a, err = esi.NewAssembler(cfg); err != nil {
		return nil, fmt.Errorf("routes %q esi: %w", r.Name, err)
	}
	cfg.Fetcher = probeFetcher{ff}
	st.probe, _ = esi.NewAssembler(cfg)
	return st, nil
}

// assembles reports whether a stored answer is a template this route
// assembles (a broken template counts: it must not reach a browser raw).
func (st *esiStage) assembles(e *cache.Entry) bool {
	m := metaOf(e)
	if m == nil || (m.tpl == nil && m.err == nil) {
		return false
	}
	return st.mode != esiAuto || e.SurrogateESI()
}

// withCapability returns fetch adding Surrogate-Capability, so that the
// origin can tell that the gateway assembles ESI. Built once per route.
func withCapability(fetch FetchFunc) FetchFunc {
	return func(req *fasthttp.Request, resp *fasthttp.Response) error {
		req.Header.SetCanonical(hdrSurrogateCap, surrogateCapVal)
		return fetch(req, resp)
	}
}

// Assemble rewrites x's answer when it is a template for this route: from
// the cache entry's parsed template, or parsing the origin's answer. See
// the Assembler contract; a failure is answered with a 502 page (nothing
// was sent yet) except when streaming, where the connection is cut.
func (st *esiStage) Assemble(x *Exchange) error {
	s := &x.esi
	if s.done {
		return nil
	}
	resp := &x.Ctx.Response
	tpl, err := st.template(x)
	if tpl == nil || err != nil {
		if err != nil {
			st.templates.report(st.log, st.route, x.Ctx.Request.Header.Host(), x.Path, err)
			templateAnswer(err).write(x.Ctx)
		}
		return err
	}
	shellHeaders(resp)
	if x.Ctx.IsHead() {
		resp.SkipBody = true
		return nil
	}
	memo, old := st.memo(x, tpl)
	if memo == memoServed {
		return nil
	}
	var gen uint64
	if memo == memoBuild {
		gen = cache.Generation() // before any fragment is looked up
	}
	s.vars.req, s.vars.requestID = &x.Ctx.Request, x.RequestID
	s.page = esi.Page{Host: x.Ctx.Request.Header.Host(), Path: x.RequestURI(), Vars: &s.vars}
	resp.ResetBody()
	if st.mode == esiCSI {
		st.pages[esiClient].Inc()
		res, err := st.a.RenderCSI(resp.BodyWriter(), tpl, &s.page, "")
		st.cacheHeaders(x, res)
		return err
	}
	res, err := st.probe.Assemble(context.Background(), resp.BodyWriter(), tpl, &s.page)
	if s.vars.missed {
		resp.ResetBody()
		return st.assembleSlow(x, tpl)
	}
	st.pages[esiFast].Inc()
	if err != nil {
		ansESIInclude.write(x.Ctx)
		return err
	}
	st.cacheHeaders(x, res)
	if memo == memoBuild {
		st.memoize(x, old, gen, res)
	}
	return nil
}

// template returns the template to assemble, or nil when x's answer is
// not one for this route.
func (st *esiStage) template(x *Exchange) (*esi.Template, error) {
	s := &x.esi
	if e := s.entry; e != nil {
		m := metaOf(e)
		return m.tpl, m.err
	}
	resp := &x.Ctx.Response
	want := s.surrogate
	if !s.fromCache {
		want = esi.WantsESI(resp.Header.PeekBytes(hdrSurrogateCtl), surrogateDevice)
		resp.Header.DelBytes(hdrSurrogateCtl) // meant for us, never for CDNs or browsers
	}
	status := resp.StatusCode()
	if st.mode == esiAuto && !want || status < 200 || status > 299 {
		return nil, nil
	}
	body := resp.Body()
	if len(resp.Header.ContentEncoding()) > 0 {
		b, err := resp.BodyUncompressed()
		if err != nil {
			return nil, fmt.Errorf("esi: template body: %w", err)
		}
		body = b
	}
	if !bytes.Contains(body, []byte("<esi:")) && !bytes.Contains(body, []byte("<!--esi")) {
		return nil, nil
	}
	// The body is about to be replaced, and the template keeps its source.
	tpl, err := esi.Parse(bytes.Clone(body), st.parse)
	if errors.Is(err, esi.ErrBinary) {
		return nil, nil // not a template after all: served as it is
	}
	return tpl, err
}

// shellHeaders removes what describes the stored shell rather than the
// assembled page: its validators, length and coding.
func shellHeaders(resp *fasthttp.Response) {
	h := &resp.Header
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Content-Encoding")
	h.DelBytes(hdrSurrogateCtl)
}

// cacheHeaders makes the page's downstream cacheability the most
// restrictive of its parts: personal → private, no-store; a failed
// include → no-store (a degraded page must not be kept); else the shell's
// max-age and s-maxage capped at the shortest fragment lifetime.
func (st *esiStage) cacheHeaders(x *Exchange, res esi.Result) {
	h := &x.Ctx.Response.Header
	switch {
	case res.Personal:
		h.SetCanonical(hdrCacheControl, ccPrivateNoStore)
	case res.Failed > 0:
		h.SetCanonical(hdrCacheControl, ccNoStore)
	case res.MaxAge != esi.NoMaxAge:
		if cc := h.PeekBytes(hdrCacheControl); len(cc) > 0 {
			x.esi.cc = capMaxAge(x.esi.cc[:0], cc, int64(res.MaxAge/time.Second))
			h.SetCanonical(hdrCacheControl, x.esi.cc)
		}
	}
}

// capMaxAge appends cc with every max-age and s-maxage value lowered to
// at most limit seconds.
func capMaxAge(dst, cc []byte, limit int64) []byte {
	for len(cc) > 0 {
		var d []byte
		if i := bytes.IndexByte(cc, ','); i >= 0 {
			d, cc = cc[:i], cc[i+1:]
		} else {
			d, cc = cc, nil
		}
		d = bytes.TrimSpace(d)
		if len(d) == 0 {
			continue
		}
		if len(dst) > 0 {
			dst = append(dst, ", "...)
		}
		name, val, ok := bytes.Cut(d, []byte("="))
		if ok && (bytes.EqualFold(name, []byte("max-age")) || bytes.EqualFold(name, []byte("s-maxage"))) {
			if n := parseUint(val); n < 0 || n > limit {
				dst = append(append(dst, name...), '=')
				dst = fasthttp.AppendUint(dst, int(limit))
				continue
			}
		}
		dst = append(dst, d...)
	}
	return dst
}

// parseUint parses a non-negative decimal; -1 when it is not one.
func parseUint(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
