package sockio

import (
	"errors"
	"io"
	"net"
	"os"
)

// ErrNotQuiet is Exchange's answer when the connection was not as its last
// exchange left it: the peer had closed it (wholly, or only its sending
// side, as a server's lingering close does) or sent bytes nobody asked
// for. Nothing was sent: the request may go on another connection.
var ErrNotQuiet = errors.New("sockio: the connection was closed by the peer, or holds bytes nobody asked for; nothing was sent")

// Exchange sends w, a whole request, and reads the start of the answer
// into p, without the empty read that Write followed by Read makes.
//
// Why it may wait before it reads: it sends w from inside the read, after
// the runtime has cleared the socket's readiness. An answer to w can only
// arrive after w is sent, so its arrival is a readiness event the wait
// sees, and the read that follows finds it. (Read cannot wait first: data
// that arrived before it was called is no new event.)
//
// What arrived before the clearing would be missed by the wait, so it is
// looked for first (Idle's look, in the same step): a peer's close, or
// bytes, answer ErrNotQuiet before anything is sent. The look costs the
// system call that the empty read cost; what Exchange saves is that a
// connection a server closed (or half-closed, and reads away what it is
// sent) is found before the request is lost in it, on every request.
//
// Hence the contract: the peer answers what it is sent (an HTTP server),
// sends nothing unasked, and nothing of the request w completes was sent
// before (else the peer may have answered already, and the wait would
// hang to the deadline).
//
// sent is how much of w went out. When the socket's buffer is full the
// exchange stops at that point with sent < len(w) and no error: the caller
// writes the rest and reads as usual. The caller must not write to the
// connection while Exchange runs. Errors are the connection's: a failed
// send is a write error, a failed wait or read a read error.
func (s *Socket) Exchange(c net.Conn, w, p []byte) (sent, n int, err error) {
	if s.raw == nil || len(w) == 0 || len(p) == 0 {
		if sent, err = s.Write(c, w); err != nil {
			return sent, 0, err
		}
		n, err = s.Read(c, p)
		return sent, n, err
	}
	s.wp, s.wn, s.werr = w, 0, 0
	s.rp, s.rn, s.rerr = p, 0, 0
	s.looked = false
	err = s.raw.Read(s.exchangeFn)
	sent = s.wn
	s.wp, s.rp = nil, nil
	switch {
	case err == nil && s.idle != Quiet:
		return 0, 0, ErrNotQuiet
	case s.werr != 0:
		return sent, 0, opError(c, os.NewSyscallError("write", s.werr))
	case err != nil: // a deadline, a closed connection
		return sent, 0, opError(c, err)
	case sent < len(w): // the socket is full: the caller finishes
		return sent, 0, nil
	case s.rerr != 0:
		return sent, 0, opError(c, os.NewSyscallError("read", s.rerr))
	case s.rn == 0:
		return sent, 0, io.EOF
	}
	return sent, s.rn, nil
}

// exchange is called by the runtime, as recv is: first to look and send
// (true stops the exchange, false waits for the answer), then to read.
func (s *Socket) exchange(fd uintptr) bool {
	if !s.looked {
		s.looked = true
		if s.peek(fd); s.idle != Quiet {
			return true // nothing sent
		}
	}
	if s.wn < len(s.wp) {
		if !s.send(fd) || s.werr != 0 {
			return true // full (the caller writes the rest) or failed
		}
		return false // sent: wait for the answer, not read to find none
	}
	return s.recv(fd)
}
