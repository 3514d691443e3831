package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// answer makes peer answer each request (a read) with reply.
func answer(peer net.Conn, reply string) {
	buf := make([]byte, 4096)
	for {
		if _, err := peer.Read(buf); err != nil {
			return
		}
		if _, err := peer.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// readRest reads on after an exchange's first bytes until it has want.
func readRest(t *testing.T, s *Socket, c net.Conn, first []byte, want string) {
	t.Helper()
	got := append([]byte(nil), first...)
	buf := make([]byte, 64)
	for len(got) < len(want) {
		n, err := s.Read(c, buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// Request and answer, over and over on one connection, and the answer is
// read although the exchange waited before reading.
func TestExchange(t *testing.T) {
	s, c, peer := pair(t)
	go answer(peer, "HTTP/1.1 200 OK\r\n\r\n")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for i := range 50 {
		sent, n, err := s.Exchange(c, []byte("GET / HTTP/1.1\r\n\r\n"), buf)
		if err != nil || sent != 18 {
			t.Fatalf("exchange %d: sent %d, %v", i, sent, err)
		}
		readRest(t, s, c, buf[:n], "HTTP/1.1 200 OK\r\n\r\n")
	}
}

// What the exchange finds before it sends, nothing is sent into: bytes
// nobody asked for, a peer's close, a peer's half close (its lingering
// close, reading away what comes: the request would get neither an answer
// nor a reset, and the wait would last to the deadline), a reset.
func TestExchangeNotQuiet(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(peer net.Conn)
	}{
		{"unasked bytes", func(peer net.Conn) { peer.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")) }},
		{"closed", func(peer net.Conn) { peer.Close() }},
		{"half closed, reading", func(peer net.Conn) {
			peer.(*net.TCPConn).CloseWrite()
			go io.Copy(io.Discard, peer)
		}},
		{"reset", func(peer net.Conn) {
			peer.(*net.TCPConn).SetLinger(0)
			peer.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, peer := pair(t)
			got := make(chan int, 1)
			if tc.name == "unasked bytes" {
				go func() { n, _ := io.Copy(io.Discard, peer); got <- int(n) }()
			}
			tc.do(peer)
			settle(t, s, c, map[bool]IdleState{true: Unasked, false: Closed}[tc.name == "unasked bytes"])
			c.SetDeadline(time.Now().Add(10 * time.Second))
			sent, n, err := s.Exchange(c, []byte("GET / HTTP/1.1\r\n\r\n"), make([]byte, 64))
			if err != ErrNotQuiet || sent != 0 || n != 0 {
				t.Fatalf("sent %d, read %d, %v; want nothing sent and ErrNotQuiet", sent, n, err)
			}
			if tc.name == "unasked bytes" {
				c.Close()
				if n := <-got; n != 0 {
					t.Fatalf("the peer got %d bytes", n)
				}
			}
		})
	}
}

// A request larger than the socket's buffers: the exchange sends what
// fits and hands the rest back to the caller, who writes it.
func TestExchangeFullSocket(t *testing.T) {
	s, c, peer := pair(t)
	c.(*net.TCPConn).SetWriteBuffer(16 << 10)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
	done := make(chan []byte)
	go func() {
		got := make([]byte, len(want))
		io.ReadFull(peer, got)
		peer.Write([]byte("taken"))
		done <- got
	}()
	sent, _, err := s.Exchange(c, want, make([]byte, 64))
	if err != nil || sent == 0 || sent >= len(want) {
		t.Fatalf("sent %d of %d, %v: want part of it and no error", sent, len(want), err)
	}
	if _, err := s.Write(c, want[sent:]); err != nil {
		t.Fatal(err)
	}
	readRest(t, s, c, nil, "taken")
	if got := <-done; !bytes.Equal(got, want) {
		t.Fatal("the peer did not get the request as sent")
	}
}

func TestExchangeErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		s, c, peer := pair(t)
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		sent, _, err := s.Exchange(c, []byte("unanswered"), make([]byte, 8))
		if !errors.Is(err, os.ErrDeadlineExceeded) || sent != len("unanswered") {
			t.Fatalf("sent %d, %v; want all sent, then a timeout", sent, err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "read" || oe.Addr == nil {
			t.Fatalf("error %#v: want a read OpError with the peer's address", err)
		}
		got := make([]byte, 10)
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(peer, got); err != nil || string(got) != "unanswered" {
			t.Fatalf("peer got %q, %v", got, err)
		}
	})
	t.Run("deadline passed", func(t *testing.T) {
		s, c, _ := pair(t)
		c.SetReadDeadline(time.Now().Add(-time.Second))
		if sent, _, err := s.Exchange(c, []byte("late"), make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) || sent != 0 {
			t.Fatalf("sent %d, %v; want nothing sent and a timeout", sent, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		s, c, _ := pair(t)
		c.Close()
		if _, _, err := s.Exchange(c, []byte("x"), make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("exchange on a closed connection: %v", err)
		}
	})
}

// Anything but a *net.TCPConn: a write, then a read.
func TestExchangeOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var s Socket
	s.Init(a)
	go answer(b, "piped")
	buf := make([]byte, 8)
	if sent, n, err := s.Exchange(a, []byte("ask"), buf); err != nil || sent != 3 || string(buf[:n]) != "piped" {
		t.Fatalf("sent %d, read %q, %v", sent, buf[:n], err)
	}
}

// BenchmarkExchange: a small request and its answer, in one exchange and
// as a write and a read.
func BenchmarkExchange(b *testing.B) {
	for _, name := range []string{"exchange", "write+read"} {
		b.Run(name, func(b *testing.B) {
			s, c, peer := pair(b)
			go io.Copy(peer, peer) // echo
			msg, buf := []byte("GET /item/1 HTTP/1.1\r\n\r\n"), make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				var n int
				var err error
				if name == "exchange" {
					_, n, err = s.Exchange(c, msg, buf)
				} else {
					s.Write(c, msg)
					n, err = s.Read(c, buf)
				}
				for err == nil && n < len(msg) {
					var k int
					k, err = s.Read(c, buf)
					n += k
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
