package demo

import (
	"fmt"
	"sync"
	"time"
)

// Mode is how the shop's stock goes down: the three practices of flash
// sales (see docs/admission.md, "Three ways to reduce stock").
type Mode string

const (
	// ModeOrder takes the units when the order is placed: the buyer who
	// got an order is sure to be able to pay, but orders that are never
	// paid keep their units until cancelled.
	ModeOrder Mode = "order"
	// ModePayment takes the units when the order is paid: nothing is held
	// by buyers who never pay, but a buyer who ordered may find the item
	// gone at checkout.
	ModePayment Mode = "payment"
	// ModeReserve takes the units when the order is placed and gives them
	// back if it is not paid within the hold window (pre-reservation).
	ModeReserve Mode = "reserve"
)

// ParseMode returns the mode named s ("" is ModeOrder).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeOrder:
		return ModeOrder, nil
	case ModePayment, ModeReserve:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown stock reduction mode %q (known: order, payment, reserve)", s)
}

// Defaults of the order book.
const (
	DefaultHoldWindow = 10 * time.Minute
	DefaultMaxOrders  = 1 << 18
)

type orderState uint8

const (
	orderPending orderState = iota
	orderPaid
	orderCancelled
	orderExpired
)

var orderStateNames = [...]string{"pending", "paid", "cancelled", "expired"}

func (s orderState) String() string { return orderStateNames[s] }

// order is one purchase. Guarded by its book's mutex.
type order struct {
	id      int64
	user    string
	item    int
	qty     int64
	taken   bool // its units were taken from stock (and not given back)
	state   orderState
	expires int64 // unix nanos; reserve mode only
}

// orderBook keeps the last max orders in a ring indexed by id. An order
// that falls out of the ring can no longer be paid or cancelled; in
// reserve mode its units are given back first (it is long expired unless
// max orders arrived within one window), in order mode they stay taken,
// which is that mode's cost. Safe for concurrent use.
type orderBook struct {
	mu     sync.Mutex
	ring   []*order
	next   int64 // the next order id; ids start at 1
	sweep  int64 // reserve mode: orders below this id are no longer pending
	inv    *inventory
	window int64 // reserve mode hold window; 0 in the other modes
}

func newOrderBook(inv *inventory, max int, window time.Duration) *orderBook {
	return &orderBook{ring: make([]*order, max), next: 1, sweep: 1, inv: inv, window: int64(window)}
}

// add records a new pending order and returns it.
func (b *orderBook) add(user []byte, item int, qty int64, taken bool, now int64) *order {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := &order{id: b.next, user: string(user), item: item, qty: qty, taken: taken}
	if b.window > 0 {
		o.expires = now + b.window
	}
	slot := &b.ring[o.id%int64(len(b.ring))]
	if old := *slot; old != nil && old.state == orderPending && old.taken && b.window > 0 {
		b.endLocked(old, orderExpired)
	}
	*slot = o
	b.next++
	return o
}

// get returns a copy of order id if the ring still holds it.
func (b *orderBook) get(id int64) (order, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o := b.lookupLocked(id); o != nil {
		return *o, true
	}
	return order{}, false
}

func (b *orderBook) lookupLocked(id int64) *order {
	if id < 1 || id >= b.next {
		return nil
	}
	o := b.ring[id%int64(len(b.ring))]
	if o == nil || o.id != id {
		return nil
	}
	return o
}

// expire gives back the units of pending orders whose hold window ended
// by now (reserve mode). Orders expire in id order, as the window is one
// for all, so the sweep stops at the first order still in its window.
func (b *orderBook) expire(now int64) {
	if b.window == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ; b.sweep < b.next; b.sweep++ {
		o := b.lookupLocked(b.sweep)
		if o == nil || o.state != orderPending {
			continue
		}
		if o.expires > now {
			return
		}
		b.endLocked(o, orderExpired)
	}
}

// endLocked ends a pending order without payment, giving back its units.
func (b *orderBook) endLocked(o *order, st orderState) {
	o.state = st
	if o.taken {
		b.inv.give(o.item, o.qty)
		o.taken = false
	}
}

// settleResult is the outcome of pay or cancel.
type settleResult uint8

const (
	settled      settleResult = iota
	notPending                // paid, cancelled or expired before
	outOfStock                // payment mode: the units were gone at checkout
	notYourOrder              // unknown id, or another user's order
)

// pay pays order id for user: in payment mode the units are taken now,
// with the same conditional decrement as at order time.
func (b *orderBook) pay(id int64, user []byte, now int64) (order, settleResult) {
	b.expire(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.lookupLocked(id)
	switch {
	case o == nil || o.user != string(user):
		return order{}, notYourOrder
	case o.state != orderPending:
		return *o, notPending
	}
	if !o.taken {
		if _, ok := b.inv.take(o.item, o.qty); !ok {
			o.state = orderCancelled
			return *o, outOfStock
		}
		o.taken = true
	}
	o.state = orderPaid
	b.inv.paid[o.item].Add(o.qty)
	return *o, settled
}

// cancel abandons order id for user, giving back its units.
func (b *orderBook) cancel(id int64, user []byte, now int64) (order, settleResult) {
	b.expire(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.lookupLocked(id)
	switch {
	case o == nil || o.user != string(user):
		return order{}, notYourOrder
	case o.state != orderPending:
		return *o, notPending
	}
	b.endLocked(o, orderCancelled)
	return *o, settled
}
