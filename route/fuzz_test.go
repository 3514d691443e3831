package route

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzNormalize checks the properties the proxy relies on: the result is a
// fixed point, never holds a dot segment, empty segment, ';' or control
// byte, and appends to dst without touching it.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/buy/1", "/x/../buy//%31;j=x/./1.", "/%2e%2e/", "/a%2Fb", "/caf\xc3\xa9/", "/a/b/..", "/%", "/...", "/a/./"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Normalize([]byte("pre"), in)
		if len(in) > 0 && in[0] == '/' {
			slow, slowErr := rebuild([]byte("pre"), in)
			if !bytes.Equal(slow, out) || slowErr != err {
				t.Fatalf("fast path %q, %v disagrees with rebuild %q, %v", out, err, slow, slowErr)
			}
		}
		if string(out[:3]) != "pre" {
			t.Fatalf("dst prefix clobbered: %q", out)
		}
		if err != nil {
			if len(out) != 3 {
				t.Fatalf("error %v but dst grew: %q", err, out)
			}
			return
		}
		got := out[3:]
		if len(got) == 0 || got[0] != '/' {
			t.Fatalf("Normalize(%q) = %q: not absolute", in, got)
		}
		for _, bad := range []string{"//", "/./", "/../", ";"} {
			if bytes.Contains(got, []byte(bad)) {
				t.Fatalf("Normalize(%q) = %q contains %q", in, got, bad)
			}
		}
		if bytes.HasSuffix(got, []byte("/.")) || bytes.HasSuffix(got, []byte("/..")) {
			t.Fatalf("Normalize(%q) = %q ends in a dot segment", in, got)
		}
		for _, c := range got {
			if c < 0x20 || c >= 0x7f || c == '\\' {
				t.Fatalf("Normalize(%q) = %q holds byte %#x", in, got, c)
			}
		}
		again, err := Normalize(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q → %q → %q, %v", in, got, again, err)
		}
	})
}

// FuzzParse checks that a parsed pattern's String parses to itself, and
// that a pattern matches the path obtained by filling its parameters.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/", "/item/{id}", "/static/*", "/files/{rest...}", "/a/", "/{a}/{b}/c", "//", "/{x...}/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		q, err := Parse(p.String())
		if err != nil || q.String() != p.String() {
			t.Fatalf("Parse(%q).String() = %q does not round-trip: %v", s, p, err)
		}
		tab, err := NewTable([]Entry{{Pattern: p}}, false)
		if err != nil {
			t.Fatalf("NewTable(%q): %v", p, err)
		}
		path := strings.NewReplacer("{", "v", "}", "", "...", "", "*", "x").Replace(p.String())
		var ps Params
		if idx, res := tab.Match(nil, []byte("GET"), []byte(path), &ps); idx != 0 || res != Found {
			t.Fatalf("pattern %q does not match its own instance %q: %d %v", p, path, idx, res)
		}
		if ps.Len() != len(p.ParamNames()) {
			t.Fatalf("pattern %q captured %d params, want %d", p, ps.Len(), len(p.ParamNames()))
		}
	})
}
