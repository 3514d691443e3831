package origin

import (
	"errors"
	"net"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/sockio"
)

// conn is a connection to an origin server, as the pool's fasthttp client
// uses it: deadlines armed lazily (deadline.go), a request held until its
// answer is read (held.go), and a look for the server's close before a
// request goes out (below).
type conn struct {
	net.Conn
	read, write armedDeadline
	sock        sockio.Socket // recv and send (package sockio says why)

	// A request written but not yet sent, and whether anything was
	// written since the last read.
	held           []byte
	wroteSinceRead bool

	dial  func(string) (net.Conn, error) // for redial
	addr  string
	stale *metrics.Counter // flashgate_origin_stale_conns_total of the server
	tls   bool             // a TLS client runs over the connection: nothing is held
}

// originConns wraps dial so that its connections are conns. tls says
// that the client runs TLS over them; stale counts the connections found
// closed by the server.
func originConns(dial func(string) (net.Conn, error), tls bool, stale *metrics.Counter) func(string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		c, err := dial(addr)
		if err != nil {
			return nil, err
		}
		oc := &conn{Conn: c, dial: dial, addr: addr, stale: stale, tls: tls}
		oc.sock.Init(c)
		return oc, nil
	}
}

// redial replaces the socket under c with a new connection to the same
// server, with the deadlines armed on the old one. The caller found the
// old one closed by the server before anything of a request was sent on
// it. Only plain connections are redialled: a TLS client's session lives
// above the socket.
func (c *conn) redial() error {
	c.stale.Inc()
	_ = c.Conn.Close()
	nc, err := c.dial(c.addr)
	if err != nil {
		return err
	}
	c.Conn = nc
	c.sock.Init(nc)
	if !c.read.at.IsZero() {
		if err := nc.SetReadDeadline(c.read.at); err != nil {
			return err
		}
	}
	if !c.write.at.IsZero() {
		if err := nc.SetWriteDeadline(c.write.at); err != nil {
			return err
		}
	}
	return nil
}

// errStale is a request's first write refused because its keep-alive TLS
// connection was closed by the server while it sat in the pool: nothing
// was sent, so the pool's client sends the request again on another
// connection, whatever its method (pool.go). A plain connection is
// redialled instead, under the client's feet.
var errStale = errors.New("origin closed the idle connection")

// checkIdle is called before a request's first byte goes out as a plain
// write (a request past the held size, or any over TLS), and looks at the
// connection as an exchange does: a server that closed it while it sat in
// the pool (its keep-alive timeout, a restart, a lingering close when busy)
// would lose the request. On a plain connection it redials when the server
// had closed it or sent bytes nobody asked for (a 408 before its close).
// On a TLS connection it answers errStale when the server had closed it
// (its close_notify before the close included); bytes on an open TLS
// connection are the TLS layer's own (a session ticket), not a sign. The
// look is a system call, a small part of a TLS request's cost.
func (c *conn) checkIdle() error {
	switch st := c.sock.Idle(c.Conn); {
	case st == sockio.Quiet, st == sockio.Unasked && c.tls:
		return nil
	case c.tls:
		return errStale
	}
	return c.redial()
}
