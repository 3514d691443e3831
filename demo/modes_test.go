package demo

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// fakeClock is an order clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type orderAnswer struct {
	OK        bool
	Error     string
	Order     int64
	State     string
	ExpiresIn int64 `json:"expires_in"`
}

func decodeOrder(t *testing.T, resp *fasthttp.Response) orderAnswer {
	t.Helper()
	var a orderAnswer
	if err := json.Unmarshal(resp.Body(), &a); err != nil {
		t.Fatalf("answer %d %q: %v", resp.StatusCode(), resp.Body(), err)
	}
	return a
}

// TestThreeModesCrowd: 100 units, 2,000 buyers, a third of those who get
// an order abandon it (in ModeReserve half of them just walk away and let
// the hold run out). Their units go back on sale and are bought by
// others: in every mode exactly 100 units end up paid, stock never goes
// below zero, and nothing is sold twice.
func TestThreeModesCrowd(t *testing.T) {
	for _, mode := range []Mode{ModeOrder, ModePayment, ModeReserve} {
		t.Run(string(mode), func(t *testing.T) {
			const units, buyers = 100, 2000
			var clock fakeClock
			clock.ns.Store(fixedNow.UnixNano())
			s, base, c := startShop(t, Options{Items: 1, Stock: units, Mode: mode, HoldWindow: time.Minute, Clock: clock.now})

			var minStock atomic.Int64
			minStock.Store(units)
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { // stock is never seen below zero
				defer close(sampled)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if v := int64(s.Stock(1)); v < minStock.Load() {
						minStock.Store(v)
					}
				}
			}()

			var paidAnswers, abandoned atomic.Int64
			done := make([]atomic.Bool, buyers) // paid or abandoned
			for round := 0; round < 8 && paidAnswers.Load() < units; round++ {
				var wg sync.WaitGroup
				for i := range buyers {
					if done[i].Load() {
						continue
					}
					wg.Go(func() {
						user := map[string]string{"X-User-Id": "buyer" + strconv.Itoa(i)}
						for {
							resp := do(t, c, base, request{method: "POST", path: "/buy/1", headers: user})
							if resp.StatusCode() != 200 {
								return // sold out for now
							}
							o := decodeOrder(t, resp)
							pay := "/pay/" + strconv.FormatInt(o.Order, 10)
							if i%3 == 0 {
								done[i].Store(true)
								abandoned.Add(1)
								if mode == ModeReserve && i%2 == 0 {
									return // walks away: the hold runs out
								}
								if r := do(t, c, base, request{method: "POST", path: pay, body: "action=cancel", headers: user}); r.StatusCode() != 200 {
									t.Errorf("cancel %s: %d %s", pay, r.StatusCode(), r.Body())
								}
								return
							}
							r := do(t, c, base, request{method: "POST", path: pay, headers: user})
							if r.StatusCode() == 200 {
								paidAnswers.Add(1)
								done[i].Store(true)
								return
							}
							if mode != ModePayment {
								t.Errorf("%s: paying an order that holds its unit: %d %s", pay, r.StatusCode(), r.Body())
								return
							}
							// ModePayment: gone at checkout; try again.
						}
					})
				}
				wg.Wait()
				clock.advance(time.Minute + time.Second) // holds of walk-aways end
			}
			close(stop)
			<-sampled

			if got := paidAnswers.Load(); got != units || s.Paid(1) != units {
				t.Fatalf("paid answers %d, shop's paid %d, want %d", got, s.Paid(1), units)
			}
			if s.Stock(1) != 0 || s.Sold(1) != units {
				t.Errorf("stock %d sold %d, want 0 and %d", s.Stock(1), s.Sold(1), units)
			}
			if minStock.Load() < 0 {
				t.Errorf("stock was seen at %d", minStock.Load())
			}
			if abandoned.Load() < units/4 {
				t.Errorf("only %d orders were abandoned: the test did not exercise giving units back", abandoned.Load())
			}
		})
	}
}

// TestReserveHoldEnds: an unpaid order in ModeReserve holds its unit for
// the window, then gives it back; paying after that is refused.
func TestReserveHoldEnds(t *testing.T) {
	var clock fakeClock
	clock.ns.Store(fixedNow.UnixNano())
	s, base, c := startShop(t, Options{Items: 1, Stock: 1, Mode: ModeReserve, HoldWindow: 2 * time.Minute, Clock: clock.now})
	ann := map[string]string{"X-User-Id": "ann"}
	o := decodeOrder(t, do(t, c, base, request{method: "POST", path: "/buy/1", headers: ann}))
	if o.ExpiresIn != 120 {
		t.Fatalf("expires_in = %d, want 120", o.ExpiresIn)
	}
	if r := do(t, c, base, request{method: "POST", path: "/buy/1", headers: map[string]string{"X-User-Id": "bob"}}); r.StatusCode() != 409 {
		t.Fatalf("second buyer while held: %d, want 409", r.StatusCode())
	}
	clock.advance(2 * time.Minute)
	if s.Stock(1) != 0 {
		t.Fatal("the hold ended before anyone asked: units come back lazily, at the next request")
	}
	page := do(t, c, base, request{path: "/pay/" + strconv.FormatInt(o.Order, 10), headers: ann})
	if a := decodeOrder(t, page); a.State != "expired" || s.Stock(1) != 1 {
		t.Fatalf("after the window: %+v, stock %d; want expired and 1", a, s.Stock(1))
	}
	r := do(t, c, base, request{method: "POST", path: "/pay/" + strconv.FormatInt(o.Order, 10), headers: ann})
	if a := decodeOrder(t, r); r.StatusCode() != 409 || a.Error != "not_pending" || s.Paid(1) != 0 {
		t.Fatalf("paying an expired order: %d %s, paid %d", r.StatusCode(), r.Body(), s.Paid(1))
	}
}

// TestPayOnlyOwnOrderOnce: another user cannot pay or cancel an order, and
// paying twice sells once.
func TestPayOnlyOwnOrderOnce(t *testing.T) {
	s, base, c := startShop(t, Options{Items: 1, Stock: 5, Mode: ModePayment})
	ann := map[string]string{"X-User-Id": "ann"}
	o := decodeOrder(t, do(t, c, base, request{method: "POST", path: "/buy/1", headers: ann}))
	if s.Stock(1) != 5 {
		t.Fatalf("ModePayment took stock at order time: %d left", s.Stock(1))
	}
	pay := "/pay/" + strconv.FormatInt(o.Order, 10)
	for _, act := range []string{"action=pay", "action=cancel"} {
		if r := do(t, c, base, request{method: "POST", path: pay, body: act, headers: map[string]string{"X-User-Id": "mallory"}}); r.StatusCode() != 404 {
			t.Errorf("mallory %s: %d, want 404", act, r.StatusCode())
		}
	}
	if r := do(t, c, base, request{method: "POST", path: pay, headers: ann}); r.StatusCode() != 200 {
		t.Fatalf("pay: %d %s", r.StatusCode(), r.Body())
	}
	if r := do(t, c, base, request{method: "POST", path: pay, headers: ann}); r.StatusCode() != 409 {
		t.Fatalf("pay again: %d %s", r.StatusCode(), r.Body())
	}
	if s.Paid(1) != 1 || s.Stock(1) != 4 {
		t.Fatalf("paid %d stock %d, want 1 and 4", s.Paid(1), s.Stock(1))
	}
}

// TestIdempotencyKey: a repeated Idempotency-Key gets the first answer
// and buys nothing more, also when the retries race the first request.
func TestIdempotencyKey(t *testing.T) {
	s, base, c := startShop(t, Options{Items: 1, Stock: 10})
	hdr := map[string]string{"X-User-Id": "ann", "Idempotency-Key": "ticket-1"}
	var wg sync.WaitGroup
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Go(func() {
			r := do(t, c, base, request{method: "POST", path: "/buy/1", headers: hdr})
			bodies[i] = strconv.Itoa(r.StatusCode()) + " " + string(r.Body())
		})
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("answers differ: %q vs %q", b, bodies[0])
		}
	}
	if s.Sold(1) != 1 {
		t.Fatalf("20 requests with one key sold %d", s.Sold(1))
	}
	hdr["Idempotency-Key"] = "ticket-2"
	do(t, c, base, request{method: "POST", path: "/buy/1", headers: hdr})
	if s.Sold(1) != 2 {
		t.Fatalf("a new key did not buy: sold %d", s.Sold(1))
	}
}
