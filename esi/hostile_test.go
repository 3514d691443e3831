package esi

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestHostileTemplates feeds pages built to cost quadratic work or deep
// recursion. Each must end with the stated outcome; a regression to
// super-linear work shows as a test that runs for minutes.
func TestHostileTemplates(t *testing.T) {
	const mb = 1 << 20
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name string
		page string
		err  error // nil: parses
	}{
		{"many $( without ) in esi:vars", "<esi:vars>" + rep("$(", mb/2) + "</esi:vars>", nil},
		{"many unclosed includes", rep(`<esi:include src="/x"`, mb/20), ErrSyntax},
		{"many unclosed removes: the first removes the rest", rep("<esi:remove>", mb/12), nil},
		{"many CDATA sections in a remove far from its end", "<esi:remove>" + rep("<![CDATA[x]]>", mb/13) + "</esi:remove>", nil},
		{"many HTML comments around markup", rep("<!-- <esi:include src='/x'/> -->", mb/32), nil},
		{"many <!-- without -->", rep("<!-- ", mb/5) + "<esi:comment text=''/>", nil},
		{"many <!--esi without -->", rep("<!--esi ", mb/8), ErrUnclosed},
		{"deep try nesting", rep("<esi:try><esi:attempt>", 10000), ErrNesting},
		{"nested <!--esi: the first --> ends the outer one", rep("<!--esi ", 1000) + "-->", ErrUnclosed},
		{"thousands of includes: those past MaxIncludes fail as includes", rep(`<esi:include src="/x" onerror="continue"/>`, 5000), nil},
		{"unterminated attribute", `<esi:include src="` + rep("a", mb), ErrUnclosed},
		{"many < without esi", rep("<", 4*mb), nil},
		{"many almost-markup", rep("<esi<!--es", mb/10) + "<esi:comment text=''/>", nil},
		{"huge page", rep("a", DefaultMaxPageBytes) + "<esi:comment text=''/>", ErrPageTooLarge},
		{"binary page with markup", "\x89PNG\x00<esi:include src='/x'/>", ErrBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Parse([]byte(tt.page), ParseOptions{})
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse error = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			a, _ := NewAssembler(Config{Fetcher: emptyFetcher{}})
			var out bytes.Buffer
			if _, err := a.Assemble(context.Background(), &out, tpl, &Page{Path: []byte("/")}); err != nil {
				t.Fatalf("Assemble: %v", err)
			}
			if out.Len() > len(tt.page) {
				t.Fatalf("output %d bytes > page %d bytes", out.Len(), len(tt.page))
			}
		})
	}
}

// TestFetchBudgetAcrossNesting: each level includes the next 8 times;
// without MaxFetches that is 8^5 fetches, with it at most MaxFetches.
func TestFetchBudgetAcrossNesting(t *testing.T) {
	// Relative src: each level names a new URL (/x/, /x/x/, ...), so loop
	// detection does not stop the fan-out; only MaxFetches does.
	level := []byte(strings.Repeat(`<esi:include src="x/" onerror="continue"/>`, 8))
	frag, err := Parse(level, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &countingFetcher{frag: &Fragment{Status: 200, Template: frag}}
	a, _ := NewAssembler(Config{Fetcher: f, MaxFetches: 100, MaxDepth: 5})
	tpl, _ := Parse([]byte(`<esi:include src="/top" onerror="continue"/>`), ParseOptions{})
	var out bytes.Buffer
	if _, err := a.Assemble(context.Background(), &out, tpl, &Page{Path: []byte("/")}); err != nil {
		t.Fatal(err)
	}
	if f.n != 100 {
		t.Fatalf("%d fetches, want MaxFetches=100 (unbounded: 1+8+64+512+4096)", f.n)
	}
}

// countingFetcher returns the same fragment for every path, counting calls.
type countingFetcher struct {
	frag *Fragment
	n    int
}

func (c *countingFetcher) FetchNow(req *FragmentRequest) (*Fragment, bool) {
	c.n++
	return c.frag, true
}

func (c *countingFetcher) Fetch(context.Context, *FragmentRequest) (*Fragment, error) {
	c.n++
	return c.frag, nil
}

// nilFetcher breaks the contract: ready, but no fragment.
type nilFetcher struct{}

func (nilFetcher) FetchNow(*FragmentRequest) (*Fragment, bool)                { return nil, true }
func (nilFetcher) Fetch(context.Context, *FragmentRequest) (*Fragment, error) { return nil, nil }

func TestFetcherReturningNothing(t *testing.T) {
	tpl, _ := Parse([]byte(`a<esi:include src="/x"/>`), ParseOptions{})
	for _, f := range []Fetcher{nilFetcher{}, asyncOnlyNil{}} {
		a, _ := NewAssembler(Config{Fetcher: f})
		var out bytes.Buffer
		_, err := a.Assemble(context.Background(), &out, tpl, &Page{Path: []byte("/")})
		if !errors.Is(err, ErrNoFragment) {
			t.Errorf("%T: error = %v, want ErrNoFragment", f, err)
		}
	}
}

type asyncOnlyNil struct{}

func (asyncOnlyNil) Fetch(context.Context, *FragmentRequest) (*Fragment, error) { return nil, nil }
