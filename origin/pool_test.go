package origin

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// manualTicker is a TickerFunc whose ticks the test sends. The health loop
// takes one tick at a time, so a send returns only once the loop is idle:
// the round started by the previous tick has finished.
type manualTicker struct{ c chan time.Time }

func newManualTicker() *manualTicker { return &manualTicker{c: make(chan time.Time)} }

func (m *manualTicker) start(time.Duration) (<-chan time.Time, func()) { return m.c, func() {} }

// startOrigin serves h on a loopback port until the test ends.
func startOrigin(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	go srv.Serve(ln) //nolint:errcheck // returns when shut down
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// rawOrigin serves each connection with serve, on a loopback listener.
func rawOrigin(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

// readHead reads a request's head and returns its Content-Length.
func readHead(br *bufio.Reader) (length int, ok bool) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, false
		}
		if line == "\r\n" {
			return length, true
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
}

// readRequest reads a request, head and body.
func readRequest(br *bufio.Reader) bool {
	length, ok := readHead(br)
	if !ok {
		return false
	}
	_, err := io.CopyN(io.Discard, br, int64(length))
	return err == nil
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestHealthLoopRunsOnTicks checks the goroutine: probes run on ticks and
// stop with the pool.
func TestHealthLoopRunsOnTicks(t *testing.T) {
	o := &rules.Origin{Name: "shop", Servers: []string{deadAddr(t)}, Health: rules.HealthCheck{Path: "/healthz", Fails: 1}}
	tick := newManualTicker()
	p := New(o, Options{})
	p.StartHealth(slog.New(slog.DiscardHandler), tick.start)
	tick.c <- time.Time{}
	tick.c <- time.Time{} // accepted only after the first round finished
	if !p.servers[0].down.Load() {
		t.Error("a refused probe with fails: 1 did not mark the server down")
	}
	p.Close() // stops the loop; a leaked goroutine would block the next send forever
	select {
	case tick.c <- time.Time{}:
		t.Error("the health loop still runs after Close")
	default:
	}
}

func TestBalancing(t *testing.T) {
	var hits [3]atomic.Int32
	var addrs []string
	for i := range hits {
		addrs = append(addrs, startOrigin(t, func(*fasthttp.RequestCtx) { hits[i].Add(1) }))
	}
	for _, balance := range []string{"round_robin", "least_conn"} {
		t.Run(balance, func(t *testing.T) {
			p := New(&rules.Origin{Name: "shop", Servers: addrs, Balance: balance}, Options{})
			defer p.Close()
			p.servers[1].down.Store(true)
			seen := map[string]int{}
			for range 6 {
				u, _ := p.pick(time.Now())
				seen[u.addr]++
			}
			if seen[addrs[1]] != 0 {
				t.Errorf("picked the server marked down %d times", seen[addrs[1]])
			}
			if balance == "round_robin" && (seen[addrs[0]] != 3 || seen[addrs[2]] != 3) {
				t.Errorf("round robin over 2 healthy servers: %v, want 3 each", seen)
			}
			p.servers[0].inflight.Store(5)
			if balance == "least_conn" && pick(p) != p.servers[2] {
				t.Error("least_conn did not pick the idle server")
			}
			for _, u := range p.servers {
				u.down.Store(true)
			}
			if pick(p) != nil {
				t.Error("picked a server with all of them down")
			}
		})
	}
}

func pick(p *Pool) *server {
	u, _ := p.pick(time.Now())
	return u
}

func TestNotSent(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{ErrNoHealthy, true}, {ErrShed, true}, {ErrBreakerOpen, true},
		{fasthttp.ErrNoFreeConns, true}, {fasthttp.ErrDialTimeout, true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true}, {errStale, true},
		{fasthttp.ErrTimeout, false}, {syscall.ECONNRESET, false}, {fasthttp.ErrBodyTooLarge, false},
	} {
		if got := NotSent(tt.err); got != tt.want {
			t.Errorf("NotSent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
