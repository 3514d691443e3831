package rules

import (
	"testing"
	"time"
)

func TestUnits(t *testing.T) {
	tests := []struct {
		in      string
		target  interface{ UnmarshalText([]byte) error }
		want    any
		wantErr string
	}{
		{"250ms", new(Duration), Duration(250 * time.Millisecond), ""},
		{"5m", new(Duration), Duration(5 * time.Minute), ""},
		{"0", new(Duration), Duration(0), ""},
		{"10", new(Duration), nil, `duration "10" has no unit: want e.g. 250ms, 10s, 5m, 1h`},
		{"-1s", new(Duration), nil, `negative duration "-1s"`},
		{"soon", new(Duration), nil, `bad duration "soon": want e.g. 250ms, 10s, 5m, 1h`},
		{"256MiB", new(Size), Size(256 << 20), ""},
		{"8KiB", new(Size), Size(8 << 10), ""},
		{"1MB", new(Size), Size(1e6), ""},
		{"1024", new(Size), Size(1024), ""},
		{"10B", new(Size), Size(10), ""},
		{"-1", new(Size), nil, `bad size "-1": want bytes or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 256MiB`},
		{"1.5MiB", new(Size), nil, `bad size "1.5MiB": want bytes or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 256MiB`},
		{"9999999999GiB", new(Size), nil, `size "9999999999GiB" is too large`},
		{"500/s", new(Rate), Rate{500, time.Second}, ""},
		{"30/m", new(Rate), Rate{30, time.Minute}, ""},
		{"2/h", new(Rate), Rate{2, time.Hour}, ""},
		{"10/5s", new(Rate), Rate{10, 5 * time.Second}, ""},
		{"500", new(Rate), nil, `bad rate "500": no "/"; want N/period, e.g. 500/s, 30/m, 2/h, 10/5s`},
		{"0/s", new(Rate), nil, `bad rate "0/s": count must be a positive integer; want N/period, e.g. 500/s, 30/m, 2/h, 10/5s`},
		{"5/d", new(Rate), nil, `bad rate "5/d": period must be s, m, h or a positive duration; want N/period, e.g. 500/s, 30/m, 2/h, 10/5s`},
	}
	for _, tt := range tests {
		err := tt.target.UnmarshalText([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		var got any
		switch v := tt.target.(type) {
		case *Duration:
			got = *v
		case *Size:
			got = *v
		case *Rate:
			got = *v
		}
		if got != tt.want {
			t.Errorf("%q = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestUnitsRoundTrip(t *testing.T) {
	for _, r := range []Rate{{500, time.Second}, {30, time.Minute}, {10, 5 * time.Second}, {1, 1500 * time.Millisecond}} {
		var back Rate
		if err := back.UnmarshalText([]byte(r.String())); err != nil || back != r {
			t.Errorf("rate %v → %q → %v, %v", r, r.String(), back, err)
		}
	}
	for _, s := range []Size{0, 1, 1000, 1024, 1 << 20, 3e9, 12345} {
		text, _ := s.MarshalText()
		var back Size
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("size %d → %q → %d, %v", s, text, back, err)
		}
	}
	if got := (Rate{500, time.Second}).Interval(); got != 2*time.Millisecond {
		t.Errorf("Interval = %v, want 2ms", got)
	}
	if got := (Rate{30, time.Minute}).PerSecond(); got != 0.5 {
		t.Errorf("PerSecond = %v, want 0.5", got)
	}
}
