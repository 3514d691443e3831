package filters

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	ms := int64(time.Millisecond)
	type step struct {
		path string
		opts []reqOpt
		want string
	}
	ipA, ipB := withIP("192.0.2.1"), withIP("192.0.2.2")
	tests := []struct {
		name, yaml string
		steps      []step
	}{
		{"per ip with burst", "- ratelimit: {rate: 2/s, burst: 2}\n", []step{
			{"/buy/1", []reqOpt{ipA}, "pass"},
			{"/buy/1", []reqOpt{ipA}, "pass"},
			{"/buy/1", []reqOpt{ipA}, "rate_limited"},
			{"/buy/1", []reqOpt{ipB}, "pass"},
			{"/buy/1", []reqOpt{ipA, at(t0 + 500*ms)}, "pass"},
		}},
		{"ipv6 grouped by /64", "- ratelimit: {rate: 1/s}\n", []step{
			{"/buy/1", []reqOpt{withIP("2001:db8::1")}, "pass"},
			{"/buy/1", []reqOpt{withIP("2001:db8::ffff")}, "rate_limited"},
			{"/buy/1", []reqOpt{withIP("2001:db8:0:1::1")}, "pass"},
		}},
		{"ipv6 per address", "- ratelimit: {rate: 1/s, key: {use: ip, ipv6_prefix: 128}}\n", []step{
			{"/buy/1", []reqOpt{withIP("2001:db8::1")}, "pass"},
			{"/buy/1", []reqOpt{withIP("2001:db8::2")}, "pass"},
		}},
		{"global", "- ratelimit: {rate: 1/s, scope: global}\n", []step{
			{"/buy/1", []reqOpt{ipA}, "pass"},
			{"/buy/2", []reqOpt{ipB}, "rate_limited"},
		}},
		{"per value with override", "- ratelimit: {rate: 1/s, scope: value, param: id, values: {\"42\": 2/s}}\n", []step{
			{"/buy/1", nil, "pass"},
			{"/buy/1", nil, "rate_limited"},
			{"/buy/2", nil, "pass"},
			{"/buy/42", nil, "pass"},
			{"/buy/42", []reqOpt{at(t0 + 500*ms)}, "pass"},
			{"/buy/42", []reqOpt{at(t0 + 500*ms)}, "rate_limited"},
		}},
		{"per user cookie; anonymous by ip", "- ratelimit: {rate: 1/s, key: \"cookie:uid\"}\n", []step{
			{"/buy/1", []reqOpt{withCookie("uid", "alice"), ipA}, "pass"},
			{"/buy/1", []reqOpt{withCookie("uid", "bob"), ipA}, "pass"},
			{"/buy/1", []reqOpt{withCookie("uid", "alice"), ipB}, "rate_limited"},
			{"/buy/1", []reqOpt{ipA}, "pass"},
			{"/buy/1", []reqOpt{ipA}, "rate_limited"},
		}},
		{"dry run only counts", "- ratelimit: {rate: 1/m, dry_run: true}\n", []step{
			{"/buy/1", nil, "pass"},
			{"/buy/1", nil, "pass"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, testEnv(t), tt.yaml)
			for i, s := range tt.steps {
				if v, _ := verdictOf(c, s.path, s.opts...); reason(v) != s.want {
					t.Fatalf("step %d (%s): %s, want %s", i, s.path, reason(v), s.want)
				}
			}
		})
	}
}

func TestRateLimitDryRunCounted(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- ratelimit: {rate: 1/m, dry_run: true}\n")
	for range 3 {
		verdictOf(c, "/buy/1")
	}
	got := env.Metrics.GetOrCreateCounter(`flashgate_filter_dry_run_rejections_total{route="buy",filter="ratelimit",reason="rate_limited"}`).Get()
	if got != 2 {
		t.Errorf("dry-run counter = %d, want 2", got)
	}
}

func TestRateLimitWhenTag(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, `- tags: {header: X-Risk, values: [high, low]}
- ratelimit:
    rate: 10/s
    burst: 10
    when_tag: {high: {rate: 1/m}, low: {rate: 5/s}}
`)
	high := withHeader("X-Risk", "high")
	if v, _ := verdictOf(c, "/buy/1", high); v.Rejected() {
		t.Fatal("first tagged request rejected")
	}
	if v, _ := verdictOf(c, "/buy/1", high, at(t0+int64(time.Second))); reason(v) != "rate_limited" {
		t.Fatalf("tagged client within a minute: %s, want rate_limited", reason(v))
	}
	// An untagged client from another IP has the route's 10/s.
	for i := range 10 {
		if v, _ := verdictOf(c, "/buy/1", withIP("198.51.100.9")); v.Rejected() {
			t.Fatalf("untagged request %d rejected", i)
		}
	}
}

// TestRateLimitConcurrent checks the bound the issue sets: under pressure
// no one-second span admits more than rate + burst, and at least 98% of
// that is admitted.
func TestRateLimitConcurrent(t *testing.T) {
	const rate, burst = 1000, 50
	c := mustCompile(t, testEnv(t), fmt.Sprintf("- ratelimit: {rate: %d/s, burst: %d, scope: global}\n", rate, burst))
	var admitted atomic.Int64
	var wg sync.WaitGroup
	var clock atomic.Int64 // requests advance a shared clock: 1 s over 20 000 requests
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2500 {
				now := t0 + clock.Add(int64(time.Second)/20000)
				if v, _ := verdictOf(c, "/buy/1", at(now), withIP(fmt.Sprintf("10.0.0.%d", w))); !v.Rejected() {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	got := admitted.Load()
	if got > rate+burst || got < (rate+burst)*98/100 {
		t.Fatalf("admitted %d in one second, want within [%d, %d]", got, (rate+burst)*98/100, rate+burst)
	}
}

// TestRateLimitBypassAttempts: ways a client might dodge a limit, each
// after one admitted request that used up its bucket.
func TestRateLimitBypassAttempts(t *testing.T) {
	signed := "{use: \"cookie:uid\", signed: {keys: [" + shopKey + "]}}"
	alice := withCookie("uid", sign(shopKey, "alice"))
	tests := []struct {
		name, yaml    string
		first, second []reqOpt
		path2         string
	}{
		{"new forged user id each request", "- ratelimit: {rate: 1/m, key: " + signed + "}\n",
			[]reqOpt{withCookie("uid", "u1.AAAA")}, []reqOpt{withCookie("uid", "u2.AAAA")}, "/buy/1"},
		{"forged signature on a real user's id", "- ratelimit: {rate: 1/m, key: " + signed + "}\n",
			[]reqOpt{withCookie("uid", "x.AAAA")}, []reqOpt{withCookie("uid", "alice."+strings.Repeat("A", 43))}, "/buy/1"},
		{"fresh unsigned ids meet a per-ip layer", "- ratelimit: {rate: 1/m, key: \"cookie:uid\"}\n- ratelimit: {rate: 1/m}\n",
			[]reqOpt{withCookie("uid", "r1")}, []reqOpt{withCookie("uid", "r2")}, "/buy/1"},
		{"same signed user from another ip", "- ratelimit: {rate: 1/m, key: " + signed + "}\n",
			[]reqOpt{alice}, []reqOpt{alice, withIP("198.51.100.1")}, "/buy/1"},
		{"another address of the same ipv6 /64", "- ratelimit: {rate: 1/m}\n",
			[]reqOpt{withIP("2001:db8::1")}, []reqOpt{withIP("2001:db8::2")}, "/buy/1"},
		{"zero-padded item id", "- ratelimit: {rate: 1/m, scope: value, param: id}\n",
			nil, nil, "/buy/0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, testEnv(t), tt.yaml)
			if v, _ := verdictOf(c, "/buy/1", tt.first...); v.Rejected() {
				t.Fatalf("first request: %s", reason(v))
			}
			if v, _ := verdictOf(c, tt.path2, tt.second...); reason(v) != "rate_limited" {
				t.Fatalf("second request: %s, want rate_limited", reason(v))
			}
		})
	}
}
