package hotspot

import (
	"time"
	"unsafe"
)

const (
	unsafeSizeofCandidate = unsafe.Sizeof(candidate{})
	unsafeSizeofSlot      = unsafe.Sizeof(slot{})
)

// candidate is one key the top-K table tracks.
type candidate struct {
	hash     uint64
	kind     Kind
	n        int
	key      [maxKeyBytes]byte
	count    uint64    // window estimate at the last update
	hotSince time.Time // zero while cold
}

// topK keeps the heaviest keys seen, by their sketch estimate: a sampled
// key whose estimate beats the lightest candidate takes its place (the
// count-min "heavy hitters" scheme, in the spirit of space-saving, but
// with counts that come from the windowed sketch, so a key that stops
// cools and is evicted on its own). Fixed capacity; the index map never
// holds more than that many entries.
type topK struct {
	c     []candidate
	index map[uint64]int
}

func newTopK(capacity int) *topK {
	return &topK{c: make([]candidate, 0, capacity), index: make(map[uint64]int, capacity)}
}

// offer updates h's candidate with its current window count, or admits it
// in place of the lightest candidate when it is heavier. It returns the
// evicted candidate's hot state (for the cooling log), or nil.
func (t *topK) offer(sm *sample, count uint64) (evicted *candidate) {
	if i, ok := t.index[sm.hash]; ok {
		t.c[i].count = count
		return nil
	}
	if len(t.c) < cap(t.c) {
		t.c = append(t.c, candidate{})
		t.set(len(t.c)-1, sm, count)
		return nil
	}
	low := 0
	for i := range t.c {
		if t.c[i].count < t.c[low].count {
			low = i
		}
	}
	if count <= t.c[low].count {
		return nil
	}
	old := t.c[low]
	delete(t.index, old.hash)
	t.set(low, sm, count)
	if old.hotSince.IsZero() {
		return nil
	}
	return &old
}

func (t *topK) set(i int, sm *sample, count uint64) {
	t.c[i] = candidate{hash: sm.hash, kind: sm.kind, n: sm.n, key: sm.key, count: count}
	t.index[sm.hash] = i
}

func (t *topK) bytes() int { return cap(t.c)*int(unsafeSizeofCandidate) + cap(t.c)*16 }
