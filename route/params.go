package route

// Params holds the parameters captured by Table.Match. It has a fixed
// capacity of MaxParams so that it can live on the stack or in a pooled
// per-request struct; the zero value is empty and ready to use.
//
// Values alias the path passed to Match: they are valid only as long as
// that buffer is (for fasthttp, until the request ends). Not safe for
// concurrent use.
type Params struct {
	n      int
	names  [MaxParams]string
	values [MaxParams][]byte
}

// Get returns the value captured for name, or nil if the matched pattern
// has no such parameter. A catch-all that matched nothing yields an empty,
// non-nil value.
func (p *Params) Get(name string) []byte {
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.values[i]
		}
	}
	return nil
}

// Len returns the number of captured parameters.
func (p *Params) Len() int { return p.n }

// At returns the i-th captured parameter (0 <= i < Len) in path order.
func (p *Params) At(i int) (name string, value []byte) { return p.names[i], p.values[i] }

// Reset empties p and drops its references to the request's path.
func (p *Params) Reset() {
	clear(p.values[:p.n])
	p.n = 0
}

// push appends a value during matching; names are filled in once the
// matching entry is known, since routes sharing a trie node may name the
// same position differently.
func (p *Params) push(v []byte) {
	p.values[p.n] = v
	p.n++
}
