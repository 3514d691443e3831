package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/rules"
)

const holdSecret = "shop-and-gateway-share-this-key-32+"

const reserveRules = `
origins:
  shop: {servers: ["%s"], max_conns: 256, max_conn_wait: 20s}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - stock:
          stock: {"1": 100}
          mode: reserve
          sold_out: {status: 409, header: X-Sold-Out}
          reserve: {window: 1m, secret: "` + holdSecret + `"}
  - {name: pay, methods: [GET, POST], path: "/pay/{order}", origin: shop}
`

// shopClock is the one fake clock of the gateway and the shop.
type shopClock struct{ ns atomic.Int64 }

func (c *shopClock) now() time.Time { return time.Unix(0, c.ns.Load()) }

// TestReserveSale runs a sale through the gateway on loopback: the stock
// gate in mode reserve in front of the demo shop in mode reserve, which
// confirms payments and cancellations to the gateway. 100 units, 2,000
// buyers; a third of those who get an order abandon it (half cancel, half
// walk away until the hold ends). The returned units are sold to others:
// exactly 100 are paid, the gateway's holds all end, and buyers who came
// while every unit was held were answered at the edge.
func TestReserveSale(t *testing.T) {
	const units, buyers = 100, 2000
	var clock shopClock
	clock.ns.Store(time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC).UnixNano())
	shopLn, gwLn := listen(t), listen(t)
	gwBase := "http://" + gwLn.Addr().String()
	so := &saleShop{shop: demo.New(demo.Options{Items: 1, Stock: units, Mode: demo.ModeReserve, HoldWindow: time.Minute,
		Clock: clock.now, Confirm: &demo.Confirm{URL: gwBase + "/_flashgate/hold/buy", Secret: []byte(holdSecret)}})}
	shopSrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()[:min(len(ctx.Path()), 5)]) == "/buy/" {
			so.buys.Add(1)
		}
		so.shop.Handler()(ctx)
	}}
	go shopSrv.Serve(shopLn) //nolint:errcheck // returns when shut down
	t.Cleanup(func() { _ = shopSrv.Shutdown() })

	srv := loopbackGateway(t, gwLn, fmt.Sprintf(reserveRules, shopLn.Addr().String()), clock.now)
	c := &fasthttp.Client{MaxConnsPerHost: 128, MaxConnWaitTimeout: 30 * time.Second, MaxIdemponentCallAttempts: 1}

	post := func(path, user, body string) (int, []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI(gwBase + path)
		req.Header.SetCookie("uid", user)
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(body)
		if err := c.DoTimeout(req, resp, 20*time.Second); err != nil {
			t.Errorf("POST %s: %v", path, err)
			return 0, nil
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...)
	}

	var paid, abandoned, edgeBusy atomic.Int64
	done := make([]atomic.Bool, buyers)
	for round := 0; round < 8 && paid.Load() < units; round++ {
		var wg sync.WaitGroup
		for i := range buyers {
			if done[i].Load() {
				continue
			}
			wg.Go(func() {
				user := "buyer" + strconv.Itoa(i)
				status, body := post("/buy/1", user, "")
				if status == 503 && bytes.Contains(body, []byte("stock_busy")) {
					edgeBusy.Add(1)
				}
				if status != 200 {
					return
				}
				var o struct{ Order int64 }
				if err := json.Unmarshal(body, &o); err != nil || o.Order == 0 {
					t.Errorf("order answer %s: %v", body, err)
					return
				}
				pay := "/pay/" + strconv.FormatInt(o.Order, 10)
				done[i].Store(true)
				if i%3 == 0 {
					abandoned.Add(1)
					if i%2 == 0 {
						return // walks away
					}
					if s, b := post(pay, user, "action=cancel"); s != 200 {
						t.Errorf("cancel: %d %s", s, b)
					}
					return
				}
				if s, b := post(pay, user, ""); s != 200 {
					t.Errorf("pay %s: %d %s", pay, s, b)
					return
				}
				paid.Add(1)
			})
		}
		wg.Wait()
		clock.ns.Add(int64(time.Minute + time.Second))
	}
	if paid.Load() != units || so.shop.Paid(1) != units || so.shop.Stock(1) != 0 {
		t.Fatalf("paid answers %d, shop paid %d, stock %d; want %d, %d, 0", paid.Load(), so.shop.Paid(1), so.shop.Stock(1), units, units)
	}
	if abandoned.Load() < units/4 {
		t.Errorf("only %d abandoned orders: units were not given back often enough to test it", abandoned.Load())
	}
	if edgeBusy.Load() == 0 {
		t.Error("no attempt was answered stock_busy at the edge while every unit was held")
	}
	// The shop's signed confirmations reached the gateway: every paid
	// unit was released as paid there, and no hold is left.
	var m bytes.Buffer
	srv.WritePrometheus(&m)
	for _, want := range []string{
		`flashgate_stock_holds_released_total{route="buy",outcome="paid"} 100`,
		`flashgate_stock_holds{route="buy"} 0`,
	} {
		if !bytes.Contains(m.Bytes(), []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if n := so.buys.Load(); n > int64(units)*3 {
		t.Errorf("the shop saw %d purchase attempts for %d units and ~%d returned ones", n, units, abandoned.Load())
	}
}

// loopbackGateway serves the rules text on ln (a real listener, for
// clients outside the process: the shop's confirmations, a browser).
func loopbackGateway(t *testing.T, ln net.Listener, text string, now func() time.Time) *Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeRules(t, path, text)
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Config: cfg, ConfigPath: path, Now: now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
