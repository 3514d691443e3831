// Command benchorigin is a deterministic shop origin for side-by-side benchmarks.
//
// Modes:
//
//	-mode origin   a small shop: /item/{id}, /esi/page, /frag/*, /buy/{id}, /static/big;
//	               /pass/item/{id} and /limited/item/{id} serve the same item page,
//	               for gateways whose routes forward the path unchanged (nginx
//	               strips the prefix and asks for /item/{id}: same bytes)
//	-mode ceiling  every path returns the exact bytes of /item/1 from memory: the
//	               fastest a fasthttp server can answer on this machine (the "limit").
//	-mode ceiling-reject  every path answers 429 with a tiny JSON body: the limit for
//	               rejections.
//	-mode ceiling-reject-same  every path answers flashgate's own 429 for
//	               /limited/ (same status, headers and body, a counting
//	               X-Request-Id, no Server): the limit for that answer, so that
//	               what the gateway's pipeline costs is told apart from what its
//	               bigger answer costs to write.
//	-mode ceiling-same  every path returns flashgate's cache hit on /item/1 byte for
//	               byte (the page, the origin's headers and the gateway's Via, Vary,
//	               Age, X-Cache and X-Request-Id): the limit for that answer.
//	-mode ceiling-esi  every path returns the exact bytes of /esi/page once assembled
//	               (its includes replaced by the fragments): the limit for a page of
//	               that size, against which ESI assembly is measured.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	addr   = flag.String("addr", "127.0.0.1:9000", "listen address")
	mode   = flag.String("mode", "origin", "origin, ceiling, ceiling-same, ceiling-reject, ceiling-reject-same or ceiling-esi")
	buyMS  = flag.Int("buy-ms", 2, "simulated work per /buy request, in milliseconds")
	pageKB = flag.Int("page-kb", 8, "size of an item page in KiB")
)

func itemPage(id string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!doctype html><html><head><title>Item %s</title></head><body><h1>Item %s</h1>\n", id, id)
	line := "<p>Flash sale item description, identical bytes on every request so that peers are compared fairly.</p>\n"
	for b.Len() < *pageKB*1024-len("</body></html>\n") {
		b.WriteString(line)
	}
	b.Truncate(*pageKB*1024 - len("</body></html>\n"))
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

const esiPage = `<!doctype html><html><head><title>ESI page</title></head><body>
<esi:include src="/frag/header"/>
<main><h1>Item 1</h1><p>Price: <esi:include src="/frag/price/1"/></p></main>
<esi:include src="/frag/footer"/>
</body></html>
`

func fragment(name string) []byte {
	return []byte(fmt.Sprintf("<div class=%q>%s</div>", name, strings.Repeat("x", 480)))
}

// assembledESIPage is esiPage with each include replaced by its fragment,
// byte for byte what an ESI processor sends for /esi/page.
func assembledESIPage() []byte {
	page := esiPage
	for _, name := range []string{"header", "price/1", "footer"} {
		page = strings.Replace(page, `<esi:include src="/frag/`+name+`"/>`, string(fragment(name)), 1)
	}
	return []byte(page)
}

func main() {
	flag.Parse()
	page := itemPage("1")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64*1024/16)
	etag := `"item-1-v1"`

	var handler fasthttp.RequestHandler
	switch *mode {
	case "ceiling":
		handler = func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/html; charset=utf-8")
			ctx.SetBody(page)
		}
	case "ceiling-same":
		// flashgate's cache hit on /item/1 byte for byte but the Date: the
		// page with the origin's headers and the gateway's own (Via, Vary,
		// Age, X-Cache, X-Request-Id).
		var n atomic.Uint64
		handler = func(ctx *fasthttp.RequestCtx) {
			h := &ctx.Response.Header
			h.SetContentType("text/html; charset=utf-8")
			h.Set("Cache-Control", "public, max-age=60")
			h.Set("Via", "1.1 flashgate")
			h.Set("Vary", "Accept-Encoding")
			h.Set("Age", "0")
			h.Set("X-Cache", "HIT")
			h.Set("ETag", etag)
			var id [40]byte
			h.SetBytesV("X-Request-Id", strconv.AppendUint(append(id[:0], "f4252c2ce3aaab14-"...), n.Add(1), 32))
			ctx.SetBody(page)
		}
	case "ceiling-esi":
		assembled := assembledESIPage()
		handler = func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("text/html; charset=utf-8")
			ctx.SetBody(assembled)
		}
	case "ceiling-reject-same":
		// flashgate's own 429 for /limited/ to a client without Accept,
		// byte for byte but the Date: the limit for that answer.
		reject := []byte(`{"error":"rate_limited","filter":"ratelimit","route":"limited","message":"You are sending requests faster than this sale allows. Please wait a moment and try again.","retry_after":1}` + "\n")
		var n atomic.Uint64
		handler = func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("X-Flashgate-Filter", "ratelimit")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.Response.Header.Set("Retry-After", "1")
			var id [40]byte
			ctx.Response.Header.SetBytesV("X-Request-Id", strconv.AppendUint(append(id[:0], "f4252c2ce3aaab14-"...), n.Add(1), 32))
			ctx.SetBody(reject)
		}
	case "ceiling-reject":
		reject := []byte(`{"error":"rate_limited","retry_after":1}`)
		handler = func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
			ctx.Response.Header.Set("Retry-After", "1")
			ctx.SetContentType("application/json")
			ctx.SetBody(reject)
		}
	case "origin":
		handler = func(ctx *fasthttp.RequestCtx) {
			path := string(ctx.Path())
			h := &ctx.Response.Header
			switch {
			case strings.HasPrefix(path, "/item/"), strings.HasPrefix(path, "/pass/item/"),
				strings.HasPrefix(path, "/limited/item/"):
				h.Set("Cache-Control", "public, max-age=60")
				h.Set("ETag", etag)
				ctx.SetContentType("text/html; charset=utf-8")
				ctx.SetBody(page)
			case path == "/esi/page":
				h.Set("Cache-Control", "public, max-age=60")
				h.Set("Surrogate-Control", `content="ESI/1.0"`)
				ctx.SetContentType("text/html; charset=utf-8")
				ctx.SetBodyString(esiPage)
			case strings.HasPrefix(path, "/frag/"):
				h.Set("Cache-Control", "public, max-age=60")
				ctx.SetContentType("text/html; charset=utf-8")
				ctx.SetBody(fragment(strings.TrimPrefix(path, "/frag/")))
			case strings.HasPrefix(path, "/pass/buy/"):
				// The pass-through POST row: a purchase's small JSON answer
				// with no simulated work, so the row measures forwarding.
				h.Set("Cache-Control", "no-store")
				ctx.SetContentType("application/json")
				ctx.SetBodyString(`{"ok":true,"item":` + strconv.Quote(strings.TrimPrefix(path, "/pass/buy/")) + `,"qty":` + strconv.Quote(string(ctx.PostArgs().Peek("qty"))) + `}`)
			case strings.HasPrefix(path, "/buy/"):
				h.Set("Cache-Control", "no-store")
				time.Sleep(time.Duration(*buyMS) * time.Millisecond)
				ctx.SetContentType("application/json")
				ctx.SetBodyString(`{"ok":true,"item":` + strconv.Quote(strings.TrimPrefix(path, "/buy/")) + `}`)
			case path == "/static/big":
				h.Set("Cache-Control", "public, max-age=600")
				ctx.SetContentType("application/octet-stream")
				ctx.SetBody(big)
			case path == "/healthz":
				ctx.SetBodyString("ok")
			default:
				ctx.SetStatusCode(fasthttp.StatusNotFound)
			}
		}
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	s := &fasthttp.Server{Handler: handler, Name: "benchorigin", NoDefaultServerHeader: *mode == "ceiling-reject-same"}
	log.Printf("benchorigin %s on %s", *mode, *addr)
	log.Fatal(s.ListenAndServe(*addr))
}
