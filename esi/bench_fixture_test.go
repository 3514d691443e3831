package esi

import (
	"bytes"
	"context"
	"strconv"
)

// mapFetcher serves ready fragments from a map by path, like a warm cache.
type mapFetcher struct{ frags map[string]*Fragment }

func (m *mapFetcher) FetchNow(req *FragmentRequest) (*Fragment, bool) {
	f, ok := m.frags[string(req.Path)]
	return f, ok
}

func (m *mapFetcher) Fetch(_ context.Context, req *FragmentRequest) (*Fragment, error) {
	if f, ok := m.frags[string(req.Path)]; ok {
		return f, nil
	}
	return &Fragment{Status: 404}, nil
}

// benchPage builds an item page of about 16 KiB with n includes of
// 256-byte fragments, and the same page assembled (for the plain-copy baseline).
func benchPage(n int) (page []byte, fetcher *mapFetcher, assembled []byte) {
	fetcher = &mapFetcher{frags: map[string]*Fragment{}}
	filler := bytes.Repeat([]byte("<div class=\"spec\">static shell text</div>\n"), 16384/n/42+1)
	frag := bytes.Repeat([]byte("<span>frag</span>"), 15)
	var p, out bytes.Buffer
	p.WriteString("<html><head><title>Item</title></head><body>\n")
	out.WriteString(p.String())
	for i := range n {
		path := "/frag/" + strconv.Itoa(i)
		fetcher.frags[path] = &Fragment{Status: 200, Body: frag, MaxAge: 60e9}
		p.Write(filler)
		out.Write(filler)
		p.WriteString(`<esi:include src="` + path + `"/>`)
		out.Write(frag)
	}
	p.WriteString("</body></html>\n")
	out.WriteString("</body></html>\n")
	return p.Bytes(), fetcher, out.Bytes()
}
