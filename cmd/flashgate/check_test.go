package main

import (
	"bytes"
	"strings"
	"testing"
)

// -check reports the errors of an included file even while the main file
// has errors of its own, and every error of one filter.
func TestCheckReportsIncludedAndCompileErrorsTogether(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "testdata/mixed/gateway.yaml"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	got := errOut.String()
	for _, want := range []string{
		`testdata/mixed/gateway.yaml:3:33: server.bogus: unknown key "bogus"`,
		`testdata/mixed/sales/sale.yaml:5:5: routes[0].origin: unknown origin "shpo" (known: shop)`,
		`testdata/mixed/sales/sale.yaml:7:32: routes[0].filters[0].stock.bogus: unknown key "bogus"`,
		`testdata/mixed/sales/sale.yaml:7:17: routes[0].filters[0].stock.overbook: must be within 1..100, got 500`,
		`testdata/mixed/sales/sale.yaml:8:9: routes[0].filters[1].ratelimit: "ratelimit" (stage limits) is listed after "stock"`,
		`testdata/mixed/sales/sale.yaml:8:27: routes[0].filters[1].ratelimit.rate: bad rate "10/x"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q; got:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 6 {
		t.Errorf("%d lines, want 6 (each error once):\n%s", n, got)
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d, want 0", code)
	}
	if !strings.Contains(errOut.String(), "-config") || !strings.Contains(errOut.String(), "flashgate ctl COMMAND") {
		t.Fatalf("-h printed no usage: %q", errOut.String())
	}
}
