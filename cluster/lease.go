package cluster

import (
	"sync"
	"sync/atomic"
)

// maxLeaseKeys bounds the keys one instance holds leases for; keys beyond
// it are checked exactly (a Redis call each).
const maxLeaseKeys = 1 << 16

// leases is batched mode for rate limits (RedisOptions.Lease): this
// instance takes up to size cells of a key's GCRA budget in one Redis
// call and hands them out locally, taking the next batch in the
// background once half is spent. A key whose burst is below two cells is
// always checked exactly (a lease of one is a plain call).
//
// What it gives up: cells leased by one instance and not yet used are
// unavailable to the others (a client may be refused on B while A holds
// cells), and cells are used up to tolerance + size emissions after they
// were taken, so in any span the key may admit up to instances × size
// more than the limit. bench/RESULTS.md measures it.
type leases struct {
	size   int64
	shards [64]leaseShard
}

type leaseShard struct {
	mu sync.Mutex
	m  map[uint64]*lease
}

// lease is one key's cells in hand on this instance.
type lease struct {
	left      atomic.Int64
	expires   atomic.Int64 // unix nanos; cells left after it are void
	waitUntil atomic.Int64 // Redis refused a batch and a cell: refuse locally until then
	refilling atomic.Bool
}

func newLeases(size int) *leases {
	l := &leases{size: int64(size)}
	for i := range l.shards {
		l.shards[i].m = map[uint64]*lease{}
	}
	return l
}

func (l *leases) get(key uint64, now int64) *lease {
	s := &l.shards[remix(key)>>58]
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.m[key]
	if ls != nil {
		return ls
	}
	if len(s.m) >= maxLeaseKeys/len(l.shards) {
		s.evictLapsed(now)
	}
	if len(s.m) < maxLeaseKeys/len(l.shards) {
		ls = &lease{}
		s.m[key] = ls
	}
	return ls
}

// evictLapsed looks at up to 64 leases (map order is random) and drops
// those whose cells have lapsed and that are not refilling, so that keys
// of clients gone long ago make room for new ones at a bounded cost. The
// caller holds s.mu.
func (s *leaseShard) evictLapsed(now int64) {
	seen := 0
	for k, ls := range s.m {
		if now >= ls.expires.Load() && now >= ls.waitUntil.Load() && !ls.refilling.Load() {
			delete(s.m, k)
		}
		if seen++; seen == 64 {
			return
		}
	}
}

// allow takes one cell of key. handled is false when the key is not
// leased (its burst is too small, or too many keys): check it exactly.
func (l *leases) allow(v *RedisView, key uint64, now, emission, tolerance int64) (ok bool, wait int64, handled bool) {
	cells := min(l.size, tolerance/emission+1)
	if cells < 2 {
		return false, 0, false
	}
	ls := l.get(key, now)
	if ls == nil {
		return false, 0, false
	}
	if now >= ls.expires.Load() {
		ls.left.Store(0)
	}
	if left, took := ls.take(); took {
		if left < cells/2 {
			ls.refill(v, key, now, emission, tolerance, cells)
		}
		return true, 0, true
	}
	if w := ls.waitUntil.Load() - now; w > 0 {
		return false, w, true
	}
	// Nothing in hand: take a batch now if the budget has one, else a
	// single cell, as an exact check would.
	if ok, _, _ := v.allowExact(key, now, emission, tolerance, int(cells)); ok {
		ls.fill(cells-1, now, emission, tolerance, cells)
		return true, 0, true
	}
	ok, wait, _ = v.allowExact(key, now, emission, tolerance, 1)
	if !ok {
		ls.waitUntil.Store(now + wait)
	}
	return ok, wait, true
}

// take takes one cell if any is left; it returns how many remain.
func (ls *lease) take() (int64, bool) {
	for {
		c := ls.left.Load()
		if c <= 0 {
			return 0, false
		}
		if ls.left.CompareAndSwap(c, c-1) {
			return c - 1, true
		}
	}
}

func (ls *lease) fill(n, now, emission, tolerance, cells int64) {
	ls.left.Add(n)
	// Cells older than the span GCRA would have regenerated them in are
	// void: spending them later would be a burst the limit never allowed.
	ls.expires.Store(now + tolerance + cells*emission)
}

// refill takes the next batch in the background, one at a time per key.
func (ls *lease) refill(v *RedisView, key uint64, now, emission, tolerance, cells int64) {
	if !ls.refilling.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer ls.refilling.Store(false)
		ok, wait, _ := v.allowExact(key, now, emission, tolerance, int(cells))
		if ok {
			v.r.m.leased.Add(int(cells))
			ls.fill(cells, now, emission, tolerance, cells)
			return
		}
		ls.waitUntil.Store(now + min(wait, emission))
	}()
}
