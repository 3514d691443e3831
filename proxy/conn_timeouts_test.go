package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/valyala/fasthttp"
)

// Unit level: the sweeper and the phase records on net.Pipe connections,
// in a synctest bubble (fake clock), so the precision is exact.

const (
	unitRead  = 1 * time.Second
	unitWrite = 2 * time.Second
	unitIdle  = 3 * time.Second
	unitTick  = maxSweepTick // min(1s, 2s, 3s) / 4
)

// pipeConn registers one end of a net.Pipe with tm, as accept does, and
// returns both ends (closed when the test ends). A backstop closes them
// after 10×idle_timeout of fake time, so that a sweeper that never cuts
// fails the test (with io.ErrClosedPipe) instead of hanging it.
func pipeConn(t *testing.T, tm *connTimeouts) (srv, cli net.Conn) {
	srv, cli = net.Pipe()
	backstop := time.AfterFunc(10*unitIdle, func() { srv.Close(); cli.Close() })
	t.Cleanup(func() { backstop.Stop(); srv.Close(); cli.Close() })
	tm.connState(srv, fasthttp.StateNew)
	return srv, cli
}

// serveOne runs one request's marks on c: first byte, handler, response
// written.
func serveOne(tm *connTimeouts, c net.Conn, handler func()) {
	tm.connState(c, fasthttp.StateActive)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init2(c, nil, false)
	tm.wrap(func(*fasthttp.RequestCtx, netip.Addr) { handler() })(ctx)
}

func TestConnTimeoutsTick(t *testing.T) {
	for _, tc := range []struct {
		read, write, idle, want time.Duration
	}{
		{10 * time.Second, 30 * time.Second, 60 * time.Second, 250 * time.Millisecond},
		{300 * time.Millisecond, 30 * time.Second, 60 * time.Second, 75 * time.Millisecond},
		{10 * time.Second, 30 * time.Second, 20 * time.Millisecond, 10 * time.Millisecond},
	} {
		if got := newConnTimeouts(tc.read, tc.write, tc.idle).tick; got != tc.want {
			t.Errorf("tick for %s/%s/%s = %s, want %s", tc.read, tc.write, tc.idle, got, tc.want)
		}
	}
}

// TestConnTimeoutsCut: each limited phase is cut no sooner than its limit
// and at most two ticks after it, also when the phase begins between two
// ticks (its stamp then predates it).
func TestConnTimeoutsCut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit time.Duration
		enter func(tm *connTimeouts, c net.Conn) // after StateNew
		block func(c net.Conn) error             // the I/O that must fail
	}{
		{"no first request", unitRead, func(*connTimeouts, net.Conn) {}, readOne},
		{"idle keep-alive", unitIdle, func(tm *connTimeouts, c net.Conn) {
			serveOne(tm, c, func() {})
			tm.connState(c, fasthttp.StateIdle)
		}, readOne},
		{"second request stalls", unitRead, func(tm *connTimeouts, c net.Conn) {
			serveOne(tm, c, func() {})
			tm.connState(c, fasthttp.StateIdle)
			tm.connState(c, fasthttp.StateActive)
		}, readOne},
		{"client stops reading", unitWrite, func(tm *connTimeouts, c net.Conn) {
			serveOne(tm, c, func() {})
		}, writeOne},
	} {
		for _, offset := range []time.Duration{0, unitTick / 3} {
			t.Run(tc.name+"/at "+offset.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
					tm.start()
					defer tm.stop()
					time.Sleep(offset)
					srv, _ := pipeConn(t, tm)
					begin := time.Now()
					tc.enter(tm, srv)
					err := tc.block(srv)
					took := time.Since(begin)
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("blocked I/O ended with %v, want a timeout", err)
					}
					if took < tc.limit || took > tc.limit+2*unitTick {
						t.Errorf("cut after %s, want within [%s, %s]", took, tc.limit, tc.limit+2*unitTick)
					}
				})
			})
		}
	}
}

func readOne(c net.Conn) error {
	_, err := c.Read(make([]byte, 1))
	return err
}

func writeOne(c net.Conn) error {
	_, err := c.Write([]byte("x")) // net.Pipe: blocks until the peer reads
	return err
}

// TestConnTimeoutsReadTimeoutLeavesWrite: a read timeout leaves the
// connection writable for write_timeout, so fasthttp can answer 408.
func TestConnTimeoutsReadTimeoutLeavesWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
		tm.start()
		defer tm.stop()
		srv, cli := pipeConn(t, tm)
		if err := readOne(srv); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read ended with %v, want a timeout", err)
		}
		go io.Copy(io.Discard, cli) //nolint:errcheck // ends when the pipe closes
		if _, err := srv.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")); err != nil {
			t.Fatalf("writing the 408: %v", err)
		}
		time.Sleep(unitWrite + unitTick)
		if err := writeOne(srv); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write after write_timeout ended with %v, want a timeout", err)
		}
	})
}

// TestConnTimeoutsHandlerUnlimited: a handler slower than every limit is
// not cut, and the response after it gets the whole write_timeout.
func TestConnTimeoutsHandlerUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
		tm.start()
		defer tm.stop()
		srv, cli := pipeConn(t, tm)
		serveOne(tm, srv, func() { time.Sleep(unitRead + unitWrite + unitIdle) })
		time.Sleep(unitWrite - unitTick)
		go io.Copy(io.Discard, cli) //nolint:errcheck // ends when the pipe closes
		if err := writeOne(srv); err != nil {
			t.Errorf("writing the response after a slow handler: %v", err)
		}
	})
}

// TestConnTimeoutsBusyConnection: a connection whose requests come more
// often than idle_timeout lives on.
func TestConnTimeoutsBusyConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
		tm.start()
		defer tm.stop()
		srv, _ := pipeConn(t, tm)
		for range 10 {
			serveOne(tm, srv, func() {})
			tm.connState(srv, fasthttp.StateIdle)
			time.Sleep(unitIdle / 2)
		}
		if p := phaseOf(tm.record(srv).state.Load()); p != phaseIdle {
			t.Errorf("after 10 requests the connection is in phase %d, want idle (%d)", p, phaseIdle)
		}
	})
}

// TestConnTimeoutsExpiredStands: once the sweeper has timed a connection
// out, the connection's own marks do not revive it.
func TestConnTimeoutsExpiredStands(t *testing.T) {
	tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
	srv, _ := net.Pipe()
	defer srv.Close()
	tm.connState(srv, fasthttp.StateNew)
	now := time.Now()
	tm.sweep(now.Add(unitRead + 2*unitTick))
	serveOne(tm, srv, func() {})
	tm.connState(srv, fasthttp.StateIdle)
	if p := phaseOf(tm.record(srv).state.Load()); p != phaseExpired {
		t.Errorf("phase after marks on an expired connection = %d, want expired (%d)", p, phaseExpired)
	}
}

// TestConnTimeoutsRecordOnConn: a server connection (lfConn, plain or over
// TLS) carries its record, the one in the set the sweeper walks, so that
// what the request path stamps is what the sweeper reads.
func TestConnTimeoutsRecordOnConn(t *testing.T) {
	tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	for _, c := range []net.Conn{&lfConn{Conn: a, armed: true}, &lfTLSConn{lfConn: &lfConn{Conn: b, armed: true}}} {
		tm.connState(c, fasthttp.StateNew)
		r := c.(recordHolder).timeoutRecord()
		if v, ok := tm.conns.Load(c); r == nil || !ok || v.(*connRecord) != r {
			t.Fatalf("%T: record on the connection %p, in the set %v: want the same one", c, r, v)
		}
		if tm.record(c) != r {
			t.Fatalf("%T: record() did not return the connection's record", c)
		}
		tm.connState(c, fasthttp.StateIdle)
		if p := phaseOf(r.state.Load()); p != phaseIdle {
			t.Errorf("%T: phase after StateIdle = %d, want idle (%d)", c, p, phaseIdle)
		}
	}
}

// TestConnTimeoutsForget: closed and hijacked connections leave the set.
func TestConnTimeoutsForget(t *testing.T) {
	tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
	a, b := net.Pipe()
	defer a.Close()
	tm.connState(a, fasthttp.StateNew)
	tm.connState(b, fasthttp.StateNew)
	tm.connState(a, fasthttp.StateClosed)
	tm.connState(b, fasthttp.StateHijacked)
	if n := tm.sweep(time.Now()); n != 0 {
		t.Errorf("%d connections left after close and hijack, want 0", n)
	}
}

// TestConnTimeoutsDrain: after drain the sweeper keeps timing out the
// connections left and returns once none is. (synctest fails the test if
// a goroutine of the bubble never returns.)
func TestConnTimeoutsDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := newConnTimeouts(unitRead, unitWrite, unitIdle)
		tm.start()
		defer tm.stop() // a no-op unless the test fails
		srv, _ := pipeConn(t, tm)
		tm.drain()
		if err := readOne(srv); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read on a connection left after drain ended with %v, want a timeout", err)
		}
		tm.connState(srv, fasthttp.StateClosed)
		time.Sleep(2 * unitTick)
		tm.mu.Lock()
		running := tm.sweeper != nil
		tm.mu.Unlock()
		if running {
			t.Error("sweeper still running after the last connection closed")
		}
	})
}

// Server level: real TCP on 127.0.0.1 with short timeouts. The bounds
// below are correctness bounds (never before the timeout, and not
// forever), not speed goals.

const (
	tcpRead  = 300 * time.Millisecond
	tcpWrite = 400 * time.Millisecond
	tcpIdle  = 500 * time.Millisecond
	tcpSlack = 5 * time.Second // generous, for loaded CI machines
)

// timeoutGateway serves a gateway with the tcp* timeouts on loopback in
// front of origin; closed receives each client connection the gateway
// closes.
func timeoutGateway(t *testing.T, origin fasthttp.RequestHandler) (s *Server, addr string, closed <-chan time.Time) {
	t.Helper()
	return timeoutGatewayWatch(t, origin, nil)
}

// timeoutGatewayWatch is timeoutGateway that also calls watch, if not nil,
// with every state change of a client connection, after the gateway's hook.
func timeoutGatewayWatch(t *testing.T, origin fasthttp.RequestHandler, watch func(net.Conn, fasthttp.ConnState)) (s *Server, addr string, closed <-chan time.Time) {
	t.Helper()
	cfg := testConfig(startOrigin(t, origin), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Server.ReadTimeout, cfg.Server.WriteTimeout, cfg.Server.IdleTimeout = tcpRead, tcpWrite, tcpIdle
	s, err := New(Options{Config: cfg, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan time.Time, 16)
	hook := s.srv.ConnState
	s.srv.ConnState = func(c net.Conn, st fasthttp.ConnState) {
		hook(c, st)
		if watch != nil {
			watch(c, st)
		}
		if st == fasthttp.StateClosed {
			ch <- time.Now()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln) //nolint:errcheck // returns on shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tcpSlack)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, ln.Addr().String(), ch
}

func dialGateway(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntilClosed reads c to its end (bounded by tcpSlack) and returns what
// came and how long after begin the end came.
func readUntilClosed(t *testing.T, c net.Conn, begin time.Time) (string, time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(tcpSlack)) //nolint:errcheck
	got, err := io.ReadAll(c)
	took := time.Since(begin)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %s (read %q)", took, got)
	}
	return string(got), took
}

func checkCut(t *testing.T, what string, took, limit time.Duration) {
	t.Helper()
	if took < limit || took > limit+tcpSlack {
		t.Errorf("%s: cut after %s, want no sooner than %s (and within %s more)", what, took, limit, tcpSlack)
	}
}

func okOrigin(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok " + string(ctx.Path())) }

func TestServerTimeoutSilentConnection(t *testing.T) {
	_, addr, _ := timeoutGateway(t, okOrigin)
	begin := time.Now()
	c := dialGateway(t, addr)
	got, took := readUntilClosed(t, c, begin)
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") {
		t.Errorf("a connection that sent nothing got %q, want a 408 and close", got)
	}
	checkCut(t, "silent connection", took, tcpRead)
}

func TestServerTimeoutStalledRequest(t *testing.T) {
	_, addr, _ := timeoutGateway(t, okOrigin)
	c := dialGateway(t, addr)
	begin := time.Now()
	if _, err := c.Write([]byte("GET /item/1 HT")); err != nil {
		t.Fatal(err)
	}
	got, took := readUntilClosed(t, c, begin)
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.Contains(got, "request_timeout") {
		t.Errorf("a stalled request line got %q, want the gateway's 408 and close", got)
	}
	checkCut(t, "stalled request", took, tcpRead)
}

func TestServerTimeoutIdleKeepAlive(t *testing.T) {
	_, addr, _ := timeoutGateway(t, okOrigin)
	c := dialGateway(t, addr)
	br := bufio.NewReader(c)
	begin := time.Now()
	roundTrip(t, c, br, "/item/1")
	rest, took := readUntilClosed(t, c, begin)
	if br.Buffered() != 0 || rest != "" {
		t.Errorf("an idle keep-alive connection got %q at its close, want nothing", rest)
	}
	checkCut(t, "idle keep-alive", took, tcpIdle)
}

// roundTrip sends GET path on c and checks the answer is the origin's.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, path string) {
	t.Helper()
	if _, err := c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: shop.example\r\n\r\n")); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var resp fasthttp.Response
	c.SetReadDeadline(time.Now().Add(tcpSlack)) //nolint:errcheck
	if err := resp.Read(br); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode() != 200 || string(resp.Body()) != "ok "+path {
		t.Fatalf("GET %s = %d %q, want 200 %q", path, resp.StatusCode(), resp.Body(), "ok "+path)
	}
}

func TestServerTimeoutBusyKeepAlive(t *testing.T) {
	_, addr, closed := timeoutGateway(t, okOrigin)
	c := dialGateway(t, addr)
	br := bufio.NewReader(c)
	// Requests every idle_timeout/3 for three idle timeouts, each also
	// longer than read_timeout after the connection opened.
	tick := time.NewTicker(tcpIdle / 3)
	defer tick.Stop()
	for i := range 9 {
		roundTrip(t, c, br, "/item/"+string(rune('1'+i)))
		select {
		case at := <-closed:
			t.Fatalf("busy connection closed at %s, after request %d", at.Format(time.StampMilli), i+1)
		case <-tick.C:
		}
	}
}

func TestServerTimeoutSlowOriginNotCut(t *testing.T) {
	slow := tcpRead + tcpWrite + tcpIdle
	_, addr, _ := timeoutGateway(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(slow) // an origin slower than every client timeout
		okOrigin(ctx)
	})
	c := dialGateway(t, addr)
	roundTrip(t, c, bufio.NewReader(c), "/item/1")
}

func TestServerTimeoutSlowReader(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 16<<20)
	_, addr, closed := timeoutGateway(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) })
	// A small receive buffer, set before connecting so the window stays
	// small: the gateway's write blocks long before the body is out.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	begin := time.Now()
	if _, err := c.Write([]byte("GET /item/1 HTTP/1.1\r\nHost: shop.example\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-closed:
		checkCut(t, "client not reading", at.Sub(begin), tcpWrite)
	case <-time.After(tcpWrite + tcpSlack):
		t.Fatal("gateway still writing to a client that stopped reading")
	}
	got, _ := readUntilClosed(t, c, begin)
	if len(got) >= len(body) {
		t.Errorf("client got %d bytes, want the response cut short of its %d-byte body", len(got), len(body))
	}
}

func TestServerTimeoutPipelined(t *testing.T) {
	_, addr, _ := timeoutGateway(t, okOrigin)
	c := dialGateway(t, addr)
	var reqs []byte
	paths := []string{"/item/1", "/item/2", "/item/3"}
	for _, p := range paths {
		reqs = append(reqs, "GET "+p+" HTTP/1.1\r\nHost: shop.example\r\n\r\n"...)
	}
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(tcpSlack)) //nolint:errcheck
	for _, p := range paths {
		var resp fasthttp.Response
		if err := resp.Read(br); err != nil {
			t.Fatalf("pipelined GET %s: %v", p, err)
		}
		if string(resp.Body()) != "ok "+p {
			t.Errorf("pipelined GET %s = %d %q", p, resp.StatusCode(), resp.Body())
		}
	}
}

// TestServerTimeoutShutdown: Shutdown closes an idle keep-alive connection
// and waits for a stalled request to time out, then stops the sweeper.
func TestServerTimeoutShutdown(t *testing.T) {
	active := make(chan struct{}, 2)
	s, addr, _ := timeoutGatewayWatch(t, okOrigin, func(_ net.Conn, st fasthttp.ConnState) {
		if st == fasthttp.StateActive {
			active <- struct{}{}
		}
	})
	idle := dialGateway(t, addr)
	roundTrip(t, idle, bufio.NewReader(idle), "/item/1")
	<-active
	stalled := dialGateway(t, addr)
	if _, err := stalled.Write([]byte("GET /item/2 HTTP/1.1\r\nHost: sh")); err != nil {
		t.Fatal(err)
	}
	// Shut down once the gateway reads the stalled request: a connection
	// still in the listen backlog when the listener closes is reset, not
	// answered, and that is the kernel's doing, not the gateway's.
	select {
	case <-active:
	case <-time.After(tcpSlack):
		t.Fatal("the gateway never started reading the stalled request")
	}
	begin := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(begin); took > tcpRead+tcpSlack {
		t.Errorf("Shutdown took %s", took)
	}
	if got, _ := readUntilClosed(t, stalled, begin); !strings.HasPrefix(got, "HTTP/1.1 408 ") {
		t.Errorf("the stalled request got %q at shutdown, want its 408", got)
	}
	if got, _ := readUntilClosed(t, idle, begin); got != "" {
		t.Errorf("the idle connection got %q at shutdown, want a plain close", got)
	}
	s.timeouts.mu.Lock()
	running := s.timeouts.sweeper != nil
	s.timeouts.mu.Unlock()
	if running {
		t.Error("sweeper still running after Shutdown")
	}
}

// BenchmarkConnTimeoutsRequest: the per-request cost of the timeouts (the
// marks at first byte, around the handler and after the response) with
// 1024 open connections, against ≈510 ns for fasthttp's own deadline
// updates.
func BenchmarkConnTimeoutsRequest(b *testing.B) {
	tm := newConnTimeouts(10*time.Second, 30*time.Second, 60*time.Second)
	ctxs := make([]*fasthttp.RequestCtx, 1024)
	for i := range ctxs {
		srv, cli := net.Pipe()
		b.Cleanup(func() { srv.Close(); cli.Close() })
		tm.connState(srv, fasthttp.StateNew)
		ctxs[i] = &fasthttp.RequestCtx{}
		ctxs[i].Init2(srv, nil, false)
	}
	h := tm.wrap(func(*fasthttp.RequestCtx, netip.Addr) {})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			ctx := ctxs[i%len(ctxs)]
			tm.connState(ctx.Conn(), fasthttp.StateActive)
			h(ctx)
			tm.connState(ctx.Conn(), fasthttp.StateIdle)
		}
	})
}

// BenchmarkConnTimeoutsSweep: one sweep over 10000 connections, none due
// (the common case); ns/op divided by 10000 is the cost per connection
// per tick.
func BenchmarkConnTimeoutsSweep(b *testing.B) {
	tm := newConnTimeouts(10*time.Second, 30*time.Second, 60*time.Second)
	for range 10000 {
		srv, cli := net.Pipe()
		b.Cleanup(func() { srv.Close(); cli.Close() })
		tm.connState(srv, fasthttp.StateNew)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if tm.sweep(now) != 10000 {
			b.Fatal("sweep missed connections")
		}
	}
}
