package route

import (
	"slices"
	"testing"
)

// Fixed values ({id=7}) and decimal segments: a sale's route for one item
// must take every spelling of that item that the origin reads as the same
// (/buy/007), bind the item as its filters and cache tags expect (id=7),
// and keep the general route for everything else.

func TestCanonicalDecimal(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"7", "7"}, {"007", "7"}, {"0007", "7"}, {"70", "70"}, {"0070", "70"},
		{"0", "0"}, {"00", "0"}, {"000", "0"}, {"", ""},
		{"07a", "07a"}, {"-07", "-07"}, {"+7", "+7"}, {"0x7", "0x7"}, {"7.0", "7.0"},
		{"\u0660\u0667", "\u0660\u0667"}, // Arabic-Indic digits are not ASCII: bytes
	} {
		if got := canonicalDecimal([]byte(tt.in)); string(got) != tt.want {
			t.Errorf("canonicalDecimal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMatchFixedAndDecimal(t *testing.T) {
	entries := []Entry{
		0:  e("", get, "/item/{id}"),
		1:  e("", get, "/item/{id=7}"),
		2:  e("", post, "/buy/{id}"),
		3:  e("", post, "/buy/{id=7}"),
		4:  e("", get, "/buy/7"),
		5:  e("", get, "/x/0"),
		6:  e("", get, "/x/{n=10}"),
		7:  e("", get, "/a/{x=1}/{y}"),
		8:  e("", get, "/a/1/b"),
		9:  e("", get, "/p/{x=1}/z"),
		10: e("", get, "/p/{p}/{q}"),
		11: e("", get, "/f/{k=2}/{rest...}"),
		12: e("", get, "/s/{name=sale}"),
	}
	tab := mustTable(t, false, entries...)
	type want struct {
		idx    int
		res    Result
		params map[string]string
	}
	tests := []struct {
		name, method, path string
		want               want
	}{
		{"fixed beats param", "POST", "/buy/7", want{3, Found, map[string]string{"id": "7"}}},
		{"leading zeros bind canonical", "POST", "/buy/007", want{3, Found, map[string]string{"id": "7"}}},
		{"many leading zeros", "POST", "/buy/00000000000000000000007", want{3, Found, map[string]string{"id": "7"}}},
		{"trailing slash", "POST", "/buy/0007/", want{3, Found, map[string]string{"id": "7"}}},
		{"other number to param", "POST", "/buy/70", want{2, Found, map[string]string{"id": "70"}}},
		{"suffix zero to param", "POST", "/buy/0070", want{2, Found, map[string]string{"id": "0070"}}},
		{"zero to param", "POST", "/buy/0", want{2, Found, map[string]string{"id": "0"}}},
		{"not decimal to param", "POST", "/buy/07a", want{2, Found, map[string]string{"id": "07a"}}},
		{"signed to param", "POST", "/buy/+7", want{2, Found, map[string]string{"id": "+7"}}},
		{"param binds as sent", "GET", "/item/0042", want{0, Found, map[string]string{"id": "0042"}}},
		{"item fixed", "GET", "/item/07", want{1, Found, map[string]string{"id": "7"}}},
		{"literal shares the fixed node", "GET", "/buy/007", want{4, Found, nil}},
		{"method neither allows", "PUT", "/buy/07", want{-1, MethodNotAllowed, nil}},
		{"decimal literal", "GET", "/x/000", want{5, Found, nil}},
		{"decimal fixed two digits", "GET", "/x/010", want{6, Found, map[string]string{"n": "10"}}},
		{"decimal fixed other number", "GET", "/x/100", want{-1, NotFound, nil}},
		{"fixed then param", "GET", "/a/01/c", want{7, Found, map[string]string{"x": "1", "y": "c"}}},
		{"literal beats param after tie", "GET", "/a/001/b", want{8, Found, nil}},
		{"backtrack drops nothing stale", "GET", "/p/001/y", want{10, Found, map[string]string{"p": "001", "q": "y"}}},
		{"fixed without backtrack", "GET", "/p/01/z", want{9, Found, map[string]string{"x": "1"}}},
		{"catch-all after fixed", "GET", "/f/02/a/b", want{11, Found, map[string]string{"k": "2", "rest": "a/b"}}},
		{"catch-all after fixed empty", "GET", "/f/2", want{11, Found, map[string]string{"k": "2", "rest": ""}}},
		{"word fixed", "GET", "/s/sale", want{12, Found, map[string]string{"name": "sale"}}},
		{"word fixed case variant", "GET", "/s/Sale", want{-1, CaseVariant, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps Params
			ps.push([]byte("stale"))
			idx, res := tab.Match([]byte("shop"), []byte(tt.method), []byte(tt.path), &ps)
			if idx != tt.want.idx || res != tt.want.res {
				t.Fatalf("Match(%s %s) = %d, %v; want %d, %v", tt.method, tt.path, idx, res, tt.want.idx, tt.want.res)
			}
			if ps.Len() != len(tt.want.params) {
				t.Fatalf("Match(%s %s) captured %d params, want %v", tt.method, tt.path, ps.Len(), tt.want.params)
			}
			for k, v := range tt.want.params {
				if got := ps.Get(k); got == nil || string(got) != v {
					t.Errorf("param %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestMatchFixedCaseInsensitive(t *testing.T) {
	tab := mustTable(t, true, e("", get, "/Sale/{name=Black-Friday}"), e("", get, "/sale/{name}"))
	var ps Params
	idx, res := tab.Match(nil, []byte("GET"), []byte("/SALE/black-friday"), &ps)
	if idx != 0 || res != Found || string(ps.Get("name")) != "black-friday" {
		t.Fatalf("got %d %v name=%q, want route 0 with the value as sent", idx, res, ps.Get("name"))
	}
}

// TestMatchFixedWideFanout: the map index of a wide node finds decimal
// spellings too (its keys are canonical, as the request's segment is made).
func TestMatchFixedWideFanout(t *testing.T) {
	var entries []Entry
	for _, id := range []string{"1", "2", "3", "5", "8", "13", "21", "34", "55", "89", "144"} {
		entries = append(entries, e("", post, "/buy/{id="+id+"}"))
	}
	entries = append(entries, e("", post, "/buy/{id}"))
	tab := mustTable(t, false, entries...)
	var ps Params
	if idx, _ := tab.Match(nil, []byte("POST"), []byte("/buy/000144"), &ps); idx != 10 || string(ps.Get("id")) != "144" {
		t.Fatalf("/buy/000144 matched %d id=%q, want route 10 id=144", idx, ps.Get("id"))
	}
	if idx, _ := tab.Match(nil, []byte("POST"), []byte("/buy/0145"), &ps); idx != 11 || string(ps.Get("id")) != "0145" {
		t.Fatalf("/buy/0145 matched %d id=%q, want the general route 11 id=0145", idx, ps.Get("id"))
	}
}

func TestAllowFixed(t *testing.T) {
	tab := mustTable(t, false,
		e("", post, "/buy/{id=7}"),
		e("", get, "/buy/7"),
		e("", []string{"DELETE"}, "/buy/{id}"),
	)
	for _, path := range []string{"/buy/7", "/buy/007"} {
		if idx, res := tab.Match(nil, []byte("PUT"), []byte(path), nil); idx != -1 || res != MethodNotAllowed {
			t.Errorf("PUT %s = %d %v, want method not allowed", path, idx, res)
		}
		got := tab.Allow(nil, nil, []byte(path))
		if want := []string{"POST", "GET", "HEAD", "DELETE"}; !slices.Equal(got, want) {
			t.Errorf("Allow(%s) = %v, want %v", path, got, want)
		}
	}
	if got, want := tab.Allow(nil, nil, []byte("/buy/8")), []string{"DELETE"}; !slices.Equal(got, want) {
		t.Errorf("Allow(/buy/8) = %v, want %v", got, want)
	}
}

func TestNewTableFixedDuplicates(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"fixed and literal", []Entry{e("", post, "/buy/7"), e("", post, "/buy/{id=7}")}, "route 1 duplicates route 0 for method POST"},
		{"literal and fixed", []Entry{e("", post, "/buy/{id=7}"), e("", nil, "/buy/7")}, "route 1 duplicates route 0 for method POST"},
		{"fixed other names", []Entry{e("", get, "/item/{id=7}"), e("", get, "/item/{sku=7}")}, "route 1 duplicates route 0 for method GET"},
		{"zero", []Entry{e("", nil, "/x/0"), e("", nil, "/x/{n=0}")}, "route 1 duplicates route 0"},
	}
	for _, tt := range tests {
		_, err := NewTable(tt.entries, false)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewTable([]Entry{e("", post, "/buy/{id}"), e("", post, "/buy/{id=7}"), e("", get, "/buy/7"),
		e("", post, "/buy/{id=70}")}, false); err != nil {
		t.Fatalf("a fixed value beside the general route, a literal for other methods, another number: %v", err)
	}
}
