//go:build !race

package token

import "testing"

func TestVerifySignAllocs(t *testing.T) {
	kr := mustKeyring(t, 0, Key{ID: 1, Secret: secret('a')})
	c := sample()
	tok := kr.Sign(nil, &c)
	forged := append([]byte(nil), tok...)
	forged[60] ^= 1
	buf := make([]byte, 0, EncodedLen)
	var got Claims
	cases := map[string]func(){
		"Verify":        func() { _ = kr.Verify(&got, tok, t0) },
		"Verify forged": func() { _ = kr.Verify(&got, forged, t0) },
		"Sign":          func() { buf = kr.Sign(buf[:0], &c) },
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(1000, f); n > 0 {
			t.Fatalf("%s: %.2f allocs/op, want 0", name, n)
		}
	}
}
