package filters

// Cheap, final answers first. The stage order puts the quiz and the queue
// before the purchase limit and the stock gate, because those two reserve
// state that the origin's answer settles. But a buyer who has already
// bought their one unit, or who wants an item that is sold out, must not
// be asked to solve a question or wait in line only to be refused at the
// end. So when a filter asks the client to do something first (an interim
// refusal: quiz_*, queued, queue_required), the chain asks the final
// filters after it to Peek: would they refuse this request? If one would,
// its final answer is sent instead. Peeking reserves nothing.

// Peeker is implemented by filters whose refusal is final (the purchase
// limit is reached, the item is sold out): Peek reports the refusal Check
// would give now, without reserving anything. It must allocate nothing.
type Peeker interface {
	Peek(r *Request) Verdict
}

// interimReasons are the refusals that ask the client to do something and
// come back; the chain looks ahead of them.
var interimReasons = map[string]bool{
	"quiz_required": true, "quiz_invalid": true, "quiz_expired": true, "quiz_used": true,
	"queued": true, "queue_required": true,
}

// lookAhead returns the final refusal a filter after index i would give r,
// or v when none would.
func (c *Chain) lookAhead(r *Request, i int, v Verdict) Verdict {
	if !v.rej.interim {
		return v
	}
	for _, p := range c.peekers {
		if p.at <= i {
			continue
		}
		if f := p.Peek(r); f.rej != nil {
			return f
		}
	}
	return v
}

// peeker is a chain's Peeker and its index in the chain.
type peeker struct {
	Peeker
	at int
}

var (
	_ Peeker = (*purchaseLimit)(nil)
	_ Peeker = (*stockGate)(nil)
)

// Peek refuses when the user's purchases (and attempts in flight) already
// take max, counting this request's units, or its quantity is invalid.
func (f *purchaseLimit) Peek(r *Request) Verdict {
	n, ok := f.qty.units(r)
	if !ok {
		return f.badQty.Verdict()
	}
	if f.store.Get(f.key(r), r.Now)+n > f.max {
		return f.reject.Verdict()
	}
	return Continue
}

// Peek refuses an item marked sold out, and in mode total one whose every
// unit has been let through (in_flight attempts may still come back, so
// that refusal is not final).
func (g *stockGate) Peek(r *Request) Verdict {
	item := r.Item(g.param)
	if g.store.Get(g.soldKey(item), r.Now) > 0 {
		return g.sold.Verdict()
	}
	if it := g.state.item(item); it != nil && !g.inFlight && g.store.Get(g.countKey(item), r.Now) >= it.limit.Load() {
		return g.spent.Verdict()
	}
	return Continue
}
