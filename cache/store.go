package cache

import (
	"fmt"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// store keeps entries in ristretto, keyed by the 64-bit hash of the full
// key (the entry keeps the key itself; lookups compare it). Cost is the
// entry's real size, so MaxCost is a byte bound. Sets are asynchronous and
// may be refused by TinyLFU admission: callers never assume a set is kept.
type store struct {
	r *ristretto.Cache[uint64, *Entry]
}

func newStore(maxBytes int64, onExit func(*Entry), onEvict func()) (*store, error) {
	// About one counter per 1 KiB of budget, ten times the entries a cache
	// of 10 KiB pages holds, as ristretto advises; bounded both ways.
	counters := min(max(maxBytes>>10, 1<<12), 1<<24)
	r, err := ristretto.NewCache(&ristretto.Config[uint64, *Entry]{
		NumCounters: counters,
		MaxCost:     maxBytes,
		// Every BufferItems gets, ristretto hands the batch of key hashes
		// to its policy goroutine over a channel (and allocates the next
		// batch): at the advised 64 that wake-up was ~5% of a hit's
		// handler time (pprof, BenchmarkHandlerCacheHit). 256 pays it a
		// quarter as often; the frequency sketch only sees hits a little
		// later, which admission does not notice.
		BufferItems:        256,
		IgnoreInternalCost: true,
		KeyToHash:          func(k uint64) (uint64, uint64) { return k, 0 },
		OnExit:             onExit,
		OnEvict:            func(*ristretto.Item[*Entry]) { onEvict() },
	})
	if err != nil {
		return nil, fmt.Errorf("cache: max_bytes=%d: %w", maxBytes, err)
	}
	return &store{r: r}, nil
}

func (s *store) get(h uint64) *Entry {
	e, _ := s.r.Get(h)
	return e
}

// set offers e to the store for physical nanoseconds of real time.
func (s *store) set(e *Entry, physical int64) bool {
	return s.r.SetWithTTL(e.hash, e, e.size, time.Duration(physical)+time.Second)
}

func (s *store) del(h uint64) { s.r.Del(h) }

func (s *store) wait()  { s.r.Wait() }
func (s *store) close() { s.r.Close() }

func (s *store) used() int64 { return s.r.MaxCost() - s.r.RemainingCost() }
