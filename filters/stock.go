package filters

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// stockSpec is the "stock" filter's spec:
//
//	stock:
//	  param: id                 # route parameter naming the item (default "id")
//	  stock: {"1": 100}         # units per item; SetStock changes it at run time
//	  overbook: 1.2             # let through stock × overbook attempts (default 1)
//	  mode: total               # total (attempts ever) | in_flight (attempts awaiting the origin)
//	                            # | reserve (in_flight, then held for an accepted order; see reserveSpec)
//	  sold_out: {status: 409, header: X-Sold-Out, body_contains: sold_out, ttl: 24h}
//	  ttl: 168h                 # how long attempt counts live (default 7 days)
//	  group: singles-day        # routes naming one group share stock, counts and sold-out marks;
//	                            # give them the same stock and overbook
//	  quantity: {form: qty, max: 5}  # an attempt takes its units, not 1 (see quantitySpec)
//
// The shop stays the source of truth: the gate only stops attempts that
// cannot succeed. Items without a stock entry are not gated by count, but
// are still answered at the edge once the origin says they are sold out.
// When the Store is too full to track an item's count, attempts are
// refused (503 state_full) rather than let through uncounted.
type stockSpec struct {
	Param    string           `yaml:"param"`
	Stock    map[string]int64 `yaml:"stock"`
	Overbook float64          `yaml:"overbook"`
	Mode     string           `yaml:"mode"`
	SoldOut  soldOutSpec      `yaml:"sold_out"`
	TTL      rules.Duration   `yaml:"ttl"`
	Group    string           `yaml:"group"`
	Quantity quantitySpec     `yaml:"quantity"`
	Reserve  *reserveSpec     `yaml:"reserve"`
}

// soldOutSpec recognises the origin's sold-out answer: every configured
// marker must match (a 409 alone may be another conflict).
type soldOutSpec struct {
	Status       int            `yaml:"status"`
	Header       string         `yaml:"header"`
	BodyContains string         `yaml:"body_contains"`
	TTL          rules.Duration `yaml:"ttl"`
}

// stockState is the process-local stock of one route's gate, kept across
// reloads in the Env. items is copied on write (SetStock is rare).
type stockState struct {
	mu       sync.Mutex
	items    atomic.Pointer[map[string]*itemStock]
	rules    map[string]int64 // the rule values last applied, to tell rule edits from SetStock
	overbook float64          // guarded by mu
}

// itemStock is one item's stock and let-through budget, stock × overbook
// rounded up. stock is guarded by stockState.mu; limit is read per request.
type itemStock struct {
	stock int64
	limit atomic.Int64
}

// stockGate is the stock gate filter. Immutable after compile.
type stockGate struct {
	env      *Env
	store    Store
	route    string
	param    string
	state    *stockState
	overbook float64
	inFlight bool
	hold     uint8
	prefix   uint64
	soldTTL  int64
	soldOut  soldOutSpec
	header   []byte
	body     []byte
	ttl      int64
	qty      quantity
	sold     *Rejection
	spent    *Rejection
	busy     *Rejection
	badQty   *Rejection
	full     *Rejection
	soldOuts *metrics.Counter // items this instance marked sold out
	reserve  *reserveGate     // mode reserve; nil otherwise
}

var (
	_ Observer = (*stockGate)(nil)
	_ Canceler = (*stockGate)(nil)
)

func newStock(b *Build) (Filter, error) {
	var spec stockSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	g := &stockGate{env: b.Env, store: b.Store(), route: b.Route, param: spec.Param,
		overbook: spec.Overbook, soldOut: spec.SoldOut, soldTTL: int64(24 * time.Hour), ttl: int64(7 * 24 * time.Hour)}
	if g.param == "" {
		g.param = "id"
	}
	if g.overbook == 0 {
		g.overbook = 1
	}
	// Independent values: each wrong one is reported, then the spec fails.
	if g.overbook < 1 || g.overbook > 100 || math.IsNaN(g.overbook) {
		b.Problem("overbook", "must be within 1..100, got %v", spec.Overbook)
	}
	switch spec.Mode {
	case "", "total":
	case "in_flight", "reserve":
		g.inFlight = true
	default:
		b.Problem("mode", "unknown %q (known: total, in_flight, reserve)", spec.Mode)
	}
	if (spec.Mode == "reserve") != (spec.Reserve != nil) {
		b.Problem("reserve", "give reserve: with mode reserve, and only then")
	}
	if s := spec.SoldOut; s.Status == 0 && s.Header == "" && s.BodyContains == "" {
		b.Problem("sold_out", "say how the origin answers sold out: status, header and/or body_contains")
	}
	if s := spec.SoldOut.Status; s != 0 && (s < 100 || s > 599) {
		b.Problem("sold_out.status", "%d is not an HTTP status", s)
	}
	// Counters live a fixed span from creation (cluster.Store.Add): it must
	// outlast the sale, or counts restart mid-sale (and in-flight releases
	// of the old span would drive the new one negative).
	if t := spec.TTL.Duration(); t > 0 {
		g.ttl = int64(t)
	}
	if t := spec.SoldOut.TTL.Duration(); t > 0 {
		g.soldTTL = int64(t)
	}
	g.header, g.body = []byte(spec.SoldOut.Header), []byte(spec.SoldOut.BodyContains)
	for item, n := range spec.Stock {
		if n < 0 {
			b.Problem("stock."+item, "must be 0 or more, got %d", n)
		}
	}
	var err error
	if g.qty, err = b.quantity(spec.Quantity, "quantity"); err != nil {
		return nil, err
	}
	if err := b.Problems(); err != nil {
		return nil, err
	}
	if g.hold, err = b.HoldBit(); err != nil {
		return nil, err
	}
	mode := spec.Mode
	if mode == "" {
		mode = "total"
	}
	id := b.GroupStateID(spec.Group, g.param, mode)
	g.prefix = id.Key()
	g.state = b.Env.State(id, func() any { return &stockState{} }).(*stockState)
	if spec.Reserve != nil {
		if err := g.buildReserve(b, *spec.Reserve, id); err != nil {
			return nil, err
		}
	}
	// Rule stock takes effect when the compile is committed, not while a
	// compile that may still fail runs beside the serving snapshot.
	b.Env.onCommit(func() { g.state.applyRules(spec.Stock, g.overbook) })
	b.Env.setStockGate(b.Route, g)
	g.soldOuts = b.Env.Metrics.GetOrCreateCounter(`flashgate_filter_sold_out_total{route=` + quoteLabel(b.Route) + `}`)
	return g, g.rejections(b)
}

func (g *stockGate) rejections(b *Build) (err error) {
	if g.sold, err = b.Reject(RejectSpec{Reason: "sold_out", Status: 410, Title: "Sold out",
		Message: "This item is sold out."}); err != nil {
		return err
	}
	if g.spent, err = b.Reject(RejectSpec{Reason: "stock_exhausted", Status: 410, Title: "Sold out",
		Message: "Every unit of this item has been claimed. If a purchase falls through it may come back."}); err != nil {
		return err
	}
	if g.busy, err = b.Reject(RejectSpec{Reason: "stock_busy", Status: 503, RetryAfter: 1, Title: "Almost sold out",
		Message: "Every remaining unit is being purchased right now. Try again in a moment: if a purchase fails, its unit comes back."}); err != nil {
		return err
	}
	if g.qty.src != 0 {
		if g.badQty, err = b.Reject(badQuantitySpec(g.qty.max)); err != nil {
			return err
		}
	}
	g.full, err = b.Reject(stateFullSpec)
	return err
}

// applyRules sets the items whose rule value changed since the last
// compile, so a reload keeps stock set through SetStock unless the rule
// itself was edited; a new overbook recomputes every item's budget.
func (s *stockState) applyRules(stock map[string]int64, overbook float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if overbook != s.overbook {
		s.overbook = overbook
		if m := s.items.Load(); m != nil {
			for _, it := range *m {
				it.limit.Store(budget(it.stock, overbook))
			}
		}
	}
	canon := make(map[string]int64, len(stock))
	for item, n := range stock {
		item = itemName(item)
		canon[item] = n
		if old, ok := s.rules[item]; !ok || old != n {
			s.setLocked(item, n)
		}
	}
	s.rules = canon
}

func budget(stock int64, overbook float64) int64 { return int64(math.Ceil(float64(stock) * overbook)) }

func (s *stockState) setLocked(item string, n int64) {
	cur := s.items.Load()
	it := (*itemStock)(nil)
	if cur != nil {
		it = (*cur)[item]
	}
	if it == nil {
		next := make(map[string]*itemStock, 1)
		if cur != nil {
			for k, v := range *cur {
				next[k] = v
			}
		}
		it = &itemStock{}
		next[item] = it
		s.items.Store(&next)
	}
	it.stock = n
	it.limit.Store(budget(n, s.overbook))
}

func (s *stockState) item(name []byte) *itemStock {
	m := s.items.Load()
	if m == nil {
		return nil
	}
	return (*m)[string(name)]
}

// SetStock sets the remaining stock of item on route's stock gate (admin
// API, shop webhooks): in mode total the attempts counted so far are
// forgotten, so n × overbook more attempts go through; a positive n also
// clears the item's sold-out mark. (Editing the rule's stock instead keeps
// the count: the rule states the sale's whole stock.) The value holds
// across reloads until the rule's own value for the item is edited. Safe
// for concurrent use.
func (e *Env) SetStock(route, item string, n int64) error {
	if n < 0 {
		return fmt.Errorf("stock of %s/%s must be 0 or more, got %d", route, item, n)
	}
	e.mu.Lock()
	g := e.stocks[route]
	e.mu.Unlock()
	if g == nil {
		return notFound("route %q has no stock filter", route)
	}
	item = itemName(item)
	g.state.mu.Lock()
	g.state.setLocked(item, n)
	g.state.mu.Unlock()
	if !g.inFlight {
		g.store.Forget(g.countKey([]byte(item)))
	}
	if n > 0 {
		g.store.Forget(g.soldKey([]byte(item)))
	}
	return nil
}

func (e *Env) setStockGate(route string, g *stockGate) {
	e.mu.Lock()
	e.pending[route] = g
	e.mu.Unlock()
}

func (g *stockGate) soldKey(item []byte) uint64  { return Mix(Mix(g.prefix, 's'), HashBytes(item)) }
func (g *stockGate) countKey(item []byte) uint64 { return Mix(Mix(g.prefix, 'c'), HashBytes(item)) }

// Check answers sold-out items at the edge and lets through at most the
// item's budget of units (one per attempt without quantity).
func (g *stockGate) Check(r *Request) Verdict {
	item := r.Item(g.param)
	if g.store.Flag(g.soldKey(item), r.Now) {
		return g.sold.Verdict()
	}
	it := g.state.item(item)
	if it == nil {
		return Continue
	}
	g.reserve.expire(r.Now)
	n, ok := g.qty.units(r)
	if !ok {
		return g.badQty.Verdict()
	}
	k := g.countKey(item)
	v, tracked := g.store.AddTracked(k, n, g.ttl, r.Now)
	switch {
	case !tracked:
		return g.full.Verdict()
	case v > it.limit.Load():
		g.store.Add(k, -n, g.ttl, r.Now)
		if g.inFlight {
			return g.busy.Verdict()
		}
		return g.spent.Verdict()
	}
	r.Hold(g.hold)
	return Continue
}

// units returns the units r's held attempt took (valid: Check counted it).
func (g *stockGate) units(r *Request) int64 {
	n, _ := g.qty.units(r)
	return n
}

// Cancel gives back the units of an attempt a later filter rejected.
func (g *stockGate) Cancel(r *Request) {
	if r.Release(g.hold) {
		g.store.Add(g.countKey(r.Item(g.param)), -g.units(r), g.ttl, r.Now)
	}
}

// Observe frees an in-flight slot and marks the item sold out when the
// origin says so; the first instance to mark it calls Env.OnSoldOut.
func (g *stockGate) Observe(r *Request, resp *fasthttp.Response) {
	item := r.Item(g.param)
	// An attempt the shop never received (r.NotSent) is given back in
	// every mode: counting it would sell the units it stood for to nobody.
	if r.Release(g.hold) && (g.inFlight || r.NotSent) && !g.reserve.keep(g, r, resp) {
		g.store.Add(g.countKey(item), -g.units(r), g.ttl, r.Now)
	}
	if !g.isSoldOut(resp) {
		return
	}
	// Untracked, the mark is lost (the count still gates the item), and
	// announcing it at every sold-out answer would purge in a loop.
	if first, _ := g.store.SetFlag(g.soldKey(item), g.soldTTL, r.Now); first {
		g.soldOuts.Inc()
		g.env.Log.LogAttrs(r.Ctx, slog.LevelInfo, "item sold out",
			slog.String("route", g.route), slog.String("item", string(item)))
		if g.env.OnSoldOut != nil {
			g.env.OnSoldOut(g.route, string(item))
		}
	}
}

func (g *stockGate) isSoldOut(resp *fasthttp.Response) bool {
	s := g.soldOut
	if s.Status != 0 && resp.StatusCode() != s.Status {
		return false
	}
	if len(g.header) > 0 && len(resp.Header.PeekBytes(g.header)) == 0 {
		return false
	}
	return len(g.body) == 0 || bytes.Contains(resp.Body(), g.body)
}
