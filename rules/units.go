package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "250ms", "10s", "5m" or "1h30m".
// A bare number is refused (except 0): "10" could mean seconds or
// milliseconds, and guessing wrong on a timeout hurts. Negative values are
// refused.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil && isDigits(s):
		return fmt.Errorf("duration %q has no unit: want e.g. 250ms, 10s, 5m, 1h", s)
	case err != nil:
		return fmt.Errorf("bad duration %q: want e.g. 250ms, 10s, 5m, 1h", s)
	case v < 0:
		return fmt.Errorf("negative duration %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d so that UnmarshalText reads it back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Size is a byte count written as a plain integer (bytes) or with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type Size int64

// Bytes returns s as a number of bytes.
func (s Size) Bytes() int64 { return int64(s) }

var sizeUnits = []struct {
	name string
	mult int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	str := string(b)
	num, mult := str, int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(str, u.name); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil || !isDigits(num):
		return fmt.Errorf("bad size %q: want bytes or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 256MiB", str)
	case n > (1<<62)/mult:
		return fmt.Errorf("size %q is too large", str)
	}
	*s = Size(n * mult)
	return nil
}

// MarshalText writes s with the largest unit that divides it, binary
// units first.
func (s Size) MarshalText() ([]byte, error) {
	n := int64(s)
	for _, u := range []struct {
		name string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if n != 0 && n%u.mult == 0 {
			return []byte(strconv.FormatInt(n/u.mult, 10) + u.name), nil
		}
	}
	return []byte(strconv.FormatInt(n, 10)), nil
}

// Rate is N events per period, written "500/s", "30/m", "2/h" or with any
// duration as the period: "10/5s", "1/250ms". The zero value means no rate
// was given.
type Rate struct {
	N   int
	Per time.Duration
}

// Interval returns the time between events at this rate (Per/N), the
// emission interval of a GCRA limiter; 0 for the zero Rate.
func (r Rate) Interval() time.Duration {
	if r.N <= 0 {
		return 0
	}
	return r.Per / time.Duration(r.N)
}

// PerSecond returns the rate in events per second; 0 for the zero Rate.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.N) / r.Per.Seconds()
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	s := string(b)
	bad := func(why string) error {
		return fmt.Errorf("bad rate %q: %s; want N/period, e.g. 500/s, 30/m, 2/h, 10/5s", s, why)
	}
	num, per, ok := strings.Cut(s, "/")
	if !ok {
		return bad("no \"/\"")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || !isDigits(num) {
		return bad("count must be a positive integer")
	}
	var d time.Duration
	switch per {
	case "s":
		d = time.Second
	case "m":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		d, err = time.ParseDuration(per)
		if err != nil || d <= 0 {
			return bad("period must be s, m, h or a positive duration")
		}
	}
	*r = Rate{N: n, Per: d}
	return nil
}

// MarshalText writes r so that UnmarshalText reads it back.
func (r Rate) MarshalText() ([]byte, error) {
	per := r.Per.String()
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "m"
	case time.Hour:
		per = "h"
	}
	return []byte(strconv.Itoa(r.N) + "/" + per), nil
}

// String returns the text form ("500/s").
func (r Rate) String() string {
	b, _ := r.MarshalText()
	return string(b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
