package demo

import (
	"cmp"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Bounds of the shop's options.
const (
	DefaultItems = 12
	DefaultStock = 100
	// MaxItems bounds the catalogue: pages are rendered once in New and
	// kept in memory, so the size of the shop is the size of its memory.
	MaxItems = 1000
	// MaxSlow caps /slow?ms=N, so a demo of gateway timeouts cannot pin
	// a connection for longer than this.
	MaxSlow = 30 * time.Second
)

// Options configures a Shop. The zero value is a shop of DefaultItems items
// with DefaultStock units each and the wall clock.
type Options struct {
	// Items is the number of items, with ids 1..Items. <= 0 means
	// DefaultItems; more than MaxItems is clamped to MaxItems.
	Items int
	// Stock is the initial stock of every item. <= 0 means DefaultStock;
	// use SetStock for a sold-out item.
	Stock int
	// Now is the clock, used for Last-Modified. nil means time.Now.
	Now func() time.Time
	// CaseInsensitive makes the shop route paths regardless of ASCII case,
	// as origins on case-insensitive routers do (so /BUY/1 buys item 1).
	// Tests use it to prove the gateway's filters cannot be bypassed by
	// changing the case of a path.
	CaseInsensitive bool
	// Mode is how stock goes down: ModeOrder (the zero value), ModePayment
	// or ModeReserve. Every mode pays at /pay/{order}.
	Mode Mode
	// HoldWindow is how long an unpaid order holds its units in
	// ModeReserve. <= 0 means DefaultHoldWindow.
	HoldWindow time.Duration
	// MaxOrders bounds the orders the shop remembers (see orderBook).
	// <= 0 means DefaultMaxOrders.
	MaxOrders int
	// Confirm, when set, is told of every payment and cancellation, so a
	// gateway holding the order's units (stock mode reserve) releases them.
	Confirm *Confirm
	// Clock is the clock of orders (hold windows). nil means Now, else
	// time.Now.
	Clock func() time.Time
}

// Shop is the demo origin. Create it with New; the zero value is not usable.
// All methods are safe for concurrent use.
type Shop struct {
	items    []item // index 0 unused
	inv      *inventory
	pages    *pages
	caseFold bool
	healthy  atomic.Bool
	mode     Mode
	orders   *orderBook
	clock    func() time.Time
	confirm  *confirmer
	idem     *idempotency

	srv      *fasthttp.Server
	done     chan struct{} // closed by Shutdown: ends /slow sleeps early
	shutOnce sync.Once
}

// New builds a shop and renders its static pages. It never fails: out of
// range options are replaced as Options documents.
func New(opts Options) *Shop {
	n := opts.Items
	switch {
	case n <= 0:
		n = DefaultItems
	case n > MaxItems:
		n = MaxItems
	}
	stock := opts.Stock
	if stock <= 0 {
		stock = DefaultStock
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Shop{
		items:    newCatalog(n),
		inv:      newInventory(n, stock),
		caseFold: opts.CaseInsensitive,
		done:     make(chan struct{}),
		mode:     opts.Mode,
		clock:    opts.Clock,
		idem:     newIdempotency(maxIdempotencyKeys),
	}
	if s.mode == "" {
		s.mode = ModeOrder
	}
	if s.clock == nil {
		s.clock = now
	}
	s.orders = newOrderBook(s.inv, cmp.Or(max(opts.MaxOrders, 0), DefaultMaxOrders), s.holdWindow(opts.HoldWindow))
	s.confirm = newConfirmer(opts.Confirm)
	s.healthy.Store(true)
	s.pages = renderPages(s.items, now().UTC().Truncate(time.Second))
	s.srv = &fasthttp.Server{
		Handler: s.Handler(),
		Name:    "flashgate-demo-shop",
		// Above the gateway's idle keep-alive (30s by default) so that the
		// gateway, not the origin, closes idle connections: the other way
		// round the gateway writes into a closed socket and gets a reset.
		IdleTimeout:        120 * time.Second,
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       MaxSlow + 10*time.Second,
		MaxRequestBodySize: 64 << 10,
	}
	return s
}

func (s *Shop) holdWindow(w time.Duration) time.Duration {
	if s.mode != ModeReserve {
		return 0
	}
	if w <= 0 {
		return DefaultHoldWindow
	}
	return w
}

// Handler returns the shop's request handler, for use with any fasthttp
// server or an in-memory listener.
func (s *Shop) Handler() fasthttp.RequestHandler { return s.handle }

// Serve serves the shop on ln until Shutdown. It returns nil after Shutdown.
func (s *Shop) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Shutdown stops accepting connections, ends pending /slow sleeps and waits
// for in-flight requests to finish. It is safe to call more than once.
func (s *Shop) Shutdown() {
	s.shutOnce.Do(func() { close(s.done) })
	// The only error is from closing listeners that are already closed:
	// nothing is left to clean up either way.
	_ = s.srv.Shutdown()
}

// Items returns the number of items; ids are 1..Items().
func (s *Shop) Items() int { return len(s.items) - 1 }

// Stock returns the units of item id left, or -1 for an unknown id.
func (s *Shop) Stock(id int) int {
	if !s.inv.valid(id) {
		return -1
	}
	return int(s.inv.left(id))
}

// Sold returns the units of item id sold so far, or -1 for an unknown id.
func (s *Shop) Sold(id int) int {
	if !s.inv.valid(id) {
		return -1
	}
	return int(s.inv.soldOf(id))
}

// Paid returns the units of item id in paid orders, or -1 for an unknown
// id. In ModeOrder and ModeReserve, Sold counts units taken by orders not
// (yet) paid as well.
func (s *Shop) Paid(id int) int {
	if !s.inv.valid(id) {
		return -1
	}
	return int(s.inv.paid[id].Load())
}

// Mode returns the shop's stock reduction mode.
func (s *Shop) Mode() Mode { return s.mode }

// SetStock sets the units of item id left (a restock, or 0 for sold out)
// and reports whether id names an item. Negative n is treated as 0.
func (s *Shop) SetStock(id, n int) bool {
	if !s.inv.valid(id) {
		return false
	}
	s.inv.set(id, int64(max(n, 0)))
	return true
}

// SetHealthy makes /health answer 200 (true, the initial state) or 503, to
// demonstrate the gateway's active health checks.
func (s *Shop) SetHealthy(ok bool) { s.healthy.Store(ok) }
