package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

// asyncKillRules: one async buy route on a shared Redis queue. retries: 0
// and a short timeout keep the takeover quick: an order a dead instance
// read is claimed after (0+1) × 2s + 5s of idleness (docs/orders.md).
const asyncKillRules = `server: {listen: "127.0.0.1:0", shutdown_timeout: 2s}
logging: {level: warn}
admission:
  keys: [{id: 1, secret: "0123456789abcdef0123456789abcdef"}]
cluster: {addrs: ["%s"], timeout: 500ms}
origins:
  shop: {servers: ["%s"], max_conns: 16}
routes:
  - name: buy
    methods: [POST]
    path: /buy/{id}
    origin: shop
    async: {queue: 1000, rate: 500/s, concurrency: 3, timeout: 2s, retries: 0, user: "cookie:uid"}
`

// keyShop is a shop that honours Idempotency-Key and keeps books the test
// checks: deliveries per key, the keys each buyer's order came with, and
// one sale per new key. Its door for instance A holds every delivery it
// has sold for until the test lets go, so A dies with them in flight.
type keyShop struct {
	mu       sync.Mutex
	delivers map[string]int             // deliveries per Idempotency-Key
	keysOf   map[string]map[string]bool // buyer (cookie uid) -> keys seen
	sales    map[string]int             // sales per key (a repeat sells nothing)
	held     int                        // deliveries held at A's door
	release  chan struct{}
}

func (s *keyShop) door(t *testing.T, holds bool) string {
	ln := listenLoopback(t)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		key := string(ctx.Request.Header.Peek("Idempotency-Key"))
		uid := string(ctx.Request.Header.Cookie("uid"))
		s.mu.Lock()
		s.delivers[key]++
		if s.keysOf[uid] == nil {
			s.keysOf[uid] = map[string]bool{}
		}
		s.keysOf[uid][key] = true
		if key != "" && s.delivers[key] == 1 {
			s.sales[key]++
		}
		if holds {
			s.held++
		}
		s.mu.Unlock()
		if holds {
			<-s.release // sold, but the answer reaches A only after it is dead
		}
		ctx.SetContentType("application/json")
		fmt.Fprintf(ctx, `{"sold_to":%q}`, uid)
	}}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func (s *keyShop) heldNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// TestAsyncInstanceKilled runs two real flashgate processes on one real
// redis-server. Orders are accepted through both; instance A is killed
// with SIGKILL (by its PID) while its deliveries are in flight at the
// shop, which has already sold them. Every accepted ticket must end
// "delivered", read from B; every order must reach the shop; no key may
// be sold twice, and no buyer's order may come with a second key (a
// redelivery carries the same Idempotency-Key).
func TestAsyncInstanceKilled(t *testing.T) {
	const orders = 60
	srv := fgtest.StartRedis(t)
	bin := buildFlashgate(t)
	shop := &keyShop{delivers: map[string]int{}, keysOf: map[string]map[string]bool{},
		sales: map[string]int{}, release: make(chan struct{})}
	released := false
	defer func() { // before the cleanups, which wait for the held handlers
		if !released {
			close(shop.release)
		}
	}()
	a := startGateway(t, bin, fmt.Sprintf(asyncKillRules, srv.Addr, shop.door(t, true)))
	b := startGateway(t, bin, fmt.Sprintf(asyncKillRules, srv.Addr, shop.door(t, false)))
	ca, cb := hostClient(a.addr), hostClient(b.addr)

	tickets := make([]string, orders)
	for i := range tickets {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		tickets[i] = buyAsync(t, c, "u"+strconv.Itoa(i))
	}
	// A's workers all sit in deliveries the shop has sold: kill it then.
	for round := 0; shop.heldNow() < 3; round++ {
		if round == 200 {
			t.Fatalf("A has %d deliveries in flight after 20s, want 3", shop.heldNow())
		}
		time.Sleep(100 * time.Millisecond) // the processes run in real time
	}
	a.kill(t)
	close(shop.release)
	released = true

	done := map[string]bool{}
	for round := 0; len(done) < orders; round++ {
		if round == 300 {
			t.Fatalf("%d of %d tickets without an outcome on B after 30s", orders-len(done), orders)
		}
		for _, tk := range tickets {
			if done[tk] {
				continue
			}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + b.addr + "/_flashgate/orders/" + tk)
			if err := cb.DoTimeout(req, resp, 5*time.Second); err != nil {
				t.Fatalf("ticket %s on B: %v", tk, err)
			}
			switch resp.StatusCode() {
			case 202: // still waiting
			case 200:
				if o := string(resp.Header.Peek("X-Order-Outcome")); o != "delivered" {
					t.Errorf("ticket %s: outcome %q", tk, o)
				}
				done[tk] = true
			default:
				t.Fatalf("ticket %s on B: %d %s", tk, resp.StatusCode(), resp.Body())
			}
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
		if len(done) < orders {
			time.Sleep(100 * time.Millisecond) // polling, as a buyer's page does
		}
	}

	shop.mu.Lock()
	defer shop.mu.Unlock()
	again, deliveries := 0, 0
	for _, tk := range tickets {
		if shop.delivers[tk] == 0 {
			t.Errorf("ticket %s never reached the shop", tk)
		}
		if shop.delivers[tk] > 1 {
			again++
		}
		if shop.sales[tk] != 1 {
			t.Errorf("ticket %s sold %d times", tk, shop.sales[tk])
		}
		deliveries += shop.delivers[tk]
	}
	for uid, keys := range shop.keysOf {
		if len(keys) != 1 {
			t.Errorf("buyer %s's order reached the shop with %d keys: %v", uid, len(keys), keys)
		}
	}
	if len(shop.delivers) != orders {
		t.Errorf("the shop saw %d keys for %d orders", len(shop.delivers), orders)
	}
	if again == 0 {
		t.Fatal("no delivery was taken over from the killed instance: the test proves nothing")
	}
	t.Logf("%d orders accepted on two instances; A killed with %d deliveries in flight; "+
		"%d deliveries, %d orders delivered again by B with the same key, %d sold", orders, shop.held, deliveries, again, len(shop.sales))
}

// buildFlashgate builds this command into a temporary directory once per
// test (the build cache makes it a link step after `go test` compiled it).
func buildFlashgate(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is needed to build flashgate: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "flashgate")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// gatewayProc is a flashgate process started by a test.
type gatewayProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *fgtest.Buffer
	exit   chan int      // the exit code, for waitForAddr
	done   chan struct{} // closed once the process has ended
}

// startGateway writes rules to a temporary file and runs bin on them; the
// process is killed by its PID at the test's end.
func startGateway(t *testing.T, bin, rules string) *gatewayProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout fgtest.Buffer
	g := &gatewayProc{cmd: exec.Command(bin, "-config", path), stderr: &fgtest.Buffer{},
		exit: make(chan int, 1), done: make(chan struct{})}
	g.cmd.Stdout, g.cmd.Stderr = &stdout, g.stderr
	// A test binary that panics runs no cleanup: the kernel ends the
	// gateway with it.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = g.cmd.Wait()
		g.exit <- g.cmd.ProcessState.ExitCode()
		close(g.done)
	}()
	t.Cleanup(func() { g.kill(t) })
	g.addr = waitForAddr(t, &stdout, g.exit)
	return g
}

// kill ends the process with SIGKILL by its PID and waits for it.
func (g *gatewayProc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-g.done:
		return
	default:
	}
	_ = syscall.Kill(g.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		t.Errorf("flashgate (pid %d) did not end after SIGKILL", g.cmd.Process.Pid)
	}
}

func hostClient(addr string) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: addr, MaxConns: 8}
}

// buyAsync posts a purchase as buyer uid and returns its ticket.
func buyAsync(t *testing.T, c *fasthttp.HostClient, uid string) string {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + c.Addr + "/buy/1")
	req.Header.SetCookie("uid", uid)
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("purchase by %s: %v", uid, err)
	}
	tk := string(resp.Header.Peek("X-Order-Ticket"))
	if resp.StatusCode() != 202 || tk == "" {
		t.Fatalf("purchase by %s: %d %s", uid, resp.StatusCode(), resp.Body())
	}
	return tk
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
