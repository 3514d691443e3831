package cache

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// FuzzHeaderParsing feeds arbitrary Cache-Control, Surrogate-Control and
// Accept-Encoding values to the parsers and checks what must always hold:
// directive names are trimmed and non-empty, lifetimes stay within ten
// years and never go negative from max-age, and an encoding is only chosen
// when the header names it.
func FuzzHeaderParsing(f *testing.F) {
	f.Add("public, max-age=60, s-maxage=120", `max-age=5;flashgate, content="ESI/1.0"`, "gzip, br;q=0")
	f.Add(`private="set-cookie", no-cache`, "no-store;other", "*;q=0.5")
	f.Add(`max-age="99999999999999999999"`, `,,;;==""`, "BR, GZIP;Q=0")
	f.Add("stale-while-revalidate=30, stale-if-error=abc", "max-age=-1", "identity;q=1, deflate")
	p, _ := CompilePolicy(PolicySpec{TTL: time.Second, TTLFromOrigin: true})
	e := &Entry{}
	e.bodies = [numEncodings][]byte{[]byte("x"), []byte("g"), []byte("b")}
	f.Fuzz(func(t *testing.T, cc, sc, ae string) {
		forEachDirective([]byte(cc), func(name, value, target []byte) {
			if len(name) == 0 || !bytes.Equal(name, bytes.TrimSpace(name)) || bytes.IndexByte(name, '=') >= 0 {
				t.Fatalf("directive name %q from %q", name, cc)
			}
		})
		var resp fasthttp.Response
		resp.Header.Set("Cache-Control", cc)
		resp.Header.Set("Surrogate-Control", sc)
		d := parseDirectives(&resp.Header, []byte("flashgate"))
		lt := lifetimesFor(p, d, 200, 0, 0)
		const tenYears = int64(10 * 365 * 24 * time.Hour)
		if d.expires == 0 && (lt.ttl < 0 || lt.ttl > tenYears || lt.swr > tenYears || lt.sie > tenYears) {
			t.Fatalf("lifetimes %+v out of bounds for %q / %q", lt, cc, sc)
		}
		enc := negotiate([]byte(ae), e)
		lower := strings.ToLower(ae)
		if enc == Brotli && !strings.Contains(lower, "br") {
			t.Fatalf("chose br for %q", ae)
		}
		if enc == Gzip && !strings.Contains(lower, "gzip") && !strings.Contains(ae, "*") {
			t.Fatalf("chose gzip for %q", ae)
		}
		if etagListMatches([]byte(ae), []byte(`"fg-x"`)) && !strings.Contains(ae, `"fg-x"`) && !strings.Contains(ae, "*") {
			t.Fatalf("If-None-Match %q matched an ETag it does not contain", ae)
		}
	})
}
