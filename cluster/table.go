package cluster

import (
	"sync"
	"time"
)

// ways is the associativity of a bucket: a key may live in any of the 8
// slots of the one bucket its hash selects, so a lookup scans 8 adjacent
// entries (256 bytes, four cache lines) and never chases a pointer.
const ways = 8

// entry is one tracked key: 32 bytes. expires == 0 marks a free slot, so
// every stored entry has expires > 0.
type entry struct {
	key     uint64
	val     int64 // GCRA theoretical arrival time, counter value, or 1 for a flag
	expires int64 // unix nanoseconds; the entry reads as absent from then on
	hits    uint32
	_       uint32
}

// established is the hit count from which a live entry is protected from
// eviction by new keys: a sprayed key is seen once, a real client's key
// again and again. AddTracked creates entries at this count directly.
const established = 2

// nearExpiry is how close to its expiry a protected entry may be and still
// be evicted for a new key (the one nearest expiry first) rather than the
// new key refused: it bounds what the eviction loses to this much of the
// entry's life (a GCRA cell this close to its arrival time is within
// nearExpiry of idle; a counter is about to read 0 anyway). Refusing
// instead would make callers fail closed for state that is all but gone.
const nearExpiry = int64(250 * time.Millisecond)

type bucket [ways]entry

// shard is one lock's worth of a table.
type shard struct {
	mu      sync.Mutex
	buckets []bucket
	mask    uint64
	protect bool // cells: established entries are never evicted; flags: the soonest to expire goes
}

// slot finds key in its bucket at time now. It returns the entry holding it
// (found) or the slot a new entry should take and whether taking it evicts a
// live entry, in this order of preference: an expired (free) slot; the
// unprotected entry nearest to expiry; the protected entry nearest to
// expiry if it expires within nearExpiry. A nil slot means the bucket holds
// only protected entries with longer to live: the new key is refused. The
// caller holds s.mu.
func (s *shard) slot(key, h uint64, now int64) (e *entry, found, evicts bool) {
	b := &s.buckets[(h>>8)&s.mask]
	var free, victim, late *entry
	for i := range b {
		e := &b[i]
		switch {
		case e.expires <= now:
			if free == nil {
				free = e
			}
		case e.key == key:
			return e, true, false
		case s.protect && e.hits >= established:
			if e.expires-now <= nearExpiry && (late == nil || e.expires < late.expires) {
				late = e
			}
		case victim == nil || e.expires < victim.expires:
			victim = e // the live entry nearest to expiry: it would vanish soon anyway
		}
	}
	switch {
	case free != nil:
		return free, false, false
	case victim != nil:
		return victim, false, true
	}
	return late, false, late != nil
}
