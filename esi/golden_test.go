package esi

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

// TestGolden assembles every testdata/golden/NAME.html with the fragments of
// NAME.frags and compares the output, Result and error with NAME.golden.
// Each case runs with the NowFetcher fast path, with every fetch on a
// worker, and through CSI (NAME.csi.golden when the page parses), in a
// synctest bubble so that slow fragments time out on a fake clock.
func TestGolden(t *testing.T) {
	pages, err := filepath.Glob("testdata/golden/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no golden pages: %v", err)
	}
	for _, page := range pages {
		name := strings.TrimSuffix(filepath.Base(page), ".html")
		t.Run(name, func(t *testing.T) {
			base := strings.TrimSuffix(page, ".html")
			html := readFile(t, page)
			frags := ""
			if b, err := os.ReadFile(base + ".frags"); err == nil {
				frags = string(b)
			}
			got := runGolden(t, html, frags, false)
			if async := runGolden(t, html, frags, true); async != got {
				t.Errorf("worker fetches differ from the fast path:\n--- fast\n%s\n--- workers\n%s", got, async)
			}
			compareGolden(t, base+".golden", got)
		})
	}
}

func runGolden(t *testing.T, html []byte, frags string, async bool) string {
	var out string
	synctest.Test(t, func(t *testing.T) {
		sc := parseFrags(t, frags)
		tpl, err := Parse(html, ParseOptions{MaxIncludes: 8})
		if err != nil {
			out = "--- parse error\n" + err.Error() + "\n"
			return
		}
		sc.cfg.Fetcher = sc.fetcher
		if async {
			sc.cfg.Fetcher = asyncOnly{sc.fetcher}
		}
		a, err := NewAssembler(sc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var w bytes.Buffer
		if sc.ready {
			sc.page.Ready = func() { w.WriteString("<ready>") }
		}
		res, err := a.Assemble(context.Background(), &w, tpl, &sc.page)
		out = formatResult(w.Bytes(), res, err, sc.fetcher.fetched())
		var csi bytes.Buffer
		cres, cerr := a.RenderCSI(&csi, tpl, &sc.page, "n0nce")
		out += "--- csi\n" + formatResult(csi.Bytes(), cres, cerr, nil)
	})
	return out
}

func readFile(t testing.TB, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareGolden(t *testing.T, name, got string) {
	if *update {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
