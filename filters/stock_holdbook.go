package filters

import (
	"container/heap"
	"sync"
	"sync/atomic"

	"flashgate/cluster"
)

// Hold is one reservation of the stock gate in mode reserve (see
// cluster.Hold, which a Redis book stores).
type Hold = cluster.Hold

// HoldBook keeps the holds of one stock gate, exactly: every hold is given
// back (its units subtracted from its counter) at most once, by Settle or
// by Expire, whichever comes first. The in-memory book is memHolds; with
// the cluster store on, Env.HoldBooks makes cluster.RedisHolds, whose
// holds every instance shares. Implementations are safe for concurrent
// use.
type HoldBook interface {
	// Put records h. It reports false, recording nothing, when h.Order is
	// already held.
	Put(h Hold) bool
	// Settle ends order's hold: paid keeps its units counted (they are
	// sold), otherwise they are given back. ok is false when order holds
	// nothing (never held, settled already, or expired): nothing changes.
	Settle(order string, paid bool, now int64) (h Hold, ok bool)
	// Expire gives back the units of holds whose window ended by now.
	Expire(now int64) int
	// Lookup returns order's hold if it is still held at now.
	Lookup(order string, now int64) (Hold, bool)
	// Len returns the holds held (expired ones not yet given back count).
	Len() int
}

// memHolds is the in-process HoldBook. Its size is bounded by the gate's
// stock: a hold exists only for units the gate counted, and the count
// never passes the stock (mode reserve requires overbook 1).
type memHolds struct {
	store Store
	mu    sync.Mutex
	by    map[string]*heldEntry
	queue holdHeap     // by Expires, for Expire
	next  atomic.Int64 // the earliest Expires, or MaxInt64; read without mu
}

type heldEntry struct {
	Hold
	index int // in queue
}

var _ HoldBook = (*memHolds)(nil)

func newMemHolds(store Store) *memHolds {
	b := &memHolds{store: store, by: map[string]*heldEntry{}}
	b.next.Store(1<<63 - 1)
	return b
}

func (b *memHolds) Put(h Hold) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.by[h.Order]; dup {
		return false
	}
	e := &heldEntry{Hold: h}
	b.by[h.Order] = e
	heap.Push(&b.queue, e)
	b.next.Store(b.queue[0].Expires)
	return true
}

func (b *memHolds) Settle(order string, paid bool, now int64) (Hold, bool) {
	b.mu.Lock()
	e := b.by[order]
	if e == nil || e.Expires <= now {
		b.mu.Unlock()
		b.Expire(now) // an expired hold is given back by Expire, not twice
		return Hold{}, false
	}
	b.removeLocked(e)
	b.mu.Unlock()
	if !paid {
		b.store.Add(e.Count, -e.Units, e.TTL, now)
	}
	return e.Hold, true
}

// Expire costs one atomic load when no hold is due, so the stock gate
// calls it on every attempt: units come back to the next buyer without a
// timer goroutine, on any clock the requests carry.
func (b *memHolds) Expire(now int64) int {
	if now < b.next.Load() {
		return 0
	}
	n := 0
	for {
		b.mu.Lock()
		if len(b.queue) == 0 || b.queue[0].Expires > now {
			b.mu.Unlock()
			return n
		}
		e := b.queue[0]
		b.removeLocked(e)
		b.mu.Unlock()
		b.store.Add(e.Count, -e.Units, e.TTL, now)
		n++
	}
}

func (b *memHolds) Lookup(order string, now int64) (Hold, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.by[order]
	if e == nil || e.Expires <= now {
		return Hold{}, false
	}
	return e.Hold, true
}

func (b *memHolds) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.by)
}

func (b *memHolds) removeLocked(e *heldEntry) {
	delete(b.by, e.Order)
	heap.Remove(&b.queue, e.index)
	if len(b.queue) == 0 {
		b.next.Store(1<<63 - 1)
	} else {
		b.next.Store(b.queue[0].Expires)
	}
}

// holdHeap is a min-heap of holds by Expires (container/heap).
type holdHeap []*heldEntry

func (h holdHeap) Len() int           { return len(h) }
func (h holdHeap) Less(i, j int) bool { return h[i].Expires < h[j].Expires }
func (h holdHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *holdHeap) Push(x any) {
	e := x.(*heldEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *holdHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
