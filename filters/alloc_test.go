//go:build !race

package filters

import (
	"testing"
	"time"
)

var allocCases = []allocCase{
	{name: "window pass", yaml: "- window: {start: 2026-11-25T11:00:00Z, end: 2026-11-25T13:00:00Z}\n", want: "pass"},
	{name: "window not started", yaml: "- window: {start: 2026-11-25T13:00:00Z}\n", want: "not_started"},
	{name: "window not started json", yaml: "- window: {start: 2026-11-25T13:00:00Z}\n",
		opts: []reqOpt{withHeader("Accept", "application/json")}, want: "not_started"},
	{name: "window item ended", yaml: "- window: {items: {\"1\": {end: 2026-11-25T11:00:00Z}}}\n", want: "sale_ended"},
	{name: "blocklist pass", yaml: "- blocklist: {ips: [198.51.100.0/24, \"2001:db8::/32\"], users: [eve], key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "alice")}, want: "pass"},
	{name: "blocklist user", yaml: "- blocklist: {users: [eve], key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "eve")}, want: "blocked"},
	{name: "blocklist cidr", yaml: "- blocklist: {ips: [192.0.2.0/24]}\n", want: "blocked"},
	{name: "tags", yaml: "- tags: {header: X-Risk, values: [high]}\n", opts: []reqOpt{withHeader("X-Risk", "high")}, want: "pass"},
	{name: "ratelimit pass", yaml: "- ratelimit: {rate: 1/s}\n", step: time.Second, want: "pass"},
	{name: "ratelimit reject", yaml: "- ratelimit: {rate: 1/m}\n", want: "rate_limited"},
	{name: "ratelimit reject json", yaml: "- ratelimit: {rate: 1/m}\n",
		opts: []reqOpt{withHeader("Accept", "application/json")}, want: "rate_limited"},
	{name: "ratelimit per value", yaml: "- ratelimit: {rate: 1/s, scope: value, param: id, values: {\"1\": 2/s}}\n",
		step: time.Second, want: "pass"},
	{name: "ratelimit signed cookie", yaml: "- ratelimit: {rate: 1/s, key: {use: \"cookie:uid\", signed: {keys: [" + shopKey + "]}}}\n",
		opts: []reqOpt{withCookie("uid", sign(shopKey, "alice"))}, step: time.Second, want: "pass"},
	{name: "ratelimit device", yaml: "- ratelimit: {rate: 1/s, key: {use: device, signed: {keys: [" + shopKey + "]}}}\n",
		opts: []reqOpt{withCookie(deviceCookie, sign(shopKey, "dev1"))}, step: time.Second, want: "pass"},
	{name: "purchase pass", yaml: "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "alice")}, observe: 409, want: "pass"},
	{name: "purchase reject", yaml: "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n",
		opts: []reqOpt{withCookie("uid", "alice")}, observe: 200, want: "purchase_limit"},
	{name: "stock pass", yaml: "- stock: {stock: {\"1\": 5}, mode: in_flight, sold_out: {status: 409}}\n",
		observe: 200, want: "pass"},
	{name: "stock reserve pass", yaml: "- stock: {stock: {\"1\": 5}, mode: reserve, sold_out: {status: 409}, reserve: {secret: \"a-shop-confirmation-key-32-bytes!!\"}}\n",
		observe: 402, want: "pass"},
	{name: "stock exhausted", yaml: "- stock: {stock: {\"1\": 0}, sold_out: {status: 409}}\n", want: "stock_exhausted"},
	{name: "stock sold out", yaml: "- stock: {stock: {\"1\": 5}, sold_out: {status: 409}}\n", observe: 409, want: "sold_out"},
}

func TestFiltersDoNotAllocate(t *testing.T) {
	for _, ac := range allocCases {
		t.Run(ac.name, func(t *testing.T) {
			c := mustCompile(t, testEnv(t), ac.yaml)
			r := newReq("/buy/1", ac.opts...)
			for range 3 { // settle: fill buckets, mark sold out, grow buffers
				ac.run(c, r)
			}
			if v := ac.run(c, r); reason(v) != ac.want {
				t.Fatalf("decision %s, want %s", reason(v), ac.want)
			}
			if n := testing.AllocsPerRun(200, func() { ac.run(c, r) }); n > 0 {
				t.Fatalf("%.1f allocs per decision, want 0", n)
			}
		})
	}
}
