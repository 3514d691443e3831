package cluster

import (
	"strconv"
	"testing"
)

// FuzzFlagAnnouncement: any message on the flags channel is applied or
// ignored without panicking, and a well-formed "+hex:ttl" sets exactly
// its key, which "-hex" clears.
func FuzzFlagAnnouncement(f *testing.F) {
	for _, s := range []string{"+1f:1000", "-1f", "+", "+zz:1", "+1:-5", "+ffffffffffffffff:1", "?1f"} {
		f.Add(s, uint64(0x1f), int64(1000))
	}
	f.Fuzz(func(t *testing.T, msg string, key uint64, ttl int64) {
		var c flagCache
		c.init()
		c.announcement(msg, 0)
		if ttl <= 0 || ttl > 1<<40 {
			return
		}
		var d flagCache
		d.init()
		hex := strconv.FormatUint(key, 16)
		d.announcement("+"+hex+":"+strconv.FormatInt(ttl, 10), 0)
		if !d.has(key, 0) || len(d.m) != 1 {
			t.Fatalf("+%s:%d did not set key %x alone: %v", hex, ttl, key, d.m)
		}
		d.announcement("-"+hex, 0)
		if d.has(key, 0) {
			t.Fatalf("-%s left the flag", hex)
		}
	})
}
