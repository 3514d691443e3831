package hotspot

import (
	"encoding/binary"
	"sync/atomic"
)

// maxKeyBytes is how much of a key a sample keeps for reporting; the hash
// covers the whole key, so longer keys are still counted apart.
const maxKeyBytes = 64

const slotWords = maxKeyBytes / 8

// slot is one sample. Every field is atomic so that a reader racing a
// writer that lapped the ring sees torn data it can detect (seq changed),
// never a data race.
type slot struct {
	seq  atomic.Uint64 // 2*index+2 when the sample at index is complete; odd while written
	hash atomic.Uint64
	meta atomic.Uint64 // kind<<8 | key length
	key  [slotWords]atomic.Uint64
}

// ring hands samples from request goroutines to the analysis goroutine:
// writers claim a slot with one atomic add and never wait; the reader
// drops what writers overwrote before it got there (counted). Fixed
// size, so memory does not grow with load.
type ring struct {
	slots []slot
	mask  uint64
	w     atomic.Uint64 // next index to write
	r     uint64        // next index to read; reader only
}

func newRing(size int) *ring {
	n := 1
	for n < size {
		n <<= 1
	}
	return &ring{slots: make([]slot, n), mask: uint64(n - 1)}
}

// put records one sample. Lock-free and allocation-free.
func (q *ring) put(k Kind, h uint64, key []byte) {
	i := q.w.Add(1) - 1
	s := &q.slots[i&q.mask]
	s.seq.Store(2*i + 1)
	s.hash.Store(h)
	n := min(len(key), maxKeyBytes)
	s.meta.Store(uint64(k)<<8 | uint64(n))
	var w [8]byte
	for j := 0; j*8 < n; j++ {
		clear(w[:])
		copy(w[:], key[j*8:n])
		s.key[j].Store(binary.LittleEndian.Uint64(w[:]))
	}
	s.seq.Store(2*i + 2)
}

// sample is a sample as the reader sees it.
type sample struct {
	kind Kind
	hash uint64
	n    int
	key  [maxKeyBytes]byte
}

// drain calls f for every complete sample written since the last drain,
// and returns how many were lost to overwriting or still being written.
func (q *ring) drain(f func(*sample)) (lost uint64) {
	end := q.w.Load()
	if end-q.r > uint64(len(q.slots)) {
		lost += end - q.r - uint64(len(q.slots))
		q.r = end - uint64(len(q.slots))
	}
	var sm sample
	for ; q.r < end; q.r++ {
		s := &q.slots[q.r&q.mask]
		want := 2*q.r + 2
		if s.seq.Load() != want {
			lost++
			continue
		}
		sm.hash = s.hash.Load()
		meta := s.meta.Load()
		sm.kind, sm.n = Kind(meta>>8), int(meta&0xff)
		for j := 0; j*8 < sm.n; j++ {
			binary.LittleEndian.PutUint64(sm.key[j*8:], s.key[j].Load())
		}
		if s.seq.Load() != want { // overwritten while copied
			lost++
			continue
		}
		f(&sm)
	}
	return lost
}
