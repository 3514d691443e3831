package sockio

import (
	"net"
	"testing"
	"time"
)

// settle waits until Idle reports want (an arrival is polled as soon as
// it is on the socket, but the peer's close or reset takes a moment).
func settle(t *testing.T, s *Socket, c net.Conn, want IdleState) {
	t.Helper()
	got := s.Idle(c)
	for i := 0; got != want && i < 200; i++ {
		time.Sleep(5 * time.Millisecond)
		got = s.Idle(c)
	}
	if got != want {
		t.Fatalf("Idle = %d, want %d", got, want)
	}
}

func TestIdle(t *testing.T) {
	t.Run("quiet", func(t *testing.T) {
		s, c, _ := pair(t)
		c.SetReadDeadline(time.Now().Add(-time.Second)) // a deadline that passed is no matter
		if got := s.Idle(c); got != Quiet {
			t.Fatalf("Idle = %d on a quiet connection", got)
		}
	})
	t.Run("unasked bytes, left to read", func(t *testing.T) {
		s, c, peer := pair(t)
		peer.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n"))
		settle(t, s, c, Unasked)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		if n, err := s.Read(c, buf); err != nil || string(buf[:n]) != "HTTP/1.1 408 Request Timeout\r\n\r\n" {
			t.Fatalf("read after the look: %q, %v", buf[:n], err)
		}
		if got := s.Idle(c); got != Quiet {
			t.Fatalf("Idle = %d once read", got)
		}
	})
	t.Run("peer closed", func(t *testing.T) {
		s, c, peer := pair(t)
		peer.Close()
		settle(t, s, c, Closed)
	})
	t.Run("peer closed after unasked bytes", func(t *testing.T) {
		// A TLS peer's close: a close_notify record, then the FIN.
		s, c, peer := pair(t)
		peer.Write([]byte("\x15\x03\x03\x00\x02\x01\x00"))
		peer.Close()
		settle(t, s, c, Closed)
	})
	t.Run("peer reset", func(t *testing.T) {
		s, c, peer := pair(t)
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		settle(t, s, c, Closed)
	})
	t.Run("closed", func(t *testing.T) {
		s, c, _ := pair(t)
		c.Close()
		if got := s.Idle(c); got != Closed {
			t.Fatalf("Idle = %d on a closed connection", got)
		}
	})
	t.Run("not a socket", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		b.Close()
		var s Socket
		s.Init(a)
		if got := s.Idle(a); got != Quiet {
			t.Fatalf("Idle = %d on a pipe; want Quiet (cannot tell)", got)
		}
	})
}
