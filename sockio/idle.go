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
	Unasked                  // bytes arrived that nobody asked for, and it is open
	Closed                   // the peer closed or reset it (perhaps after sending bytes)
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
		case e == 0 && n > 0 && established(fd):
			s.idle = Unasked
		default: // end of stream, a reset, or bytes before the close (a
			// TLS peer's close_notify)
			s.idle = Closed
		}
		return
	}
}

// established reports whether the TCP connection on fd is still open both
// ways: its state, the first byte of TCP_INFO, is ESTABLISHED. A peer's
// close behind bytes it sent first leaves it in CLOSE_WAIT.
func established(fd uintptr) bool {
	const tcpEstablished = 1 // include/net/tcp_states.h
	var state [1]byte
	size := uint32(len(state))
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&state[0])), uintptr(unsafe.Pointer(&size)), 0)
	return e == 0 && size == 1 && state[0] == tcpEstablished
}
