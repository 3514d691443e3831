package demo

import (
	"sync"
	"testing"
)

func TestInventoryTake(t *testing.T) {
	inv := newInventory(1, 5)
	steps := []struct {
		n        int64
		wantLeft int64
		wantOK   bool
	}{
		{2, 3, true}, {4, 3, false}, {3, 0, true}, {1, 0, false},
	}
	for i, st := range steps {
		left, ok := inv.take(1, st.n)
		if left != st.wantLeft || ok != st.wantOK {
			t.Fatalf("step %d take(%d) = %d, %v; want %d, %v", i, st.n, left, ok, st.wantLeft, st.wantOK)
		}
	}
	if inv.soldOf(1) != 5 {
		t.Errorf("sold = %d, want 5", inv.soldOf(1))
	}
}

// TestInventoryTakeConcurrentQuantities races takes of mixed sizes: the
// units sold plus the units left always equal the initial stock.
func TestInventoryTakeConcurrentQuantities(t *testing.T) {
	const stock = 1000
	inv := newInventory(1, stock)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for range 100 {
				inv.take(1, int64(g%5+1))
			}
		})
	}
	wg.Wait()
	if left, sold := inv.left(1), inv.soldOf(1); left < 0 || left+sold != stock {
		t.Errorf("left %d + sold %d: want a sum of %d, left >= 0", left, sold, stock)
	}
}

func TestParseID(t *testing.T) {
	s := New(Options{Items: 12})
	tests := []struct {
		in     string
		want   int
		wantOK bool
	}{
		{"1", 1, true}, {"12", 12, true}, {"007", 7, true},
		{"0", 0, false}, {"13", 0, false}, {"", 0, false}, {"+1", 0, false}, {"-1", 0, false},
		{"1a", 0, false}, {"1/", 0, false}, {"9999999999", 0, false},
	}
	for _, tt := range tests {
		got, ok := s.parseID([]byte(tt.in))
		if ok != tt.wantOK || ok && got != tt.want {
			t.Errorf("parseID(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
