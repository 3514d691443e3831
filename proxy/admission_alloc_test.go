//go:build !race

package proxy

import "testing"

// TestAdmissionAllocs: rejecting at the admission stage, and admitting a
// purchase through the filters to the origin and observing its answer,
// allocate nothing per request in steady state (the count is process-wide:
// it includes the in-memory origin and the client pool).
func TestAdmissionAllocs(t *testing.T) {
	tests := []struct {
		name, rules string
		want        int
	}{
		{"reject", rejectRules, 429},
		{"pass", passRules, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ctx := admissionHandler(t, tt.rules)
			for range 10 { // fill the bucket; warm pools, buffers, connection
				ctx.Response.Reset()
				h(ctx)
			}
			if s := ctx.Response.StatusCode(); s != tt.want {
				t.Fatalf("status %d, want %d: %s", s, tt.want, ctx.Response.Body())
			}
			n := testing.AllocsPerRun(1000, func() {
				ctx.Response.Reset()
				h(ctx)
			})
			if ctx.Response.StatusCode() != tt.want {
				t.Fatalf("status %d during the run, want %d", ctx.Response.StatusCode(), tt.want)
			}
			if n > 0 {
				t.Fatalf("%s allocates %.1f times per request, want 0", tt.name, n)
			}
		})
	}
}
