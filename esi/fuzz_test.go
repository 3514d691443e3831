package esi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// emptyFetcher answers every fragment with an empty 200 body, at once.
type emptyFetcher struct{}

func (emptyFetcher) FetchNow(*FragmentRequest) (*Fragment, bool) { return &emptyFragment, true }
func (emptyFetcher) Fetch(context.Context, *FragmentRequest) (*Fragment, error) {
	return &emptyFragment, nil
}

var emptyFragment = Fragment{Status: 200}

// missingFetcher answers every fragment 404, at once: every include fails.
type missingFetcher struct{}

func (missingFetcher) FetchNow(*FragmentRequest) (*Fragment, bool) { return &missingFragment, true }
func (missingFetcher) Fetch(context.Context, *FragmentRequest) (*Fragment, error) {
	return &missingFragment, nil
}

var missingFragment = Fragment{Status: 404}

// FuzzParse checks that Parse never panics and that:
//   - an error is a *ParseError whose offset lies inside the page;
//   - a page without "<esi:" and "<!--esi" is one literal equal to the input;
//   - assembling with empty fragments and no variables never writes more
//     than the page (every output byte is a page byte, a default or "false");
//   - CSI rendering of a page without includes writes no more than the page;
//   - with Page.Ready and every include failing, a page either fails
//     having written nothing and never been ready, or is ready before its
//     first byte (what lets a streaming caller still answer an error).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*.html")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte(`<esi:vars>$(HTTP_COOKIE{a}|'&&&')</esi:vars><esi:choose><esi:when test="!(1<2)||'a'=='a'">x</esi:when></esi:choose>`))
	a, err := NewAssembler(Config{Fetcher: emptyFetcher{}, HostAllowed: func(string) bool { return true }})
	if err != nil {
		f.Fatal(err)
	}
	failing, err := NewAssembler(Config{Fetcher: missingFetcher{}, HostAllowed: func(string) bool { return true }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		tpl, err := Parse(page, ParseOptions{MaxPageBytes: 1 << 16, MaxIncludes: 64})
		plain := !bytes.Contains(page, markOpen) && !bytes.Contains(page, markComment)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(page) {
				t.Fatalf("error %v is not a *ParseError inside the page", err)
			}
			if plain && len(page) <= 1<<16 {
				t.Fatalf("page without ESI markup failed: %v", err)
			}
			return
		}
		if plain {
			if tpl.HasESI() || len(page) > 0 && (len(tpl.nodes) != 1 || !bytes.Equal(tpl.nodes[0].lit, page)) {
				t.Fatalf("page without ESI markup is not one literal: %+v", tpl.nodes)
			}
		}
		var out bytes.Buffer
		res, err := a.Assemble(context.Background(), &out, tpl, &Page{Host: []byte("h"), Path: []byte("/p")})
		var ie *IncludeError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("assembly error %v is not an *IncludeError", err)
		}
		if out.Len() > len(page) {
			t.Fatalf("assembled %d bytes from a %d-byte page with empty fragments", out.Len(), len(page))
		}
		if plain && !bytes.Equal(out.Bytes(), page) {
			t.Fatalf("page without ESI markup changed: %q", out.Bytes())
		}
		out.Reset()
		if _, err := a.RenderCSI(&out, tpl, &Page{Host: []byte("h"), Path: []byte("/p")}, ""); err != nil {
			t.Fatal(err)
		}
		if res.Included == 0 && tpl.Includes() == 0 && out.Len() > len(page) {
			t.Fatalf("CSI wrote %d bytes from a %d-byte page without includes", out.Len(), len(page))
		}
		out.Reset()
		ready := false
		_, err = failing.Assemble(context.Background(), &out, tpl, &Page{Host: []byte("h"), Path: []byte("/p"), Ready: func() {
			if ready || out.Len() > 0 {
				t.Fatalf("Ready called twice or after %d bytes", out.Len())
			}
			ready = true
		}})
		switch {
		case err != nil && (ready || out.Len() > 0):
			t.Fatalf("failed page (%v) was ready %v and wrote %q", err, ready, out.Bytes())
		case err == nil && tpl.HasESI() && !ready:
			t.Fatalf("assembled page never ready")
		}
	})
}

// FuzzExpr checks the esi:when test language: parseExpr never panics,
// and a test that parses keeps its meaning under the spec's own
// identities: "!(t)" is its negation, "(t)", "(t)&(t)" and "(t)|(t)" are
// t, and "(t)&!(t)" is false, with the same variables.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"(1==1)|(2==2)", "$(QUERY_STRING{n}) == 10.0", "!($(HTTP_COOKIE{a}) <= 'x') & 3 > -2.5",
		"$(HTTP_ACCEPT_LANGUAGE{en}) && $(HTTP_USER_AGENT{os}) == 'WIN'", "'' != ''",
	} {
		f.Add([]byte(s))
	}
	vars := &testVars{rawQuery: "n=10&s=b", cookies: map[string]string{"a": "5"},
		headers: map[string]string{"accept-language": "en", "user-agent": "Mozilla/5.0 (Windows NT 10.0)"}}
	f.Fuzz(func(t *testing.T, test []byte) {
		e, err := parseExpr(test)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		want, _ := e.eval(vars)
		// eval parses the test placed between the parts of a wrapper; ok
		// is false when that went past maxExprDepth (nothing to compare).
		eval := func(parts ...string) (got, ok bool) {
			src := []byte(parts[0])
			for _, p := range parts[1:] {
				src = append(append(src, test...), p...)
			}
			e, err := parseExpr(src)
			if err != nil {
				if err.Error() == "nested too deeply" {
					return false, false
				}
				t.Fatalf("%q parses but %q does not: %v", test, src, err)
			}
			got, _ = e.eval(vars)
			return got, true
		}
		for _, w := range [][]string{{"(", ")"}, {"(", ")&(", ")"}, {"(", ")|(", ")"}, {"(", ")&&(", ")"}} {
			if got, ok := eval(w...); ok && got != want {
				t.Fatalf("%q is %v but %q is %v", test, want, w, got)
			}
		}
		if got, ok := eval("!(", ")"); ok && got == want {
			t.Fatalf("%q and its negation are both %v", test, want)
		}
		if got, ok := eval("(", ")&!(", ")"); ok && got {
			t.Fatalf("(%q)&!(%q) is true", test, test)
		}
	})
}
