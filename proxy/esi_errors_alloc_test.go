//go:build !race

package proxy

import (
	"log/slog"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/esi"
)

// TestESITemplateErrorReportAllocs: every request of a page whose cached
// template cannot be parsed reports it; once logged, that costs no
// allocation (no error formatted, no attribute built).
func TestESITemplateErrorReportAllocs(t *testing.T) {
	e := newESITemplateErrors(metrics.NewSet())
	log := slog.New(slog.DiscardHandler)
	err := &esi.ParseError{Offset: 123, What: "esi:try", Err: esi.ErrUnclosed, Detail: "no </esi:try>"}
	host, path := []byte("shop.example"), []byte("/item/1")
	e.report(log, "page", host, path, err)
	if n := testing.AllocsPerRun(1000, func() { e.report(log, "page", host, path, err) }); n != 0 {
		t.Fatalf("report of a logged template error: %v allocs, want 0", n)
	}
}
