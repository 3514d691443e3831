package cluster

import "sync"

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
// again and again.
const established = 2

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
// live entry. A nil slot means the bucket holds only protected entries: the
// new key is refused. The caller holds s.mu.
func (s *shard) slot(key, h uint64, now int64) (e *entry, found, evicts bool) {
	b := &s.buckets[(h>>8)&s.mask]
	var free, victim *entry
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
		case victim == nil || e.expires < victim.expires:
			victim = e // the live entry nearest to expiry: it would vanish soon anyway
		}
	}
	if free != nil {
		return free, false, false
	}
	return victim, false, victim != nil
}
