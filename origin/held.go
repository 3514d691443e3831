package origin

import "flashgate/sockio"

// An origin connection holds a request that fits one write until the
// client reads the answer, and then looks at the connection, sends the
// request and waits for the answer in one step (sockio.Socket.Exchange).
// The look replaces the read that found nothing before every answer
// (bench/syscalls.sh), so a forwarded request costs no more system calls
// than a write and a read, and every request finds a connection the server
// closed while it sat in the pool before the request is lost in it: the
// connection is replaced by a new one (redial, conn.go) and the request
// goes out there, whatever its method, since nothing of it was sent. (A
// server's lingering close, shutdown of its sending side while it reads
// away what comes, as Apache's does when its workers are busy, would
// otherwise swallow the request without an answer or a reset.)
//
// Only the first write after a read is held: fasthttp's client writes a
// request (one write when it fits its 4 KiB buffer) and then reads the
// answer, so that write is a whole request, and none of it has reached
// the origin before, as Exchange requires. A second write sends the held
// one first (after the same look), and the exchange is an ordinary write
// and read. Like the deadlines, the fields are used only by the goroutine
// that holds the connection for a request. A held request is not sent on
// Close: nothing would read its answer.
//
// Not under TLS: there the writes are the TLS layer's, and it also writes
// in the middle of reading an answer (a KeyUpdate's acknowledgement),
// which the peer does not answer. Held, such a write would send the read
// that follows to wait for an arrival that may already have happened.
// TLS connections are looked at before each request's first write
// (checkIdle, conn.go).

// maxHeld bounds a held request: fasthttp's write buffer. A longer write
// (a large body written past the buffer) goes out at once.
const maxHeld = 4096

func (c *conn) Write(p []byte) (int, error) {
	first := !c.wroteSinceRead
	c.wroteSinceRead = true
	switch {
	case first && len(p) <= maxHeld && !c.tls:
		c.held = append(c.held[:0], p...) // Read exchanges it, after a look
		return len(p), nil
	case first:
		if err := c.checkIdle(); err != nil { // conn.go
			return 0, err
		}
	case len(c.held) > 0:
		// The held write was not the whole request: it goes out as
		// written, after the look the exchange would have made.
		if err := c.checkIdle(); err != nil {
			c.held = c.held[:0]
			return 0, err
		}
		if err := c.sendHeld(); err != nil {
			return 0, err
		}
	}
	return c.sock.Write(c.Conn, p)
}

func (c *conn) Read(p []byte) (int, error) {
	c.wroteSinceRead = false
	if len(c.held) == 0 || len(p) == 0 {
		if err := c.sendHeld(); err != nil {
			return 0, err
		}
		return c.sock.Read(c.Conn, p)
	}
	held := c.held
	c.held = c.held[:0]
	sent, n, err := c.sock.Exchange(c.Conn, held, p)
	if err == sockio.ErrNotQuiet {
		// The server closed the connection (or half-closed it, reading
		// away what it is sent) while it sat in the pool, and nothing of
		// the request went out: it goes on a new connection (conn.go).
		if err := c.redial(); err != nil {
			return 0, err
		}
		sent, n, err = c.sock.Exchange(c.Conn, held, p)
	}
	if err != nil || sent == len(held) {
		return n, err
	}
	// The socket's buffer was full: the rest waits for room, under the
	// write deadline, and the answer is read as usual.
	if _, err := c.sock.Write(c.Conn, held[sent:]); err != nil {
		return 0, err
	}
	return c.sock.Read(c.Conn, p)
}

// sendHeld sends a held request as a plain write.
func (c *conn) sendHeld() error {
	if len(c.held) == 0 {
		return nil
	}
	held := c.held
	c.held = c.held[:0]
	_, err := c.sock.Write(c.Conn, held)
	return err
}
