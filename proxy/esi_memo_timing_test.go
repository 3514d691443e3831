package proxy

import (
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkHandlerESIAssemble is BenchmarkHandlerESI with the memo out of
// the way (the page route forwards a header to its fragments, so its pages
// are never memoised): what assembling 3 and 50 cached fragments costs on
// the fast path, for pages that cannot be reused and for every memo miss.
func BenchmarkHandlerESIAssemble(b *testing.B) {
	rules := strings.Replace(stagesRules, "path: /page/{n}\n    origin: shop\n",
		"path: /page/{n}\n    origin: shop\n    esi: {forward_headers: [X-Bench]}\n", 1)
	if rules == stagesRules {
		b.Fatal("stagesRules changed: cannot add forward_headers to its page route")
	}
	for _, n := range []int{3, 50} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, err := New(Options{Config: loadYAML(b, "origin:80", rules), Dial: inMemoryOrigin(b, stagesOrigin),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.env.Close)
			ctx := warmCtx(b, s, "/page/"+strconv.Itoa(n))
			h := s.Handler()
			memo := s.metrics.set.GetOrCreateCounter(`flashgate_esi_pages_total{path="memo"}`)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h(ctx)
			}
			if memo.Get() != 0 {
				b.Fatalf("%d pages from the memo, want 0", memo.Get())
			}
		})
	}
}
