package filters

import (
	"log/slog"
	"math/rand/v2"
	"testing"

	"flashgate/cluster"
)

// fullStoreEnv returns an Env over the smallest store, filled by a spray
// of keys each used twice (so every entry is protected and long-lived):
// every new key the filters bring finds no slot.
func fullStoreEnv(t *testing.T) (*Env, *cluster.Memory) {
	t.Helper()
	store, err := cluster.NewMemory(cluster.MemoryOptions{Keys: 1024, Flags: 1024})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 4000 {
		k := rng.Uint64()
		store.Add(k, 1, int64(3600e9), t0)
		store.Add(k, 1, int64(3600e9), t0)
	}
	env, err := NewEnv(store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	env.Now = func() int64 { return t0 }
	return env, store
}

// TestFullStoreFailsClosed: when the store cannot track a user's purchase
// count or an item's stock count, purchase_limit and stock refuse (503
// state_full, retry in a second) instead of admitting uncounted attempts.
func TestFullStoreFailsClosed(t *testing.T) {
	for _, tt := range []struct{ name, yaml string }{
		{"purchase_limit", "- purchase_limit: {max: 1, key: \"cookie:uid\"}\n"},
		{"stock", "- stock: {stock: {\"2\": 3}, sold_out: {status: 409}}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, store := fullStoreEnv(t)
			c := mustCompile(t, env, tt.yaml)
			before := store.Untracked()
			for i := range 8 {
				v, r := verdictOf(c, "/buy/2", withCookie("uid", "new-user"))
				if reason(v) != "state_full" {
					t.Fatalf("attempt %d: %s, want state_full (a full store must not admit uncounted)", i, reason(v))
				}
				h := &r.Ctx.Response.Header
				if h.StatusCode() != 503 || string(h.Peek("Retry-After")) != "1" {
					t.Fatalf("attempt %d: status %d, Retry-After %q; want 503, 1", i, h.StatusCode(), h.Peek("Retry-After"))
				}
			}
			if got := store.Untracked() - before; got != 8 {
				t.Fatalf("store counted %d untracked keys, want 8", got)
			}
		})
	}
}

// TestRateLimitUntrackedCounted: a rate limit fails open on a full store
// (a new client is admitted as if idle) and counts every such request.
func TestRateLimitUntrackedCounted(t *testing.T) {
	env, _ := fullStoreEnv(t)
	c := mustCompile(t, env, "- ratelimit: {rate: 1/m}\n")
	for i := range 3 {
		if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
			t.Fatalf("request %d: %s, want admitted (ratelimit fails open)", i, reason(v))
		}
	}
	got := env.Metrics.GetOrCreateCounter(`flashgate_filter_untracked_total{route="buy",filter="ratelimit"}`).Get()
	if got != 3 {
		t.Fatalf("untracked counter = %d, want 3", got)
	}
}

// TestTrackedStoreCountsNothingUntracked: the same filters on a store with
// room never report untracked state.
func TestTrackedStoreCountsNothingUntracked(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- ratelimit: {rate: 1/m}\n- purchase_limit: {max: 1}\n")
	if v, _ := verdictOf(c, "/buy/1"); v.Rejected() {
		t.Fatalf("first request: %s", reason(v))
	}
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "rate_limited" {
		t.Fatalf("second request: %s, want rate_limited", reason(v))
	}
	if got := env.Metrics.GetOrCreateCounter(`flashgate_filter_untracked_total{route="buy",filter="ratelimit"}`).Get(); got != 0 {
		t.Fatalf("untracked counter = %d on a store with room", got)
	}
}
