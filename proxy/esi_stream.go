package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"

	"github.com/valyala/fasthttp"

	"flashgate/esi"
)

// slowPage is the state of a page some of whose fragments must be fetched
// (one the cache does not hold fresh, a per-user one, a fragment route
// without a cache): the page
// request is copied, because the assembly may outlive the request handler
// (streaming) and the fetch workers may outlive the assembly (a fragment
// past its timeout). Allocated per slow page; the fast path never makes one.
type slowPage struct {
	req  fasthttp.Request
	vars reqVars
	page esi.Page
}

func newSlowPage(x *Exchange, buffered bool) *slowPage {
	p := &slowPage{}
	x.Ctx.Request.Header.CopyTo(&p.req.Header)
	p.vars.req = &p.req
	p.vars.requestID = bytes.Clone(x.RequestID)
	// The probe's fragments: reused, and released with the slow page.
	probe := &x.esi.vars
	p.vars.held, probe.held = probe.held, nil
	p.vars.recalls = true
	for _, m := range probe.memo {
		p.vars.memo = append(p.vars.memo, memoFrag{url: bytes.Clone(m.url), frag: m.frag})
	}
	p.page = esi.Page{Host: p.req.Header.Host(), Path: bytes.Clone(x.RequestURI()),
		Vars: &p.vars, Buffered: buffered}
	return p
}

// close releases the fragments held for the page; workers still running
// release their own from now on.
func (p *slowPage) close() {
	p.vars.mu.Lock()
	p.vars.closed = true
	p.vars.mu.Unlock()
	p.vars.releaseHeld()
}

// assembleSlow assembles x's page with fragment fetches in parallel.
// Buffered (esi.buffer), it waits on the request goroutine and answers a
// failed page with an error page. Otherwise the response streams, but its
// head is held (the request goroutine waits) until the page can no longer
// fail: every include that could fail it (no onerror="continue", outside
// esi:try; an alt can fail too) has resolved (esi.Page.Ready). A failure
// up to then is answered with an error page, as ESI 1.0 §3.1 wants, never
// with a 200 whose body is cut; from then on each fragment leaves when it
// arrives, in order. A page whose includes all have onerror="continue" or
// sit in esi:try is ready at once. Since what the
// later fragments say about cacheability is not known when the headers
// leave, a streamed page is "private, no-store".
func (st *esiStage) assembleSlow(x *Exchange, tpl *esi.Template) error {
	p := newSlowPage(x, st.buffered)
	resp := &x.Ctx.Response
	if st.buffered {
		st.pages[esiBuffered].Inc()
		res, err := st.a.Assemble(context.Background(), resp.BodyWriter(), tpl, &p.page)
		p.close()
		if err != nil {
			ansESIInclude.write(x.Ctx)
			return err
		}
		st.cacheHeaders(x, res)
		return nil
	}
	st.pages[esiStreamed].Inc()
	ready, done := make(chan struct{}), make(chan error, 1)
	p.page.Ready = func() { close(ready) }
	pr, pw := io.Pipe()
	go st.stream(p, tpl, pw, ready, done)
	select {
	case <-ready:
	case err := <-done:
		if err != nil { // failed before it was ready: nothing was sent
			ansESIInclude.write(x.Ctx)
			return err
		}
	}
	resp.Header.SetCanonical(hdrCacheControl, ccPrivateNoStore)
	resp.SetBodyStream(pr, -1)
	return nil
}

// stream assembles into the pipe fasthttp reads the body from, and
// reports the outcome on done. The assembler flushes before it waits for
// a fragment, so what is known leaves at once; fasthttp closes the pipe
// when the client is gone, which ends the assembly with a write error.
// Only a failure after the page was ready is counted here (the response
// is then cut): one before is the pipeline's to count and answer.
func (st *esiStage) stream(p *slowPage, tpl *esi.Template, pw *io.PipeWriter, ready <-chan struct{}, done chan<- error) {
	bw := bufio.NewWriterSize(pw, 8<<10)
	_, err := st.a.Assemble(context.Background(), bw, tpl, &p.page)
	if err == nil {
		err = bw.Flush()
	} else if st.errors != nil && isClosed(ready) {
		st.errors.Inc()
	}
	p.close()
	done <- err
	pw.CloseWithError(err) // nil: end of body; else the response is cut
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
