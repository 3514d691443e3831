package edge

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyListener listens on 127.0.0.1 with trusted as the balancers, and
// records refusals.
func proxyListener(t *testing.T, trusted string, timeout time.Duration) (*ProxyListener, *refusals) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &refusals{}
	ps := []netip.Prefix{netip.MustParsePrefix(trusted)}
	l := NewProxyListener(inner, ProxyOptions{Trusted: func() []netip.Prefix { return ps }, HeaderTimeout: timeout, Refused: r.add})
	t.Cleanup(func() { l.Close() })
	return l, r
}

type refusals struct {
	mu   sync.Mutex
	errs []string
}

func (r *refusals) add(_ netip.Addr, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err.Error())
}

func (r *refusals) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// send dials l, writes data and returns the connection.
func send(t *testing.T, l net.Listener, data string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
	return c
}

func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() { c, err := l.Accept(); ch <- result{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second):
		t.Fatal("Accept returned nothing in 10s")
	}
	return nil
}

func TestProxyListenerTrustedPeer(t *testing.T) {
	l, _ := proxyListener(t, "127.0.0.1/32", 5*time.Second)
	src := Header{Source: netip.MustParseAddrPort("203.0.113.7:5000"), Dest: netip.MustParseAddrPort("10.0.0.1:443")}
	for _, tc := range []struct {
		name, header, want string
	}{
		{"v1", string(src.AppendV1(nil)), "203.0.113.7:5000"},
		{"v2", string(src.AppendV2(nil)), "203.0.113.7:5000"},
		{"v2 local", string(Header{Local: true}.AppendV2(nil)), "127.0.0.1:"},
	} {
		send(t, l, tc.header+"GET / HTTP/1.1\r\n\r\n")
		c := accept(t, l)
		if got := c.RemoteAddr().String(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: RemoteAddr %s, want %s", tc.name, got, tc.want)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "GET / HTTP/1.1\r\n" {
			t.Errorf("%s: the connection then reads %q (%v), want the request", tc.name, line, err)
		}
	}
}

// TestProxyListenerHeaderInPieces: a header split across writes is read
// whole, and the bytes after it are not lost.
func TestProxyListenerHeaderInPieces(t *testing.T) {
	l, _ := proxyListener(t, "127.0.0.1/32", 5*time.Second)
	c := send(t, l, "PROXY TCP4 203.0.113.9 ")
	go func() {
		time.Sleep(20 * time.Millisecond) // a second TCP segment, not a timer under test
		io.WriteString(c, "10.0.0.1 7 443\r\nping")
	}()
	got := accept(t, l)
	b := make([]byte, 4)
	if _, err := io.ReadFull(got, b); err != nil || string(b) != "ping" || got.RemoteAddr().String() != "203.0.113.9:7" {
		t.Errorf("RemoteAddr %s, read %q (%v); want 203.0.113.9:7 and ping", got.RemoteAddr(), b, err)
	}
}

// TestProxyListenerRefuses: a trusted peer that sends no header, a broken
// one, or nothing in time is closed, and Accept moves on to the next
// connection.
func TestProxyListenerRefuses(t *testing.T) {
	l, r := proxyListener(t, "127.0.0.1/32", 200*time.Millisecond)
	for _, data := range []string{"GET / HTTP/1.1\r\n\r\n", "PROXY TCP4 1.2.3.4 nonsense\r\n", ""} {
		c := send(t, l, data)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("after %q the connection stays open (read %d bytes)", data, n)
		}
	}
	send(t, l, "PROXY UNKNOWN\r\n")
	accept(t, l)
	got := strings.Join(r.list(), "\n")
	for _, want := range []string{"no header", "malformed", "timed out"} {
		if !strings.Contains(got, want) {
			t.Errorf("refusals:\n%s\nwant one saying %q", got, want)
		}
	}
}

// TestProxyListenerUntrusted: a peer outside the trusted networks is
// handed on as it is, its bytes unread, so a PROXY header it sends
// reaches the HTTP or TLS parser (which refuses it) and names nobody.
func TestProxyListenerUntrusted(t *testing.T) {
	l, _ := proxyListener(t, "10.0.0.0/8", time.Second)
	send(t, l, "PROXY TCP4 203.0.113.7 10.0.0.5 1 2\r\n")
	c := accept(t, l)
	if _, ok := c.(*proxiedConn); ok || !strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.1:") {
		t.Errorf("untrusted connection %T from %s, want the raw connection from 127.0.0.1", c, c.RemoteAddr())
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "PROXY TCP4") {
		t.Errorf("read %q, want the header left for the HTTP parser", line)
	}
}

// TestProxyListenerSlowPeer: a trusted peer that says nothing does not
// hold up Accept for the one behind it.
func TestProxyListenerSlowPeer(t *testing.T) {
	l, _ := proxyListener(t, "127.0.0.1/32", time.Minute)
	send(t, l, "")
	send(t, l, "PROXY TCP4 203.0.113.7 10.0.0.5 1 2\r\n")
	if c := accept(t, l); c.RemoteAddr().String() != "203.0.113.7:1" {
		t.Errorf("accepted %s, want the second peer's client", c.RemoteAddr())
	}
}

func TestProxyListenerClose(t *testing.T) {
	l, _ := proxyListener(t, "127.0.0.1/32", time.Second)
	l.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept after Close: no error")
	}
}
