package token

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// ParseKey parses a key as written in configuration: "ID:SECRET", where ID
// is 0..255 and SECRET is at least MinKeyLen bytes of text, or
// "base64:" followed by the standard or URL base64 (padded or not) of at
// least MinKeyLen bytes. Errors name the problem, never the secret.
func ParseKey(s string) (Key, error) {
	idText, secret, ok := strings.Cut(s, ":")
	if !ok {
		return Key{}, fmt.Errorf("token: key must look like ID:SECRET")
	}
	id, err := strconv.ParseUint(idText, 10, 8)
	if err != nil {
		return Key{}, fmt.Errorf("token: key id %q is not a number within 0..255", idText)
	}
	raw := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "base64:"); ok {
		if raw, err = decodeAnyBase64(b64); err != nil {
			return Key{}, fmt.Errorf("key id %d: secret is not valid base64", id)
		}
	}
	if len(raw) < MinKeyLen {
		return Key{}, fmt.Errorf("key id %d has %d bytes, need at least %d: %w", id, len(raw), MinKeyLen, ErrShortKey)
	}
	return Key{ID: uint8(id), Secret: raw}, nil
}

func decodeAnyBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
