package rules

import (
	"strings"
	"testing"
)

func TestOriginIdentity(t *testing.T) {
	load := func(identity string) (*Config, error) {
		return LoadBytes("gateway.yaml", []byte("origins:\n  shop:\n    servers: [127.0.0.1:9]\n    identity: "+identity+"\n"))
	}
	cfg, err := load(`[{header: x-user-id, from: "cookie:uid"}, {header: X-Remote-User}, {header: X-A, from: "header:x-api-user"}]`)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Origins[0].Identity
	want := []OriginIdentity{{"X-User-Id", "cookie:uid"}, {"X-Remote-User", ""}, {"X-A", "header:X-Api-User"}}
	if len(got) != len(want) {
		t.Fatalf("identity = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("identity[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, tc := range []struct{ identity, want string }{
		{`[{header: "Bad Name"}]`, `gateway.yaml:4:17: origins.shop.identity[0].header: bad header name "Bad Name"`},
		{`[{header: X-U}, {header: x-u}]`, `origins.shop.identity[1].header: header X-U is listed twice`},
		{`[{header: X-U, from: "ip"}]`, `origins.shop.identity[0].from: unknown source "ip" (allowed: cookie:NAME, header:NAME`},
		{`[{header: X-U, form: "cookie:uid"}]`, `form`},
	} {
		if _, err := load(tc.identity); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("identity %s: error %v, want %q", tc.identity, err, tc.want)
		}
	}
}
