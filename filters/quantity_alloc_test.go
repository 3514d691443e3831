//go:build !race

package filters

import "testing"

func TestQuantityUnitsAllocs(t *testing.T) {
	for _, tt := range []struct {
		q   quantity
		req *Request
	}{
		{quantity{src: 'f', name: []byte("qty"), max: 5}, newReq("/buy/2?x=1", withForm(urlencoded, "a=b&qty=3"))},
		{quantity{src: 'q', name: []byte("qty"), max: 5}, newReq("/buy/2?qty=3")},
		{quantity{src: 'h', name: []byte("X-Quantity"), max: 5}, newReq("/buy/2", withHeader("X-Quantity", "3"))},
	} {
		if n, ok := tt.q.units(tt.req); !ok || n != 3 {
			t.Fatalf("%c: units = %d, %v", tt.q.src, n, ok)
		}
		if a := testing.AllocsPerRun(1000, func() { tt.q.units(tt.req) }); a > 0 {
			t.Fatalf("%c: %.1f allocs per units, want 0", tt.q.src, a)
		}
	}
}
