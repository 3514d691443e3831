package proxy

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/esi"
)

// entryMeta is what a stored entry carries for ESI (cache Options.OnStore,
// once per fill): its parsed template and the entry as a fragment, so a
// fragment hit is a pointer.
type entryMeta struct {
	tpl    *esi.Template // nil: no ESI markup (or a parse error)
	err    error         // the template's parse error
	frag   esi.Fragment  // the body as a plain fragment
	nested esi.Fragment  // frag with Template set, for nested ESI
	// memo is the page last assembled from this shell, reused while it
	// is provably what assembling again would give (esi_memo.go). Shared
	// by the entries a 304 refresh copies the metadata to.
	memo atomic.Pointer[pageMemo]
}

// attachMeta is cache.Options.OnStore: it parses the body once, whether or
// not a route will assemble it (a page without markup costs two memchr
// scans), and reads its downstream lifetime and privacy.
func attachMeta(e *cache.Entry) {
	m := &entryMeta{}
	m.frag = esi.Fragment{Status: e.Status(), Body: e.Body(), MaxAge: esi.NoMaxAge}
	e.VisitHeaders(func(k, v []byte) {
		if !bytes.EqualFold(k, hdrCacheControl) {
			return
		}
		if containsFold(v, "private") || containsFold(v, "no-store") {
			m.frag.Personal, m.frag.MaxAge = true, 0
			return
		}
		if s := directiveSeconds(v, "s-maxage"); s >= 0 {
			m.frag.MaxAge = time.Duration(s) * time.Second
		} else if s := directiveSeconds(v, "max-age"); s >= 0 {
			m.frag.MaxAge = time.Duration(s) * time.Second
		}
	})
	if t, err := esi.Parse(e.Body(), esi.ParseOptions{}); err != nil {
		if !errors.Is(err, esi.ErrBinary) {
			m.err = err
		}
	} else if t.HasESI() {
		m.tpl = t
	}
	m.nested = m.frag
	m.nested.Template = m.tpl
	e.SetAttachment(m)
}

// metaOf returns the entry's metadata, nil if none was attached.
func metaOf(e *cache.Entry) *entryMeta {
	m, _ := e.Attachment().(*entryMeta)
	return m
}

// reqVars is esi.Vars over the page request, and carries what the
// Fetcher needs from it (cookies and headers to forward, request id) and
// the probe's outcome. Read by workers concurrently: never written after
// assembly starts, except by the request goroutine's FetchNow (missed,
// held) and, for a slow page, under mu.
type reqVars struct {
	req       *fasthttp.Request
	requestID []byte
	missed    bool           // the probe met a fragment it could not serve at once
	held      []*fragScratch // fragments to release when the assembly ends
	// memo holds the fragments FetchNow served, by URL, so that a page
	// assembled again off the request goroutine (slow path) reuses them
	// rather than fetching twice (the cache applies stores asynchronously).
	memo    []memoFrag
	recalls bool // a slow page: FetchNow looks in memo first

	// slow-path only: workers hand back their scratch under mu.
	mu     sync.Mutex
	closed bool
}

func (v *reqVars) Host() []byte              { return v.req.Header.Host() }
func (v *reqVars) Cookie(name string) []byte { return v.req.Header.Cookie(name) }
func (v *reqVars) Query(name string) []byte  { return v.req.URI().QueryArgs().Peek(name) }
func (v *reqVars) RawQuery() []byte          { return v.req.URI().QueryString() }
func (v *reqVars) Header(name string) []byte { return v.req.Header.Peek(name) }

type memoFrag struct {
	url     []byte // host + path
	hostLen int    // url[:hostLen] is the host
	frag    *esi.Fragment
}

// remember records fr as the fragment for req's URL. Called by FetchNow,
// so only on the assembly's rendering goroutine; buffers are reused
// across requests.
func (v *reqVars) remember(req *esi.FragmentRequest, fr *esi.Fragment) {
	if len(v.memo) < cap(v.memo) {
		v.memo = v.memo[:len(v.memo)+1]
	} else {
		v.memo = append(v.memo, memoFrag{})
	}
	m := &v.memo[len(v.memo)-1]
	m.url = append(append(m.url[:0], req.Host...), req.Path...)
	m.hostLen, m.frag = len(req.Host), fr
}

// recall returns the fragment remembered for req's URL, or nil.
func (v *reqVars) recall(req *esi.FragmentRequest) *esi.Fragment {
	if v == nil || !v.recalls {
		return nil
	}
	for i := range v.memo {
		u := v.memo[i].url
		if len(u) == len(req.Host)+len(req.Path) && string(u[:len(req.Host)]) == string(req.Host) &&
			string(u[len(req.Host):]) == string(req.Path) {
			return v.memo[i].frag
		}
	}
	return nil
}

// hold keeps sc until the assembly ends; false when it already ended.
func (v *reqVars) hold(sc *fragScratch) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		releaseFragScratch(sc)
		return false
	}
	v.held = append(v.held, sc)
	return true
}

// holds reports whether a fragment of the assembly points into
// per-request scratch (served stale, or from an entry without metadata).
func (v *reqVars) holds() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.held) > 0
}

// releaseHeld releases the fragments of an ended assembly.
func (v *reqVars) releaseHeld() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, sc := range v.held {
		releaseFragScratch(sc)
		v.held[i] = nil
	}
	v.held = v.held[:0]
}

// esiScratch is the per-request state the cache stage and the ESI stage
// share through the Exchange. Reset when the Exchange is released.
type esiScratch struct {
	fromCache bool         // the cache stage answered (Surrogate-Control consumed)
	surrogate bool         // ... and the origin asked for ESI
	done      bool         // ... with a final answer (not a template)
	entry     *cache.Entry // ... with this template entry, headers written
	vars      reqVars
	page      esi.Page
	cc        []byte // Cache-Control rewrite buffer
}

func (s *esiScratch) reset() {
	// Only the request goroutine touches the probe's held list (a slow
	// page takes it over), so it is read without the lock: a request that
	// assembled nothing skips the lock and its defer.
	if len(s.vars.held) > 0 {
		s.vars.releaseHeld()
	}
	s.fromCache, s.surrogate, s.done, s.entry = false, false, false, nil
	s.vars.req, s.vars.requestID, s.vars.missed = nil, nil, false
	for i := range s.vars.memo {
		s.vars.memo[i].frag = nil
	}
	s.vars.memo = s.vars.memo[:0]
	s.page = esi.Page{}
}

var (
	_ esi.NowFetcher = (*fragmentFetcher)(nil)
	_ esi.NowFetcher = probeFetcher{}
)
