package origin

import (
	"errors"
	"net"
	"time"

	"flashgate/sockio"
)

// conn is a connection to an origin server, as the pool's fasthttp client
// uses it: deadlines armed lazily (deadline.go), a request held until its
// answer is read (held.go), and a look at a connection that sat idle
// before a request goes out on it (below).
type conn struct {
	net.Conn
	read, write armedDeadline
	sock        sockio.Socket // recv and send (package sockio says why)

	// A request written but not yet sent, and whether anything was
	// written since the last read.
	held           []byte
	wroteSinceRead bool

	lastRequest time.Time // when the last request's first write came
	tls         bool      // a TLS client runs over the connection: nothing is held
}

// originConns wraps dial so that its connections are conns. tls says
// that the client runs TLS over them.
func originConns(dial func(string) (net.Conn, error), tls bool) func(string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		c, err := dial(addr)
		if err != nil {
			return nil, err
		}
		oc := &conn{Conn: c, tls: tls}
		oc.sock.Init(c)
		return oc, nil
	}
}

// errStale is a request's first write refused because its keep-alive
// connection was closed by the server while it sat idle: nothing was sent,
// so the pool's client sends the request again on another connection,
// whatever its method (pool.go).
var errStale = errors.New("origin closed the idle connection")

// staleCheckAfter is how long a connection must have gone without a
// request before the next one looks at it. Servers close idle keep-alive
// connections after seconds (Apache and Node 5 s, gunicorn 2 s), and
// writing a request into one loses it (a 502 for a request the server never
// saw); the look costs a system call, which a connection reused within
// this time, as under load, does not pay.
const staleCheckAfter = 250 * time.Millisecond

// checkIdle is called at a request's first write: errStale when the
// connection idled long enough to look at it and the server had closed it
// (a TLS server's close_notify before its close included), or, on a plain
// connection, sent bytes nobody asked for (a 408 before its close). Over
// TLS, bytes on an open connection are the TLS layer's own (a session
// ticket), not a sign.
func (c *conn) checkIdle() error {
	now := time.Now()
	last := c.lastRequest
	c.lastRequest = now
	if last.IsZero() || now.Sub(last) < staleCheckAfter {
		return nil
	}
	switch c.sock.Idle(c.Conn) {
	case sockio.Closed:
		return errStale
	case sockio.Unasked:
		if !c.tls {
			return errStale
		}
	}
	return nil
}
