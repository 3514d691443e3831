//go:build !race

package esi

import (
	"bytes"
	"context"
	"testing"
)

// byteVars is a zero-allocation Vars, as the proxy's will be.
type byteVars struct{ uid []byte }

func (v *byteVars) Host() []byte         { return []byte("shop.test") }
func (v *byteVars) Cookie(string) []byte { return v.uid }
func (v *byteVars) Query(string) []byte  { return nil }
func (v *byteVars) RawQuery() []byte     { return nil }
func (v *byteVars) Header(string) []byte { return nil }

func TestAssembleAllocs(t *testing.T) {
	for _, n := range []int{3, 50} {
		page, fetcher, want := benchPage(n)
		page = append(page, `<esi:include src="/frag/u?id=$(HTTP_COOKIE{uid})" onerror="continue"/>`...)
		fetcher.frags["/frag/u?id=42"] = &Fragment{Status: 200, Personal: true}
		tpl, err := Parse(page, ParseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := NewAssembler(Config{Fetcher: fetcher})
		req := &Page{Host: []byte("shop.test"), Path: []byte("/item/1"), Vars: &byteVars{uid: []byte("42")}}
		var w bytes.Buffer
		run := func() {
			w.Reset()
			res, err := a.Assemble(context.Background(), &w, tpl, req)
			if err != nil || !res.Personal || res.Included != n+1 {
				t.Fatalf("Assemble = %+v, %v", res, err)
			}
		}
		run()
		if !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("assembled page differs from the expected one")
		}
		if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
			t.Fatalf("Assemble with %d ready includes: %v allocs/op, want 0", n, allocs)
		}
	}
}

func TestRenderCSIAllocs(t *testing.T) {
	page, fetcher, _ := benchPage(50)
	page = append(page, `<esi:choose><esi:when test="$(HTTP_COOKIE{uid}) == '42'"><esi:include src="/u?id=$(HTTP_COOKIE{uid})" alt="/u"/></esi:when></esi:choose>`...)
	tpl, err := Parse(page, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewAssembler(Config{Fetcher: fetcher})
	req := &Page{Host: []byte("shop.test"), Path: []byte("/item/1"), Vars: &byteVars{uid: []byte("42")}}
	var w bytes.Buffer
	run := func() {
		w.Reset()
		if res, err := a.RenderCSI(&w, tpl, req, "n"); err != nil || res.Included != 51 || !res.Personal {
			t.Fatalf("RenderCSI = %+v, %v", res, err)
		}
	}
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Fatalf("RenderCSI: %v allocs/op, want 0", allocs)
	}
}

func TestUserAgentPartAllocs(t *testing.T) {
	ua := []byte("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")
	var n int
	if allocs := testing.AllocsPerRun(100, func() {
		for _, k := range []string{"browser", "os", "version"} {
			n += len(userAgentPart(ua, k))
		}
	}); allocs != 0 {
		t.Fatalf("userAgentPart: %v allocs/op, want 0", allocs)
	}
}
