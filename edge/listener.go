package edge

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ProxyOptions configures NewProxyListener.
type ProxyOptions struct {
	// Trusted returns the networks whose connections must start with a
	// PROXY header. It is called once per connection, so a rules reload
	// that changes the list applies to the next connection.
	Trusted func() []netip.Prefix
	// HeaderTimeout bounds the wait for a trusted peer's header.
	HeaderTimeout time.Duration
	// MaxPending bounds the connections whose header is being read at
	// once; accepting waits (in the kernel's backlog) while it is reached.
	// Default 1024.
	MaxPending int
	// Refused, if set, is told of every connection refused, with the
	// peer's address and why. It runs on the connection's goroutine.
	Refused func(peer netip.Addr, err error)
}

// ProxyListener accepts connections and, from trusted peers, reads the
// PROXY protocol header (v1 or v2) before handing the connection on; the
// connection it returns reports the client named in the header as its
// RemoteAddr.
//
// Rules, and why:
//   - A trusted peer MUST send the header; a connection from it without
//     one is closed. Were the header optional, a balancer that stopped
//     sending it (a changed setting, a failover to a box set up otherwise)
//     would silently put every client behind the balancer's one address,
//     and every per-IP limit would fall on all of them at once.
//   - Any other peer is handed on untouched, to be read as HTTP or TLS:
//     a PROXY header from it is not valid HTTP (400, connection closed)
//     nor a TLS ClientHello (handshake failure), so the address it names
//     is never believed. Direct clients and probes (kubelet) keep working.
//   - Headers are read in a goroutine per connection, at most MaxPending
//     at once and each within HeaderTimeout, so a slow or silent peer
//     never holds up Accept for the others.
//
// Accept returns connections in the order their headers completed.
// Close closes the underlying listener; headers still being read are
// abandoned and their connections closed. Safe for concurrent use.
type ProxyListener struct {
	inner   net.Listener
	opt     ProxyOptions
	ready   chan net.Conn
	pending chan struct{} // semaphore of headers being read
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the accept loop has ended
	err     error         // why the accept loop ended; read after stopped
	once    sync.Once
}

// NewProxyListener wraps inner; it starts accepting at once.
func NewProxyListener(inner net.Listener, opt ProxyOptions) *ProxyListener {
	if opt.MaxPending <= 0 {
		opt.MaxPending = 1024
	}
	if opt.HeaderTimeout <= 0 {
		opt.HeaderTimeout = 5 * time.Second
	}
	l := &ProxyListener{inner: inner, opt: opt, ready: make(chan net.Conn),
		pending: make(chan struct{}, opt.MaxPending), done: make(chan struct{}), stopped: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *ProxyListener) acceptLoop() {
	defer close(l.stopped)
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(time.Second) // transient, and fasthttp waits as long on its own listener
				continue
			}
			l.err = err
			return
		}
		peer := PeerAddr(c.RemoteAddr())
		if !InPrefixes(peer, l.opt.Trusted()) {
			l.deliver(c)
			continue
		}
		select {
		case l.pending <- struct{}{}:
		case <-l.done:
			c.Close()
			continue
		}
		go func() {
			defer func() { <-l.pending }()
			pc, err := readHeader(c, l.opt.HeaderTimeout)
			if err != nil {
				if l.opt.Refused != nil {
					l.opt.Refused(peer, err)
				}
				c.Close()
				return
			}
			l.deliver(pc)
		}()
	}
}

// deliver hands c to Accept, or closes it when the listener is closed.
func (l *ProxyListener) deliver(c net.Conn) {
	select {
	case l.ready <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next connection whose header (if it owed one) has
// been read.
func (l *ProxyListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.stopped:
		select {
		case c := <-l.ready:
			return c, nil
		default:
			return nil, l.err
		}
	}
}

// Close stops accepting and closes the underlying listener.
func (l *ProxyListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr is the underlying listener's address.
func (l *ProxyListener) Addr() net.Addr { return l.inner.Addr() }

// readHeader reads and parses c's PROXY header within timeout. Bytes read
// past the header are kept for the connection's first reads.
func readHeader(c net.Conn, timeout time.Duration) (net.Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	// Most headers and often the start of the request arrive in one read.
	buf := make([]byte, 0, 256)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, min(cap(buf), MaxHeader))...)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		h, used, perr := ParseHeader(buf)
		switch {
		case perr == nil:
			if err := c.SetReadDeadline(time.Time{}); err != nil {
				return nil, err
			}
			return newProxiedConn(c, h, buf[used:]), nil
		case perr != ErrIncomplete:
			return nil, perr
		case err != nil:
			return nil, errors.Join(errors.New("proxy protocol: connection ended or timed out before the header was complete"), err)
		}
	}
}

// proxiedConn is a connection whose client a PROXY header named.
type proxiedConn struct {
	net.Conn
	rest   []byte   // read past the header, returned first
	remote net.Addr // the client; the socket's peer when the header was LOCAL
}

func newProxiedConn(c net.Conn, h Header, rest []byte) *proxiedConn {
	pc := &proxiedConn{Conn: c, remote: c.RemoteAddr()}
	if len(rest) > 0 {
		pc.rest = rest
	}
	if !h.Local {
		pc.remote = net.TCPAddrFromAddrPort(h.Source)
	}
	return pc
}

func (c *proxiedConn) Read(b []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) == 0 {
			c.rest = nil // let the header buffer go
		}
		return n, nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr is the client named by the PROXY header.
func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

// PeerAddr is a connection's remote IP address, IPv4-mapped addresses
// unmapped so that "::ffff:10.0.0.1" matches a 10.0.0.0/8 prefix; the
// zero Addr when the connection has no IP (an in-memory listener).
func PeerAddr(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// InPrefixes reports whether a is valid and in one of ps.
func InPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
