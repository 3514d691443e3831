package demo

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/valyala/fasthttp"
)

func slowCtx(uri string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.SetRequestURI(uri)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}

func TestSlowIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		ctx := slowCtx("/slow?ms=600000")
		start := time.Now()
		s.Handler()(ctx)
		if got := time.Since(start); got != MaxSlow {
			t.Errorf("slept %v, want the cap %v", got, MaxSlow)
		}
		if got, want := string(ctx.Response.Body()), `{"slept_ms":30000}`; got != want {
			t.Errorf("body = %s, want %s", got, want)
		}
	})
}

func TestShutdownEndsSlowRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		ctx := slowCtx("/slow?ms=20000")
		done := make(chan struct{})
		start := time.Now()
		go func() {
			s.Handler()(ctx)
			close(done)
		}()
		synctest.Wait() // the handler is asleep
		s.Shutdown()
		<-done
		if got := time.Since(start); got != 0 {
			t.Errorf("the slow request held Shutdown for %v, want 0", got)
		}
		if ctx.Response.StatusCode() != 200 {
			t.Errorf("status = %d, want 200", ctx.Response.StatusCode())
		}
	})
}
