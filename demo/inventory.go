package demo

import "sync/atomic"

// inventory holds the stock and sales counters of every item. Item ids are
// 1..len(stock); index 0 is unused so an id indexes directly.
//
// It is safe for concurrent use. The only way stock goes down is take, an
// atomic conditional decrement, so stock never goes below zero; give
// returns units of an order that was not paid. stock+sold only changes
// through set. paid counts the units of paid orders (see Mode).
type inventory struct {
	stock []atomic.Int64
	sold  []atomic.Int64
	paid  []atomic.Int64
}

func newInventory(items, stock int) *inventory {
	inv := &inventory{
		stock: make([]atomic.Int64, items+1),
		sold:  make([]atomic.Int64, items+1),
		paid:  make([]atomic.Int64, items+1),
	}
	for id := 1; id <= items; id++ {
		inv.stock[id].Store(int64(stock))
	}
	return inv
}

// valid reports whether id names an item.
func (inv *inventory) valid(id int) bool { return id >= 1 && id < len(inv.stock) }

// take removes n units of item id if at least n are left, the equivalent of
// `UPDATE item SET inventory = inventory - n WHERE id = ? AND inventory >= n`.
// It returns the units left after the attempt and whether it succeeded.
// A compare-and-swap loop (rather than Add then undo) means a concurrent
// reader never observes a negative stock, even transiently.
func (inv *inventory) take(id int, n int64) (left int64, ok bool) {
	s := &inv.stock[id]
	for {
		cur := s.Load()
		if cur < n {
			return cur, false
		}
		if s.CompareAndSwap(cur, cur-n) {
			inv.sold[id].Add(n)
			return cur - n, true
		}
	}
}

// give puts back n units that take removed for an order that was
// cancelled or whose hold expired.
func (inv *inventory) give(id int, n int64) {
	inv.sold[id].Add(-n)
	inv.stock[id].Add(n)
}

func (inv *inventory) left(id int) int64 { return inv.stock[id].Load() }

func (inv *inventory) soldOf(id int) int64 { return inv.sold[id].Load() }

// set replaces the stock of item id (a restock); sales are kept.
func (inv *inventory) set(id int, n int64) { inv.stock[id].Store(n) }
