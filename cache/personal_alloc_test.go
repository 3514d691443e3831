//go:build !race

package cache

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestMarkPersonalAllocs: marking a personal answer (the proxy does it for
// every request with a session cookie) allocates nothing once the scratch
// buffer and the response header have grown.
func TestMarkPersonalAllocs(t *testing.T) {
	for _, mode := range []PersonalMode{PersonalPrivate, PersonalNoStore} {
		var h fasthttp.ResponseHeader
		var c fasthttp.Cookie
		c.SetKey("sid")
		c.SetValue("x")
		scratch := make([]byte, 0, 64)
		run := func() {
			h.Set("Cache-Control", "public, max-age=60, s-maxage=600")
			h.Set("CDN-Cache-Control", "max-age=600")
			h.SetCookie(&c)
			if HasSetCookie(&h) {
				scratch = MarkPersonal(&h, mode, scratch)
			}
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("mode %d: MarkPersonal allocates %v times, want 0", mode, n)
		}
	}
}
