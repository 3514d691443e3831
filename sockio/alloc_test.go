//go:build !race

package sockio

import (
	"io"
	"testing"
	"time"
)

// A read and a write through a Socket allocate nothing: the callbacks the
// runtime calls are bound once, in Init.
func TestSocketAllocs(t *testing.T) {
	{
		s, c, peer := pair(t)
		go io.Copy(peer, peer) // echo
		msg, buf := []byte("ping"), make([]byte, 16)
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := s.Write(c, msg); err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(msg); {
				k, err := s.Read(c, buf)
				if err != nil {
					t.Fatal(err)
				}
				n += k
			}
		})
		if allocs != 0 {
			t.Errorf("%.1f allocations a round trip, want 0", allocs)
		}
		allocs = testing.AllocsPerRun(200, func() {
			_, n, err := s.Exchange(c, msg, buf)
			for err == nil && n < len(msg) {
				var k int
				k, err = s.Read(c, buf)
				n += k
			}
			if err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%.1f allocations an exchange, want 0", allocs)
		}
		if allocs = testing.AllocsPerRun(200, func() { s.Idle(c) }); allocs != 0 {
			t.Errorf("%.1f allocations a look at an idle connection, want 0", allocs)
		}
		peer.Write(msg) // echoed back unread: Unasked, which also reads the TCP state
		for i := 0; s.Idle(c) != Unasked; i++ {
			if i == 1000 {
				t.Fatal("the bytes never arrived")
			}
			time.Sleep(time.Millisecond)
		}
		if allocs = testing.AllocsPerRun(200, func() { s.Idle(c) }); allocs != 0 {
			t.Errorf("%.1f allocations a look at a connection holding unasked bytes, want 0", allocs)
		}
	}
}
