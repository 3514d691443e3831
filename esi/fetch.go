package esi

import (
	"context"
	"time"
)

// Fetcher fetches fragments for an assembly. The proxy implements it by
// running route matching, the cache and the origin pool for each fragment,
// so each fragment gets its own cache policy.
//
// Fetch must honour ctx (it carries Config.FragmentTimeout and the page
// deadline); the assembler stops waiting when ctx ends even if Fetch does
// not return. req and its byte slices are valid only until Fetch returns.
// Fetch may be called from several goroutines at once.
type Fetcher interface {
	Fetch(ctx context.Context, req *FragmentRequest) (*Fragment, error)
}

// NowFetcher is an optional fast path a Fetcher may implement: FetchNow
// returns the fragment at once when it can without blocking (a fresh cache
// hit) and ok=false otherwise, in which case the assembler calls Fetch on a
// worker goroutine. A page whose fragments are all ready is assembled on the
// caller's goroutine with no goroutine, timer or context allocated.
type NowFetcher interface {
	FetchNow(req *FragmentRequest) (f *Fragment, ok bool)
}

// FragmentRequest is one fragment to fetch. It is owned by the assembler and
// reused: do not retain it or its slices after Fetch/FetchNow returns.
type FragmentRequest struct {
	// Host is the host to ask: for a relative or path-absolute src the
	// host of the page (or of the fragment whose template holds the
	// include), for an absolute src the URL's lowercased host, which
	// HostAllowed accepted. It may carry a ":port".
	Host []byte
	// Path is the absolute path with an optional "?query", dot segments
	// resolved, "#fragment" dropped, not otherwise normalised.
	Path []byte
	// Absolute reports that src itself named a host (http://host/...).
	Absolute bool
	// Vars is the page request's variable source (Page.Vars), so the
	// Fetcher can forward the cookies and headers the route's rule allows.
	Vars Vars
	// Depth is 1 for includes of the page, 2 for includes of those, ...
	Depth int
	// Alt reports that this is the alt URL of a failed include.
	Alt bool

	buf []byte // backing store of Host and Path
}

// Fragment is a fetched fragment. The assembler only reads it, and only
// until Assemble returns, so a cached Fragment may be shared by concurrent
// assemblies.
type Fragment struct {
	// Status is the HTTP status; only 2xx fragments are included, anything
	// else is an include failure (ErrStatus).
	Status int
	// Body is the fragment body, ignored when Template is set.
	Body []byte
	// Gzip reports a Content-Encoding: gzip body: the assembler inflates it,
	// bounded by Config.MaxFragmentBytes. Returning identity bodies from the
	// cache is cheaper.
	Gzip bool
	// Template is the fragment parsed with Parse when it is itself an ESI
	// template (route with esi on, or Surrogate-Control: content="ESI/1.0").
	// Its includes are assembled up to Config.MaxDepth.
	Template *Template
	// Personal marks a per-user fragment (not cacheable in shared caches):
	// the assembled page then reports Result.Personal.
	Personal bool
	// MaxAge is how long the fragment may be cached downstream; 0 means not
	// at all. The page's Result.MaxAge is the minimum over its fragments.
	MaxAge time.Duration
}

// Config configures an Assembler. Zero fields take the defaults named on each.
type Config struct {
	// Fetcher fetches fragments; required.
	Fetcher Fetcher
	// HostAllowed decides whether an absolute src (http://host/...) may be
	// fetched; it gets the lowercased "host[:port]" and should map it to a
	// configured origin. Nil refuses every
	// absolute src: only the page's own host is ever asked (no SSRF).
	HostAllowed func(host string) bool
	// MaxDepth bounds nested ESI: includes of the page are depth 1. Default
	// 5 (as Varnish). An include deeper than that is dropped (ErrDepth,
	// counted in Result.Failed) whatever its onerror, as Varnish does: the
	// levels within the bound are assembled, only the one past it is
	// missing, and its template does not fail for it.
	MaxDepth int
	// MaxParallel bounds concurrent Fetch calls per page. Default 8.
	MaxParallel int
	// MaxIncludes, when above 0, lowers ParseOptions.MaxIncludes at
	// assembly: in each template (the page and every nested one), the
	// includes past the first MaxIncludes in document order fail as
	// includes with ErrTooManyIncludes (their alt, onerror="continue" or
	// esi:except apply), the rest of the page is assembled. 0: only the
	// bound the template was parsed with.
	MaxIncludes int
	// MaxFetches bounds the fetches (src and alt, all depths) per page. Default 1024.
	MaxFetches int
	// MaxFragmentBytes bounds one fragment body, after gzip inflation. Default 1 MiB.
	MaxFragmentBytes int
	// FragmentTimeout bounds one Fetch call. Default 1s.
	FragmentTimeout time.Duration
	// PageTimeout bounds the whole assembly; a fragment not back by then
	// fails. Default 3s.
	PageTimeout time.Duration
	// ContinueOnError makes every include behave as onerror="continue"
	// (Varnish's behaviour) instead of failing the page (ESI 1.0 note, Akamai).
	ContinueOnError bool
}

// Defaults of Config.
const (
	DefaultMaxDepth         = 5
	DefaultMaxParallel      = 8
	DefaultMaxFetches       = 1024
	DefaultMaxFragmentBytes = 1 << 20
	DefaultFragmentTimeout  = time.Second
	DefaultPageTimeout      = 3 * time.Second
)

// Result summarises an assembly for the response headers.
type Result struct {
	// Included counts fragments written (src or alt).
	Included int
	// Failed counts includes whose src failed (even if alt, onerror or
	// esi:except covered it). A page with failures is degraded: cache it
	// briefly if at all.
	Failed int
	// Personal reports that the page depends on the user: a per-user
	// fragment was included or a cookie/header variable shaped the output.
	// Send "Cache-Control: private, no-store" and no shared-cache headers.
	Personal bool
	// MaxAge is the minimum Fragment.MaxAge of the included fragments;
	// NoMaxAge when none was included. Cap the downstream s-maxage with it.
	MaxAge time.Duration
}

// NoMaxAge is Result.MaxAge when no fragment limited it.
const NoMaxAge = time.Duration(1<<63 - 1)

func (r *Result) add(f *Fragment) {
	r.Personal = r.Personal || f.Personal
	if f.MaxAge < r.MaxAge {
		r.MaxAge = max(f.MaxAge, 0)
	}
}

// Page is the request an assembly serves.
type Page struct {
	Host []byte // the page's host, as the Fetcher routes it
	Path []byte // the page's path and query; relative src resolves against it
	Vars Vars   // variable source; nil: every variable is empty
	// Buffered holds the whole output until assembly succeeds, so a failed
	// page writes nothing (the caller can answer 5xx or serve stale).
	// Otherwise output streams in order; see Ready for what a failure
	// then leaves written.
	Buffered bool
	// Ready, when not nil on an unbuffered page, makes the assembly hold
	// its output until the page can no longer fail: every include that
	// could fail it (one without onerror="continue" outside esi:try, or in
	// an esi:except or esi:choose branch, nested templates included) has
	// resolved, with its alt if it needed one. Ready is then called once,
	// on the assembling goroutine, before the first byte reaches the
	// writer, and the rest of the page streams as it arrives. A page
	// with no such include is ready before its first byte. When the page
	// fails first, Ready is never called and nothing was written, so the
	// caller can still answer with an error status (ESI 1.0 §3.1): a
	// streaming caller sends its response head from Ready. After Ready,
	// Assemble fails only with a write error. Without Ready, an unbuffered
	// failure leaves the output up to the failed include written.
	Ready func()
}
