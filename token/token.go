package token

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
)

// Verification errors, distinct so that callers can count them apart. Only
// ErrExpired and ErrNotYetValid come from a token that was once genuine.
var (
	ErrMalformed    = errors.New("token: malformed")
	ErrUnknownKey   = errors.New("token: unknown key id")
	ErrBadSignature = errors.New("token: bad signature")
	ErrExpired      = errors.New("token: expired")
	ErrNotYetValid  = errors.New("token: not yet valid")
)

var enc = base64.RawURLEncoding

// Sign appends the encoded token for c, signed with the first key, to dst
// and returns the extended slice (EncodedLen bytes longer). c.KeyID is
// ignored. It panics on an invalid kind or an expiry not after the issue
// time: those are programming errors, not input. 0 allocs when dst has room.
func (kr *Keyring) Sign(dst []byte, c *Claims) []byte {
	if !c.Kind.Valid() {
		panic("BUG: token: Sign with invalid kind")
	}
	if c.ExpiresAt <= c.IssuedAt {
		panic("BUG: token: Sign with ExpiresAt <= IssuedAt")
	}
	var raw [rawLen]byte
	p := (*[payloadLen]byte)(raw[:payloadLen])
	putPayload(p, c, kr.signer.id)
	kr.signer.mac((*[tagLen]byte)(raw[payloadLen:]), p)
	n := len(dst)
	dst = append(dst, make([]byte, EncodedLen)...)
	enc.Encode(dst[n:], raw[:])
	return dst
}

// Verify decodes and authenticates tok into *dst at time now (unix
// nanoseconds). It checks, in order: the exact length and alphabet, the
// version and kind bytes, the key id, the HMAC tag (hmac.Equal), then the
// validity window widened by the leeway on both ends. It returns nil or one of
// ErrMalformed, ErrUnknownKey, ErrBadSignature, ErrNotYetValid, ErrExpired;
// *dst is written only when the tag is genuine. tok is not retained.
// Binding (kind, scope, subject) is the caller's to compare. 0 allocs.
func (kr *Keyring) Verify(dst *Claims, tok []byte, now int64) error {
	if len(tok) != EncodedLen {
		return ErrMalformed
	}
	var raw [rawLen]byte
	if !decodeToken(&raw, tok) {
		return ErrMalformed
	}
	if raw[0] != version || !Kind(raw[1]).Valid() {
		return ErrMalformed
	}
	k := kr.keys[raw[2]]
	if k == nil {
		return ErrUnknownKey
	}
	var tag [tagLen]byte
	k.mac(&tag, (*[payloadLen]byte)(raw[:payloadLen]))
	if !hmac.Equal(tag[:], raw[payloadLen:]) {
		return ErrBadSignature
	}
	readPayload(dst, raw[:payloadLen])
	if dst.IssuedAt-kr.leeway > now {
		return ErrNotYetValid
	}
	if dst.ExpiresAt+kr.leeway <= now {
		return ErrExpired
	}
	return nil
}
