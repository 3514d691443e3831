package route

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"root", "/", "/", nil},
		{"plain", "/buy/1", "/buy/1", nil},
		{"double slash", "/buy//1", "/buy/1", nil},
		{"leading double slash", "//buy/1", "/buy/1", nil},
		{"dot segment", "/buy/./1", "/buy/1", nil},
		{"dot dot", "/x/../buy/1", "/buy/1", nil},
		{"dot dot to root", "/x/..", "/", nil},
		{"dot dot keeps dir", "/a/b/..", "/a/", nil},
		{"trailing dot segment", "/buy/1/.", "/buy/1/", nil},
		{"encoded digit", "/buy/%31", "/buy/1", nil},
		{"encoded letters lower hex", "/%62%75%79/1", "/buy/1", nil},
		{"encoded dot dot", "/x/%2e%2E/buy/1", "/buy/1", nil},
		{"reserved escape uppercased", "/buy/%3b1", "/buy/%3B1", nil},
		{"non-ascii escape uppercased", "/caf%c3%a9", "/caf%C3%A9", nil},
		{"raw non-ascii escaped", "/caf\xc3\xa9", "/caf%C3%A9", nil},
		{"raw space escaped", "/a b", "/a%20b", nil},
		{"matrix params", "/buy;jsessionid=x/1", "/buy/1", nil},
		{"matrix params on last", "/buy/1;x=y", "/buy/1", nil},
		{"tomcat traversal", "/x/..;/buy/1", "/buy/1", nil},
		{"trailing dot", "/buy/1.", "/buy/1", nil},
		{"trailing dots encoded", "/buy/1%2e.", "/buy/1", nil},
		{"trailing slash kept", "/buy/1/", "/buy/1/", nil},
		{"case kept", "/BUY/1", "/BUY/1", nil},
		{"sub-delims raw", "/a/b!$&'()*+,=:@", "/a/b!$&'()*+,=:@", nil},
		{"dot inside kept", "/a.b/c.d", "/a.b/c.d", nil},
		{"tilde decoded", "/%7euser", "/~user", nil},
		{"lone escaped percent", "/100%25-off", "/100%25-off", nil},
		{"escaped percent at the end", "/100%25", "/100%25", nil},
		{"escaped percent before one hex digit", "/a%25f", "/a%25f", nil},
		{"escaped percent before an escape of a non-hex", "/a%25%41", "/a%25A", nil},
		{"three-byte UTF-8 after E0", "/%e0%a4%85", "/%E0%A4%85", nil},
		{"four-byte UTF-8 after F0", "/%f0%9f%98%80", "/%F0%9F%98%80", nil},

		{"empty", "", "", ErrNotAbsolute},
		{"relative", "buy/1", "", ErrNotAbsolute},
		{"asterisk form", "*", "", ErrNotAbsolute},
		{"above root", "/../buy/1", "", ErrAboveRoot},
		{"above root later", "/a/../../buy", "", ErrAboveRoot},
		{"above root encoded", "/%2e%2e/etc", "", ErrAboveRoot},
		{"encoded slash", "/buy%2F1", "", ErrEncodedSlash},
		{"encoded slash lower", "/buy%2f1", "", ErrEncodedSlash},
		{"encoded backslash", "/buy%5c1", "", ErrEncodedSlash},
		{"raw backslash", "/buy\\1", "", ErrBackslash},
		{"encoded nul", "/buy/1%00.html", "", ErrControlByte},
		{"encoded newline", "/buy/%0a", "", ErrControlByte},
		{"encoded del", "/buy/%7F", "", ErrControlByte},
		{"raw nul", "/buy/\x00", "", ErrControlByte},
		{"raw tab", "/buy/\t1", "", ErrControlByte},
		{"bad escape short", "/buy/%4", "", ErrBadEscape},
		{"bad escape percent", "/buy/%", "", ErrBadEscape},
		{"bad escape non-hex", "/buy/%G1", "", ErrBadEscape},
		{"dots only", "/buy/...", "", ErrDotsSegment},
		{"double-escaped dots", "/x/%252e%252e/buy/1", "", ErrDoubleEscape},
		{"double-escaped slash", "/buy%252f1", "", ErrDoubleEscape},
		{"double-escaped upper hex", "/buy%252F1", "", ErrDoubleEscape},
		{"double escape spelt with escapes", "/%25%32%65%25%32%65/buy", "", ErrDoubleEscape},
		{"double escape half escaped", "/a%252%65", "", ErrDoubleEscape},
		{"triple-escaped slash", "/buy%25252f1", "", ErrDoubleEscape},
		{"overlong dot", "/x/%c0%ae%c0%ae/buy/1", "", ErrOverlongUTF8},
		{"overlong slash", "/buy%c0%af1", "", ErrOverlongUTF8},
		{"overlong C1", "/a%C1%9C", "", ErrOverlongUTF8},
		{"overlong raw C0", "/a\xc0\xae", "", ErrOverlongUTF8},
		{"overlong three bytes", "/a%e0%80%ae", "", ErrOverlongUTF8},
		{"overlong three bytes raw", "/a\xe0\x80\xae", "", ErrOverlongUTF8},
		{"overlong four bytes", "/a%f0%80%80%ae", "", ErrOverlongUTF8},
		{"query", "/buy/1?x", "", ErrQueryInPath},
		{"fragment", "/buy/1#x", "", ErrQueryInPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			got, err := Normalize(prefix, []byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if string(got[:4]) != "keep" {
				t.Fatalf("Normalize(%q) clobbered dst: %q", tt.in, got)
			}
			if tt.err != nil {
				if len(got) != 4 {
					t.Fatalf("Normalize(%q) on error returned %q, want dst unchanged", tt.in, got)
				}
				return
			}
			if string(got[4:]) != tt.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tt.in, got[4:], tt.want)
			}
			again, err := Normalize(nil, got[4:])
			if err != nil || string(again) != tt.want {
				t.Fatalf("Normalize(%q) = %q, %v; want fixed point %q", got[4:], again, err, tt.want)
			}
		})
	}
}

// TestNormalizeThenMatchCannotDodge is the reason Normalize exists: every
// spelling of /buy/1 reaches the route of /buy/{id} with id "1".
func TestNormalizeThenMatchCannotDodge(t *testing.T) {
	tab := mustTable(t, true, Entry{Methods: []string{"POST"}, Pattern: mustParse(t, "/buy/{id}")})
	for _, in := range []string{"/buy/1", "/BUY/1", "/buy//1", "/buy/%31", "/buy/./1", "/x/../buy/1",
		"/buy;jsessionid=x/1", "/buy/1.", "/buy/1/", "/Buy/1;a=b/", "/x/..;/buy/%31."} {
		p, err := Normalize(nil, []byte(in))
		if err != nil {
			t.Fatalf("Normalize(%q): %v", in, err)
		}
		var ps Params
		idx, res := tab.Match(nil, []byte("POST"), p, &ps)
		if res != Found || idx != 0 || string(ps.Get("id")) != "1" {
			t.Errorf("%q → %q matched (%d, %v, id=%q), want route 0 with id 1", in, p, idx, res, ps.Get("id"))
		}
	}
}
