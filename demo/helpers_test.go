package demo

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fixedNow is the clock of test shops: Last-Modified is this instant.
var fixedNow = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)

// startShop serves a shop on a real loopback listener and returns it with
// its base URL and a client sized for concurrency tests.
func startShop(t *testing.T, opts Options) (*Shop, string, *fasthttp.Client) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	s := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Shutdown()
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Shutdown, want nil", err)
		}
	})
	c := &fasthttp.Client{
		MaxConnsPerHost:    128,
		MaxConnWaitTimeout: 30 * time.Second,
		ReadTimeout:        30 * time.Second,
		// A POST /buy must never be retried: a retry could buy twice.
		MaxIdemponentCallAttempts: 1,
	}
	return s, "http://" + ln.Addr().String(), c
}

// request describes one test request.
type request struct {
	method  string
	path    string
	headers map[string]string
	body    string
}

// do sends r and returns the response; a transport error fails the test.
func do(t *testing.T, c *fasthttp.Client, base string, r request) *fasthttp.Response {
	t.Helper()
	resp, err := send(c, base, r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return resp
}

// send sends r; safe to call from any goroutine.
func send(c *fasthttp.Client, base string, r request) (*fasthttp.Response, error) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(base + r.path)
	if r.method != "" {
		req.Header.SetMethod(r.method)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if r.body != "" {
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(r.body)
	}
	resp := &fasthttp.Response{}
	if r.method == fasthttp.MethodHead {
		resp.SkipBody = true
	}
	err := c.Do(req, resp)
	return resp, err
}
