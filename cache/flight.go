package cache

import (
	"sync"
	"time"
)

// flights coalesces concurrent misses: the first request for a key (the
// leader) fetches, the others wait on a channel the leader closes. Unlike
// nginx's proxy_cache_lock there is no polling: waiters wake the moment the
// answer exists. The table holds only in-flight keys, so it is bounded by
// the number of concurrent requests.
type flights struct {
	shards [flightShards]flightShard
}

const flightShards = 64

type flightShard struct {
	mu sync.Mutex
	m  map[uint64]*call
}

// call is one in-flight fetch. Its result fields are written by the leader
// before done is closed and only read by waiters after, so they need no lock.
type call struct {
	done chan struct{}
	// entry is the response to hand to waiters; nil means "not shareable,
	// fetch for yourselves" (uncacheable, personal, or a different Vary).
	entry *Entry
	state State // Miss or Expired for a new entry; Stale for a stand-in
	err   error
}

func (f *flights) init() {
	for i := range f.shards {
		f.shards[i].m = make(map[uint64]*call)
	}
}

// join returns the call for key h and whether the caller leads it.
func (f *flights) join(h uint64) (*call, bool) {
	s := &f.shards[h%flightShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[h]; ok {
		return c, false
	}
	c := &call{done: make(chan struct{})}
	s.m[h] = c
	return c, true
}

// finish publishes the leader's result and wakes every waiter.
func (f *flights) finish(h uint64, c *call) {
	s := &f.shards[h%flightShards]
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
	close(c.done)
}

// wait blocks until the leader finishes or timeout passes; false on timeout.
func (c *call) wait(timeout time.Duration) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}
