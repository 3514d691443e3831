// Package token is flashgate's one signed-token format: quiz challenges and
// passes, queue tickets and passes (a purchase pass kind is reserved; no
// filter issues one yet).
//
// A token is a fixed 55-byte binary payload followed by its 32-byte
// HMAC-SHA-256 tag, encoded with unpadded base64url (RFC 4648 §5) into exactly
// EncodedLen (116) characters, which fit a cookie, a header, a form field or a
// query parameter without escaping. 87 bytes is a multiple of 3, so every
// valid token has exactly one spelling: there are no padding bits to tamper
// with.
//
// Payload layout (big endian):
//
//	offset size field
//	0      1    version (1)
//	1      1    kind (Kind, never 0)
//	2      1    key id (which key of the Keyring signed it)
//	3      8    scope    (hash of the sale/route/item the token is for)
//	11     8    subject  (hash of the client identity it is bound to)
//	19     8    issued   (unix nanoseconds)
//	27     8    expires  (unix nanoseconds)
//	35     12   nonce    (random; what single-use spending keys on)
//	47     8    seq      (queue ticket sequence, quiz question id, ...)
//
// Tokens are signed, not encrypted: anyone holding one can read its claims,
// so claims carry hashes and numbers, never secrets or answers.
package token

import (
	"crypto/rand"
	"encoding/binary"
)

// Kind says what a token grants. A token of one kind never verifies as
// another: callers compare Claims.Kind with the kind they expect.
type Kind uint8

// The token kinds. Zero is invalid so that a zeroed Claims never signs.
const (
	KindQuizChallenge Kind = 1 + iota // a quiz question or proof-of-work puzzle handed out
	KindQuizPass                      // a solved quiz: single use on the protected route
	KindQueueTicket                   // a place in a waiting room
	KindQueuePass                     // admitted from the waiting room for a session
	KindPurchasePass                  // reserved: a purchase attempt let through (no filter issues it yet)
	kindEnd
)

// String returns a short lowercase name of the kind, for logs and metrics.
func (k Kind) String() string {
	switch k {
	case KindQuizChallenge:
		return "quiz_challenge"
	case KindQuizPass:
		return "quiz_pass"
	case KindQueueTicket:
		return "queue_ticket"
	case KindQueuePass:
		return "queue_pass"
	case KindPurchasePass:
		return "purchase_pass"
	}
	return "invalid"
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k > 0 && k < kindEnd }

// NonceSize is the size of Claims.Nonce: 96 random bits make a collision
// between two live tokens negligible, so a nonce can key single-use state.
const NonceSize = 12

// Sizes of the wire format.
const (
	version     = 1
	payloadLen  = 55
	tagLen      = 32
	rawLen      = payloadLen + tagLen
	EncodedLen  = rawLen / 3 * 4 // 116: length of every valid token
	MaxTokenLen = EncodedLen     // callers may reject longer input before calling Verify
)

// Claims are the fields a token carries. The zero value is not signable
// (Kind 0). Claims hold no pointers, so a Claims on the stack never escapes.
type Claims struct {
	Kind      Kind
	KeyID     uint8  // set by Sign and Verify; ignored on input to Sign
	Scope     uint64 // see Hash: the sale, route or item the token is valid for
	Subject   uint64 // see Hash: the client identity the token is bound to
	IssuedAt  int64  // unix nanoseconds
	ExpiresAt int64  // unix nanoseconds
	Nonce     [NonceSize]byte
	Seq       uint64
}

// RandomNonce fills c.Nonce from crypto/rand. It never fails on supported
// platforms (crypto/rand.Read panics rather than return short).
func (c *Claims) RandomNonce() {
	_, _ = rand.Read(c.Nonce[:])
}

// NonceKey returns the nonce folded into 64 bits, the key single-use state
// (cluster.Store.SpendOnce) is stored under. It mixes in the kind so a quiz
// pass and a queue pass with equal nonces never share a slot.
func (c *Claims) NonceKey() uint64 {
	h := uint64(offset64)
	h = (h ^ uint64(c.Kind)) * prime64
	for _, b := range c.Nonce {
		h = (h ^ uint64(b)) * prime64
	}
	return h
}

// putPayload writes the payload fields of c (with key id kid) into p.
func putPayload(p *[payloadLen]byte, c *Claims, kid uint8) {
	p[0] = version
	p[1] = byte(c.Kind)
	p[2] = kid
	binary.BigEndian.PutUint64(p[3:], c.Scope)
	binary.BigEndian.PutUint64(p[11:], c.Subject)
	binary.BigEndian.PutUint64(p[19:], uint64(c.IssuedAt))
	binary.BigEndian.PutUint64(p[27:], uint64(c.ExpiresAt))
	copy(p[35:47], c.Nonce[:])
	binary.BigEndian.PutUint64(p[47:], c.Seq)
}

// readPayload decodes the fields of p into c; the caller has checked the
// version and kind bytes.
func readPayload(c *Claims, p []byte) {
	_ = p[payloadLen-1]
	c.Kind = Kind(p[1])
	c.KeyID = p[2]
	c.Scope = binary.BigEndian.Uint64(p[3:])
	c.Subject = binary.BigEndian.Uint64(p[11:])
	c.IssuedAt = int64(binary.BigEndian.Uint64(p[19:]))
	c.ExpiresAt = int64(binary.BigEndian.Uint64(p[27:]))
	copy(c.Nonce[:], p[35:47])
	c.Seq = binary.BigEndian.Uint64(p[47:])
}
