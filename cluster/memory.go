package cluster

import (
	"errors"
	"fmt"

	"github.com/VictoriaMetrics/metrics"
)

// MemoryOptions sizes a Memory store.
type MemoryOptions struct {
	// Keys bounds the GCRA cells and counters tracked (rounded up to a
	// power of two per shard); >= 1024. 32 bytes each, allocated up front.
	Keys int
	// Flags bounds the SpendOnce flags tracked; >= 1024. A flag is only set
	// for a token that already verified, so its rate is bounded by what
	// issues those tokens, not by what attackers send.
	Flags int
	// Metrics receives the eviction and untracked counters; nil means a
	// private set, readable through Memory.Evictions and Memory.Untracked.
	Metrics *metrics.Set
}

// ErrTooSmall is returned by NewMemory for capacities below 1024.
var ErrTooSmall = errors.New("cluster: capacity below 1024")

const shardCount = 64 // a power of two; enough that 2-64 cores rarely meet on one lock

// Memory is the in-process Store: two fixed-size sharded hash tables (one
// for cells and counters, one for flags) of 8-way buckets, allocated once,
// that never grow. Expired entries are free slots. When a bucket has no free
// slot, a new cell or counter may only evict a live entry that has been
// used once (or is a counter back at zero); entries used twice or more
// (or created by AddTracked) are
// never evicted until they are within nearExpiry of expiring, and a new key
// that finds none to evict is untracked: stored nowhere, reported to the
// caller (tracked == false) and counted in
// flashgate_cluster_untracked_total. So spraying random keys only churns
// among the one-off entries and cannot push out the state of returning
// clients; spraying keys used twice can fill the table, and then callers
// learn it instead of silently losing their limits. A new flag evicts the
// flag nearest to expiry. Every eviction of a live entry is counted.
//
// Memory is safe for concurrent use; every method is atomic per key and
// allocates nothing.
type Memory struct {
	cells, flags []shard
	evictCells   *metrics.Counter
	evictFlags   *metrics.Counter
	untracked    *metrics.Counter
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory sized by opts.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.Keys < 1024 {
		return nil, fmt.Errorf("Keys=%d: %w", opts.Keys, ErrTooSmall)
	}
	if opts.Flags < 1024 {
		return nil, fmt.Errorf("Flags=%d: %w", opts.Flags, ErrTooSmall)
	}
	set := opts.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	return &Memory{
		cells:      newShards(opts.Keys, true),
		flags:      newShards(opts.Flags, false),
		evictCells: set.GetOrCreateCounter(`flashgate_cluster_evictions_total{table="cells"}`),
		evictFlags: set.GetOrCreateCounter(`flashgate_cluster_evictions_total{table="flags"}`),
		untracked:  set.GetOrCreateCounter(`flashgate_cluster_untracked_total{table="cells"}`),
	}, nil
}

func newShards(capacity int, protect bool) []shard {
	perShard := (capacity + shardCount - 1) / shardCount
	nb := 1
	for nb*ways < perShard {
		nb <<= 1
	}
	shards := make([]shard, shardCount)
	for i := range shards {
		shards[i] = shard{buckets: make([]bucket, nb), mask: uint64(nb - 1), protect: protect}
	}
	return shards
}

// Evictions returns how many live cells/counters and flags were evicted.
func (m *Memory) Evictions() (cells, flags uint64) {
	return m.evictCells.Get(), m.evictFlags.Get()
}

// Untracked returns how many calls found no slot for a new key.
func (m *Memory) Untracked() uint64 { return m.untracked.Get() }

// remix is the splitmix64 finalizer: callers' keys may be weak hashes (FNV
// of short strings), and shard and bucket selection need well-spread bits.
func remix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func pick(shards []shard, key uint64) (*shard, uint64) {
	h := remix(key)
	return &shards[h>>(64-6)], h
}

// cell returns key's entry in the cells table (found), or the slot a new
// entry for key may take and whether writing it evicts a live entry; nil
// means key is untracked (the caller treats it as new, stores nothing and
// reports it). The caller holds s.mu and writes through store.
func (m *Memory) cell(s *shard, key, h uint64, now int64) (e *entry, found, evicts bool) {
	e, found, evicts = s.slot(key, h, now)
	switch {
	case found:
		e.hits++
		if e.hits == 0 {
			e.hits-- // saturate rather than wrap to unprotected
		}
	case e == nil:
		m.untracked.Inc()
	}
	return e, found, evicts
}

// store writes a new entry into a slot returned by cell with hit count
// hits (1, or established for state that is protected from the start).
func (m *Memory) store(e *entry, evicts bool, key uint64, val, expires int64, hits uint32) {
	if evicts {
		m.evictCells.Inc()
	}
	*e = entry{key: key, val: val, expires: expires, hits: hits}
}

// Allow implements Store.
func (m *Memory) Allow(key uint64, now int64, emission, tolerance int64, n int) (bool, int64, bool) {
	s, h := pick(m.cells, key)
	s.mu.Lock()
	e, found, evicts := m.cell(s, key, h, now)
	var tat int64
	if found {
		tat = e.val
	}
	next, wait := gcra(tat, now, emission, tolerance, n)
	switch {
	case wait > 0 || e == nil:
	case found:
		e.val, e.expires = next, next // idle past its tat, a cell is as good as absent
	default:
		m.store(e, evicts, key, next, next, 1)
	}
	s.mu.Unlock()
	return wait == 0, wait, e != nil
}

// Add implements Store.
func (m *Memory) Add(key uint64, delta, ttl, now int64) int64 {
	v, _ := m.add(key, delta, ttl, now, 1)
	return v
}

// AddTracked implements Store.
func (m *Memory) AddTracked(key uint64, delta, ttl, now int64) (int64, bool) {
	return m.add(key, delta, ttl, now, established)
}

func (m *Memory) add(key uint64, delta, ttl, now int64, hits uint32) (int64, bool) {
	s, h := pick(m.cells, key)
	s.mu.Lock()
	e, found, evicts := m.cell(s, key, h, now)
	v := delta
	switch {
	case found:
		e.val += delta
		v = e.val
		e.hits = max(e.hits, hits)
		if v == 0 {
			// A counter back at zero (every reservation given back) holds
			// nothing a new counter would not: let it make room again, or
			// buyers who never bought would pin the table for the period.
			e.hits = 1
		}
	case e != nil:
		m.store(e, evicts, key, delta, now+max(ttl, 1), hits)
	}
	s.mu.Unlock()
	return v, e != nil
}

// Get implements Store.
func (m *Memory) Get(key uint64, now int64) int64 {
	if v, ok := m.lookup(m.cells, key, now); ok {
		return v
	}
	v, _ := m.lookup(m.flags, key, now)
	return v
}

func (m *Memory) lookup(shards []shard, key uint64, now int64) (int64, bool) {
	s, h := pick(shards, key)
	s.mu.Lock()
	e, found, _ := s.slot(key, h, now)
	var v int64
	if found {
		v = e.val
	}
	s.mu.Unlock()
	return v, found
}

// SpendOnce implements Store.
func (m *Memory) SpendOnce(key uint64, expiresAt, now int64) bool {
	if expiresAt <= now {
		return false // already expired: nothing left to spend
	}
	s, h := pick(m.flags, key)
	s.mu.Lock()
	e, found, evicts := s.slot(key, h, now)
	if !found {
		if evicts {
			m.evictFlags.Inc()
		}
		*e = entry{key: key, val: 1, expires: expiresAt, hits: 1}
	}
	s.mu.Unlock()
	return !found
}

// Forget implements Store.
func (m *Memory) Forget(key uint64) {
	for _, shards := range [2][]shard{m.cells, m.flags} {
		s, h := pick(shards, key)
		s.mu.Lock()
		if e, found, _ := s.slot(key, h, 0); found {
			*e = entry{}
		}
		s.mu.Unlock()
	}
}

// Flag implements Store: a flag is a counter above zero.
func (m *Memory) Flag(key uint64, now int64) bool { return m.Get(key, now) > 0 }

// SetFlag implements Store: the flag is a counter protected from eviction.
func (m *Memory) SetFlag(key uint64, ttl, now int64) (first, tracked bool) {
	v, tracked := m.AddTracked(key, 1, ttl, now)
	return tracked && v == 1, tracked
}
