package demo

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestPages(t *testing.T) {
	_, base, c := startShop(t, Options{Items: 5, Stock: 100})
	const esiShell = `content="ESI/1.0", max-age=60`
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantHeader map[string]string // "" = must be absent
		wantBody   []string
	}{
		{
			name:       "catalogue",
			req:        request{path: "/"},
			wantStatus: 200,
			wantHeader: map[string]string{
				"Cache-Control": "public, s-maxage=30, max-age=5", "Surrogate-Key": "catalogue",
				"Content-Type": "text/html; charset=utf-8", "Last-Modified": "Wed, 11 Nov 2026 00:00:00 GMT",
			},
			wantBody: []string{`<a href="/item/1">`, `<a href="/item/5">`, "Aurora Wireless Headphones", "$119.40", "<style>"},
		},
		{
			name:       "item page is an ESI shell",
			req:        request{path: "/item/3"},
			wantStatus: 200,
			wantHeader: map[string]string{
				"Cache-Control": "public, s-maxage=60, max-age=10", "Surrogate-Control": esiShell,
				"Surrogate-Key": "item:3", "Last-Modified": "Wed, 11 Nov 2026 00:00:00 GMT",
			},
			wantBody: []string{
				`<esi:include src="/frag/price/3"/>`, `<esi:include src="/frag/stock/3" onerror="continue"/>`,
				`<esi:include src="/frag/cart" onerror="continue"/>`, `<form class="buy" method="post" action="/buy/3">`,
				"Comet 4K Action Camera",
			},
		},
		{
			name:       "HEAD item page: headers, no body",
			req:        request{method: "HEAD", path: "/item/3"},
			wantStatus: 200,
			wantHeader: map[string]string{"Surrogate-Control": esiShell, "Surrogate-Key": "item:3"},
		},
		{
			name:       "price fragment",
			req:        request{path: "/frag/price/1"},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "public, s-maxage=10, max-age=5", "Surrogate-Key": "price item:1"},
			wantBody:   []string{`<span class="now">$119.40</span>`, `<s class="was">$199.00</s>`, "-40%"},
		},
		{
			name:       "stock fragment",
			req:        request{path: "/frag/stock/2"},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "public, s-maxage=1, max-age=0", "Surrogate-Key": "stock item:2"},
			wantBody:   []string{`data-left="100"`, "100 in stock"},
		},
		{
			name:       "cart of a signed-in user names the user",
			req:        request{path: "/frag/cart", headers: map[string]string{"Cookie": "uid=alice; cart=3:2|1:1"}},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "private, no-store", "Surrogate-Key": ""},
			wantBody:   []string{`data-user="alice"`, "alice's cart", "2 × Comet 4K Action Camera", "1 × Aurora Wireless Headphones"},
		},
		{
			name:       "cart from X-User-Id",
			req:        request{path: "/frag/cart", headers: map[string]string{"X-User-Id": "bob"}},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "private, no-store"},
			wantBody:   []string{`data-user="bob"`, "bob's cart</b>: empty."},
		},
		{
			name:       "cart with a hostile uid is anonymous",
			req:        request{path: "/frag/cart", headers: map[string]string{"Cookie": "uid=<script>"}},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "private, no-store"},
			wantBody:   []string{`data-user=""`, "Not signed in."},
		},
		{
			name:       "static stylesheet is immutable",
			req:        request{path: "/static/app.css"},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "public, max-age=31536000, immutable", "Content-Type": "text/css; charset=utf-8"},
			wantBody:   []string{".buy button"},
		},
		{
			name:       "item API",
			req:        request{path: "/api/items/4"},
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json", "Surrogate-Key": "api item:4"},
			wantBody:   []string{`{"id":4,"name":"Atlas Trail Backpack","price":"53.40","list_price":"89.00","currency":"USD","stock":100,"sold":0}`},
		},
		{
			name:       "health",
			req:        request{path: "/health"},
			wantStatus: 200,
			wantHeader: map[string]string{"Cache-Control": "no-store"},
			wantBody:   []string{`{"status":"ok"}`},
		},
		{
			name:       "slow",
			req:        request{path: "/slow?ms=5"},
			wantStatus: 200,
			wantBody:   []string{`{"slept_ms":5}`},
		},
		{name: "slow with a bad ms", req: request{path: "/slow?ms=-1"}, wantStatus: 400, wantBody: []string{`"bad_ms"`}},
		{
			name:       "unknown path is a short-lived 404",
			req:        request{path: "/nope"},
			wantStatus: 404,
			wantHeader: map[string]string{"Cache-Control": "public, s-maxage=10, max-age=10"},
			wantBody:   []string{"Not found"},
		},
		{name: "unknown item page", req: request{path: "/item/6"}, wantStatus: 404, wantBody: []string{"Not found"}},
		{name: "item id with a sign", req: request{path: "/item/+1"}, wantStatus: 404},
		{name: "item id with leading zeros reads as the item", req: request{path: "/item/003"}, wantStatus: 200, wantBody: []string{"Comet"}},
		{name: "unknown item API is JSON", req: request{path: "/api/items/99"}, wantStatus: 404, wantBody: []string{`{"error":"unknown_item"}`}},
		{
			name:       "POST on a page",
			req:        request{method: "POST", path: "/"},
			wantStatus: 405,
			wantHeader: map[string]string{"Allow": "GET, HEAD"},
		},
		{name: "login form", req: request{path: "/login"}, wantStatus: 200, wantHeader: map[string]string{"Cache-Control": "no-store"}, wantBody: []string{`action="/login"`}},
		{name: "login with a bad name", req: request{method: "POST", path: "/login", body: "user=%3Cb%3E"}, wantStatus: 400, wantBody: []string{"A name is 1 to 64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, c, base, tt.req)
			if got := resp.StatusCode(); got != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body:\n%s", got, tt.wantStatus, resp.Body())
			}
			for k, want := range tt.wantHeader {
				if got := string(resp.Header.Peek(k)); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body := string(resp.Body())
			for _, want := range tt.wantBody {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q; body:\n%s", want, body)
				}
			}
			if tt.req.method == fasthttp.MethodHead && len(body) != 0 {
				t.Errorf("HEAD body = %d bytes, want none", len(body))
			}
		})
	}
}

func TestLoginSetsCookie(t *testing.T) {
	_, base, c := startShop(t, Options{})
	resp := do(t, c, base, request{method: "POST", path: "/login", body: "user=carol"})
	if resp.StatusCode() != 303 || string(resp.Header.Peek("Location")) != "/" {
		t.Fatalf("POST /login = %d Location %q, want 303 /", resp.StatusCode(), resp.Header.Peek("Location"))
	}
	if got := string(resp.Header.PeekCookie("uid")); !strings.HasPrefix(got, "uid=carol; ") {
		t.Errorf("Set-Cookie uid = %q, want uid=carol", got)
	}
}

func TestSetHealthy(t *testing.T) {
	s, base, c := startShop(t, Options{})
	s.SetHealthy(false)
	if resp := do(t, c, base, request{path: "/health"}); resp.StatusCode() != 503 {
		t.Fatalf("unhealthy /health = %d, want 503", resp.StatusCode())
	}
	s.SetHealthy(true)
	if resp := do(t, c, base, request{path: "/health"}); resp.StatusCode() != 200 {
		t.Fatalf("healthy /health = %d, want 200", resp.StatusCode())
	}
}

func TestCaseInsensitiveOrigin(t *testing.T) {
	for _, fold := range []bool{false, true} {
		_, base, c := startShop(t, Options{CaseInsensitive: fold})
		want := 404
		if fold {
			want = 200
		}
		if resp := do(t, c, base, request{path: "/ITEM/1"}); resp.StatusCode() != want {
			t.Errorf("CaseInsensitive=%v: GET /ITEM/1 = %d, want %d", fold, resp.StatusCode(), want)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	_, base, c := startShop(t, Options{Items: 2})
	for _, path := range []string{"/", "/item/1", "/static/app.css"} {
		etag := string(do(t, c, base, request{path: path}).Header.Peek("ETag"))
		if len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
			t.Fatalf("%s: ETag = %q, want a quoted strong tag", path, etag)
		}
		tests := []struct {
			name    string
			headers map[string]string
			want    int
		}{
			{"same tag", map[string]string{"If-None-Match": etag}, 304},
			{"weak form", map[string]string{"If-None-Match": "W/" + etag}, 304},
			{"in a list", map[string]string{"If-None-Match": `"x", ` + etag}, 304},
			{"star", map[string]string{"If-None-Match": "*"}, 304},
			{"other tag", map[string]string{"If-None-Match": `"x"`}, 200},
			{"modified since an earlier date", map[string]string{"If-Modified-Since": "Tue, 10 Nov 2026 00:00:00 GMT"}, 200},
			{"not modified since", map[string]string{"If-Modified-Since": "Wed, 11 Nov 2026 00:00:00 GMT"}, 304},
			{"etag wins over date", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": "Wed, 11 Nov 2026 00:00:00 GMT"}, 200},
		}
		for _, tt := range tests {
			resp := do(t, c, base, request{path: path, headers: tt.headers})
			if resp.StatusCode() != tt.want {
				t.Errorf("%s %s: status = %d, want %d", path, tt.name, resp.StatusCode(), tt.want)
			}
			if tt.want == 304 {
				if len(resp.Body()) != 0 || string(resp.Header.Peek("ETag")) != etag || len(resp.Header.Peek("Cache-Control")) == 0 {
					t.Errorf("%s %s: 304 must have no body and keep ETag and Cache-Control; got ETag %q CC %q body %d bytes",
						path, tt.name, resp.Header.Peek("ETag"), resp.Header.Peek("Cache-Control"), len(resp.Body()))
				}
			}
		}
	}
}
