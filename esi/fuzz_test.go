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

// FuzzParse checks that Parse never panics and that:
//   - an error is a *ParseError whose offset lies inside the page;
//   - a page without "<esi:" and "<!--esi" is one literal equal to the input;
//   - assembling with empty fragments and no variables never writes more
//     than the page (every output byte is a page byte, a default or "false");
//   - CSI rendering of a page without includes writes no more than the page.
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
	})
}
