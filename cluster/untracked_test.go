package cluster

import (
	"math/rand/v2"
	"testing"
)

// fillTwice uses n keys (from first) twice each with AddTracked's
// unprotected sibling Add, as an attacker spraying keys it reuses once
// would: every entry ends up protected.
func fillTwice(m *Memory, first uint64, n int, ttl, now int64) {
	for k := first; k < first+uint64(n); k++ {
		m.Add(k, 1, ttl, now)
		m.Add(k, 1, ttl, now)
	}
}

// TestFullTableReportsUntracked fills a 1024-key table with 1500 keys seen
// twice: new keys then find no slot, and every method says so instead of
// pretending to count them.
func TestFullTableReportsUntracked(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	fillTwice(m, 1<<40, 1500, 3600*sec, now)
	before := m.Untracked()
	const probes = 200
	untracked := 0
	for k := uint64(1); k <= probes; k++ {
		v, tracked := m.AddTracked(k, 3, 3600*sec, now)
		if tracked {
			continue
		}
		untracked++
		if v != 3 {
			t.Fatalf("untracked AddTracked = %d, want the delta 3", v)
		}
		if got := m.Get(k, now); got != 0 {
			t.Fatalf("an untracked key reads %d, want 0: nothing is stored", got)
		}
		if ok, _, tracked := m.Allow(k, now, sec, 0, 1); !ok || tracked {
			t.Fatalf("Allow of an untracked key = ok %v, tracked %v; want an idle key's answer, untracked", ok, tracked)
		}
	}
	if untracked < probes*9/10 {
		t.Fatalf("%d of %d new keys untracked in a table full of protected keys, want >= 90%%", untracked, probes)
	}
	if got := m.Untracked() - before; got != uint64(2*untracked) {
		t.Fatalf("untracked counter rose by %d, want %d (AddTracked and Allow per untracked key)", got, 2*untracked)
	}
}

// TestAddTrackedSurvivesSpray: a counter AddTracked created once (a
// purchase reserved, never touched again) is as safe from a spray of
// one-off keys as a client seen twice.
func TestAddTrackedSurvivesSpray(t *testing.T) {
	m := newTestMemory(t, 1024, 1024)
	now := int64(100 * sec)
	const buyers = 400
	for k := uint64(1); k <= buyers; k++ {
		if _, tracked := m.AddTracked(k, 1, 24*3600*sec, now); !tracked {
			t.Fatalf("buyer %d untracked in an empty table", k)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20_000 {
		m.Add(rng.Uint64()|1<<63, 1, 24*3600*sec, now+sec) // later, so the buyers expire first
	}
	for k := uint64(1); k <= buyers; k++ {
		if got := m.Get(k, now+sec); got != 1 {
			t.Fatalf("buyer %d's purchase count = %d after a spray, want 1", k, got)
		}
	}
}

// TestEvictionPrefersExpiredThenNearExpiry: in a table full of protected
// entries, a new key takes an expired slot without evicting, then a
// protected entry within nearExpiry of its end, and only when every entry
// has longer to live is it untracked.
func TestEvictionPrefersExpiredThenNearExpiry(t *testing.T) {
	for _, tt := range []struct {
		name            string
		ttl, after      int64
		tracked, evicts bool
	}{
		{"expired entries are free slots", sec, sec, true, false},
		{"entries about to expire are evicted", nearExpiry, 0, true, true},
		{"entries with long to live are kept", nearExpiry + ms, 0, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMemory(t, 1024, 1024)
			now := int64(100 * sec)
			fillTwice(m, 1<<40, 3000, tt.ttl, now) // far more than fit: every bucket full
			ev0, _ := m.Evictions()
			_, tracked := m.AddTracked(7, 1, 3600*sec, now+tt.after)
			ev1, _ := m.Evictions()
			if tracked != tt.tracked || (ev1 > ev0) != tt.evicts {
				t.Fatalf("tracked %v, evicted %d; want tracked %v, evicts %v", tracked, ev1-ev0, tt.tracked, tt.evicts)
			}
		})
	}
}

// TestZeroCounterMakesRoom: a reserved count given back to zero (a buyer
// whose purchase failed) no longer pins its slot: a new key may take it.
func TestZeroCounterMakesRoom(t *testing.T) {
	for _, tt := range []struct {
		name     string
		giveBack bool
		tracked  bool
	}{
		{"reservations held pin the table", false, false},
		{"reservations given back make room", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMemory(t, 1024, 1024)
			now := int64(100 * sec)
			for k := uint64(1 << 40); k < 1<<40+3000; k++ {
				m.AddTracked(k, 1, 3600*sec, now)
				if tt.giveBack {
					m.Add(k, -1, 3600*sec, now)
				}
			}
			if _, tracked := m.AddTracked(7, 1, 3600*sec, now); tracked != tt.tracked {
				t.Fatalf("new key tracked = %v, want %v", tracked, tt.tracked)
			}
		})
	}
}
