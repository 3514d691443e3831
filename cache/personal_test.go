package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestAppendPrivate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "private"},
		{"public, max-age=60", "private, max-age=60"},
		{"max-age=60, s-maxage=600, proxy-revalidate", "private, max-age=60"},
		{"PUBLIC, Max-Age=5, must-revalidate", "private, Max-Age=5, must-revalidate"},
		{`no-cache="Set-Cookie, X-A", max-age=0`, `private, no-cache="Set-Cookie, X-A", max-age=0`},
	} {
		if got := string(AppendPrivate(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("AppendPrivate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestMarkPersonalDropsCDNHeaders: a CDN-targeted lifetime goes even when
// Cache-Control already says private, since a CDN reads it first.
func TestMarkPersonalDropsCDNHeaders(t *testing.T) {
	var h fasthttp.ResponseHeader
	h.Set("Cache-Control", "private, max-age=5")
	h.Set("CDN-Cache-Control", "max-age=600")
	MarkPersonal(&h, PersonalPrivate, nil)
	if got := string(h.Peek("CDN-Cache-Control")); got != "" {
		t.Errorf("CDN-Cache-Control = %q, want it removed", got)
	}
	if got := string(h.Peek("Cache-Control")); got != "private, max-age=5" {
		t.Errorf("Cache-Control = %q, want the origin's private one kept", got)
	}
}
