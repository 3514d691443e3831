//go:build !race

package route

import "testing"

func TestMatchAllocs(t *testing.T) {
	tab := benchTable(t)
	foldTab, err := NewTable([]Entry{e("shop.example.com", get, "/Item/{id}"), e("", nil, "/files/{rest...}")}, true)
	if err != nil {
		t.Fatal(err)
	}
	saleTab, err := NewTable([]Entry{e("", post, "/buy/{id}"), e("", post, "/buy/{id=7}"), e("", get, "/item/{id=7}/{rest...}")}, false)
	if err != nil {
		t.Fatal(err)
	}
	var ps Params
	for _, c := range []struct {
		tab                *Table
		host, method, path string
	}{
		{tab, "shop.example.com:8080", "POST", "/buy/1"},
		{tab, "SHOP.example.com", "GET", "/item/1"},
		{tab, "x", "GET", "/nope"},
		{tab, "x", "GET", "/buy/1"},
		{foldTab, "shop.example.com", "GET", "/ITEM/1"},
		{foldTab, "", "GET", "/files/a/b"},
		{saleTab, "", "POST", "/buy/0007"},
		{saleTab, "", "POST", "/BUY/7"},     // case variant: the second, folding walk
		{saleTab, "", "GET", "/Item/7/a/B"}, // folding walk over a fixed value and catch-all
		{saleTab, "", "POST", "/buy/0070"},
		{saleTab, "", "GET", "/item/007/a/b"},
	} {
		host, method, path := []byte(c.host), []byte(c.method), []byte(c.path)
		if n := testing.AllocsPerRun(100, func() { c.tab.Match(host, method, path, &ps) }); n != 0 {
			t.Fatalf("Match(%s %s%s) allocates %v times, want 0", c.method, c.host, c.path, n)
		}
		if n := testing.AllocsPerRun(100, func() { c.tab.Match(host, method, path, nil) }); n != 0 {
			t.Fatalf("Match(nil params) allocates %v times, want 0", n)
		}
	}
}

func TestNormalizeAllocs(t *testing.T) {
	for _, p := range []string{"/buy/1", "/x/../buy//%31;j=x/./1.", "/caf\xc3\xa9/%7e/", "/../x", "/a%2Fb"} {
		in := []byte(p)
		buf := make([]byte, 0, 3*len(in)+1)
		if n := testing.AllocsPerRun(100, func() { buf, _ = Normalize(buf[:0], in) }); n != 0 {
			t.Fatalf("Normalize(%q) allocates %v times, want 0", p, n)
		}
	}
}

func TestAllowAllocs(t *testing.T) {
	tab := benchTable(t)
	host, path := []byte("shop.example.com"), []byte("/buy/1")
	dst := make([]string, 0, 8)
	if n := testing.AllocsPerRun(100, func() { dst = tab.Allow(dst[:0], host, path) }); n != 0 {
		t.Fatalf("Allow allocates %v times, want 0", n)
	}
	if len(dst) != 1 || dst[0] != "POST" {
		t.Fatalf("Allow = %v, want [POST]", dst)
	}
}
