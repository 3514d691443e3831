package proxy

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/esi"
	"flashgate/internal/fgtest"
)

// TestESITemplateErrorsLogOnce: one log line per URL and reason however
// often it is reported; a new reason for the same URL, or a new URL, is
// logged; every report is counted.
func TestESITemplateErrorsLogOnce(t *testing.T) {
	var logs fgtest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	e := newESITemplateErrors(metrics.NewSet())
	unclosed := &esi.ParseError{Offset: 7, What: "esi:try", Err: esi.ErrUnclosed}
	syntax := &esi.ParseError{Offset: 7, What: "esi:include", Err: esi.ErrSyntax, Detail: "src is required"}
	for range 100 {
		e.report(log, "page", []byte("shop"), []byte("/item/1"), unclosed)
	}
	e.report(log, "page", []byte("shop"), []byte("/item/1"), syntax)
	e.report(log, "page", []byte("shop"), []byte("/item/2"), syntax)
	e.report(log, "page", []byte("shop"), []byte("/item/2"), errors.New("esi: template body: gzip: invalid header"))
	if n := strings.Count(logs.String(), "level=WARN"); n != 4 {
		t.Fatalf("%d log lines, want 4 (one per URL and reason):\n%s", n, logs.String())
	}
	if got := e.count.Get(); got != 103 {
		t.Fatalf("counted %d, want 103 (every report)", got)
	}
}
