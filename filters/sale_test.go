package filters

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestSaleSimulation runs a flash sale through a buy route's chain: 2 000
// users make 20 000 attempts for 100 units (overbook 1.2, mode total)
// against an origin that keeps its own inventory. The origin must receive
// at most stock × overbook attempts, nothing is oversold, no user buys
// twice, and every attempt gets a clear answer.
func TestSaleSimulation(t *testing.T) {
	const users, attemptsPerUser, stock = 2000, 10, 100
	env := testEnv(t)
	c := mustCompile(t, env, `- purchase_limit: {max: 1, key: "cookie:uid"}
- stock: {stock: {"1": 100}, overbook: 1.2, sold_out: {status: 409, body_contains: sold_out}}
`)
	var inventory atomic.Int64
	inventory.Store(stock)
	var forwarded, sold atomic.Int64
	bought := make([]atomic.Int32, users)
	answers := sync.Map{} // reason → *atomic.Int64
	count := func(reason string) {
		n, _ := answers.LoadOrStore(reason, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	origin := func(user int) *fasthttp.Response {
		forwarded.Add(1)
		if inventory.Add(-1) < 0 {
			inventory.Add(1)
			return respond(409, `{"error":"sold_out"}`)
		}
		sold.Add(1)
		bought[user].Add(1)
		return respond(200, "ok")
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < users*attemptsPerUser; i += 8 {
				user := i % users
				v, r := verdictOf(c, "/buy/1", withCookie("uid", fmt.Sprint("user-", user)))
				if v.Rejected() {
					if s := r.Ctx.Response.StatusCode(); s != 403 && s != 410 {
						t.Errorf("rejection with status %d", s)
					}
					count(v.Rejection().Reason())
					continue
				}
				resp := origin(user)
				c.Observe(r, resp)
				count(fmt.Sprint("origin ", resp.StatusCode()))
			}
		}()
	}
	wg.Wait()
	if f := forwarded.Load(); f > stock*12/10 {
		t.Errorf("origin received %d attempts, want at most %d", f, stock*12/10)
	}
	if s := sold.Load(); s != stock {
		t.Errorf("sold %d, want exactly %d (no overselling, no unsold stock while buyers wait)", s, stock)
	}
	for u := range bought {
		if n := bought[u].Load(); n > 1 {
			t.Errorf("user %d bought %d units, limit 1", u, n)
		}
	}
	total := int64(0)
	answers.Range(func(k, v any) bool {
		total += v.(*atomic.Int64).Load()
		t.Logf("%-16s %d", k, v.(*atomic.Int64).Load())
		return true
	})
	if total != users*attemptsPerUser {
		t.Errorf("%d answers for %d attempts", total, users*attemptsPerUser)
	}
}
