package proxy

import (
	"strings"
	"testing"
)

// TestDoubleDecodingRefused: paths that an origin decoding twice, or folding
// overlong UTF-8, would read as /buy/1 (while the gateway, decoding once,
// sees another path that the unmatched fallback would forward) are a 400 at
// the edge that names the reason, and never reach the origin.
func TestDoubleDecodingRefused(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle), testRoute(t, "buy", "/buy/{id}", "shop", "POST"))
	cfg.Server.Unmatched = "shop"
	g := newGateway(t, cfg, Options{})
	tests := []struct {
		name, path, reason string
	}{
		{"double-escaped dot dot", "/x/%252e%252e/buy/1", "%252e"},
		{"double-escaped dot dot upper", "/x/%252E%252E/buy/1", "%252e"},
		{"double-escaped slash", "/buy%252f1", "%252f"},
		{"double escape spelt with escapes", "/x/%25%32%65%25%32%65/buy/1", "%252e"},
		{"triple-escaped slash", "/buy%25252f1", "%252f"},
		{"overlong dot", "/x/%c0%ae%c0%ae/buy/1", "overlong UTF-8"},
		{"overlong slash", "/buy%c0%af1", "overlong UTF-8"},
		{"overlong C1", "/buy%c1%9c1", "overlong UTF-8"},
		{"overlong three bytes", "/x/%e0%80%ae%e0%80%ae/buy/1", "overlong UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := g.do(t, "POST", tt.path, nil, "Accept", "application/json")
			body := string(resp.Body())
			if resp.StatusCode() != 400 || !strings.Contains(body, `"error":"bad_path"`) || !strings.Contains(body, tt.reason) {
				t.Errorf("POST %s: %d %s, want 400 bad_path naming %s", tt.path, resp.StatusCode(), body, tt.reason)
			}
		})
	}
	if rec.count() != 0 {
		t.Fatalf("the origin got %d of the refused paths (last %q)", rec.count(), rec.last.RequestURI())
	}
	// A lone escaped percent is a percent, forwarded as it came.
	if resp := g.do(t, "GET", "/sale/100%25-off", nil); resp.StatusCode() != 200 || string(resp.Header.Peek("X-Seen-URI")) != "/sale/100%25-off" {
		t.Errorf("GET /sale/100%%25-off: %d, origin saw %q; want it forwarded", resp.StatusCode(), resp.Header.Peek("X-Seen-URI"))
	}
}
