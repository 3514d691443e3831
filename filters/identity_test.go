package filters

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

const (
	shopKey = "0123456789abcdef0123456789abcdef-shop"
	oldKey  = "0123456789abcdef0123456789abcdef-old!"
)

func sign(key, id string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(id))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func identityOf(t *testing.T, key string) (*Identity, *Env) {
	t.Helper()
	env := testEnv(t)
	c := mustCompile(t, env, "- purchase_limit: {max: 1, key: "+key+"}\n")
	return c.filters[0].(*purchaseLimit).id, env
}

func TestIdentitySources(t *testing.T) {
	tests := []struct {
		name, key string
		a, b      []reqOpt
		same      bool
		foundA    bool
	}{
		{"ip v4 per address", "ip", []reqOpt{withIP("192.0.2.1")}, []reqOpt{withIP("192.0.2.2")}, false, true},
		{"ip v4 mapped equals v4", "ip", []reqOpt{withIP("192.0.2.1")}, []reqOpt{withIP("::ffff:192.0.2.1")}, true, true},
		{"ip v4 /24", "{use: ip, ipv4_prefix: 24}", []reqOpt{withIP("192.0.2.1")}, []reqOpt{withIP("192.0.2.200")}, true, true},
		{"ip v6 /64", "ip", []reqOpt{withIP("2001:db8::1")}, []reqOpt{withIP("2001:db8::2:1")}, true, true},
		{"header", "\"header:X-User\"", []reqOpt{withHeader("X-User", "u1")}, []reqOpt{withHeader("X-User", "u2")}, false, true},
		{"header same user other ip", "\"header:X-User\"", []reqOpt{withHeader("X-User", "u1"), withIP("192.0.2.1")},
			[]reqOpt{withHeader("X-User", "u1"), withIP("198.51.100.1")}, true, true},
		{"param", "\"param:id\"", nil, nil, true, true},
		{"missing cookie falls back to ip", "\"cookie:uid\"", nil, []reqOpt{withCookie("uid", "x")}, false, false},
		{"user id equal to an ip string is not that ip", "\"cookie:uid\"", []reqOpt{withCookie("uid", "192.0.2.1")}, nil, false, true},
		{"map form", "{header: X-User}", []reqOpt{withHeader("X-User", "u1")}, []reqOpt{withHeader("X-User", "u1"), withIP("198.51.100.1")}, true, true},
		{"signed cookie", "{cookie: uid, signed: {keys: [" + shopKey + ", " + oldKey + "]}}",
			[]reqOpt{withCookie("uid", sign(shopKey, "alice"))}, []reqOpt{withCookie("uid", sign(oldKey, "alice"))}, true, true},
		{"forged signature is anonymous", "{use: \"cookie:uid\", signed: {keys: [" + shopKey + "]}}",
			[]reqOpt{withCookie("uid", "alice.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}, nil, true, false},
		{"unsigned value is anonymous", "{use: \"cookie:uid\", signed: {keys: [" + shopKey + "]}}",
			[]reqOpt{withCookie("uid", "alice")}, nil, true, false},
		{"signature for another user", "{use: \"cookie:uid\", signed: {keys: [" + shopKey + "]}}",
			[]reqOpt{withCookie("uid", "mallory"+sign(shopKey, "alice")[5:])}, nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, _ := identityOf(t, tt.key)
			ra, rb := newReq("/buy/1", tt.a...), newReq("/buy/1", tt.b...)
			ka, found := ra.Key(id)
			kb, _ := rb.Key(id)
			if (ka == kb) != tt.same || found != tt.foundA {
				t.Fatalf("same = %v (want %v), found = %v (want %v)", ka == kb, tt.same, found, tt.foundA)
			}
		})
	}
}

func TestIdentityDevice(t *testing.T) {
	id, _ := identityOf(t, "{use: device, signed: {keys: ["+shopKey+"]}}")
	r := newReq("/buy/1")
	kNew, found := r.Key(id)
	if found {
		t.Fatal("a device without a cookie counts as identified")
	}
	set := string(r.Ctx.Response.Header.PeekCookie(deviceCookie))
	for _, want := range []string{"fg_device=", "HttpOnly", "SameSite=Lax", "path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %q", set, want)
		}
	}
	if strings.Contains(set, "secure") {
		t.Errorf("cookie over plain HTTP is Secure: %q", set)
	}
	// Dropping the cookie does not buy a fresh identity: cookieless
	// requests from one IP share one key.
	if k, _ := newReq("/buy/1").Key(id); k != kNew {
		t.Fatal("a second cookieless request got its own identity")
	}
	val := set[len("fg_device="):strings.IndexByte(set, ';')]
	r2 := newReq("/buy/1", withCookie(deviceCookie, val), withIP("198.51.100.1"))
	kDev, found := r2.Key(id)
	if !found || kDev == kNew {
		t.Fatalf("returned device cookie: found %v, distinct from the ip key %v", found, kDev != kNew)
	}
	if len(r2.Ctx.Response.Header.PeekCookie(deviceCookie)) != 0 {
		t.Error("a valid device cookie was replaced")
	}
	if k, _ := newReq("/buy/1", withCookie(deviceCookie, val), withIP("203.0.113.9")).Key(id); k != kDev {
		t.Fatal("the device's identity changed with its IP")
	}
	// The id is random: a fixed first letter would leave it unchanged
	// one time in 64.
	first := "X"
	if val[0] == 'X' {
		first = "Y"
	}
	r3 := newReq("/buy/1", withCookie(deviceCookie, first+val[1:]))
	if k3, found := r3.Key(id); found || k3 == kDev {
		t.Fatal("a tampered device cookie kept the device's identity")
	}
	if len(r3.Ctx.Response.Header.PeekCookie(deviceCookie)) == 0 {
		t.Error("a tampered device cookie was not replaced")
	}
	r4 := newReq("/buy/1", func(r *Request) { r.TLS = true })
	r4.Key(id)
	if !strings.Contains(string(r4.Ctx.Response.Header.PeekCookie(deviceCookie)), "secure") {
		t.Error("cookie over TLS is not Secure")
	}
}

func TestIdentityErrors(t *testing.T) {
	tests := []struct{ key, want string }{
		{"cookie", `"cookie" needs a name`},
		{"\"ip:x\"", `"ip:x" takes no name`},
		{"device", "a device identity needs signed"},
		{"{use: ip, ipv6_prefix: 8}", "ipv6_prefix: must be within 32..128"},
		{"{use: ip, signed: {keys: [" + shopKey + "]}}", "only cookie, header and device ids can be signed"},
		{"{use: ip, colour: red}", `unknown key "colour"`},
		{"{cookie: uid, header: X-User}", "give one of use, cookie, header, query, param"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := compileErr(t, testEnv(t), "- purchase_limit: {max: 1, key: "+tt.key+"}\n", "", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
