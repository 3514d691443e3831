package proxy

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/origin"
	"flashgate/rules"
)

// fallback is a route's answer when its origin cannot give one (errors,
// shed, breakers open) or the route is degraded by a switch: a body
// (inline or read from a file at compile time) or another origin.
type fallback struct {
	status      int
	contentType []byte
	body        []byte
	pool        *origin.Pool // another origin; nil for a body
	host        []byte       // that origin's host_rewrite; nil keeps the request's
	timeout     time.Duration
}

// fallbackSpec is a route's `fallback:` node:
//
//	fallback:
//	  file: /srv/flashgate/busy.html   # or body: "<p>Busy</p>", or origin: mirror
//	  status: 200                      # default 200
//	  content_type: text/html; charset=utf-8
type fallbackSpec struct {
	Body        string `yaml:"body"`
	File        string `yaml:"file"`
	Origin      string `yaml:"origin"`
	Status      int    `yaml:"status"`
	ContentType string `yaml:"content_type"`
}

// maxFallbackFile bounds a fallback file: it is held in memory.
const maxFallbackFile = 1 << 20

// compileFallback builds the route's fallback; nil when it has none.
func (s *Snapshot) compileRouteFallback(key string, r *rules.Route) (*fallback, error) {
	n := r.Fallback
	if n.IsZero() {
		return nil, nil
	}
	var fs fallbackSpec
	if err := n.Decode(&fs); err != nil {
		return nil, err
	}
	set := 0
	for _, v := range []string{fs.Body, fs.File, fs.Origin} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return nil, posErr(n.Pos(), key+".fallback", "want exactly one of body, file or origin (got %d)", set)
	}
	fb := &fallback{status: cmp.Or(fs.Status, 200), contentType: []byte(cmp.Or(fs.ContentType, "text/html; charset=utf-8"))}
	if fb.status < 200 || fb.status > 599 {
		return nil, posErr(n.Pos(), key+".fallback.status", "status %d: want 200-599", fs.Status)
	}
	switch {
	case fs.Origin != "":
		p := s.pools[fs.Origin]
		if p == nil {
			return nil, posErr(n.Pos(), key+".fallback.origin", "unknown origin %q (known: %s)", fs.Origin, s.poolNames())
		}
		if fs.Origin == r.Origin {
			return nil, posErr(n.Pos(), key+".fallback.origin", "origin %q is the route's own origin: a fallback must be another", fs.Origin)
		}
		fb.pool, fb.timeout, fb.host = p, p.Timeout(), hostRewrite("", p.Spec().HostRewrite)
	case fs.File != "":
		b, err := readFallback(fs.File)
		if err != nil {
			return nil, posErr(n.Pos(), key+".fallback.file", "%v", err)
		}
		fb.body = b
	default:
		fb.body = []byte(fs.Body)
	}
	return fb, nil
}

func readFallback(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFallbackFile {
		return nil, fmt.Errorf("%s is %d bytes: a fallback file may have at most %d", name, st.Size(), maxFallbackFile)
	}
	return os.ReadFile(name)
}

// serve writes the fallback answer for x, reporting false when it could
// not (its origin failed too): the caller then writes the final 503.
func (fb *fallback) serve(x *Exchange) bool {
	resp := &x.Ctx.Response
	if fb.pool != nil {
		if !x.outBuilt {
			x.outBuilt = true
			host := x.Route.HostRewrite
			if host == nil {
				host = x.Ctx.Request.Header.Host()
			}
			buildOutbound(x, &x.out, host)
		}
		if fb.host != nil { // the fallback origin's own host_rewrite
			x.out.Header.SetHostBytes(fb.host)
		}
		if err := fb.pool.DoCall(&x.out, resp, fb.timeout, origin.Call{Priority: x.Route.prot.priority}); err != nil {
			return false
		}
		cleanResponse(resp)
		resp.Header.Set("X-Flashgate-Fallback", "origin")
		return true
	}
	resp.Reset()
	resp.SetStatusCode(fb.status)
	resp.Header.SetContentTypeBytes(fb.contentType)
	resp.Header.Set("Cache-Control", "no-store")
	resp.Header.Set("X-Flashgate-Fallback", "body")
	resp.SetBodyRaw(fb.body)
	return true
}

// fallBack answers x after its route's origin call failed with err: the
// stale cache was already tried by the cache stage (stale_if_error), so
// next comes the route's fallback, then the answer for err (a 503 with
// Retry-After when the origin was protected, shed or broken).
func fallBack(x *Exchange, err error) {
	if fb := x.Route.prot.fallback; fb != nil && originFailure(err) && fb.serve(x) {
		return
	}
	stageAnswer(err).write(x.Ctx)
}

// originFailure reports whether err means the origin could not answer
// (rather than a request the cache refused).
func originFailure(err error) bool {
	return !errors.Is(err, cache.ErrRequestBody)
}

// errStaleOnly is the fetch error of a route switched to stale_only: the
// origin is never called, so the cache serves what it has (stale within
// stale_if_error) or the fallback chain answers.
var errStaleOnly = errors.New("route switched to stale_only: origin not called")

func staleOnlyFetch(*fasthttp.Request, *fasthttp.Response) error { return errStaleOnly }
