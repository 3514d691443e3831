package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns a connected loopback pair: the accepted side with a Socket
// and the dialled side plain.
func pair(t testing.TB) (*Socket, net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); peer.Close() })
	s := new(Socket)
	s.Init(c)
	if s.raw == nil {
		t.Fatal("a *net.TCPConn was not taken over")
	}
	return s, c, peer
}

func TestReadWrite(t *testing.T) {
	{
		s, c, peer := pair(t)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		for i, msg := range []string{"GET / HTTP/1.1\r\n\r\n", "second", "third, after a drain"} {
			if _, err := peer.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			if i == 2 {
				// Arrives, and is polled, before the read is asked for: a
				// read that waited for readiness first would hang here.
				time.Sleep(20 * time.Millisecond)
			}
			n, err := s.Read(c, buf)
			if err != nil || string(buf[:n]) != msg {
				t.Fatalf("read %d: %q, %v; want %q", i, buf[:n], err, msg)
			}
			if _, err := s.Write(c, buf[:n]); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, n)
			if _, err := io.ReadFull(peer, back); err != nil || string(back) != msg {
				t.Fatalf("echo %q, %v", back, err)
			}
		}
	}
}

// A read that fills p leaves bytes behind: the next read must take them
// at once, though no new arrival will signal them.
func TestReadAfterFullRead(t *testing.T) {
	s, c, peer := pair(t)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Write([]byte("abcdefgh")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 3)
	for len(got) < 8 {
		n, err := s.Read(c, buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "abcdefgh" {
		t.Fatalf("read %q", got)
	}
}

// A write larger than the socket buffers waits for the peer to read, and
// every byte arrives in order.
func TestLargeWrite(t *testing.T) {
	s, c, peer := pair(t)
	c.(*net.TCPConn).SetWriteBuffer(16 << 10)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	done := make(chan []byte)
	go func() {
		time.Sleep(20 * time.Millisecond) // the writer fills the buffers and waits
		got, _ := io.ReadAll(peer)
		done <- got
	}()
	n, err := s.Write(c, want)
	if err != nil || n != len(want) {
		t.Fatalf("wrote %d of %d: %v", n, len(want), err)
	}
	c.Close()
	if got := <-done; !bytes.Equal(got, want) {
		t.Fatalf("peer read %d bytes, not the %d written", len(got), len(want))
	}
}

func TestErrors(t *testing.T) {
	t.Run("eof", func(t *testing.T) {
		s, c, peer := pair(t)
		peer.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := s.Read(c, make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("read after the peer closed: %d, %v; want io.EOF", n, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		{
			s, c, _ := pair(t)
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			_, err := s.Read(c, make([]byte, 8))
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%v; want a timeout", err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "read" || oe.Addr == nil {
				t.Fatalf("error %#v: want a read OpError with the peer's address", err)
			}
		}
	})
	t.Run("closed", func(t *testing.T) {
		s, c, _ := pair(t)
		c.Close()
		if _, err := s.Read(c, make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed connection: %v", err)
		}
		if _, err := s.Write(c, []byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write on a closed connection: %v", err)
		}
	})
	t.Run("peer reset", func(t *testing.T) {
		s, c, peer := pair(t)
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close() // RST
		time.Sleep(20 * time.Millisecond)
		var err error
		for i := 0; i < 10 && err == nil; i++ { // the first write may still be accepted
			_, err = s.Write(c, []byte("answer"))
		}
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("write to a reset peer: %v; want ECONNRESET or EPIPE (and no SIGPIPE)", err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "write" {
			t.Fatalf("error %#v: want a write OpError", err)
		}
	})
}

// Anything but a *net.TCPConn keeps its own Read and Write.
func TestOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var s Socket
	s.Init(a)
	go b.Write([]byte("piped"))
	buf := make([]byte, 8)
	if n, err := s.Read(a, buf); err != nil || string(buf[:n]) != "piped" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	var zero Socket // not set up: the connection's own I/O
	go b.Read(buf)
	if _, err := zero.Write(a, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRoundTrip: a small write and its echo through a Socket, beside
// the connection's own Read and Write.
func BenchmarkRoundTrip(b *testing.B) {
	for _, name := range []string{"sockio", "net.Conn"} {
		b.Run(name, func(b *testing.B) {
			s, c, peer := pair(b)
			if name == "net.Conn" {
				*s = Socket{}
			}
			go io.Copy(peer, peer) // echo
			msg, buf := []byte("GET /item/1 HTTP/1.1\r\n\r\n"), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				s.Write(c, msg)
				for n := 0; n < len(msg); {
					k, err := s.Read(c, buf)
					if err != nil {
						b.Fatal(err)
					}
					n += k
				}
			}
		})
	}
}
