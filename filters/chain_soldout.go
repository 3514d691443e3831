package filters

// SoldOut reports whether a stock gate of the chain knows r's item is sold
// out (the shop said so; the mark is shared like the gate's other state).
// The asynchronous purchase queue asks it before delivering a queued
// purchase, so that once an item is sold out its pending purchases are
// answered at the edge. 0 allocs.
func (c *Chain) SoldOut(r *Request) bool {
	if c == nil {
		return false
	}
	for _, f := range c.filters {
		if g, ok := f.(*stockGate); ok && g.store.Get(g.soldKey(r.Item(g.param)), r.Now) > 0 {
			return true
		}
	}
	return false
}
