// Package sockio reads and writes a TCP socket with recvfrom(2) and
// sendto(2), as nginx and HAProxy do, instead of read(2) and write(2).
//
// Why: read and write reach a socket through the file layer (fdget_pos,
// vfs_read, rw_verify_area, sock_read_iter and their write twins): ~4% of
// the gateway's CPU in a pass-through profile, which recvfrom and sendto
// skip. Every pass-through request makes four such calls (the client's
// request, the origin's request, its answer, the client's answer).
//
// What Read does not do: wait for readiness before the first read. Go
// reads first and waits only on EAGAIN, which costs an empty read per
// exchange (bench/syscalls.sh counts 3.94 reads a pass-through request
// against HAProxy's 2.00), but the runtime clears a socket's readiness at
// the start of every read (poll_runtime_pollReset), so a read that waited
// first would miss an answer that arrived just before it and hang to its
// deadline. The sockio tests hold that case. Exchange waits first where
// that is safe, for the answer to a request it sends itself after the
// clearing, and spends the saved call on a look for a peer's close
// (exchange.go).
package sockio

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Socket does the I/O of one connection. The zero Socket uses the
// connection's own Read and Write; Init makes it do its own. Like a
// net.Conn, it allows one reader and one writer at a time, which may run
// concurrently.
type Socket struct {
	raw syscall.RawConn // nil: not a socket Socket can work on

	// The read in progress, shared with recv (bound once, so that a Read
	// does not allocate a closure).
	recvFn func(fd uintptr) bool
	rp     []byte
	rn     int
	rerr   syscall.Errno

	// The write in progress, shared with send.
	sendFn func(fd uintptr) bool
	wp     []byte
	wn     int
	werr   syscall.Errno

	exchangeFn func(fd uintptr) bool // exchange.go
	looked     bool                  // the exchange in progress has looked (peek)

	peekFn  func(fd uintptr) // idle.go
	peekBuf [1]byte
	idle    IdleState
}

// Init sets s up to do c's I/O. Connections other than *net.TCPConn (TLS,
// PROXY protocol, test wrappers) keep their own Read and Write.
func (s *Socket) Init(c net.Conn) {
	*s = Socket{}
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			s.raw, s.recvFn, s.sendFn, s.exchangeFn, s.peekFn = raw, s.recv, s.send, s.exchange, s.peek
		}
	}
}

// Read reads c, the connection s was set up with, into p as c.Read does:
// deadlines, errors and io.EOF are the connection's.
func (s *Socket) Read(c net.Conn, p []byte) (int, error) {
	if s.raw == nil || len(p) == 0 {
		return c.Read(p)
	}
	s.rp, s.rn, s.rerr = p, 0, 0
	err := s.raw.Read(s.recvFn)
	s.rp = nil
	switch {
	case err != nil: // a deadline, a closed connection: the wait failed
		return 0, opError(c, err)
	case s.rerr != 0:
		return 0, opError(c, os.NewSyscallError("read", s.rerr))
	case s.rn == 0:
		return 0, io.EOF
	}
	return s.rn, nil
}

// recv is one read attempt, called by the runtime with the socket; false
// sends the runtime to wait for readiness and call again.
func (s *Socket) recv(fd uintptr) bool {
	for {
		n, e := recv(fd, s.rp) // calls.go
		switch e {
		case 0:
			s.rn = n
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.rerr = e
			return true
		}
	}
}

// Write writes all of p to c as c.Write does.
func (s *Socket) Write(c net.Conn, p []byte) (int, error) {
	if s.raw == nil || len(p) == 0 {
		return c.Write(p)
	}
	s.wp, s.wn, s.werr = p, 0, 0
	err := s.raw.Write(s.sendFn)
	n := s.wn
	s.wp = nil
	switch {
	case err != nil:
		return n, opError(c, err)
	case s.werr != 0:
		return n, opError(c, os.NewSyscallError("write", s.werr))
	}
	return n, nil
}

// maxSend bounds one send, as the runtime bounds one write (1 GiB).
const maxSend = 1 << 30

// send sends what is left of the write in progress; false waits for the
// socket to take more.
func (s *Socket) send(fd uintptr) bool {
	for s.wn < len(s.wp) {
		b := s.wp[s.wn:]
		if len(b) > maxSend {
			b = b[:maxSend]
		}
		n, e := send(fd, b)
		switch e {
		case 0:
			s.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.werr = e
			return true
		}
	}
	return true
}

// opError names err as the connection's read or write error: the runtime's
// "raw-read" and "raw-write" say how, not what, and an errno gets the
// connection's addresses as net.Conn's errors have.
func opError(c net.Conn, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		switch oe.Op {
		case "raw-read":
			oe.Op = "read"
		case "raw-write":
			oe.Op = "write"
		}
		oe.Source, oe.Addr = c.LocalAddr(), c.RemoteAddr()
		return oe
	}
	op := "read"
	if se, ok := err.(*os.SyscallError); ok {
		op = se.Syscall
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
