package route

import (
	"bytes"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// FuzzNormalize checks the properties the proxy relies on: the result is a
// fixed point, never holds a dot segment, empty segment, ';' or control
// byte, and appends to dst without touching it; and an origin that decodes
// the result twice and folds overlong UTF-8 reads the same segments as
// one decoding (originView), so it cannot be routed elsewhere.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/buy/1", "/x/../buy//%31;j=x/./1.", "/%2e%2e/", "/a%2Fb", "/caf\xc3\xa9/", "/a/b/..", "/%", "/...", "/a/./",
		"/%252e%252e/buy/1", "/buy%252f1", "/%25%32%65", "/x/%c0%ae%c0%ae/", "/%c0%af", "/%e0%80%ae", "/%f0%80%80%af", "/100%25-off"} {
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
		once := percentDecode(got)
		if twice := originView(once); !bytes.Equal(twice, once) {
			t.Fatalf("Normalize(%q) = %q: decoded once %q, but a double-decoding origin reads %q", in, got, once, twice)
		}
	})
}

// percentDecode decodes every well-formed %XX of b (a reference written
// apart from Normalize's own decoder).
func percentDecode(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) {
			if v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 2
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// cont reports whether b[i:i+n] are n UTF-8 continuation bytes.
func cont(b []byte, i, n int) bool {
	if i+n > len(b) {
		return false
	}
	for _, c := range b[i : i+n] {
		if c&0xc0 != 0x80 {
			return false
		}
	}
	return true
}

// originView is what a lenient origin makes of an already decoded path:
// it decodes again, and folds overlong two-, three- and four-byte UTF-8
// sequences to the byte they spell.
func originView(b []byte) []byte {
	b = percentDecode(b)
	var out []byte
	for i := 0; i < len(b); i++ {
		switch {
		case (b[i] == 0xc0 || b[i] == 0xc1) && cont(b, i+1, 1):
			out = append(out, (b[i]&0x1f)<<6|b[i+1]&0x3f)
			i++
		case b[i] == 0xe0 && cont(b, i+1, 2) && b[i+1] < 0xa0:
			out = append(out, (b[i+1]&0x3f)<<6|b[i+2]&0x3f)
			i += 2
		case b[i] == 0xf0 && cont(b, i+1, 3) && b[i+1] < 0x90:
			out = append(out, (b[i+2]&0x3f)<<6|b[i+3]&0x3f)
			i += 3
		default:
			out = append(out, b[i])
		}
	}
	return out
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
