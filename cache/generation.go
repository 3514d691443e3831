package cache

import "sync/atomic"

// purgeGeneration counts the purges applied by every Cache of the process.
// One counter rather than one per Cache: a purge of any cache invalidates
// what was derived from all of them, which is only wider, and a Cache
// needs no field for it.
var purgeGeneration atomic.Uint64

// Generation returns the purge generation: a number that every Purge (URL,
// prefix, tag or all, soft or hard, of any Cache in the process) raises
// once it has taken effect. Something derived from entries looked up
// after reading Generation stays what fresh lookups would give while
// Generation still returns the same value and the entries stay fresh
// (Entry.FreshUntil): a purge applied after those lookups raises it, and
// one applied before them was seen by them. One atomic load; safe for
// concurrent use.
func Generation() uint64 { return purgeGeneration.Load() }

// bumpGeneration is called by Purge after the purge took effect (entries
// removed or marked stale, or the ban published), never before: a reader
// of the new value must see the purge in its lookups.
func bumpGeneration() { purgeGeneration.Add(1) }

// FreshUntil returns when the entry stops being fresh, in unix
// nanoseconds on the cache's clock: storedAt+ttl, lowered by a soft purge
// (never raised: a refresh stores a new entry). A lazy soft purge by
// prefix or of everything lowers it at the entry's next lookup. Safe for
// concurrent use.
func (e *Entry) FreshUntil() int64 { return e.freshUntil.Load() }
