package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustTable(t testing.TB, fold bool, entries ...Entry) *Table {
	t.Helper()
	tab, err := NewTable(entries, fold)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tab
}

func e(host string, methods []string, pattern string) Entry {
	p, err := Parse(pattern)
	if err != nil {
		panic(err)
	}
	return Entry{Host: host, Methods: methods, Pattern: p}
}

var get, post = []string{"GET", "HEAD"}, []string{"POST"}

func TestMatch(t *testing.T) {
	entries := []Entry{
		0:  e("", nil, "/"),
		1:  e("", get, "/item/{id}"),
		2:  e("", []string{"GET"}, "/item/special"),
		3:  e("", post, "/buy/{id}"),
		4:  e("", nil, "/static/*"),
		5:  e("", get, "/files/{rest...}"),
		6:  e("shop.example.com", get, "/item/{id}"),
		7:  e("", get, "/{cat}/list"),
		8:  e("", get, "/sale/list"),
		9:  e("", get, "/u/{a}/{b}"),
		10: e("", get, "/u/{x}/me"),
		11: e("", post, "/item/special"),
		12: e("", get, "/a/{id}/x"),
		13: e("", get, "/a/*"),
	}
	tab := mustTable(t, false, entries...)
	type want struct {
		idx    int
		res    Result
		params map[string]string
	}
	tests := []struct {
		name, host, method, path string
		want                     want
	}{
		{"root", "x", "GET", "/", want{0, Found, nil}},
		{"param", "x", "GET", "/item/42", want{1, Found, map[string]string{"id": "42"}}},
		{"literal beats param", "x", "GET", "/item/special", want{2, Found, nil}},
		{"literal by method", "x", "POST", "/item/special", want{11, Found, nil}},
		{"param when literal lacks method", "x", "HEAD", "/item/special", want{1, Found, map[string]string{"id": "special"}}},
		{"host beats host-less", "Shop.Example.COM:443", "GET", "/item/7", want{6, Found, map[string]string{"id": "7"}}},
		{"host trailing dot", "shop.example.com.", "GET", "/item/7", want{6, Found, map[string]string{"id": "7"}}},
		{"host-less when host route misses", "shop.example.com", "POST", "/buy/9", want{3, Found, map[string]string{"id": "9"}}},
		{"method not allowed", "x", "GET", "/buy/9", want{-1, MethodNotAllowed, nil}},
		{"not found", "x", "GET", "/nope/x/y", want{-1, NotFound, nil}},
		{"trailing slash insignificant", "x", "GET", "/item/42/", want{1, Found, map[string]string{"id": "42"}}},
		{"param needs a segment", "x", "GET", "/item/", want{-1, NotFound, nil}},
		{"catch-all deep", "x", "DELETE", "/static/css/a.css", want{4, Found, nil}},
		{"catch-all empty", "x", "GET", "/static", want{4, Found, nil}},
		{"named catch-all", "x", "GET", "/files/a/b/c", want{5, Found, map[string]string{"rest": "a/b/c"}}},
		{"named catch-all empty", "x", "GET", "/files/", want{5, Found, map[string]string{"rest": ""}}},
		{"first segment literal wins", "x", "GET", "/sale/list", want{8, Found, nil}},
		{"first segment param", "x", "GET", "/toys/list", want{7, Found, map[string]string{"cat": "toys"}}},
		{"names per entry", "x", "GET", "/u/1/me", want{10, Found, map[string]string{"x": "1"}}},
		{"names per entry other", "x", "GET", "/u/1/2", want{9, Found, map[string]string{"a": "1", "b": "2"}}},
		{"backtrack to catch-all", "x", "GET", "/a/1/y", want{13, Found, nil}},
		{"backtrack drops params", "x", "GET", "/a/1/x", want{12, Found, map[string]string{"id": "1"}}},
		{"case variant of a route", "x", "GET", "/ITEM/1", want{-1, CaseVariant, nil}},
		{"case variant of another method's route", "x", "GET", "/BUY/9", want{-1, CaseVariant, nil}},
		{"case variant beside a catch-all", "x", "GET", "/STATIC/a.css", want{-1, CaseVariant, nil}},
		{"case variant of a literal beside a param", "x", "GET", "/sale/LIST", want{-1, CaseVariant, nil}},
		{"upper case where only a param reads it", "x", "GET", "/item/ABC", want{1, Found, map[string]string{"id": "ABC"}}},
		{"upper case in a param before a literal", "x", "GET", "/Toys/list", want{7, Found, map[string]string{"cat": "Toys"}}},
		{"upper case under a catch-all", "x", "GET", "/static/Logo.PNG", want{4, Found, nil}},
		{"upper case matching nothing either way", "x", "GET", "/NOPE/x/y", want{-1, NotFound, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps Params
			ps.push([]byte("stale")) // Match must reset
			idx, res := tab.Match([]byte(tt.host), []byte(tt.method), []byte(tt.path), &ps)
			if idx != tt.want.idx || res != tt.want.res {
				t.Fatalf("Match(%s %s%s) = %d, %v; want %d, %v", tt.method, tt.host, tt.path, idx, res, tt.want.idx, tt.want.res)
			}
			if ps.Len() != len(tt.want.params) {
				t.Fatalf("got %d params, want %v", ps.Len(), tt.want.params)
			}
			for k, v := range tt.want.params {
				if got := ps.Get(k); got == nil || string(got) != v {
					t.Errorf("param %s = %q, want %q", k, got, v)
				}
			}
			if ps.Get("absent") != nil {
				t.Errorf("Get(absent) != nil")
			}
		})
	}
}

func TestMatchCaseInsensitive(t *testing.T) {
	tab := mustTable(t, true, e("", get, "/Item/{id}"), e("", get, "/item/Special"))
	var ps Params
	idx, res := tab.Match(nil, []byte("GET"), []byte("/ITEM/AbC"), &ps)
	if idx != 0 || res != Found || string(ps.Get("id")) != "AbC" {
		t.Fatalf("got %d %v id=%q, want 0 found id=AbC (value keeps its case)", idx, res, ps.Get("id"))
	}
	if idx, _ := tab.Match(nil, []byte("GET"), []byte("/iTeM/sPeCiAl"), &ps); idx != 1 {
		t.Fatalf("got %d, want literal route 1", idx)
	}
	if idx, _ := tab.Match(nil, []byte("get"), []byte("/item/x"), &ps); idx != -1 {
		t.Fatalf("methods must stay case-sensitive, got %d", idx)
	}
}

func TestNewTableDuplicates(t *testing.T) {
	tests := []struct {
		name    string
		fold    bool
		entries []Entry
		want    string
	}{
		{"same pattern other names", false, []Entry{e("", get, "/item/{id}"), e("", []string{"GET"}, "/item/{sku}")}, "route 1 duplicates route 0 for method GET"},
		{"any method overlaps", false, []Entry{e("", post, "/buy/{id}"), e("", nil, "/buy/{x}")}, "route 1 duplicates route 0 for method POST"},
		{"both any", false, []Entry{e("", nil, "/static/*"), e("", nil, "/static/{rest...}")}, "route 1 duplicates route 0"},
		{"trailing slash", false, []Entry{e("", nil, "/a"), e("", nil, "/a/")}, "route 1 duplicates route 0"},
		{"host case", false, []Entry{e("Shop.Example.com", nil, "/a"), e("shop.example.com.", nil, "/a")}, "route 1 duplicates route 0"},
		{"literal case when folding", true, []Entry{e("", nil, "/Sale"), e("", nil, "/sale")}, "route 1 duplicates route 0"},
		{"host with port", false, []Entry{e("shop:80", nil, "/a")}, `route 0: host "shop:80": want a host name without port`},
		{"no pattern", false, []Entry{{Host: "x"}}, "route 0: no path pattern"},
	}
	for _, tt := range tests {
		_, err := NewTable(tt.entries, tt.fold)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
	_, err := NewTable([]Entry{e("", get, "/a"), e("", post, "/a"), e("", get, "/a")}, false)
	var dup *DuplicateError
	if !errors.As(err, &dup) || dup.Index != 2 || dup.Other != 0 {
		t.Fatalf("error = %#v, want *DuplicateError{2, 0}", err)
	}
	if _, err := NewTable([]Entry{e("", get, "/a"), e("", post, "/a"), e("h", get, "/a"), e("", get, "/a/{x}")}, false); err != nil {
		t.Fatalf("disjoint methods and hosts are not duplicates: %v", err)
	}
}

func TestZeroAndNilTable(t *testing.T) {
	var nilTab *Table
	if idx, res := nilTab.Match(nil, []byte("GET"), []byte("/"), nil); idx != -1 || res != NotFound {
		t.Fatalf("nil table: %d %v", idx, res)
	}
	if idx, res := new(Table).Match(nil, []byte("GET"), []byte("/"), nil); idx != -1 || res != NotFound {
		t.Fatalf("zero table: %d %v", idx, res)
	}
}

func TestAllow(t *testing.T) {
	tab := mustTable(t, false,
		e("", []string{"GET", "HEAD"}, "/item/{id}"),
		e("", post, "/item/special"),
		e("shop", []string{"PUT"}, "/item/{x}"),
		e("", []string{"DELETE"}, "/static/*"),
	)
	tests := []struct {
		host, path string
		want       []string
	}{
		{"x", "/item/special", []string{"POST", "GET", "HEAD"}},
		{"shop", "/item/1/", []string{"PUT", "GET", "HEAD"}},
		{"x", "/static/a/b", []string{"DELETE"}},
		{"x", "/nope", nil},
	}
	for _, tt := range tests {
		got := tab.Allow(nil, []byte(tt.host), []byte(tt.path))
		if !slices.Equal(got, tt.want) {
			t.Errorf("Allow(%s%s) = %v, want %v", tt.host, tt.path, got, tt.want)
		}
	}
}

// TestMatchWideFanout covers the map index of nodes with many literals,
// in both case modes.
func TestMatchWideFanout(t *testing.T) {
	for _, fold := range []bool{false, true} {
		var entries []Entry
		for i := range 40 {
			entries = append(entries, e("", nil, fmt.Sprintf("/sale/Sale%d/{id}", i)))
		}
		entries = append(entries, e("", nil, "/sale/{other}/{id}"))
		tab := mustTable(t, fold, entries...)
		var ps Params
		if idx, _ := tab.Match(nil, []byte("GET"), []byte("/sale/Sale33/7"), &ps); idx != 33 || string(ps.Get("id")) != "7" {
			t.Errorf("fold=%v: Sale33 matched %d", fold, idx)
		}
		want, wantRes := -1, CaseVariant // the param route would serve a case variant of Sale33
		if fold {
			want, wantRes = 33, Found
		}
		if idx, res := tab.Match(nil, []byte("GET"), []byte("/sale/SALE33/7"), &ps); idx != want || res != wantRes {
			t.Errorf("fold=%v: SALE33 matched %d %v, want %d %v", fold, idx, res, want, wantRes)
		}
		long := "/sale/" + strings.Repeat("x", 100) + "/1"
		if idx, _ := tab.Match(nil, []byte("GET"), []byte(long), &ps); idx != 40 {
			t.Errorf("fold=%v: long segment matched %d, want the param route", fold, idx)
		}
	}
}

// TestCaseVariantOfUpperCaseLiteral: a route spelt with capitals makes
// the lowercase spelling a case variant too (found by FuzzFixedValue).
func TestCaseVariantOfUpperCaseLiteral(t *testing.T) {
	tab := mustTable(t, false, e("", nil, "/Sale/{id}"), e("", nil, "/{any}/{id}"))
	for _, tc := range []struct {
		path string
		idx  int
		res  Result
	}{
		{"/Sale/1", 0, Found},
		{"/sale/1", -1, CaseVariant},
		{"/other/1", 1, Found},
	} {
		if idx, res := tab.Match(nil, []byte("GET"), []byte(tc.path), nil); idx != tc.idx || res != tc.res {
			t.Errorf("Match(%s) = %d %v, want %d %v", tc.path, idx, res, tc.idx, tc.res)
		}
	}
}
