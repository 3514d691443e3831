package proxy

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// specPages are ESI templates served at /spec/{name}, each exercising
// one rule of the ESI 1.0 note through the real server.
var specPages = map[string]string{
	// §5 expressions
	"or":      `<esi:choose><esi:when test="(1==1)|(2==2)">yes</esi:when><esi:otherwise>no</esi:otherwise></esi:choose>`,
	"and":     `<esi:choose><esi:when test="(4!=5)&amp;(4==5)">yes</esi:when><esi:when test="(4!=5)&(5==5)">and</esi:when></esi:choose>`,
	"decimal": `<esi:choose><esi:when test="$(QUERY_STRING{n}) == 10.0">ten</esi:when><esi:otherwise>other</esi:otherwise></esi:choose>`,
	"empty":   `<esi:choose><esi:when test="$(HTTP_COOKIE{none}) != 'x'">true</esi:when><esi:otherwise>false</esi:otherwise></esi:choose>`,
	// fragments are bytes
	"binary": `[<esi:include src="/f/bin"/>|<esi:include src="/f/esi-bin"/>]`,
	// §4.1.1 the User-Agent dictionary
	"ua":          `<esi:vars>$(HTTP_USER_AGENT{browser}) $(HTTP_USER_AGENT{os}) $(HTTP_USER_AGENT{version})</esi:vars>`,
	"broken-frag": `[<esi:include src="/f/esi-broken" onerror="continue"/>|<esi:include src="/cf/esi-broken" onerror="continue"/>]`,
	// comments and esi:remove
	"comment":         `a<!-- <esi:include src="/f/missing"/> -->b<!--esi <esi:include src="/f/ok"/>-->`,
	"remove-cdata":    `a<esi:remove><![CDATA[</esi:remove><esi:include src="/f/missing"/>]]></esi:remove>b`,
	"remove-unclosed": `a<esi:include src="/f/ok"/><esi:remove>for clients without ESI <esi:include src="/f/missing"/>`,
	// bounds (served under /bound/: max_includes 2, max_depth 2)
	"includes": `<esi:include src="/f/ok"/><esi:include src="/f/ok"/>|<esi:include src="/f/ok" onerror="continue"/>|<esi:include src="/f/ok" alt="/f/alt"/>|<esi:try><esi:attempt><esi:include src="/f/ok"/></esi:attempt><esi:except>EXCEPT</esi:except></esi:try>`,
	"fatal":    `<esi:include src="/f/ok"/><esi:include src="/f/ok"/>|<esi:include src="/f/ok"/>`,
	"d1":       `1<esi:include src="/bound/d2"/>`,
	"d2":       `2<esi:include src="/bound/d3"/>`,
	"d3":       `3<esi:include src="/bound/d4"/>`,
	"d4":       `4`,
}

// specFrags are plain fragments served at /f/{name}.
var specFrags = map[string]string{
	"ok":  "OK",
	"alt": "ALT",
	// binary bytes, NUL included; the esi- one asks for ESI processing,
	// but a body with a NUL is no template: it is included as it is.
	"bin":     "\x00\x01\xfe\xff\x89PNG\r\n\x1a\n",
	"esi-bin": "\x00<esi:include src=\"/f/ok\"/>",
	// a fragment template that cannot be parsed: never included raw
	"esi-broken": `<esi:try>never closed`,
}

func specOrigin() *countingOrigin {
	return newCountingOrigin(func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		name, ok := strings.CutPrefix(path, "/spec/")
		if !ok {
			name, ok = strings.CutPrefix(path, "/bound/")
		}
		if ok && specPages[name] != "" {
			ctx.Response.Header.Set("Surrogate-Control", `content="ESI/1.0"`)
			ctx.SetContentType("text/html")
			ctx.SetBodyString(specPages[name])
			return
		}
		name, ok = strings.CutPrefix(path, "/f/")
		if !ok {
			name, ok = strings.CutPrefix(path, "/cf/")
		}
		if ok && specFrags[name] != "" {
			if strings.HasPrefix(name, "esi-") {
				ctx.Response.Header.Set("Surrogate-Control", `content="ESI/1.0"`)
			}
			ctx.SetBodyString(specFrags[name])
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	})
}

const specRules = `
origins:
  shop:
    servers: [ORIGIN]
routes:
  - name: spec
    path: /spec/{name}
    origin: shop
    cache: {ttl: 1m}
    esi: {fragment_timeout: 2s}
  - name: bound
    path: /bound/{name}
    origin: shop
    cache: {ttl: 1m}
    esi: {max_includes: 2, max_depth: 2}
  - name: frag
    path: /f/{name}
    origin: shop
  - name: cached-frag
    path: /cf/{name}
    origin: shop
    cache: {ttl: 1m}
`

// TestESISpec: pages assembled through the real server (loopback origin)
// as the ESI 1.0 note says.
func TestESISpec(t *testing.T) {
	g := cachedGateway(t, loadYAML(t, startOrigin(t, specOrigin().handle), specRules), newFakeClock())
	tests := []struct {
		name, uri string
		hdr       []string
		status    int
		body      string
	}{
		{"| as or", "/spec/or", nil, 200, "yes"},
		{"& as and, also written &amp;", "/spec/and", nil, 200, "and"},
		{"decimal literal", "/spec/decimal?n=10", nil, 200, "ten"},
		{"decimal literal, other value", "/spec/decimal?n=10.5", nil, 200, "other"},
		{"comparison with an undefined operand is false", "/spec/empty", nil, 200, "false"},
		{"binary fragments are included as they are", "/spec/binary", nil, 200, "[" + specFrags["bin"] + "|" + specFrags["esi-bin"] + "]"},
		{"User-Agent parts: MSIE", "/spec/ua", []string{"User-Agent", "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)"}, 200, "MSIE WIN 6.0"},
		{"User-Agent parts: Firefox on Linux", "/spec/ua", []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"}, 200, "MOZILLA UNIX 5.0"},
		{"User-Agent parts: curl", "/spec/ua", []string{"User-Agent", "curl/8.4.0"}, 200, "OTHER OTHER 8.4.0"},
		{"a fragment template that cannot be parsed fails as an include", "/spec/broken-frag", nil, 200, "[|]"},
		{"... also from the cache", "/spec/broken-frag", nil, 200, "[|]"},
		{"an include in an HTML comment is not executed, <!--esi is", "/spec/comment", nil, 200, `a<!-- <esi:include src="/f/missing"/> -->b OK`},
		{"</esi:remove> in CDATA does not end the remove", "/spec/remove-cdata", nil, 200, "ab"},
		{"an unclosed esi:remove removes to the end", "/spec/remove-unclosed", nil, 200, "aOK"},
		{"includes past max_includes fail as includes: onerror, alt, esi:except apply", "/bound/includes", nil, 200, "OKOK||ALT|EXCEPT"},
		{"an include past max_includes without fallback fails the page", "/bound/fatal", nil, 502, ""},
		{"nesting past max_depth drops only the too-deep include", "/bound/d1", nil, 200, "123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := g.get(t, tt.uri, tt.hdr...)
			if tt.status != 200 {
				if resp.StatusCode() != tt.status || !strings.Contains(string(resp.Body()), "ESI") {
					t.Fatalf("%s: %d %q, want %d and a page naming the ESI error", tt.uri, resp.StatusCode(), resp.Body(), tt.status)
				}
				return
			}
			if resp.StatusCode() != tt.status || string(resp.Body()) != tt.body {
				t.Fatalf("%s: %d %q, want %d %q", tt.uri, resp.StatusCode(), resp.Body(), tt.status, tt.body)
			}
		})
	}
}

// TestESITemplateErrors: a template that cannot be parsed is answered
// with a 502 page naming the ESI error (not "the shop could not be
// reached"), counted on every answer, and logged once per URL and
// reason, not per request (a query string makes no new URL).
func TestESITemplateErrors(t *testing.T) {
	specPages["broken-try"] = `<h1>Item</h1><esi:try><esi:attempt>never closed`
	specPages["broken-tag"] = `<h1>Item</h1><esi:inline src="/f/ok"/>`
	t.Cleanup(func() { delete(specPages, "broken-try"); delete(specPages, "broken-tag") })
	g := cachedGateway(t, loadYAML(t, startOrigin(t, specOrigin().handle), specRules), newFakeClock())
	for _, c := range []struct{ uri, reason string }{
		{"/spec/broken-try", "an ESI element, tag or comment is not closed"},
		{"/spec/broken-try?a=1", "an ESI element, tag or comment is not closed"},
		{"/spec/broken-try", "an ESI element, tag or comment is not closed"},
		{"/spec/broken-tag", "it uses an ESI element the gateway does not support"},
		{"/spec/broken-tag?b=2", "it uses an ESI element the gateway does not support"},
	} {
		resp := g.get(t, c.uri, "Accept", "text/html")
		body := string(resp.Body())
		if resp.StatusCode() != 502 || !strings.Contains(body, "not valid ESI: "+c.reason) || strings.Contains(body, "<h1>Item") {
			t.Fatalf("%s: %d %q, want a 502 page saying the template is not valid ESI: %s", c.uri, resp.StatusCode(), body, c.reason)
		}
	}
	if !strings.Contains(g.metricsText(), "flashgate_esi_template_errors_total 5") {
		t.Fatalf("template errors not counted per answer:\n%s", g.metricsText())
	}
	logs := g.logs.String()
	for _, want := range []string{"path=/spec/broken-try", "path=/spec/broken-tag"} {
		if n := strings.Count(logs, want); n != 1 {
			t.Fatalf("%s logged %d times, want once:\n%s", want, n, logs)
		}
	}
	if !strings.Contains(logs, `error="esi: byte 35: esi:attempt: unclosed: no </esi:attempt>"`) {
		t.Fatalf("log lacks the parse error's detail:\n%s", logs)
	}
}
