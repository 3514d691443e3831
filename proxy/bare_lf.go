package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"runtime"

	"flashgate/sockio"
)

// errBareLF is the read error of a connection whose request header block
// has a line ending in LF without CR.
var errBareLF = errors.New("request header line ends in a bare LF (want CRLF)")

// lfListener hands out lfConns.
type lfListener struct{ net.Listener }

func (l lfListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok {
		return &lfTLSConn{lfConn: &lfConn{Conn: c, armed: true}, tls: tc}, nil // bare_lf_tls.go
	}
	lc := &lfConn{Conn: c, armed: true}
	lc.sock.Init(c)
	return lc, nil
}

// lfConn answers a request header block with bare-LF line endings at
// once. fasthttp looks for the CRLF CRLF that ends a header block; with
// bare LFs it never comes, and the client waited for read_timeout before
// its 400. RFC 9112 §2.2 lets a server refuse them; accepting them would
// have the gateway read a message differently from an origin or a proxy
// in front that does not, the root of request smuggling.
//
// While armed (from the start of a request to the CRLF CRLF that ends its
// header block) Read scans what it returns for an LF not preceded by CR
// and then fails with errBareLF, keeping the bytes so that fasthttp parses
// what it has and hands the error to Server.handleServerError (400
// bad_line_ending). When the block still ends in CR LF CR LF, fasthttp
// parses the request from what it had buffered before the error; then
// checkRequest answers the same 400 (and closes) from the bare flag, so a
// bare LF is refused wherever it is. Bodies are not scanned. armLF
// re-arms the connection when a request is served, for the next one. Pipelined requests already
// read with the previous body are not scanned: they wait as before.
//
// Only the connection's own goroutine (fasthttp's serveConn) reads, writes
// and arms (the gateway hijacks no connection), so the fields need no
// locking. The cost: a scan of the header
// bytes (IndexByte), and fasthttp's one-writev path for responses larger
// than its write buffer (4 KiB), which it takes for a *net.TCPConn only:
// such a response goes out in two write calls instead of one writev
// (strace of BenchmarkLFConn/65536: 2 writes of ≈9 µs against 1 writev of
// ≈13 µs of syscall time per answer; smaller answers are one write either
// way). Wall-clock timings on the shared 2-core box were too noisy to
// tell the two apart.
type lfConn struct {
	net.Conn
	armed    bool
	answered bool    // written to since the last read (Read yields first)
	bare     bool    // a bare LF was seen in the current header block
	tail     [3]byte // the last bytes scanned, for a CR LF CR LF or CR LF split across reads
	ntail    int
	sock     sockio.Socket // recv and send (package sockio says why)
	timer    *connRecord   // the connection's timeout record, set at StateNew (conn_timeouts.go)
}

// timeoutRecord returns the record connTimeouts attached, or nil.
func (c *lfConn) timeoutRecord() *connRecord { return c.timer }

// attachRecord keeps r with the connection, so that the per-request
// lookups skip the record set.
func (c *lfConn) attachRecord(r *connRecord) { c.timer = r }

func (c *lfConn) Read(p []byte) (int, error) {
	if c.answered {
		// The read after an answer: the client has only just been sent
		// it, so its next request is seldom here yet, and reading now
		// would find nothing (a system call) and park the goroutine until
		// the poller wakes it (more). Letting the other connections'
		// goroutines run first gives the request time to arrive, so the
		// read finds it, as an event loop that reads the sockets its poll
		// found ready does. Under load that saves both (bench/syscalls.sh:
		// 6.09 → 5.08 calls per forwarded POST; 3.5% more POSTs a second,
		// bench/RESULTS.md, measured with the gateway on one core); with
		// nothing else to run it costs a trip through the scheduler (with
		// several Ps, through its global run queue).
		c.answered = false
		runtime.Gosched()
	}
	n, err := c.sock.Read(c.Conn, p)
	if c.armed && n > 0 && c.scan(p[:n]) {
		c.bare, c.armed = true, false
		return n, errBareLF
	}
	return n, err
}

func (c *lfConn) Write(p []byte) (int, error) {
	c.answered = true
	return c.sock.Write(c.Conn, p)
}

// scan looks at b, the next bytes of an armed header block, and reports a
// bare LF; it disarms at the block's end.
func (c *lfConn) scan(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			c.remember(b)
			return false
		}
		i += j
		if c.before(b, i, 1) != '\r' {
			return true
		}
		if c.before(b, i, 2) == '\n' && c.before(b, i, 3) == '\r' {
			c.armed, c.ntail = false, 0 // CR LF CR LF: the body follows, unscanned
			return false
		}
		i++
	}
}

// before returns the byte k places before b[i], looking into the tail of
// the previous read when b does not reach back so far; 0 if none.
func (c *lfConn) before(b []byte, i, k int) byte {
	if i-k >= 0 {
		return b[i-k]
	}
	if t := c.ntail + (i - k); t >= 0 {
		return c.tail[t]
	}
	return 0
}

// remember keeps the last bytes of the header block read so far.
func (c *lfConn) remember(b []byte) {
	for _, x := range b[max(0, len(b)-len(c.tail)):] {
		if c.ntail == len(c.tail) {
			copy(c.tail[:], c.tail[1:])
			c.ntail--
		}
		c.tail[c.ntail] = x
		c.ntail++
	}
}

// armLF re-arms the bare-LF check of conn (an lfConn, or anything else:
// then nothing) for the next request on it, and reports whether the
// request being served had a bare LF in its header block.
func armLF(conn net.Conn) (bare bool) {
	c, ok := conn.(*lfConn)
	if !ok {
		t, ok := conn.(*lfTLSConn)
		if !ok {
			return false
		}
		c = t.lfConn
	}
	bare = c.bare
	c.armed, c.bare, c.ntail = true, false, 0
	return bare
}
