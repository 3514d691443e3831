package proxy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cache"
	"flashgate/demo"
	"flashgate/internal/fgtest"
	"flashgate/rules"
)

// clusterRules are three instances' rules: SHOP and REDIS are replaced.
// The purchase route is the sale of TestSaleEndToEnd; /limited has one
// global limit of 300 requests (no refill within a test); /page is cached.
const clusterRules = `
origins:
  shop: {servers: ["SHOP"], max_conns: 64}
  plain: {servers: ["PLAIN"]}
admission:
  keys: [{id: 1, secret: "0123456789abcdef0123456789abcdef"}]
cluster:
  addrs: ["REDIS"]
  timeout: TIMEOUT
  on_failure: POLICY
  filters: {purchase_limit: closed}
  breaker: {failures: 3, open: 50ms}
  lease: LEASE
cache: {max_bytes: 1MiB}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    filters:
      - purchase_limit: {max: 1, key: "cookie:uid"}
      - stock: {stock: {"1": 100}, overbook: 1.2, sold_out: {header: X-Sold-Out}}
  - name: limited
    path: /limited
    origin: plain
    filters:
      - ratelimit: {rate: 1/h, burst: 300, scope: global}
  - name: line
    path: /line
    origin: plain
    filters:
      - queue: {admit_rate: 1/s, key: "cookie:uid"}
  - name: page
    path: /item/{id}
    origin: plain
    cache: {ttl: 1h, tags: ["item:{id}"]}
`

// plainHits counts the requests that reached the plain origin.
var plainHits atomic.Int64

// clusterGateways starts n gateways, each with its own Redis client, on
// one redis-server, with rules made from clusterRules; the plain origin
// answers 200, cacheable for an hour, and counts in plainHits.
func clusterGateways(t *testing.T, n int, shop, redis, policy string, lease int) []*gateway {
	t.Helper()
	return clusterGatewaysAt(t, n, shop, redis, policy, lease, nil)
}

// clusterGatewaysAt is clusterGateways with the gateways' clock.
func clusterGatewaysAt(t *testing.T, n int, shop, redis, policy string, lease int, now func() time.Time) []*gateway {
	t.Helper()
	return clusterGatewaysTimeout(t, n, shop, redis, policy, lease, now, "200ms")
}

// clusterGatewaysTimeout is clusterGatewaysAt with the Redis call timeout.
// 200ms keeps the tests of a slow or dead Redis short; a test that counts
// what Redis granted passes a long one, since a call that times out on a
// loaded machine is refused by the policy after Redis may have spent the
// cell.
func clusterGatewaysTimeout(t *testing.T, n int, shop, redis, policy string, lease int, now func() time.Time, timeout string) []*gateway {
	t.Helper()
	plain := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		plainHits.Add(1)
		ctx.Response.Header.Set("Cache-Control", "public, max-age=3600")
		ctx.SetBodyString("ok")
	})
	text := strings.NewReplacer("SHOP", shop, "PLAIN", plain, "REDIS", redis, "POLICY", policy,
		"LEASE", fmt.Sprint(lease), "TIMEOUT", timeout).Replace(clusterRules)
	var gws []*gateway
	for i := range n {
		path := filepath.Join(t.TempDir(), "gateway.yaml")
		writeRules(t, path, text)
		cfg, err := rules.Load(path)
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		gws = append(gws, newGateway(t, cfg, Options{ConfigPath: path, Now: now}))
	}
	return gws
}

// hammer sends total requests spread over the gateways, workers at a
// time, and returns the answers by status.
func hammer(t *testing.T, gws []*gateway, total, workers int, req func(c *fasthttp.HostClient, i int) int) map[int]int {
	t.Helper()
	clients := make([]*fasthttp.HostClient, len(gws))
	for i, g := range gws {
		clients[i] = g.client("203.0.113.7")
		clients[i].MaxConns = workers
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		got  = map[int]int{}
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				st := req(clients[i%len(clients)], i)
				mu.Lock()
				got[st]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return got
}

func get(c *fasthttp.HostClient, path string) int {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(path)
	req.Header.SetHost("shop.example")
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		return 0
	}
	return resp.StatusCode()
}

// A global limit of 300 holds across three instances: exactly 300 pass
// (exact mode); with leases, never more and at most the cells leased
// but unspent fewer (3 instances × 10).
func TestClusterGlobalLimit(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	for _, lease := range []int{0, 10} {
		t.Run(fmt.Sprintf("lease=%d", lease), func(t *testing.T) {
			srv := fgtest.StartRedis(t)
			gws := clusterGatewaysTimeout(t, 3, so.addr, srv.Addr, "closed", lease, nil, "1s")
			got := hammer(t, gws, 1500, 24, func(c *fasthttp.HostClient, _ int) int { return get(c, "/limited") })
			t.Logf("answers: %v", got)
			min := 300
			if lease > 0 {
				min = 300 - 3*lease
			}
			if got[200] > 300 || got[200] < min {
				t.Fatalf("%d admitted across three instances, want %d..300", got[200], min)
			}
			if got[200]+got[429] != 1500 {
				t.Fatalf("answers other than 200 and 429: %v", got)
			}
		})
	}
}

// The sale of TestSaleEndToEnd spread over three instances: the stock
// gate's cap holds for all of them together, the shop never sells more
// than its stock, and once it has sold out every instance answers the
// sold-out at the edge.
func TestClusterSaleAcrossInstances(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 3, so.addr, srv.Addr, "closed", 0)
	var mu sync.Mutex
	bought := map[string]int{}
	got := hammer(t, gws, 20000, 48, func(c *fasthttp.HostClient, i int) int {
		uid := fmt.Sprintf("u%04d", i%2000)
		resp := buy(t, c, "POST", "/buy/1", uid)
		if resp.StatusCode() == 200 {
			mu.Lock()
			bought[uid]++
			mu.Unlock()
		}
		return resp.StatusCode()
	})
	t.Logf("answers: %v; the shop received %d attempts", got, so.buys.Load())
	if sold := so.shop.Sold(1); sold != 100 {
		t.Errorf("shop sold %d, want exactly 100", sold)
	}
	if n := so.buys.Load(); n > 120 {
		t.Errorf("the shop received %d attempts over three instances, want at most stock × overbook = 120", n)
	}
	for uid, n := range bought {
		if n > 1 {
			t.Errorf("user %s bought %d times across instances, the limit is 1", uid, n)
		}
	}
	// Sold out at the shop: every instance answers at the edge now.
	for i, g := range gws {
		r := buy(t, g.client("203.0.113.7"), "POST", "/buy/1", fmt.Sprintf("late%d", i))
		if r.StatusCode() != 410 || string(r.Header.Peek("X-Flashgate-Filter")) != "stock" {
			t.Errorf("instance %d after the sale: %d %s, want 410 from the stock gate", i, r.StatusCode(), r.Body())
		}
	}
}

// A sold-out seen by A is enforced by B and C at their next request, and
// answered from their flag cache without asking Redis.
func TestClusterSoldOutSeenEverywhere(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 1})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 3, so.addr, srv.Addr, "closed", 0)
	a := gws[0].client("203.0.113.7")
	if r := buy(t, a, "POST", "/buy/2", "first"); r.StatusCode() != 200 {
		t.Fatalf("first purchase: %d %s", r.StatusCode(), r.Body())
	}
	if r := buy(t, a, "POST", "/buy/2", "second"); r.StatusCode() != 409 {
		t.Fatalf("second purchase: %d, want the shop's 409 sold out", r.StatusCode())
	}
	seen := time.Now()
	for i, g := range gws[1:] {
		r := buy(t, g.client("203.0.113.7"), "POST", "/buy/2", fmt.Sprintf("other%d", i))
		if r.StatusCode() != 410 || !strings.Contains(string(r.Body()), "sold_out") {
			t.Errorf("instance %c after A saw the sell-out: %d %s, want 410 sold_out", 'B'+i, r.StatusCode(), r.Body())
		}
	}
	t.Logf("B and C refused %v after A saw the sell-out", time.Since(seen))
	// Redis gone: nothing reaches the shop (the purchase limit, first in
	// the chain, refuses under closed; the flag cache is cluster's test).
	srv.Kill()
	for i, g := range gws[1:] {
		if r := buy(t, g.client("203.0.113.7"), "POST", "/buy/2", "x"); r.StatusCode() == 200 {
			t.Errorf("instance %c without Redis bought", 'B'+i)
		}
	}
	if n := so.buys.Load(); n != 2 {
		t.Errorf("the shop received %d attempts, want 2", n)
	}
}

// A purge on A purges B's and C's caches.
func TestClusterPurgeBroadcast(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 10})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 3, so.addr, srv.Addr, "closed", 0)
	state := func(g *gateway) string {
		r := g.do(t, "GET", "/item/1", nil)
		return string(r.Header.Peek("X-Cache"))
	}
	for i, g := range gws {
		// The cache stores asynchronously (ristretto): poll for the hit.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.HasPrefix(state(g), "HIT") {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d never served /item/1 from its cache", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitBus(t, gws)
	gws[0].Purge(cache.Purge{Kind: cache.PurgeTag, Tag: "item:1"})
	for i, g := range gws {
		// The purge crosses Redis pub/sub: poll briefly.
		deadline := time.Now().Add(5 * time.Second)
		for strings.HasPrefix(state(g), "HIT") {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d still hits after the purge on A", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// waitBus waits until every gateway's subscription is live, by purging a
// tag nobody has until each has received one from another instance.
func waitBus(t *testing.T, gws []*gateway) {
	t.Helper()
	var got [8]atomic.Bool
	for i, g := range gws {
		g.env.clusterRedis().Subscribe("ready", func([]byte) { got[i].Store(true) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for i := range gws {
			_ = gws[(i+1)%len(gws)].env.clusterRedis().Publish(t.Context(), "ready", nil)
			all = all && got[i].Load()
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("subscriptions not live within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Redis killed mid-sale and restarted: under closed the gate refuses
// (503 with Retry-After) rather than let attempts through uncounted, no
// request hangs, nothing crashes, the shop never oversells, and the
// gateways go back to Redis by themselves.
func TestClusterRedisKilledClosed(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 3, so.addr, srv.Addr, "closed", 0)
	sale := func(from, n int) map[int]int {
		return hammer(t, gws, n, 12, func(c *fasthttp.HostClient, i int) int {
			return buy(t, c, "POST", "/buy/1", fmt.Sprintf("k%05d", from+i)).StatusCode()
		})
	}
	before := sale(0, 40)
	srv.Kill()
	start := time.Now()
	during := sale(1000, 600)
	took := time.Since(start)
	if during[503] != 600 {
		t.Errorf("with Redis down under closed: %v, want 503s and no purchase", during)
	}
	r := buy(t, gws[1].client("203.0.113.7"), "POST", "/buy/1", "probe")
	if r.StatusCode() != 503 || len(r.Header.Peek("Retry-After")) == 0 {
		t.Errorf("refusal without Redis: %d, Retry-After %q", r.StatusCode(), r.Header.Peek("Retry-After"))
	}
	for i, g := range gws {
		var h healthBody
		if err := json.Unmarshal(g.do(t, "GET", "/_flashgate/health", nil).Body(), &h); err != nil || h.Cluster == nil ||
			h.Cluster.State != "down" {
			t.Errorf("instance %d health with Redis down: %+v %v", i, h.Cluster, err)
		}
	}
	srv.Restart()
	for i, g := range gws {
		deadline := time.Now().Add(10 * time.Second)
		for !g.env.clusterRedis().Up() {
			if time.Now().After(deadline) {
				t.Fatalf("instance %d did not go back to Redis", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	after := sale(2000, 600)
	t.Logf("before %v; down %v in %v; after %v", before, during, took, after)
	if after[200] == 0 {
		t.Errorf("no purchase after Redis came back: %v", after)
	}
	if sold := so.shop.Sold(1); sold > 100 {
		t.Errorf("shop sold %d of 100", sold)
	}
	if m := gws[0].metricsText(); !strings.Contains(m, "flashgate_cluster_redis_up 1") ||
		!strings.Contains(m, "flashgate_cluster_redis_state_changes_total 2") {
		t.Errorf("metrics after the outage and the recovery lack redis_up 1 and 2 state changes")
	}
	if !strings.Contains(gws[0].logs.String(), "redis unreachable") ||
		strings.Count(gws[0].logs.String(), "redis unreachable") != 1 {
		t.Errorf("want one 'redis unreachable' log line, got:\n%s", gws[0].logs.String())
	}
}

// Under open, Redis down admits (limits unenforced) and says so; under
// local the global limit falls back to this instance's share.
func TestClusterRedisKilledOpenAndLocal(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	for _, policy := range []string{"open", "local"} {
		t.Run(policy, func(t *testing.T) {
			srv := fgtest.StartRedis(t)
			gws := clusterGateways(t, 3, so.addr, srv.Addr, policy, 0)
			// Each instance has counted the three by their heartbeats.
			for i, g := range gws {
				deadline := time.Now().Add(10 * time.Second)
				for g.env.clusterRedis().Instances() != 3 {
					if time.Now().After(deadline) {
						t.Fatalf("instance %d counts %d instances", i, g.env.clusterRedis().Instances())
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			srv.Kill()
			got := hammer(t, gws, 1500, 12, func(c *fasthttp.HostClient, _ int) int { return get(c, "/limited") })
			switch policy {
			case "open":
				if got[200] != 1500 {
					t.Errorf("open: %v, want every request admitted", got)
				}
				// cluster.filters: purchase_limit stays closed.
				if r := buy(t, gws[0].client("203.0.113.7"), "POST", "/buy/1", "u1"); r.StatusCode() != 503 {
					t.Errorf("purchase with Redis down, purchase_limit: closed: %d, want 503", r.StatusCode())
				}
			case "local":
				// Each instance admits its third of the global limit
				// alone: about 100 of the burst of 300.
				t.Logf("local: %v", got)
				if got[200] < 250 || got[200] > 303 {
					t.Errorf("local: %v, want about the global 300 in total, a third per instance", got)
				}
			}
			if st := gws[0].env.clusterStatus(); st.State != "down" {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// A Redis that stops answering (DEBUG SLEEP) holds no request longer than
// the per-call timeout, and the breaker then keeps requests off it.
func TestClusterSlowRedisBoundedByTimeout(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 1, so.addr, srv.Addr, "open", 0)
	c := gws[0].client("203.0.113.7")
	get(c, "/limited")
	// The cleanup's SIGKILL ends the sleep.
	go func() { _, _ = srv.Do("DEBUG", "SLEEP", "10") }()
	time.Sleep(50 * time.Millisecond)
	var worst time.Duration
	for range 20 {
		start := time.Now()
		if st := get(c, "/limited"); st != 200 {
			t.Fatalf("open policy with Redis asleep: %d", st)
		}
		worst = max(worst, time.Since(start))
	}
	// The timeout (200ms) ended each wait, not Redis waking up: the bound
	// is half the sleep, so a loaded machine's scheduling cannot fail it
	// and a request that waited for Redis always does.
	t.Logf("the slowest request took %v", worst)
	if worst > 5*time.Second {
		t.Fatalf("a request waited %v on a sleeping Redis (timeout 200ms)", worst)
	}
}

// State in Redis survives a reload that does not touch the limit.
func TestClusterStateSurvivesReload(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 1, so.addr, srv.Addr, "closed", 0)
	g := gws[0]
	c := g.client("203.0.113.7")
	for range 300 {
		get(c, "/limited")
	}
	if st := get(c, "/limited"); st != 429 {
		t.Fatalf("after 300: %d, want 429", st)
	}
	path := g.cfgPath
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "cache: {max_bytes: 1MiB}", "cache: {max_bytes: 2MiB}", 1)
	writeRules(t, path, text)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := get(c, "/limited"); st != 429 {
		t.Fatalf("after an unrelated reload: %d, want still 429", st)
	}
}

// The shipped cluster example passes -check (keys from the environment,
// as run.sh sets them).
func TestClusterExampleChecks(t *testing.T) {
	t.Setenv("FLASHGATE_TOKEN_KEY", "0123456789abcdef0123456789abcdef")
	cfg, err := rules.Load("../examples/cluster/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster == nil || cfg.Cluster.PolicyFor("stock") != "closed" {
		t.Fatalf("cluster = %+v", cfg.Cluster)
	}
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}
}

// One waiting line over three gateways: a client who joined on A before a
// client on B is admitted first, whichever gateway each comes back to.
func TestClusterQueueOneOrderThroughGateways(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 100})
	srv := fgtest.StartRedis(t)
	clock := newFakeClock()
	gws := clusterGatewaysAt(t, 3, so.addr, srv.Addr, "closed", 0, clock.Now)
	visit := func(g *gateway, uid string) (int, string) {
		r := g.do(t, "GET", "/line", nil, "Cookie", "uid="+uid, "Accept", "application/json")
		var body struct {
			Position int `json:"position"`
		}
		_ = json.Unmarshal(r.Body(), &body)
		return r.StatusCode(), fmt.Sprint(body.Position)
	}
	steps := []struct {
		gw       int
		uid      string
		advance  time.Duration
		status   int
		position string
	}{
		{0, "x", 0, 200, "0"},                // an empty line lets x in on A
		{1, "y", time.Millisecond, 503, "1"}, // y joins on B
		{2, "z", time.Millisecond, 503, "2"}, // z joins on C, behind y
		{0, "z", time.Second, 503, "1"},      // a turn is due: z asks first, on A, and stays behind y
		{2, "y", time.Millisecond, 200, "0"}, // y's turn, taken on C
		{1, "z", time.Second, 200, "0"},      // then z's, on B
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if st, pos := visit(gws[s.gw], s.uid); st != s.status || pos != s.position {
			t.Fatalf("step %d: %s on instance %c: %d at position %s, want %d at %s",
				i, s.uid, 'A'+s.gw, st, pos, s.status, s.position)
		}
	}
}

// A Plan B switch set on one instance is on for all of them, and cleared
// on another, off for all; an instance that starts later reads it from
// Redis. With Redis away a switch applies on the instance it was set on,
// listed as not shared.
func TestClusterSwitches(t *testing.T) {
	so := startShop(t, demo.Options{Items: 3, Stock: 10})
	srv := fgtest.StartRedis(t)
	gws := clusterGateways(t, 3, so.addr, srv.Addr, "closed", 0)
	waitBus(t, gws)
	status := func(g *gateway) int { return g.do(t, "GET", "/item/1", nil).StatusCode() }
	eventually := func(what string, cond func() bool) {
		t.Helper()
		// The change crosses Redis pub/sub: poll briefly.
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5s", what)
			}
		}
	}
	if err := gws[0].SetSwitch(Switch{Kind: SwitchClose, Route: "page", Message: "Back at 20:00"}); err != nil {
		t.Fatal(err)
	}
	for i, g := range gws {
		eventually(fmt.Sprintf("instance %d closes /item", i), func() bool { return status(g) == 503 })
		if sw := g.Switches(); len(sw) != 1 || sw[0].Name() != "close:page" || !sw[0].Shared || sw[0].Message != "Back at 20:00" {
			t.Errorf("instance %d lists %+v, want the shared close:page", i, sw)
		}
	}
	late := clusterGateways(t, 1, so.addr, srv.Addr, "closed", 0)[0]
	eventually("an instance started after the switch closes /item", func() bool { return status(late) == 503 })

	if err := gws[2].ClearSwitch("close:page"); err != nil {
		t.Fatal(err)
	}
	for i, g := range append(gws, late) {
		eventually(fmt.Sprintf("instance %d opens /item again", i), func() bool { return status(g) == 200 })
		if sw := g.Switches(); len(sw) != 0 {
			t.Errorf("instance %d still lists %+v", i, sw)
		}
	}

	// Redis restarts empty: the switches stay on, written back by the
	// instances that hold them, and a clear after that still reaches all.
	if err := gws[0].SetSwitch(Switch{Kind: SwitchStaleOnly, Route: "page"}); err != nil {
		t.Fatal(err)
	}
	for i, g := range gws {
		eventually(fmt.Sprintf("instance %d gets stale_only", i), func() bool { return len(g.Switches()) == 1 })
	}
	srv.Restart()
	eventually("the switch back in the restarted Redis", func() bool {
		v, err := srv.Do("HLEN", "fg:rec:"+switchTable)
		return err == nil && v == ":2"
	})
	for i, g := range gws {
		if sw := g.Switches(); len(sw) != 1 || !sw[0].Shared {
			t.Errorf("instance %d after the Redis restart: %+v, want stale_only:page still shared", i, sw)
		}
	}
	if err := gws[1].ClearSwitch("stale_only:page"); err != nil {
		t.Fatal(err)
	}
	for i, g := range gws {
		eventually(fmt.Sprintf("instance %d clears stale_only after the restart", i), func() bool { return len(g.Switches()) == 0 })
	}

	srv.Kill()
	if err := gws[1].SetSwitch(Switch{Kind: SwitchClose, Route: "page"}); err != nil {
		t.Fatal(err)
	}
	if sw := gws[1].Switches(); len(sw) != 1 || sw[0].Shared {
		t.Errorf("with Redis down: %+v, want the switch on here, not shared", sw)
	}
	if status(gws[1]) != 503 || status(gws[0]) != 200 {
		t.Errorf("with Redis down the switch must apply where it was set only")
	}
}
