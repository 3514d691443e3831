package esi

import (
	"errors"
	"testing"
)

func TestResolve(t *testing.T) {
	allowed := func(h string) bool { return h == "static.shop.test" || h == "api.shop.test:8443" }
	page := &Page{Host: []byte("shop.test"), Path: []byte("/item/42/view?color=red")}
	tests := []struct {
		src, host, path string
		err             error
	}{
		{"/frag/price", "shop.test", "/frag/price", nil},
		{"price?x=1", "shop.test", "/item/42/price?x=1", nil},
		{"../../a/./b/../c", "shop.test", "/a/c", nil},
		{"/a/b/", "shop.test", "/a/b/", nil},
		{"/a?p=../..", "shop.test", "/a?p=../..", nil},
		{"/x#frag", "shop.test", "/x", nil},
		{"http://static.shop.test/f", "static.shop.test", "/f", nil},
		{"HTTPS://Static.Shop.Test", "static.shop.test", "/", nil},
		{"//api.shop.test:8443?q", "api.shop.test:8443", "/?q", nil},
		{"http://169.254.169.254/latest/meta-data/", "", "", ErrHostNotAllowed},
		{"http://localhost/admin", "", "", ErrHostNotAllowed},
		{"http://static.shop.test@169.254.169.254/", "", "", ErrBadSrc},
		{"http://static.shop.test%2F@evil/", "", "", ErrBadSrc},
		{"http:///path", "", "", ErrBadSrc},
		{"javascript:alert(1)", "", "", ErrBadSrc},
		{"file:///etc/passwd", "", "", ErrBadSrc},
		{"gopher://x/", "", "", ErrBadSrc},
		{"/../etc/passwd", "", "", ErrBadSrc},
		{"/a b", "", "", ErrBadSrc},
		{"/a\r\nHost: evil", "", "", ErrBadSrc},
		{`\\evil\x`, "", "", ErrBadSrc},
		{"", "", "", ErrBadSrc},
	}
	for _, tt := range tests {
		var req FragmentRequest
		err := resolve(&req, page.Host, page.Path, []byte(tt.src), allowed)
		if !errors.Is(err, tt.err) {
			t.Errorf("resolve(%q) error = %v, want %v", tt.src, err, tt.err)
			continue
		}
		if err == nil && (string(req.Host) != tt.host || string(req.Path) != tt.path) {
			t.Errorf("resolve(%q) = %s %s, want %s %s", tt.src, req.Host, req.Path, tt.host, tt.path)
		}
	}
	var req FragmentRequest
	if err := resolve(&req, page.Host, page.Path, []byte("http://static.shop.test/"), nil); !errors.Is(err, ErrHostNotAllowed) {
		t.Errorf("nil HostAllowed must refuse absolute src, got %v", err)
	}
}
