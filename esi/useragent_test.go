package esi

import (
	"bytes"
	"context"
	"testing"
)

// TestUserAgentVariables: $(HTTP_USER_AGENT{browser|os|version}) give the
// parts ESI 1.0 §4.1.1 describes, $(HTTP_USER_AGENT) the whole header.
func TestUserAgentVariables(t *testing.T) {
	tpl, err := Parse([]byte(`<esi:vars>$(HTTP_USER_AGENT{browser})|$(HTTP_USER_AGENT{os})|$(HTTP_USER_AGENT{version})|$(HTTP_USER_AGENT{os}|'none')</esi:vars>`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := NewAssembler(Config{Fetcher: emptyFetcher{}})
	tests := []struct{ ua, want string }{
		{"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", "MSIE|WIN|6.0|WIN"},
		{"Mozilla/5.0 (compatible; MSIE 10.0; Windows Phone 8.0; Trident/6.0)", "MSIE|WIN|10.0|WIN"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "MOZILLA|WIN|5.0|WIN"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "MOZILLA|MAC|5.0|MAC"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15", "MOZILLA|MAC|5.0|MAC"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "MOZILLA|UNIX|5.0|UNIX"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36", "MOZILLA|UNIX|5.0|UNIX"},
		{"Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", "MOZILLA|WIN|5.0|WIN"},
		{"curl/8.4.0", "OTHER|OTHER|8.4.0|OTHER"},
		{"Googlebot", "OTHER|OTHER||OTHER"},
		{"", "|||none"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		vars := &testVars{headers: map[string]string{"user-agent": tt.ua}}
		if _, err := a.Assemble(context.Background(), &out, tpl, &Page{Path: []byte("/"), Vars: vars}); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("User-Agent %q: %q, want %q", tt.ua, out.String(), tt.want)
		}
	}
	if _, err := Parse([]byte(`<esi:include src="/x?b=$(HTTP_USER_AGENT{engine})"/>`), ParseOptions{}); err == nil ||
		err.Error() != `esi: byte 0: esi:include src: syntax error: HTTP_USER_AGENT key must be browser, os or version, got "engine"` {
		t.Errorf("unknown key: %v", err)
	}
}
