package route

import (
	"slices"
	"testing"
)

func mustParse(t testing.TB, s string) *Pattern {
	t.Helper()
	p, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return p
}

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		names    []string
	}{
		{"/", "/", nil},
		{"/item/{id}", "/item/{id}", []string{"id"}},
		{"/item/{id}/", "/item/{id}", []string{"id"}},
		{"/static/*", "/static/*", nil},
		{"/files/{rest...}", "/files/{rest...}", []string{"rest"}},
		{"/{a}/{b_2}/x", "/{a}/{b_2}/x", []string{"a", "b_2"}},
		{"/caf%C3%A9/~x", "/caf%C3%A9/~x", nil},
		{"/*", "/*", nil},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if p.String() != tt.want || !slices.Equal(p.ParamNames(), tt.names) {
			t.Errorf("Parse(%q) = %q %v, want %q %v", tt.in, p, p.ParamNames(), tt.want, tt.names)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `empty path pattern`},
		{"item", `path pattern "item": must start with "/"`},
		{"/a//b", `path pattern "/a//b": empty segment ("//")`},
		{"/*/x", `path pattern "/*/x": "*" must be the last segment`},
		{"/{rest...}/x", `path pattern "/{rest...}/x": catch-all {rest...} must be the last segment`},
		{"/item-{id}", `path pattern "/item-{id}": segment "item-{id}": a parameter or "*" must be a whole segment`},
		{"/{1d}", `path pattern "/{1d}": parameter name "1d": want [A-Za-z_][A-Za-z0-9_]*`},
		{"/{}", `path pattern "/{}": parameter name "": want [A-Za-z_][A-Za-z0-9_]*`},
		{"/{id}/{id}", `path pattern "/{id}/{id}": parameter {id} appears twice`},
		{"/a/./b", `path pattern "/a/./b": segment "." is not canonical: requests are normalized to "/"`},
		{"/%31", `path pattern "/%31": segment "%31" is not canonical: requests are normalized to "/1"`},
		{"/a;b", `path pattern "/a;b": segment "a;b" is not canonical: requests are normalized to "/a"`},
		{"/a%2Fb", `path pattern "/a%2Fb": segment "a%2Fb": path contains an encoded slash or backslash`},
		{"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", `path pattern "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}": 9 parameters, at most 8 allowed`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}
