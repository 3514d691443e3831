//go:build !race

package cluster

import (
	"testing"
	"time"
)

func TestMemoryAllocs(t *testing.T) {
	m := newTestMemory(t, 4096, 4096)
	l := Limit{Rate: 10, Per: time.Second, Burst: 2}
	now := int64(100 * sec)
	k := uint64(0)
	cases := map[string]func(){
		"Allow":      func() { k++; m.Allow(k&63, now, l.Emission(), l.Tolerance(), 1) },
		"Add":        func() { k++; m.Add(k&63, 1, sec, now) },
		"AddTracked": func() { k++; m.AddTracked(k&63, 1, sec, now) },
		"Get":        func() { k++; m.Get(k&63, now) },
		"SpendOnce":  func() { k++; m.SpendOnce(k, now+sec, now) },
		"Forget":     func() { k++; m.Forget(k) },
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(1000, f); n > 0 {
			t.Fatalf("%s: %.2f allocs/op, want 0", name, n)
		}
	}
}

// TestBytesPerKey holds the memory bound the issue sets: at most 64 bytes
// per tracked GCRA key.
func TestBytesPerKey(t *testing.T) {
	if per := bytesPerKey(t, 1<<18); per > 64 {
		t.Fatalf("%.1f bytes per tracked key, want <= 64", per)
	} else {
		t.Logf("%.1f bytes per tracked key", per)
	}
}
