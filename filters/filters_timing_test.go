package filters

import (
	"testing"
	"time"
)

// benchCases are the decisions benchmarked: each filter on its pass and its
// reject path (the rejection rendered into the response, as served).
var benchCases = []allocCase{
	{name: "window/pass", yaml: "- window: {start: 2026-11-25T11:00:00Z, end: 2126-11-25T13:00:00Z}\n", want: "pass"},
	{name: "window/reject", yaml: "- window: {start: 2026-11-25T13:00:00Z}\n", want: "not_started"},
	{name: "blocklist/pass", yaml: "- blocklist: {ips: [198.51.100.0/24, \"2001:db8::/32\"], users: [eve], key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "alice")}, want: "pass"},
	{name: "blocklist/reject", yaml: "- blocklist: {ips: [192.0.2.0/24]}\n", want: "blocked"},
	{name: "tags/pass", yaml: "- tags: {header: X-Risk, values: [high]}\n", opts: []reqOpt{withHeader("X-Risk", "high")}, want: "pass"},
	{name: "ratelimit/pass", yaml: "- ratelimit: {rate: 1/s}\n", step: time.Second, want: "pass"},
	{name: "ratelimit/reject", yaml: "- ratelimit: {rate: 1/m}\n", want: "rate_limited"},
	{name: "ratelimit/reject_json", yaml: "- ratelimit: {rate: 1/m}\n",
		opts: []reqOpt{withHeader("Accept", "application/json")}, want: "rate_limited"},
	{name: "ratelimit/signed_cookie_pass", yaml: "- ratelimit: {rate: 1/s, key: {use: \"cookie:uid\", signed: {keys: [" + shopKey + "]}}}\n",
		opts: []reqOpt{withCookie("uid", sign(shopKey, "alice"))}, step: time.Second, want: "pass"},
	{name: "purchase/pass", yaml: "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "alice")}, observe: 409, want: "pass"},
	{name: "purchase/reject", yaml: "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "alice")}, observe: 200, want: "purchase_limit"},
	{name: "stock/pass", yaml: "- stock: {stock: {\"1\": 5}, mode: in_flight, sold_out: {status: 409}}\n", observe: 200, want: "pass"},
	{name: "stock/reject", yaml: "- stock: {stock: {\"1\": 5}, sold_out: {status: 409}}\n", observe: 409, want: "sold_out"},
	{name: "chain/sale_pass", yaml: saleChain, opts: []reqOpt{withCookie("uid", "alice")}, step: time.Second, observe: 402, want: "pass"},
	{name: "chain/sale_rate_limited", yaml: saleChain, opts: []reqOpt{withCookie("uid", "alice")}, want: "rate_limited"},
}

// saleChain is a typical buy route: window, tags, per-user and per-item
// limits, purchase limit and stock gate.
const saleChain = `- window: {start: 2026-11-25T11:00:00Z, end: 2126-11-25T13:00:00Z}
- tags: {header: X-Risk, values: [high]}
- ratelimit: {rate: 1/s, key: "cookie:uid", when_tag: {high: {rate: 1/m}}}
- ratelimit: {rate: 1000/s, burst: 100, scope: value, param: id}
- purchase_limit: {max: 1, key: "cookie:uid"}
- stock: {stock: {"1": 100}, mode: in_flight, sold_out: {status: 409}}
`

func BenchmarkCheck(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			c := mustCompile(b, testEnv(b), bc.yaml)
			r := newReq("/buy/1", bc.opts...)
			for range 3 {
				bc.run(c, r)
			}
			if v := bc.run(c, r); reason(v) != bc.want {
				b.Fatalf("decision %s, want %s", reason(v), bc.want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				bc.run(c, r)
			}
		})
	}
}

// BenchmarkCheckParallel runs the rejection and pass paths from every
// core at once, each goroutine its own client, on the shared store.
func BenchmarkCheckParallel(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			c := mustCompile(b, testEnv(b), bc.yaml)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := newReq("/buy/1", bc.opts...)
				for pb.Next() {
					bc.run(c, r)
				}
			})
		})
	}
}

// BenchmarkVerdictWrite is the cost of rendering a prebuilt rejection.
func BenchmarkVerdictWrite(b *testing.B) {
	c := mustCompile(b, testEnv(b), "- ratelimit: {rate: 1/m}\n")
	r := newReq("/buy/1")
	c.Check(r)
	v := c.Check(r)
	var sink int
	b.ReportAllocs()
	for b.Loop() {
		r.Ctx.Response.Reset()
		v.Write(r.Ctx)
		sink += len(r.Ctx.Response.Body())
	}
	_ = sink
}

// BenchmarkVerdictWriteWaiting writes the waiting page: five live fields
// (place twice, wait in seconds and words, progress) into the prebuilt
// parts, against BenchmarkVerdictWrite's static page in the same run.
func BenchmarkVerdictWriteWaiting(b *testing.B) {
	for _, accept := range []string{browserAccept, "application/json"} {
		b.Run(accept[:4], func(b *testing.B) {
			f := mustQueue(b, testEnv(b), "- queue: {admit_rate: 1/10s}\n")
			for i := range 40 {
				newClient(10+i).visit(f, t0)
			}
			v, r := newClient(99).visit(f, t0+60*sec, withHeader("Accept", accept))
			var sink int
			b.ReportAllocs()
			for b.Loop() {
				r.Ctx.Response.Reset()
				v.Write(r.Ctx)
				sink += len(r.Ctx.Response.Body())
			}
			b.SetBytes(int64(len(r.Ctx.Response.Body())))
			_ = sink
		})
	}
}
