package origin

// An origin connection holds a request that fits one write until the
// client reads the answer, and then sends it and waits for the answer in
// one step (sockio.Socket.Exchange): a forwarded request costs no empty
// read of the origin socket (bench/syscalls.sh: one of the two read calls
// per request that found nothing, where HAProxy's polling finds none).
//
// Only the first write after a read is held: fasthttp's client writes a
// request (one write when it fits its 4 KiB buffer) and then reads the
// answer, so that write is a whole request, and none of it has reached
// the origin before, as Exchange requires. A second write sends the held
// one first, and the exchange is an ordinary write and read. Like the
// deadlines, the fields are used only by the goroutine that holds the
// connection for a request. A held request is not sent on Close: nothing
// would read its answer.
//
// Not under TLS: there the writes are the TLS layer's, and it also writes
// in the middle of reading an answer (a KeyUpdate's acknowledgement),
// which the peer does not answer. Held, such a write would send the read
// that follows to wait for an arrival that may already have happened.

// maxHeld bounds a held request: fasthttp's write buffer. A longer write
// (a large body written past the buffer) goes out at once.
const maxHeld = 4096

func (c *conn) Write(p []byte) (int, error) {
	if !c.wroteSinceRead {
		if err := c.checkIdle(); err != nil { // conn.go
			return 0, err
		}
		c.wroteSinceRead = true
		if len(p) <= maxHeld && !c.tls {
			c.held = append(c.held[:0], p...)
			return len(p), nil
		}
	}
	c.wroteSinceRead = true
	if err := c.sendHeld(); err != nil {
		return 0, err
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
