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
	// if not, how many nanoseconds until they would be.
	Allow(key uint64, now int64, emissionNanos, burstNanos int64, n int) (ok bool, retryAfter int64)
	// Add adds delta to the counter at key (created at 0 with ttlNanos) and
	// returns the new value.
	Add(key uint64, delta int64, ttlNanos int64, now int64) int64
	// Get returns the counter at key, 0 if absent or expired.
	Get(key uint64, now int64) int64
	// SpendOnce atomically marks key as spent until expiresAt; it reports
	// true to exactly one caller.
	SpendOnce(key uint64, expiresAt int64, now int64) bool
	// Forget deletes key.
	Forget(key uint64)
}
