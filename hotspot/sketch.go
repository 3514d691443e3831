package hotspot

// sketch is a count-min sketch per time bucket over a sliding window: the
// window's count of a key is the sum of its per-bucket estimates. Each
// bucket is updated conservatively (only the counters at the key's
// current minimum grow), which keeps over-estimates from colliding keys
// small. Memory is buckets × depth × width counters, fixed at creation.
type sketch struct {
	width   uint64 // counters per row, a power of two
	depth   int
	buckets [][]uint32 // [bucket][row*width+col]
	cur     int        // bucket being written
}

const sketchDepth = 4

func newSketch(buckets, width int) *sketch {
	w := 1
	for w < width {
		w <<= 1
	}
	s := &sketch{width: uint64(w), depth: sketchDepth, buckets: make([][]uint32, buckets)}
	for i := range s.buckets {
		s.buckets[i] = make([]uint32, sketchDepth*w)
	}
	return s
}

// col returns the column of h in row r: each row takes other bits of a
// remixed hash, so the rows' collisions are independent.
func (s *sketch) col(h uint64, r int) uint64 {
	h ^= uint64(r+1) * 0x9e3779b97f4a7c15
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return uint64(r)*s.width + h&(s.width-1)
}

// add counts one occurrence of h in the current bucket.
func (s *sketch) add(h uint64) {
	b := s.buckets[s.cur]
	var idx [sketchDepth]uint64
	m := uint32(1<<32 - 1)
	for r := range s.depth {
		idx[r] = s.col(h, r)
		m = min(m, b[idx[r]])
	}
	for r := range s.depth {
		if b[idx[r]] == m {
			b[idx[r]] = m + 1
		}
	}
}

// estimate returns h's count over the whole window (never below the truth).
func (s *sketch) estimate(h uint64) uint64 {
	var total uint64
	var idx [sketchDepth]uint64
	for r := range s.depth {
		idx[r] = s.col(h, r)
	}
	for _, b := range s.buckets {
		m := uint32(1<<32 - 1)
		for r := range s.depth {
			m = min(m, b[idx[r]])
		}
		total += uint64(m)
	}
	return total
}

// rotate starts a new bucket, forgetting the oldest.
func (s *sketch) rotate() {
	s.cur = (s.cur + 1) % len(s.buckets)
	clear(s.buckets[s.cur])
}

func (s *sketch) bytes() int { return len(s.buckets) * s.depth * int(s.width) * 4 }
