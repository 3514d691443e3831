package esi

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
)

// TestRequestIndependent: a variable anywhere (include src or alt, esi:vars
// text, an esi:when test, in any branch, inside an <!--esi block) makes
// the page depend on the request; markup without one does not.
func TestRequestIndependent(t *testing.T) {
	for _, tc := range []struct {
		name, page string
		want       bool
	}{
		{"no markup", `<p>plain</p>`, true},
		{"empty", ``, true},
		{"static includes", `<esi:include src="/a"/><esi:include src="b?x=1" alt="/c" onerror="continue"/>`, true},
		{"absolute include", `<esi:include src="http://shop.test/a"/>`, true},
		{"vars without variables", `<esi:vars><b>plain</b></esi:vars>`, true},
		{"constant test", `<esi:choose><esi:when test="1 == 1">a</esi:when><esi:otherwise>b</esi:otherwise></esi:choose>`, true},
		{"try and remove", `<esi:try><esi:attempt><esi:include src="/a"/></esi:attempt><esi:except>x</esi:except></esi:try><esi:remove>r</esi:remove>`, true},
		{"src variable", `<esi:include src="/a?u=$(HTTP_COOKIE{uid})"/>`, false},
		{"src query variable", `<esi:include src="/a?$(QUERY_STRING)"/>`, false},
		{"alt variable", `<esi:include src="/a" alt="/b?h=$(HTTP_HOST)"/>`, false},
		{"vars text", `<esi:vars>Hi $(HTTP_COOKIE{name})</esi:vars>`, false},
		{"vars text, lenient", `<esi:vars>costs $(5</esi:vars>`, false},
		{"when test", `<esi:choose><esi:when test="$(HTTP_HEADER{X-Tier}) == 'gold'">g</esi:when></esi:choose>`, false},
		{"nested test", `<esi:choose><esi:when test="!(1 == 2 && $(QUERY_STRING{a}))">g</esi:when></esi:choose>`, false},
		{"in except", `<esi:try><esi:attempt>a</esi:attempt><esi:except><esi:include src="/b?$(QUERY_STRING)"/></esi:except></esi:try>`, false},
		{"in otherwise", `<esi:choose><esi:when test="1">a</esi:when><esi:otherwise><esi:vars>$(HTTP_HOST)</esi:vars></esi:otherwise></esi:choose>`, false},
		{"in when body", `<esi:choose><esi:when test="1"><esi:include src="/$(HTTP_HOST)"/></esi:when></esi:choose>`, false},
		{"in esi comment", `<!--esi <esi:include src="/a?c=$(HTTP_COOKIE{c})"/> -->`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Parse([]byte(tc.page), ParseOptions{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tpl.RequestIndependent(); got != tc.want {
				t.Fatalf("RequestIndependent() = %v, want %v for %s", got, tc.want, tc.page)
			}
		})
	}
}

// otherVars is a different visitor of the same page: other cookies,
// headers, query and Host variable.
var otherVars = testVars{host: "other.test", rawQuery: "a=9&b=zz",
	cookies: map[string]string{"uid": "mallory", "name": "Mal"},
	headers: map[string]string{"x-tier": "gold", "accept-language": "fr", "user-agent": "bot", "referer": "http://x/"}}

// TestRequestIndependentGolden checks the promise against the assembler:
// every golden page that Parse calls request independent assembles to the
// same bytes, Result, error and fetched URLs for another visitor; and at
// least one page that is not independent does differ, so the comparison
// can tell.
func TestRequestIndependentGolden(t *testing.T) {
	pages, err := filepath.Glob("testdata/golden/*.html")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no golden pages: %v", err)
	}
	independent, differs := 0, 0
	for _, page := range pages {
		base := strings.TrimSuffix(page, ".html")
		html := readFile(t, page)
		tpl, err := Parse(html, ParseOptions{MaxIncludes: 8})
		if err != nil {
			continue
		}
		frags := ""
		if b, err := os.ReadFile(base + ".frags"); err == nil {
			frags = string(b)
		}
		own := assembleAs(t, tpl, frags, nil)
		other := assembleAs(t, tpl, frags, &otherVars)
		switch {
		case tpl.RequestIndependent() && own != other:
			t.Errorf("%s: request independent, but another visitor gets\n%s\ninstead of\n%s", base, other, own)
		case tpl.RequestIndependent():
			independent++
		case own != other:
			differs++
		}
	}
	if independent == 0 || differs == 0 {
		t.Fatalf("%d independent pages compared, %d dependent ones differ; want both > 0", independent, differs)
	}
}

// assembleAs assembles tpl with the fixture's fragments and page, for the
// fixture's visitor (vars nil) or for vars.
func assembleAs(t *testing.T, tpl *Template, frags string, vars *testVars) string {
	var out string
	synctest.Test(t, func(t *testing.T) {
		sc := parseFrags(t, frags)
		if vars != nil {
			v := *vars
			v.host = sc.vars.host // the page's own host: Page.Host, not a variable
			sc.page.Vars = &v
		}
		sc.cfg.Fetcher = sc.fetcher
		a, err := NewAssembler(sc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var w bytes.Buffer
		res, err := a.Assemble(context.Background(), &w, tpl, &sc.page)
		out = formatResult(w.Bytes(), res, err, sc.fetcher.fetched())
	})
	return out
}
