package token

import (
	"bytes"
	"testing"
)

// FuzzVerify checks that Verify never panics, that whatever verifies is
// exactly what Sign produces for the decoded claims (so only Sign outputs
// verify), and that any single-byte change of a genuine token fails.
func FuzzVerify(f *testing.F) {
	kr, err := NewKeyring([]Key{{ID: 1, Secret: secret('k')}, {ID: 2, Secret: secret('j')}}, 0)
	if err != nil {
		f.Fatal(err)
	}
	c := sample()
	f.Add(kr.Sign(nil, &c), uint8(0), uint8(0))
	f.Add(kr.Sign(nil, &c), uint8(115), uint8('A'))
	f.Add([]byte(""), uint8(0), uint8(0))
	f.Add(bytes.Repeat([]byte("A"), EncodedLen), uint8(3), uint8('B'))
	f.Fuzz(func(t *testing.T, tok []byte, pos, b uint8) {
		var got Claims
		if err := kr.Verify(&got, tok, t0); err == nil {
			if again := kr.keys[got.KeyID].resign(&got); !bytes.Equal(again, tok) {
				t.Fatalf("verified token is not Sign's output:\n got %s\nsign %s", tok, again)
			}
		}
		// Mutate a genuine token at one position and expect failure.
		gc := Claims{Kind: KindQuizPass, Scope: Hash(tok), IssuedAt: t0, ExpiresAt: t0 + 10*sec, Seq: uint64(len(tok))}
		copy(gc.Nonce[:], tok)
		good := kr.Sign(nil, &gc)
		i := int(pos) % len(good)
		if good[i] == b {
			return
		}
		good[i] = b
		if err := kr.Verify(&got, good, t0); err == nil {
			t.Fatalf("token with byte %d changed to %q verified", i, b)
		}
	})
}

// resign signs c with this specific key, for the fuzz round-trip property.
func (k *macKey) resign(c *Claims) []byte {
	var raw [rawLen]byte
	p := (*[payloadLen]byte)(raw[:payloadLen])
	putPayload(p, c, k.id)
	k.mac((*[tagLen]byte)(raw[payloadLen:]), p)
	return []byte(enc.EncodeToString(raw[:]))
}
