package cache_test

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
)

// The proxy creates one Cache for the process, compiles a Policy per
// route at each reload, and calls Serve once per request on caching
// routes. The Fetch is built once (not a method value per request, which
// would allocate) and forwards to the route's origin pool.
func Example() {
	c, err := cache.New(cache.Options{MaxBytes: 256 << 20, MaxObject: 8 << 20})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	policy, _ := cache.CompilePolicy(cache.PolicySpec{TTL: 30 * time.Second,
		StaleWhileRevalidate: 10 * time.Second, StaleIfError: 5 * time.Minute})
	pool := &fasthttp.HostClient{Addr: "127.0.0.1:9081"}
	fetch := cache.Fetch(func(req *fasthttp.Request, resp *fasthttp.Response) error {
		return pool.DoTimeout(req, resp, 5*time.Second)
	})
	handler := func(ctx *fasthttp.RequestCtx) {
		_, err := c.Serve(ctx, policy, nil, fetch) // writes the answer, X-Cache included
		switch {
		case errors.Is(err, cache.ErrRequestBody):
			ctx.Error("Bad Request", fasthttp.StatusBadRequest)
		case errors.Is(err, cache.ErrCoalesceTimeout):
			ctx.Error("Gateway Timeout", fasthttp.StatusGatewayTimeout)
		case err != nil:
			ctx.Error("Bad Gateway", fasthttp.StatusBadGateway)
		}
	}
	_ = handler
}
