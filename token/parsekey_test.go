package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestParseKey(t *testing.T) {
	bin := bytes.Repeat([]byte{0xfb, 0xff}, 16)
	tests := []struct {
		in     string
		id     uint8
		secret []byte
		err    string
	}{
		{"1:" + string(secret('a')), 1, secret('a'), ""},
		{"255:base64:" + base64.StdEncoding.EncodeToString(bin), 255, bin, ""},
		{"7:base64:" + base64.RawURLEncoding.EncodeToString(bin), 7, bin, ""},
		{"1:short", 0, nil, "key id 1 has 5 bytes, need at least 32: token: key shorter than 32 bytes"},
		{"256:" + string(secret('a')), 0, nil, `token: key id "256" is not a number within 0..255`},
		{string(secret('a')), 0, nil, "token: key must look like ID:SECRET"},
		{"2:base64:!!!", 0, nil, "key id 2: secret is not valid base64"},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseKey(%.12q…) = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || k.ID != tt.id || !bytes.Equal(k.Secret, tt.secret) {
			t.Errorf("ParseKey(%.12q…) = %d %x %v", tt.in, k.ID, k.Secret, err)
		}
	}
	if _, err := ParseKey("1:short"); !errors.Is(err, ErrShortKey) {
		t.Error("short key error does not wrap ErrShortKey")
	}
}
