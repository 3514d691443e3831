package edge

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	v4 := Header{Version: 1, Source: netip.MustParseAddrPort("203.0.113.7:51234"), Dest: netip.MustParseAddrPort("10.0.0.5:443")}
	v6 := Header{Version: 1, Source: netip.MustParseAddrPort("[2001:db8::1]:1"), Dest: netip.MustParseAddrPort("[2001:db8::2]:65535")}
	v2 := v4
	v2.Version = 2
	v26 := v6
	v26.Version = 2
	for _, tc := range []struct {
		name string
		in   string
		want Header
		n    int
		err  string // "" = ok
	}{
		{"v1 tcp4", "PROXY TCP4 203.0.113.7 10.0.0.5 51234 443\r\nGET /", v4, 43, ""},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", v6, 44, ""},
		{"v1 unknown", "PROXY UNKNOWN ffff::1 whatever\r\nGET", Header{Version: 1, Local: true}, 32, ""},
		{"v1 bare unknown", "PROXY UNKNOWN\r\n", Header{Version: 1, Local: true}, 15, ""},
		{"v2 tcp4", string(v2.AppendV2(nil)) + "GET", v2, 28, ""},
		{"v2 tcp6", string(v26.AppendV2(nil)), v26, 52, ""},
		{"v2 local", string(Header{Local: true}.AppendV2(nil)), Header{Version: 2, Local: true}, 16, ""},
		{"v2 with TLVs", v2tlv(v2), v2, 28 + 7, ""},

		{"empty", "", Header{}, 0, "incomplete"},
		{"v1 prefix", "PROX", Header{}, 0, "incomplete"},
		{"v1 no CRLF yet", "PROXY TCP4 1.2.3.4", Header{}, 0, "incomplete"},
		{"v2 prefix", "\r\n\r\n\x00\r\nQU", Header{}, 0, "incomplete"},
		{"v2 body missing", string(v2.AppendV2(nil)[:20]), Header{}, 0, "incomplete"},
		{"plain http", "GET / HTTP/1.1\r\n", Header{}, 0, "no header"},
		{"tls hello", "\x16\x03\x01\x02\x00", Header{}, 0, "no header"},
		{"almost v1", "PROXI TCP4", Header{}, 0, "no header"},
		{"v1 no CRLF in 107", "PROXY TCP4 " + strings.Repeat("1", 100), Header{}, 0, "no CRLF within 107"},
		{"v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET / HTTP/1.1\r\n", Header{}, 0, "malformed"},
		{"v1 tcp4 with v6", "PROXY TCP4 2001:db8::1 10.0.0.5 1 2\r\n", Header{}, 0, "bad address"},
		{"v1 tcp6 with v4", "PROXY TCP6 1.2.3.4 10.0.0.5 1 2\r\n", Header{}, 0, "bad address"},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n", Header{}, 0, "bad address"},
		{"v1 port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", Header{}, 0, "bad port"},
		{"v1 port leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", Header{}, 0, "bad port"},
		{"v1 port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", Header{}, 0, "bad port"},
		{"v1 two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", Header{}, 0, "malformed"},
		{"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", Header{}, 0, "malformed"},
		{"v1 missing field", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", Header{}, 0, "malformed"},
		{"v1 udp", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", Header{}, 0, "malformed"},
		{"v2 version 1", v2with(v2, 12, 0x11), Header{}, 0, "version 1, want 2"},
		{"v2 command 2", v2with(v2, 12, 0x22), Header{}, 0, "unknown command 2"},
		{"v2 udp", v2with(v2, 13, 0x12), Header{}, 0, "not a stream"},
		{"v2 family 4", v2with(v2, 13, 0x41), Header{}, 0, "unknown address family 4"},
		{"v2 huge", v2with(v2, 14, 0xff), Header{}, 0, "more than the 2048 accepted"},
		{"v2 truncated addresses", v2with(v2, 15, 4)[:20], Header{}, 0, "IPv4 addresses truncated"},
	} {
		h, n, err := ParseHeader([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		case h != tc.want || n != tc.n:
			t.Errorf("%s: %+v, %d bytes; want %+v, %d", tc.name, h, n, tc.want, tc.n)
		}
	}
}

// v2with returns h's v2 header with byte i set to v.
func v2with(h Header, i int, v byte) string {
	b := h.AppendV2(nil)
	b[i] = v
	return string(b)
}

// v2tlv returns h's v2 header with a 7-byte TLV (PP2_TYPE_AUTHORITY "shop")
// after the addresses.
func v2tlv(h Header) string {
	b := h.AppendV2(nil)
	b[15] += 7
	return string(append(b, 0x02, 0x00, 0x04, 's', 'h', 'o', 'p'))
}

// FuzzParseHeader: never panics, never claims more bytes than it was
// given or than a header may take; a header it accepts encodes back to
// one it reads the same; and every proper prefix of an accepted header is
// incomplete, so reading more can never turn one header into another.
func FuzzParseHeader(f *testing.F) {
	h := Header{Version: 1, Source: netip.MustParseAddrPort("203.0.113.7:51234"), Dest: netip.MustParseAddrPort("10.0.0.5:443")}
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.5 51234 443\r\n"))
	f.Add(h.AppendV2(nil))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("error %v with %+v, %d bytes", err, h, n)
			}
			return
		}
		if n <= 0 || n > len(b) || n > MaxHeader {
			t.Fatalf("took %d of %d bytes", n, len(b))
		}
		for i := range n {
			if _, _, err := ParseHeader(b[:i]); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("prefix of %d of a %d-byte header: %v, want incomplete", i, n, err)
			}
		}
		enc := h.AppendV1(nil)
		if h.Version == 2 {
			enc = h.AppendV2(nil)
		}
		h2, n2, err := ParseHeader(enc)
		if err != nil || h2 != h || n2 != len(enc) {
			t.Fatalf("%q → %+v → %q → %+v, %d, %v", b[:n], h, enc, h2, n2, err)
		}
		if h.Version == 1 && h.Source.Addr().Is4() && !bytes.Equal(enc, b[:n]) { // IPv6 has many spellings
			t.Fatalf("v1 line %q re-encodes as %q", b[:n], enc)
		}
	})
}
