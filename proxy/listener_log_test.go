package proxy

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// TestFasthttpLogThrottled: fasthttp logs once per failed connection (a
// scanner's TLS 1.0 handshakes); at most one line a second reaches the
// log, and the next says how many were dropped.
func TestFasthttpLogThrottled(t *testing.T) {
	var out fgtest.Buffer
	now := time.Unix(1000, 0)
	l := &fasthttpLogger{log: slog.New(slog.NewTextHandler(&out, nil)), now: func() time.Time { return now }}
	for i := range 50 {
		l.Printf("error when serving connection: tls: handshake %d", i)
		now = now.Add(10 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "handshake 0") {
		t.Fatalf("after a burst of 50 in 0.5s, log:\n%s\nwant only the first line", out.String())
	}
	now = now.Add(time.Second)
	l.Printf("error when serving connection: tls: handshake %d", 50)
	if got := out.String(); !strings.Contains(got, "handshake 50") || !strings.Contains(got, "dropped_since_last=49") {
		t.Errorf("a second later, log:\n%s\nwant line 50 saying 49 were dropped", got)
	}
}
