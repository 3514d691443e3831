package origin

import "time"

// An origin connection re-arms its socket deadlines only when the armed
// one will not do.
//
// Why: fasthttp's client sets a write and a read deadline on the origin
// connection for every request (DoTimeout, WriteTimeout). Each is a runtime
// timer update under the poll descriptor's lock, 200–450 ns on the bench box
// (a loopback TCPConn, SetReadDeadline alone): most of the origin client's
// own cost in a pass-through request, where nginx arms lazy timers instead.
//
// The rule: a deadline asked for at t is served by the armed one when it
// is not earlier than t (never cut an exchange short) and at most a
// sixteenth of the time that was left when it was armed later than t (the
// slack). Arming sets t plus that slack, so on a connection reused more than
// once per slack (10 s timeout: 625 ms) the socket is left alone. A request
// whose time runs out is cut between its limit and its limit plus 1/16 of
// it. An armed deadline that passed while the connection sat idle in the
// pool is earlier than any new t, so the next request re-arms it before
// doing I/O.
//
// fasthttp sets deadlines only from the goroutine that holds the
// connection for a request, so the fields need no synchronisation.

// armedDeadline is the deadline set on the socket for one direction.
type armedDeadline struct {
	at    time.Time     // zero: none armed
	slack time.Duration // how much later than asked at may fire
}

// keeps reports whether the armed deadline serves a request for t.
func (a *armedDeadline) keeps(t time.Time) bool {
	if t.IsZero() || a.at.IsZero() {
		return t.IsZero() && a.at.IsZero()
	}
	return !a.at.Before(t) && a.at.Sub(t) <= a.slack
}

// arm records and returns the deadline to set for a request of t: t plus
// the slack (a sixteenth of the time left; the clock is read only here).
func (a *armedDeadline) arm(t time.Time) time.Time {
	if t.IsZero() {
		*a = armedDeadline{}
		return t
	}
	a.slack = max(time.Until(t)/16, 0)
	a.at = t.Add(a.slack)
	return a.at
}

func (c *conn) SetReadDeadline(t time.Time) error {
	if c.read.keeps(t) {
		return nil
	}
	if err := c.Conn.SetReadDeadline(c.read.arm(t)); err != nil {
		c.read = armedDeadline{}
		return err
	}
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	if c.write.keeps(t) {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(c.write.arm(t)); err != nil {
		c.write = armedDeadline{}
		return err
	}
	return nil
}

// SetDeadline sets both exactly, as asked (fasthttp uses it around a TLS
// handshake, not per request).
func (c *conn) SetDeadline(t time.Time) error {
	c.read, c.write = armedDeadline{at: t}, armedDeadline{at: t}
	if err := c.Conn.SetDeadline(t); err != nil {
		c.read, c.write = armedDeadline{}, armedDeadline{}
		return err
	}
	return nil
}
