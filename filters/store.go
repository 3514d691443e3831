package filters

// Store is the state backend filters need. It is declared here, by its
// consumer, with the same method set as cluster.Store, so the in-memory and
// Redis stores of package cluster satisfy it without this package depending
// on either. Keys are uint64 hashes built with StateID.Key and Mix.
//
// Implementations must be safe for concurrent use and bounded in memory.
type Store interface {
	// Allow runs GCRA for key: emissionNanos is the interval between two
	// admitted requests at the sustained rate, burstNanos the tolerance
	// (burst × emission). It reports whether n requests are admitted and,
	// if not, how many nanoseconds until they would be; tracked is false
	// when the store was too full to keep key's state (the answer is an
	// idle key's).
	Allow(key uint64, now int64, emissionNanos, burstNanos int64, n int) (ok bool, retryAfter int64, tracked bool)
	// Add adds delta to the counter at key (created at 0 with ttlNanos) and
	// returns the new value. It fails open: a key the store is too full to
	// track reads as delta and is not stored.
	Add(key uint64, delta int64, ttlNanos int64, now int64) int64
	// AddTracked is Add for counts a limit depends on: the counter is
	// protected from eviction by new keys from its creation, and tracked
	// false means nothing was stored, so the caller must fail closed.
	AddTracked(key uint64, delta int64, ttlNanos int64, now int64) (v int64, tracked bool)
	// Get returns the counter at key, 0 if absent or expired.
	Get(key uint64, now int64) int64
	// SpendOnce atomically marks key as spent until expiresAt; it reports
	// true to exactly one caller.
	SpendOnce(key uint64, expiresAt int64, now int64) bool
	// Forget deletes key.
	Forget(key uint64)
	// Flag reports whether the flag at key is set; shared stores answer a
	// set flag from a local cache kept current by pub/sub.
	Flag(key uint64, now int64) bool
	// SetFlag sets the flag at key for ttlNanos; first is true for the one
	// call (over all instances) that set it.
	SetFlag(key uint64, ttlNanos int64, now int64) (first, tracked bool)
}

// Store returns the store the filter being built keeps its state in:
// Env.KindStores[kind] when set (cluster.filters gives the kind its own
// failure policy), else Env.Store.
func (b *Build) Store() Store {
	if s, ok := b.Env.KindStores[b.Kind]; ok {
		return s
	}
	return b.Env.Store
}
