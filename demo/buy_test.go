package demo

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestBuyNeverOversells sends 2000 concurrent purchases of an item with a
// stock of 100 over real connections: exactly 100 succeed, 1900 are told
// "sold out", and the stock never goes below zero.
func TestBuyNeverOversells(t *testing.T) {
	const stock, buyers = 100, 2000
	s, base, c := startShop(t, Options{Items: 3, Stock: stock})

	stop := make(chan struct{})
	var minSeen atomic.Int64
	minSeen.Store(stock)
	watched := make(chan struct{})
	go func() { // samples the stock while the buyers race
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if v := int64(s.Stock(2)); v < minSeen.Load() {
				minSeen.Store(v)
			}
			runtime.Gosched() // sample, do not starve the buyers on a 2-core box
		}
	}()

	var ok, soldOut, other atomic.Int64
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Go(func() {
			resp, err := send(c, base, request{method: "POST", path: "/buy/2", headers: map[string]string{"X-User-Id": "u" + strconv.Itoa(i)}})
			if err != nil {
				other.Add(1)
				t.Errorf("buyer %d: %v", i, err)
				return
			}
			body := string(resp.Body())
			switch {
			case resp.StatusCode() == 200 && strings.HasPrefix(body, `{"ok":true,"item":2,"qty":1,"left":`):
				ok.Add(1)
			case resp.StatusCode() == 409 && body == `{"error":"sold_out","item":2}` && string(resp.Header.Peek("X-Sold-Out")) == "1":
				soldOut.Add(1)
			default:
				other.Add(1)
				t.Errorf("unexpected answer %d %s", resp.StatusCode(), body)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watched

	if ok.Load() != stock || soldOut.Load() != buyers-stock || other.Load() != 0 {
		t.Errorf("answers: %d ok, %d sold out, %d other; want %d, %d, 0", ok.Load(), soldOut.Load(), other.Load(), stock, buyers-stock)
	}
	if s.Stock(2) != 0 || s.Sold(2) != stock {
		t.Errorf("after the sale: stock %d sold %d, want 0 and %d", s.Stock(2), s.Sold(2), stock)
	}
	if minSeen.Load() < 0 {
		t.Errorf("stock was observed at %d: oversold", minSeen.Load())
	}
	if s.Stock(1) != stock || s.Sold(1) != 0 {
		t.Errorf("another item changed: stock %d sold %d", s.Stock(1), s.Sold(1))
	}
}

// TestBuySequence walks one item from full to sold out with quantities.
func TestBuySequence(t *testing.T) {
	s, base, c := startShop(t, Options{Items: 2, Stock: 7})
	alice := map[string]string{"Cookie": "uid=alice"}
	steps := []struct {
		name        string
		req         request
		wantStatus  int
		wantBody    string
		wantSoldOut bool
		wantCart    string // "" = no Set-Cookie cart
	}{
		{"no user", request{method: "POST", path: "/buy/1"}, 401, `{"error":"login_required"}`, false, ""},
		{"GET is not a purchase", request{path: "/buy/1", headers: alice}, 405, `{"error":"method_not_allowed"}`, false, ""},
		{"unknown item", request{method: "POST", path: "/buy/9", headers: alice}, 404, `{"error":"unknown_item"}`, false, ""},
		{"qty too large", request{method: "POST", path: "/buy/1?qty=6", headers: alice}, 400, `{"error":"bad_qty"}`, false, ""},
		{"qty zero", request{method: "POST", path: "/buy/1?qty=0", headers: alice}, 400, `{"error":"bad_qty"}`, false, ""},
		{"five", request{method: "POST", path: "/buy/1?qty=5", headers: alice}, 200, `{"ok":true,"item":1,"qty":5,"left":2,"user":"alice","order":1,"pay":"/pay/1"}`, false, "1:5"},
		{
			"more than left is not sold out",
			request{method: "POST", path: "/buy/1?qty=3", headers: alice},
			409, `{"error":"insufficient_stock","item":1,"left":2}`, false, "",
		},
		{
			"form field qty, cart merged",
			request{method: "POST", path: "/buy/1", body: "qty=2", headers: map[string]string{"Cookie": "uid=alice; cart=2:1|1:5"}},
			200, `{"ok":true,"item":1,"qty":2,"left":0,"user":"alice","order":2,"pay":"/pay/2"}`, false, "2:1|1:7",
		},
		{"sold out", request{method: "POST", path: "/buy/1", headers: alice}, 409, `{"error":"sold_out","item":1}`, true, ""},
	}
	for _, st := range steps {
		resp := do(t, c, base, st.req)
		if resp.StatusCode() != st.wantStatus || string(resp.Body()) != st.wantBody {
			t.Fatalf("%s: got %d %s, want %d %s", st.name, resp.StatusCode(), resp.Body(), st.wantStatus, st.wantBody)
		}
		if got := string(resp.Header.Peek("X-Sold-Out")) == "1"; got != st.wantSoldOut {
			t.Errorf("%s: X-Sold-Out present = %v, want %v", st.name, got, st.wantSoldOut)
		}
		if got := string(resp.Header.Peek("Cache-Control")); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", st.name, got)
		}
		gotCart := string(resp.Header.PeekCookie("cart"))
		if st.wantCart == "" && gotCart != "" || st.wantCart != "" && !strings.HasPrefix(gotCart, "cart="+st.wantCart+";") {
			t.Errorf("%s: Set-Cookie cart = %q, want %q", st.name, gotCart, st.wantCart)
		}
	}
	if s.Stock(1) != 0 || s.Sold(1) != 7 {
		t.Errorf("stock %d sold %d, want 0 and 7", s.Stock(1), s.Sold(1))
	}
}

func TestBuyFromBrowserForm(t *testing.T) {
	s, base, c := startShop(t, Options{Items: 1, Stock: 1})
	browser := map[string]string{"Cookie": "uid=dan", "Accept": "text/html,application/xhtml+xml"}
	resp := do(t, c, base, request{method: "POST", path: "/buy/1", body: "qty=1", headers: browser})
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), "Order placed") {
		t.Fatalf("first purchase: %d\n%s", resp.StatusCode(), resp.Body())
	}
	resp = do(t, c, base, request{method: "POST", path: "/buy/1", body: "qty=1", headers: browser})
	if resp.StatusCode() != 409 || string(resp.Header.Peek("X-Sold-Out")) != "1" || !strings.Contains(string(resp.Body()), "is sold out") {
		t.Fatalf("second purchase: %d X-Sold-Out %q\n%s", resp.StatusCode(), resp.Header.Peek("X-Sold-Out"), resp.Body())
	}
	if s.SetStock(1, 3); s.Stock(1) != 3 {
		t.Fatalf("after SetStock(1, 3): Stock = %d", s.Stock(1))
	}
}

func TestStockAndSoldOfUnknownItems(t *testing.T) {
	s := New(Options{Items: 2})
	for _, id := range []int{-1, 0, 3} {
		if s.Stock(id) != -1 || s.Sold(id) != -1 || s.SetStock(id, 1) {
			t.Errorf("id %d: Stock %d Sold %d, want -1 and SetStock false", id, s.Stock(id), s.Sold(id))
		}
	}
}
