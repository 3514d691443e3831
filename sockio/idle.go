package sockio

import (
	"net"
	"syscall"
	"unsafe"
)

// IdleState is what an idle connection holds: one nobody has read since
// its last exchange.
type IdleState int8

const (
	Quiet   IdleState = iota // nothing arrived: as it was left
	Unasked                  // bytes arrived that nobody asked for
	Closed                   // the peer closed or reset it
)

// Idle looks at c without reading it: recv(2) with MSG_PEEK and
// MSG_DONTWAIT, which takes nothing and never waits (nor heeds a
// deadline). A keep-alive connection its server closed while it sat in a
// pool is Closed, and a request written to it would be lost with it.
// Connections Socket does not work on are Quiet: it cannot tell.
func (s *Socket) Idle(c net.Conn) IdleState {
	if s.raw == nil {
		return Quiet
	}
	if err := s.raw.Control(s.peekFn); err != nil {
		return Closed // the connection itself is closed
	}
	return s.idle
}

// peek is called by the runtime with the socket.
func (s *Socket) peek(fd uintptr) {
	for {
		n, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.peekBuf[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			s.idle = Quiet
		case e == 0 && n > 0:
			s.idle = Unasked
		default: // end of stream, or a reset
			s.idle = Closed
		}
		return
	}
}
