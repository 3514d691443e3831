package cache

import "testing"

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
