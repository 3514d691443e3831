package filters

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// What operators read and change at run time (the admin API, through the
// proxy): the stock gates' items and the waiting rooms. Every method is
// safe for concurrent use with requests and reloads.

// ErrNotFound matches (errors.Is) the errors that name a route, item or
// queue the serving rules do not have.
var ErrNotFound = errors.New("not found")

// notFoundError is a message that is ErrNotFound without saying so twice.
type notFoundError string

func (e notFoundError) Error() string        { return string(e) }
func (e notFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(format string, args ...any) error {
	return notFoundError(fmt.Sprintf(format, args...))
}

// ErrUnavailable matches (errors.Is) the errors of a change the shared
// store (Redis) did not take: nothing changed, and it may be tried again.
var ErrUnavailable = errors.New("shared store unavailable")

type unavailableError struct {
	msg string
	err error
}

func (e unavailableError) Error() string        { return e.msg + ": " + e.err.Error() }
func (e unavailableError) Is(target error) bool { return target == ErrUnavailable }
func (e unavailableError) Unwrap() error        { return e.err }

// StockItem is one item of a stock gate as the gate sees it now.
type StockItem struct {
	Route string `json:"route"`
	Item  string `json:"item"`
	// Stock is the units the gate knows of (the rule's or the last set).
	Stock int64 `json:"stock"`
	// Budget is how many units may be let through: stock × overbook.
	Budget int64 `json:"budget"`
	// Mode is total (Taken counts every attempt let through) or in_flight
	// (Taken counts the attempts awaiting the origin).
	Mode  string `json:"mode"`
	Taken int64  `json:"taken"`
	// Left is Budget - Taken, never negative: the units still let through.
	Left    int64 `json:"left"`
	SoldOut bool  `json:"sold_out"`
}

// StockItems lists the items with a stock number on every serving stock
// gate, by route and item. Items without a number are gated only by the
// origin's sold-out answer and are not listed (the store cannot be
// enumerated).
func (e *Env) StockItems() []StockItem {
	now := e.Now()
	var out []StockItem
	for _, g := range e.stockGates() {
		m := g.state.items.Load()
		if m == nil {
			continue
		}
		g.state.mu.Lock()
		for name, it := range *m {
			out = append(out, g.describe(name, it.stock, it.limit.Load(), now))
		}
		g.state.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Route != out[j].Route {
			return out[i].Route < out[j].Route
		}
		return out[i].Item < out[j].Item
	})
	return out
}

// StockItem returns one item of route's stock gate; ErrNotFound when the
// route has no stock gate or the gate no number for the item.
func (e *Env) StockItem(route, item string) (StockItem, error) {
	g, err := e.stockGate(route)
	if err != nil {
		return StockItem{}, err
	}
	item = itemName(item)
	it := g.state.item([]byte(item))
	if it == nil {
		return StockItem{}, notFound("route %q has no stock number for item %q", route, item)
	}
	g.state.mu.Lock()
	defer g.state.mu.Unlock()
	return g.describe(item, it.stock, it.limit.Load(), e.Now()), nil
}

func (g *stockGate) describe(item string, stock, budget, now int64) StockItem {
	s := StockItem{Route: g.route, Item: item, Stock: stock, Budget: budget, Mode: "total"}
	if g.inFlight {
		s.Mode = "in_flight"
	}
	s.Taken = g.store.Get(g.countKey([]byte(item)), now)
	s.Left = max(0, budget-s.Taken)
	s.SoldOut = g.store.Get(g.soldKey([]byte(item)), now) > 0
	return s
}

// AddStock adds delta units (negative takes away) to an item's stock, as
// SetStock(stock + delta) would; the result must not be negative.
func (e *Env) AddStock(route, item string, delta int64) error {
	cur, err := e.StockItem(route, item)
	if err != nil {
		return err
	}
	return e.SetStock(route, item, cur.Stock+delta)
}

// ResetStock gives an item back the stock its rule states and forgets the
// attempts counted and its sold-out mark: the sale of that item starts
// over. An item the rule does not name has no rule value: ErrNotFound.
func (e *Env) ResetStock(route, item string) error {
	g, err := e.stockGate(route)
	if err != nil {
		return err
	}
	item = itemName(item)
	g.state.mu.Lock()
	n, ok := g.state.rules[item]
	g.state.mu.Unlock()
	if !ok {
		return notFound("the rules of route %q give item %q no stock to reset to", route, item)
	}
	if err := e.SetStock(route, item, n); err != nil {
		return err
	}
	g.store.Forget(g.countKey([]byte(item)))
	g.store.Forget(g.soldKey([]byte(item)))
	return nil
}

func (e *Env) stockGate(route string) (*stockGate, error) {
	e.mu.Lock()
	g := e.stocks[route]
	e.mu.Unlock()
	if g == nil {
		return nil, notFound("route %q has no stock filter", route)
	}
	return g, nil
}

func (e *Env) stockGates() []*stockGate {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*stockGate, 0, len(e.stocks))
	for _, g := range e.stocks {
		out = append(out, g)
	}
	return out
}

// QueueStats is one waiting room now.
type QueueStats struct {
	// Name is the queue's group, or its route when it has none: the name
	// of its page /_flashgate/queue/<name>/status.
	Name    string `json:"name"`
	Waiting int    `json:"waiting"` // places in line, lobby included
	// Active and Admitted are this instance's: sessions admitted and not
	// over, admissions since the line was made. A line shared by every
	// instance (Shared, cluster: redis) counts them in Redis; Waiting is
	// then the shared line's.
	Active    int     `json:"active"`
	Admitted  uint64  `json:"admitted"`
	AdmitRate float64 `json:"admit_rate_per_second"`
	MaxActive int     `json:"max_active"`
	Paused    bool    `json:"paused"`
	Shared    bool    `json:"shared"`
}

// Queues lists the waiting rooms of the serving rules, by name.
func (e *Env) Queues() []QueueStats {
	var out []QueueStats
	for name, q := range e.rooms() {
		out = append(out, q.stats(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PauseQueue stops (paused true) or resumes admissions from the named
// waiting room. While paused, arrivals still take places and admitted
// sessions run out; no credit for admissions builds up, so resuming does
// not let a burst in. The pause is kept across reloads that keep the line.
// A line shared through Redis is paused for every instance at once (and
// this instance's local line, used under on_failure: local, with it).
func (e *Env) PauseQueue(name string, paused bool) error {
	q := e.rooms()[name]
	if q == nil {
		return notFound("no waiting room named %q", name)
	}
	now := e.Now()
	if q.shared != nil {
		if err := q.shared.SetPaused(paused, now); err != nil {
			return unavailableError{fmt.Sprintf("waiting room %q is shared through Redis, which did not take the change", name), err}
		}
	}
	q.mu.Lock()
	q.paused = paused
	if !paused {
		q.lastCheck = max(q.lastCheck, now) // the pause saved no credit
	}
	q.mu.Unlock()
	return nil
}

// rooms returns the live waiting rooms by queue name. They are Env state
// under the route's name or "group:<group>" (see queue.compileWait), and a
// commit drops the rooms no filter claims, so every one listed serves.
func (e *Env) rooms() map[string]*waitingRoom {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]*waitingRoom{}
	for id, s := range e.states {
		if q, ok := s.v.(*waitingRoom); ok {
			out[strings.TrimPrefix(id.Route, "group:")] = q
		}
	}
	return out
}

func (q *waitingRoom) stats(name string) QueueStats {
	waiting, paused, shared := q.sharedState()
	q.mu.Lock()
	defer q.mu.Unlock()
	if !shared {
		waiting, paused = q.localLength(), q.paused
	}
	return QueueStats{
		Name: name, Waiting: waiting, Active: q.active, Admitted: q.admitted, AdmitRate: q.cfg.rate * 1e9,
		MaxActive: q.cfg.maxActive, Paused: paused, Shared: q.shared != nil,
	}
}
