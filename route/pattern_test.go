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
		{"/buy/{id=7}", "/buy/{id=7}", []string{"id"}},
		{"/sale/{name=black-friday}/{id}/", "/sale/{name=black-friday}/{id}", []string{"name", "id"}},
		{"/x/0/{n=10}", "/x/0/{n=10}", []string{"n"}},
		{"/v/{n=0}", "/v/{n=0}", []string{"n"}},
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
		{"/{a=1}/{b=1}/{c=1}/{d=1}/{e=1}/{f=1}/{g=1}/{h=1}/{i=1}", `path pattern "/{a=1}/{b=1}/{c=1}/{d=1}/{e=1}/{f=1}/{g=1}/{h=1}/{i=1}": 9 parameters, at most 8 allowed`},
		{"/buy/007", `path pattern "/buy/007": segment "007" is not canonical: a decimal matches without its leading zeros, write "7"`},
		{"/x/00", `path pattern "/x/00": segment "00" is not canonical: a decimal matches without its leading zeros, write "0"`},
		{"/buy/{id=007}", `path pattern "/buy/{id=007}": parameter {id=007}: value "007" is not canonical: a decimal matches without its leading zeros, write "7"`},
		{"/buy/{id=}", `path pattern "/buy/{id=}": parameter {id=}: empty fixed value`},
		{"/buy/{=7}", `path pattern "/buy/{=7}": parameter name "": want [A-Za-z_][A-Za-z0-9_]*`},
		{"/buy/{id=7=8}", `path pattern "/buy/{id=7=8}": parameter {id=7=8}: a fixed value is a literal, without "{", "}", "*" or "="`},
		{"/buy/{id={x}}", `path pattern "/buy/{id={x}}": parameter {id={x}}: a fixed value is a literal, without "{", "}", "*" or "="`},
		{"/buy/{id=*}", `path pattern "/buy/{id=*}": parameter {id=*}: a fixed value is a literal, without "{", "}", "*" or "="`},
		{"/f/{rest...=x}", `path pattern "/f/{rest...=x}": parameter name "rest...": want [A-Za-z_][A-Za-z0-9_]*`},
		{"/buy/{id=%37}", `path pattern "/buy/{id=%37}": parameter {id=%37}: value "%37" is not canonical: requests are normalized to "/7"`},
		{"/buy/{id=..}", `path pattern "/buy/{id=..}": parameter {id=..}: value "..": path climbs above the root with ".."`},
		{"/a/{id=7}/{id}", `path pattern "/a/{id=7}/{id}": parameter {id} appears twice`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}
