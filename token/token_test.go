package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

const sec = int64(time.Second)

// t0 is an arbitrary fixed "now" for tests: 2026-11-25 10:00:00 UTC.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano()

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustKeyring(t testing.TB, leeway time.Duration, keys ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys, leeway)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

func sample() Claims {
	c := Claims{
		Kind:      KindQueueTicket,
		Scope:     HashString("sale:blackfriday/item:42"),
		Subject:   HashString("ip:203.0.113.7"),
		IssuedAt:  t0,
		ExpiresAt: t0 + 60*sec,
		Seq:       1234567,
	}
	copy(c.Nonce[:], "0123456789ab")
	return c
}

func TestRoundTrip(t *testing.T) {
	kr := mustKeyring(t, 0, Key{ID: 7, Secret: secret('a')})
	for k := KindQuizChallenge; k < kindEnd; k++ {
		c := sample()
		c.Kind = k
		tok := kr.Sign(nil, &c)
		if len(tok) != EncodedLen {
			t.Fatalf("%v: len %d, want %d", k, len(tok), EncodedLen)
		}
		var got Claims
		if err := kr.Verify(&got, tok, t0+sec); err != nil {
			t.Fatalf("%v: Verify: %v", k, err)
		}
		c.KeyID = 7
		if got != c {
			t.Fatalf("%v: claims\n got %+v\nwant %+v", k, got, c)
		}
	}
}

func TestSignAppends(t *testing.T) {
	kr := mustKeyring(t, 0, Key{ID: 1, Secret: secret('a')})
	c := sample()
	out := kr.Sign([]byte("pass="), &c)
	if !strings.HasPrefix(string(out), "pass=") || len(out) != 5+EncodedLen {
		t.Fatalf("Sign did not append: %q", out)
	}
	var got Claims
	if err := kr.Verify(&got, out[5:], t0); err != nil {
		t.Fatalf("Verify appended token: %v", err)
	}
}

func TestTamperEveryByte(t *testing.T) {
	kr := mustKeyring(t, 0, Key{ID: 1, Secret: secret('a')})
	c := sample()
	tok := kr.Sign(nil, &c)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range tok {
		for _, r := range []byte(alphabet + "=+/ .\x00\n") {
			if r == tok[i] {
				continue
			}
			bad := bytes.Clone(tok)
			bad[i] = r
			var got Claims
			if err := kr.Verify(&got, bad, t0); err == nil {
				t.Fatalf("byte %d set to %q: verified", i, r)
			}
		}
	}
}

func TestRejections(t *testing.T) {
	kr := mustKeyring(t, 3*time.Second, Key{ID: 1, Secret: secret('a')})
	other := mustKeyring(t, 0, Key{ID: 1, Secret: secret('b')})
	unknown := mustKeyring(t, 0, Key{ID: 9, Secret: secret('a')})
	c := sample()
	good := kr.Sign(nil, &c)
	raw := make([]byte, rawLen)
	if _, err := enc.Decode(raw, good); err != nil {
		t.Fatal(err)
	}
	reencode := func(f func(r []byte)) []byte {
		r := bytes.Clone(raw)
		f(r)
		return []byte(enc.EncodeToString(r))
	}
	tests := []struct {
		name string
		tok  []byte
		now  int64
		want error
	}{
		{"genuine", good, t0, nil},
		{"empty", nil, t0, ErrMalformed},
		{"truncated by one", good[:EncodedLen-1], t0, ErrMalformed},
		{"truncated to half", good[:EncodedLen/2], t0, ErrMalformed},
		{"one byte appended", append(bytes.Clone(good), 'A'), t0, ErrMalformed},
		{"padded", append(bytes.Clone(good), '='), t0, ErrMalformed},
		{"std alphabet", append([]byte("+/"), good[2:]...), t0, ErrMalformed},
		{"newline inside", append(append(bytes.Clone(good[:50]), '\n'), good[51:]...), t0, ErrMalformed},
		{"wrong version", reencode(func(r []byte) { r[0] = 2 }), t0, ErrMalformed},
		{"kind zero", reencode(func(r []byte) { r[1] = 0 }), t0, ErrMalformed},
		{"kind unknown", reencode(func(r []byte) { r[1] = byte(kindEnd) }), t0, ErrMalformed},
		{"kind changed", reencode(func(r []byte) { r[1] = byte(KindQueuePass) }), t0, ErrBadSignature},
		{"expiry extended", reencode(func(r []byte) { r[30]++ }), t0, ErrBadSignature},
		{"key id unknown", reencode(func(r []byte) { r[2] = 2 }), t0, ErrUnknownKey},
		{"tag zeroed", reencode(func(r []byte) { clear(r[payloadLen:]) }), t0, ErrBadSignature},
		{"signed by another secret", other.Sign(nil, &c), t0, ErrBadSignature},
		{"signed by an unknown key id", unknown.Sign(nil, &c), t0, ErrUnknownKey},
		{"issued in the future within leeway", good, t0 - 3*sec, nil},
		{"issued in the future beyond leeway", good, t0 - 3*sec - 1, ErrNotYetValid},
		{"expired within leeway", good, t0 + 60*sec + 3*sec - 1, nil},
		{"expired beyond leeway", good, t0 + 63*sec, ErrExpired},
		{"long expired", good, t0 + 3600*sec, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Claims
			err := kr.Verify(&got, tt.tok, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if err == ErrBadSignature || err == ErrMalformed || err == ErrUnknownKey {
				if got != (Claims{}) {
					t.Fatalf("claims written for an unauthenticated token: %+v", got)
				}
			}
		})
	}
}

func TestRotation(t *testing.T) {
	oldK := Key{ID: 1, Secret: secret('o')}
	newK := Key{ID: 2, Secret: secret('n')}
	before := mustKeyring(t, 0, oldK)
	during := mustKeyring(t, 0, newK, oldK)
	after := mustKeyring(t, 0, newK)
	c := sample()
	oldTok := before.Sign(nil, &c)
	newTok := during.Sign(nil, &c)
	var got Claims
	if err := during.Verify(&got, oldTok, t0); err != nil || got.KeyID != 1 {
		t.Fatalf("old token during rotation: %v (key %d)", err, got.KeyID)
	}
	if err := during.Verify(&got, newTok, t0); err != nil || got.KeyID != 2 {
		t.Fatalf("new token during rotation: %v (key %d)", err, got.KeyID)
	}
	if err := before.Verify(&got, newTok, t0); err != ErrUnknownKey {
		t.Fatalf("new token before rotation: %v, want ErrUnknownKey", err)
	}
	if err := after.Verify(&got, oldTok, t0); err != ErrUnknownKey {
		t.Fatalf("old token after retirement: %v, want ErrUnknownKey", err)
	}
	if during.SignerID() != 2 {
		t.Fatalf("signer %d, want the first key 2", during.SignerID())
	}
}

func TestNewKeyringErrors(t *testing.T) {
	tests := []struct {
		name   string
		keys   []Key
		leeway time.Duration
		want   error
		msg    string
	}{
		{"none", nil, 0, ErrNoKeys, "token: no keys"},
		{"short", []Key{{ID: 3, Secret: make([]byte, 31)}}, 0, ErrShortKey, "key id 3 has 31 bytes, need at least 32: token: key shorter than 32 bytes"},
		{"duplicate", []Key{{ID: 4, Secret: secret('a')}, {ID: 4, Secret: secret('b')}}, 0, ErrDuplicateKey, "key id 4: token: duplicate key id"},
		{"negative leeway", []Key{{ID: 1, Secret: secret('a')}}, -time.Second, nil, "token: leeway -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(tt.keys, tt.leeway)
			if err == nil || err.Error() != tt.msg || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestKeyringCopiesSecret(t *testing.T) {
	s := secret('a')
	kr := mustKeyring(t, 0, Key{ID: 1, Secret: s})
	c := sample()
	tok := kr.Sign(nil, &c)
	s[0] = 'x'
	var got Claims
	if err := kr.Verify(&got, tok, t0); err != nil {
		t.Fatalf("caller's later write to the secret changed the keyring: %v", err)
	}
}

func TestSignPanicsOnBadClaims(t *testing.T) {
	kr := mustKeyring(t, 0, Key{ID: 1, Secret: secret('a')})
	for _, c := range []Claims{{}, {Kind: KindQuizPass, IssuedAt: 5, ExpiresAt: 5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("Sign(%+v) did not panic", c)
				}
			}()
			kr.Sign(nil, &c)
		}()
	}
}

func TestNonceKey(t *testing.T) {
	a, b := sample(), sample()
	if a.NonceKey() != b.NonceKey() {
		t.Fatal("equal claims, different nonce keys")
	}
	b.Nonce[11]++
	if a.NonceKey() == b.NonceKey() {
		t.Fatal("different nonces, equal keys")
	}
	b = a
	b.Kind = KindQueuePass
	if a.NonceKey() == b.NonceKey() {
		t.Fatal("different kinds, equal keys")
	}
	var r1, r2 Claims
	r1.RandomNonce()
	r2.RandomNonce()
	if r1.Nonce == r2.Nonce || r1.Nonce == [NonceSize]byte{} {
		t.Fatalf("RandomNonce: %x %x", r1.Nonce, r2.Nonce)
	}
}

func TestHash(t *testing.T) {
	// FNV-1a 64 reference values: a change would invalidate every token in
	// flight across a rolling upgrade.
	if got := HashString(""); got != 0xcbf29ce484222325 {
		t.Fatalf("HashString(\"\") = %#x", got)
	}
	if got := HashString("a"); got != 0xaf63dc4c8601ec8c {
		t.Fatalf("HashString(\"a\") = %#x", got)
	}
	if Hash([]byte("item:42")) != HashString("item:42") {
		t.Fatal("Hash and HashString disagree")
	}
	if Mix(1, 2) == Mix(1, 3) || Mix(1, 2) == Mix(2, 2) {
		t.Fatal("Mix collides on small inputs")
	}
}

// TestDecodeAgreesWithStdlib checks the strict decoder against
// encoding/base64 on random tokens and on every single-character change.
func TestDecodeAgreesWithStdlib(t *testing.T) {
	kr := mustKeyring(t, 0, Key{ID: 1, Secret: secret('a')})
	for i := range 200 {
		c := sample()
		c.Seq = uint64(i) * 0x9e3779b97f4a7c15
		c.RandomNonce()
		tok := kr.Sign(nil, &c)
		var mine [rawLen]byte
		if !decodeToken(&mine, tok) {
			t.Fatalf("decodeToken refused a Sign output %s", tok)
		}
		std, err := enc.DecodeString(string(tok))
		if err != nil || !bytes.Equal(std, mine[:]) {
			t.Fatalf("decoders disagree on %s", tok)
		}
		for _, ch := range []byte("=+/ \n\r.\x00\xff") {
			bad := bytes.Clone(tok)
			bad[i%EncodedLen] = ch
			if decodeToken(&mine, bad) {
				t.Fatalf("decodeToken accepted %q at %d", ch, i%EncodedLen)
			}
		}
	}
}
