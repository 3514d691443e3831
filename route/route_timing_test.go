package route

import (
	"fmt"
	"testing"
)

// benchTable is a sale-sized route set: a few dozen routes, two hosts.
func benchTable(b testing.TB) *Table {
	entries := []Entry{
		e("", get, "/"), e("", get, "/item/{id}"), e("", post, "/buy/{id}"),
		e("", get, "/frag/price/{id}"), e("", get, "/frag/cart"), e("", nil, "/static/*"),
		e("shop.example.com", get, "/item/{id}"), e("", get, "/api/v1/{cat}/items/{id}"),
	}
	for i := range 30 {
		entries = append(entries, e("", get, fmt.Sprintf("/sale/s%d/{id}", i)))
	}
	tab, err := NewTable(entries, false)
	if err != nil {
		b.Fatal(err)
	}
	return tab
}

func BenchmarkRouteMatch(b *testing.B) {
	tab := benchTable(b)
	cases := []struct{ name, host, method, path string }{
		{"param", "shop.example.com", "POST", "/buy/12345"},
		{"host", "shop.example.com", "GET", "/item/12345"},
		{"deep", "x", "GET", "/api/v1/toys/items/7"},
		{"fanout", "x", "GET", "/sale/s29/7"},
		{"notfound", "x", "GET", "/nope/1"},
		// Upper case in a case-sensitive table: the second, folding walk.
		{"upper-param", "shop.example.com", "POST", "/buy/AB123"},
		{"case-variant", "shop.example.com", "POST", "/BUY/12345"},
		{"upper-fanout", "x", "GET", "/sale/s29/AB"},
	}
	for _, c := range cases {
		host, method, path := []byte(c.host), []byte(c.method), []byte(c.path)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var ps Params
			var sink int
			for b.Loop() {
				idx, _ := tab.Match(host, method, path, &ps)
				sink += idx
			}
			_ = sink
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		host, method, path := []byte("shop.example.com"), []byte("POST"), []byte("/buy/12345")
		b.RunParallel(func(pb *testing.PB) {
			var ps Params
			for pb.Next() {
				tab.Match(host, method, path, &ps)
			}
		})
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, p := range []string{"/buy/12345", "/x/../buy//%31;jsessionid=abc/./1.", "/caf%c3%a9/item/%7Euser/", "/sale/100%25-off/%e4%b8%ad"} {
		in := []byte(p)
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			buf := make([]byte, 0, 3*len(in)+1)
			for b.Loop() {
				buf, _ = Normalize(buf[:0], in)
			}
		})
	}
}
