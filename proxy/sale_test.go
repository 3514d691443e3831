package proxy

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/rules"
)

// saleShop is the demo shop on a real loopback listener, counting the
// purchase attempts that reach it (any case or spelling of /buy).
type saleShop struct {
	shop *demo.Shop
	addr string
	buys atomic.Int64
}

func startShop(t testing.TB, opts demo.Options) *saleShop {
	t.Helper()
	so := &saleShop{shop: demo.New(opts)}
	h := so.shop.Handler()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if bytes.HasPrefix(bytes.ToLower(ctx.Path()), []byte("/buy")) {
			so.buys.Add(1)
		}
		h(ctx)
	}}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	t.Cleanup(func() { _ = srv.Shutdown() })
	so.addr = ln.Addr().String()
	return so
}

// fileGateway writes yaml (with %s replaced by the shop's address) to a
// rule file, loads it as `flashgate` does and starts a gateway on it.
func fileGateway(t testing.TB, yaml, shopAddr string) (*gateway, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(yaml, shopAddr))
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatalf("rules.Load:\n%v", err)
	}
	return newGateway(t, cfg, Options{ConfigPath: path}), path
}

func writeRules(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// buy posts a purchase of item path as user uid and returns the answer.
func buy(t testing.TB, c *fasthttp.HostClient, method, path, uid string, hdr ...string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "application/json")
	if uid != "" {
		req.Header.SetCookie("uid", uid)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp := &fasthttp.Response{}
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Errorf("%s %s as %s: no answer: %v", method, path, uid, err)
		resp.SetStatusCode(0)
	}
	return resp
}

const saleRules = `
origins:
  shop: {servers: ["%s"], max_conns: 64}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - ratelimit: {rate: 2/s, burst: 1, key: "cookie:uid"}
      - purchase_limit: {max: 1, key: "cookie:uid"}
      - stock: {stock: {"1": 100}, overbook: 1.2, sold_out: {header: X-Sold-Out}}
`

// TestSaleEndToEnd is the flash sale of the issue: 20 000 purchase
// attempts for 100 units from 2 000 users through the gateway, 64 at a
// time. The shop sees at most stock × overbook attempts, sells exactly its
// 100 units (never more, one per user) and every client gets a clear
// answer: a purchase, or a rejection naming its filter, never a 5xx.
func TestSaleEndToEnd(t *testing.T) {
	const (
		users    = 2000
		attempts = 20000
		workers  = 64
		stock    = 100
	)
	so := startShop(t, demo.Options{Items: 3, Stock: stock})
	g, _ := fileGateway(t, saleRules, so.addr)
	c := g.client("203.0.113.7")
	c.MaxConns = workers

	var (
		next     atomic.Int64
		mu       sync.Mutex
		bought   = map[string]int{}
		statuses = map[string]int{} // "status filter"
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= attempts {
					return
				}
				uid := fmt.Sprintf("u%04d", i%users)
				resp := buy(t, c, "POST", "/buy/1", uid)
				st, filter := resp.StatusCode(), string(resp.Header.Peek("X-Flashgate-Filter"))
				mu.Lock()
				statuses[fmt.Sprintf("%d %s", st, filter)]++
				if st == 200 {
					bought[uid]++
				}
				mu.Unlock()
				switch {
				case st == 200:
				case st >= 500 || st == 0:
					t.Errorf("%s: status %d (filter %q): the gateway must answer clearly, not fail", uid, st, filter)
				case filter == "" && !(st == 409 && bytes.Contains(resp.Body(), []byte("sold_out"))):
					t.Errorf("%s: status %d without X-Flashgate-Filter and not the shop's sold-out: %s", uid, st, resp.Body())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d attempts in %v; answers: %v", attempts, elapsed, statuses)

	if sold := so.shop.Sold(1); sold != stock {
		t.Errorf("shop sold %d units, want exactly %d (never more: oversold; fewer: the gate stranded stock)", sold, stock)
	}
	if n := so.buys.Load(); n > stock*12/10 {
		t.Errorf("the shop received %d purchase attempts, want at most stock × overbook = %d", n, stock*12/10)
	} else {
		t.Logf("the shop received %d purchase attempts", n)
	}
	for uid, n := range bought {
		if n > 1 {
			t.Errorf("user %s bought %d times, the purchase limit is 1", uid, n)
		}
	}
	if len(bought) != stock {
		t.Errorf("%d users got a 200, want %d (one per unit sold)", len(bought), stock)
	}
	if elapsed > 30*time.Second {
		t.Errorf("the sale took %v, want < 30s", elapsed)
	}
}
