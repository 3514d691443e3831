package esi_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"flashgate/esi"
)

// cacheFetcher stands for the proxy: route matching, cache, origin.
type cacheFetcher struct{ cache map[string]*esi.Fragment }

// FetchNow serves fresh cache hits inline.
func (c *cacheFetcher) FetchNow(req *esi.FragmentRequest) (*esi.Fragment, bool) {
	f, ok := c.cache[string(req.Path)]
	return f, ok
}

// Fetch would run the route's pipeline to the origin, honouring ctx.
func (c *cacheFetcher) Fetch(ctx context.Context, req *esi.FragmentRequest) (*esi.Fragment, error) {
	return &esi.Fragment{Status: 200, Body: []byte("cart of " + string(req.Vars.Cookie("uid"))), Personal: true}, nil
}

type requestVars struct{ uid string }

func (v requestVars) Host() []byte              { return []byte("shop.test") }
func (v requestVars) Cookie(name string) []byte { return []byte(v.uid) }
func (v requestVars) Query(string) []byte       { return nil }
func (v requestVars) RawQuery() []byte          { return nil }
func (v requestVars) Header(string) []byte      { return nil }

func Example() {
	// At compile time (per rules snapshot):
	a, err := esi.NewAssembler(esi.Config{
		Fetcher:     &cacheFetcher{cache: map[string]*esi.Fragment{"/frag/price/1": {Status: 200, Body: []byte("$199"), MaxAge: time.Minute}}},
		HostAllowed: func(host string) bool { return host == "static.shop.test" },
	})
	if err != nil {
		panic(err)
	}
	// When the shell enters the cache (once):
	shell := []byte(`<p><esi:include src="/frag/price/1"/> <esi:include src="/frag/cart"/></p>`)
	tpl, err := esi.Parse(shell, esi.ParseOptions{})
	if err != nil {
		panic(err) // the proxy: treat as a bad origin response
	}
	// Per request (streaming into the response body writer):
	var body bytes.Buffer
	res, err := a.Assemble(context.Background(), &body, tpl, &esi.Page{
		Host: []byte("shop.test"), Path: []byte("/item/1"), Vars: requestVars{uid: "42"},
	})
	fmt.Println(body.String(), err)
	fmt.Printf("personal=%v included=%d failed=%d\n", res.Personal, res.Included, res.Failed)
	// Output:
	// <p>$199 cart of 42</p> <nil>
	// personal=true included=2 failed=0
}
