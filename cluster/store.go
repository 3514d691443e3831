// Package cluster holds admission state that must outlive rule reloads and
// be shared between gateway instances: GCRA limiter cells, counters with a
// TTL, single-use spends and flags, waiting lines, and a message bus.
//
// Callers hash everything that names a piece of state (route, filter,
// settings fingerprint, client identity) into one uint64 key once per
// request; the memory store never sees strings, so it never allocates.
// Memory is the in-process implementation; Redis (redis.go) keeps the same
// state in Redis for several instances (RedisView is its Store under a
// failure Policy, RedisLine a shared waiting line, Publish/Subscribe the
// bus), so Store is kept to what Redis does atomically (GCRA and counters
// as Lua scripts, set-if-absent as SET NX PX). docs/cluster.md is the
// user's reference.
package cluster

import "time"

// Store is the state interface admission filters depend on. Every method is
// safe for concurrent use and atomic per key. Times are unix nanoseconds and
// are always passed in, never read from a clock, so tests and the request path
// share one notion of now.
type Store interface {
	// Allow runs the GCRA (generic cell rate algorithm) for key: n cells,
	// one every emissionNanos, with tolerance burstNanos (see Limit). It
	// returns whether the n cells conform and, if not, how long until they
	// would (nanoseconds, > 0). A denied call changes nothing. tracked is
	// false when the store is too full to keep a new key's cell: the
	// answer is then that of an idle key and nothing is stored (the caller
	// decides whether that fails open, and counts it).
	Allow(key uint64, now int64, emissionNanos, burstNanos int64, n int) (ok bool, retryAfter int64, tracked bool)
	// Add adds delta to the counter at key and returns the new value. A
	// counter created by Add lives ttlNanos from its creation (a fixed
	// window: later Adds do not extend it), then reads as 0 again. When the
	// store cannot track a new key, Add stores nothing and returns delta:
	// it fails open. Limits that must hold use AddTracked.
	Add(key uint64, delta int64, ttlNanos int64, now int64) int64
	// AddTracked is Add for state a limit depends on (purchases, stock):
	// a counter it creates is protected from eviction by new keys at once,
	// not only once seen twice, and tracked reports whether the store holds
	// the counter after the call. When it is false nothing was stored and
	// v is delta: the caller must not rely on the count (fail closed).
	AddTracked(key uint64, delta int64, ttlNanos int64, now int64) (v int64, tracked bool)
	// Get returns the counter at key, 1 for a flag set by SpendOnce, and 0
	// for an absent or expired key.
	Get(key uint64, now int64) int64
	// SpendOnce sets the flag at key if it is absent or expired and reports
	// whether this call set it: of any number of concurrent calls for one
	// key, exactly one returns true. The flag lives until expiresAt.
	SpendOnce(key uint64, expiresAt int64, now int64) bool
	// Forget deletes whatever is stored at key.
	Forget(key uint64)
	// Flag reports whether the flag at key is set (SetFlag, not expired).
	// A store shared by instances answers a set flag from a local cache
	// that every instance fills the moment any sets it, so a hot path
	// that checks a flag (an item sold out) costs no round trip once it
	// is set.
	Flag(key uint64, now int64) bool
	// SetFlag sets the flag at key for ttlNanos and reports whether this
	// call set it first (of concurrent calls on all instances, one).
	// tracked is false when the store could not keep it.
	SetFlag(key uint64, ttlNanos int64, now int64) (first, tracked bool)
}

// Limit is a rate and burst in the terms people configure; Emission and
// Tolerance turn it into Store.Allow's arguments.
type Limit struct {
	Rate  int           // cells per Per; > 0
	Per   time.Duration // > 0
	Burst int           // cells that may arrive at once; >= 1
}

// Emission returns the interval between cells at the sustained rate.
func (l Limit) Emission() int64 { return int64(l.Per) / int64(l.Rate) }

// Tolerance returns the GCRA tolerance that lets Burst cells through at
// once from an idle state: (Burst-1) emissions. In any span of length Per,
// at most Rate+Burst cells conform (Rate+Burst-1 when Rate divides Per).
func (l Limit) Tolerance() int64 { return int64(l.Burst-1) * l.Emission() }

// gcra is the one GCRA step shared by the memory store (and the reference
// for the Redis script): tat is the stored theoretical arrival time (0 when
// absent). It returns the new tat and 0, or the unchanged tat and the wait.
func gcra(tat, now, emission, tolerance int64, n int) (newTat, retryAfter int64) {
	if tat < now {
		tat = now
	}
	next := tat + int64(n)*emission
	allowAt := next - tolerance - emission
	if now < allowAt {
		return tat, allowAt - now
	}
	return next, 0
}
