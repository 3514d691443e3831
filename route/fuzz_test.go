package route

import (
	"bytes"
	"math/big"
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
// that a pattern matches the path obtained by filling its parameters (a
// fixed value spelt with extra leading zeros when decimal), binding each
// parameter to the value filled in (a fixed value to itself).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/", "/item/{id}", "/static/*", "/files/{rest...}", "/a/", "/{a}/{b}/c", "//", "/{x...}/y",
		"/buy/{id=7}", "/x/0/{n=10}", "/{id=007}", "/s/{k=v}/{rest...}"} {
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
		path, want := instance(p)
		var ps Params
		if idx, res := tab.Match(nil, []byte("GET"), []byte(path), &ps); idx != 0 || res != Found {
			t.Fatalf("pattern %q does not match its own instance %q: %d %v", p, path, idx, res)
		}
		if ps.Len() != len(want) {
			t.Fatalf("pattern %q captured %d params from %q, want %v", p, ps.Len(), path, want)
		}
		for name, v := range want {
			if got := ps.Get(name); string(got) != v {
				t.Fatalf("pattern %q on %q: %s = %q, want %q", p, path, name, got, v)
			}
		}
	})
}

// instance returns a path that p matches and the values it binds there.
func instance(p *Pattern) (string, map[string]string) {
	var b strings.Builder
	want := map[string]string{}
	for _, s := range p.segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.lit)
		case segFixed:
			if isDecimal(s.lit) {
				b.WriteString("00") // another spelling of the same number
			}
			b.WriteString(s.lit)
			want[s.name] = s.lit
		case segParam:
			b.WriteString("v" + s.name)
			want[s.name] = "v" + s.name
		case segCatchAll:
			b.WriteString("x/y")
			if s.name != "" {
				want[s.name] = "x/y"
			}
		}
	}
	if b.Len() == 0 {
		return "/", want
	}
	return b.String(), want
}

func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// FuzzFixedValue checks a sale's route "/buy/{id=a}" beside the general
// "/buy/{id}" against a reference: a request segment b goes to the sale's
// route exactly when b == a, or both are decimal and name the same number
// (compared with math/big, not with the code under test), and then binds
// a; otherwise the general route binds b as sent.
func FuzzFixedValue(f *testing.F) {
	for _, s := range [][2]string{{"7", "7"}, {"7", "007"}, {"7", "70"}, {"0", "000"}, {"10", "010"},
		{"sale", "sale"}, {"sale", "Sale"}, {"7", "07a"}, {"18446744073709551617", "018446744073709551617"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		p, err := Parse("/buy/{id=" + a + "}")
		if err != nil {
			return
		}
		if canon, err := Normalize(nil, []byte("/buy/"+b)); err != nil || string(canon) != "/buy/"+b || b == "" || strings.Contains(b, "/") {
			return // not one normalized request segment
		}
		tab, err := NewTable([]Entry{{Pattern: p}, {Pattern: mustParse(t, "/buy/{id}")}}, false)
		if err != nil {
			t.Fatalf("NewTable(%q, /buy/{id}): %v", p, err)
		}
		same := a == b
		if isDecimal(a) && isDecimal(b) {
			x, _ := new(big.Int).SetString(a, 10)
			y, _ := new(big.Int).SetString(b, 10)
			same = x.Cmp(y) == 0
		}
		wantIdx, wantID, wantRes := 1, b, Found
		switch {
		case same:
			wantIdx, wantID = 0, a
		case strings.EqualFold(a, b): // a case variant of the sale's value
			wantIdx, wantID, wantRes = -1, "", CaseVariant
		}
		var ps Params
		idx, res := tab.Match(nil, []byte("POST"), []byte("/buy/"+b), &ps)
		if res != wantRes || idx != wantIdx || string(ps.Get("id")) != wantID {
			t.Fatalf("%q on /buy/%s = route %d %v id=%q, want route %d %v id=%q", p, b, idx, res, ps.Get("id"), wantIdx, wantRes, wantID)
		}
	})
}
