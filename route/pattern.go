package route

import (
	"errors"
	"fmt"
	"strings"
)

// MaxParams is the most parameters a pattern may capture; Params holds
// exactly this many so that matching never allocates.
const MaxParams = 8

type segKind uint8

const (
	segLiteral  segKind = iota // "item": the segment itself
	segParam                   // "{id}": one non-empty segment
	segCatchAll                // "*" or "{rest...}": zero or more segments, last only
)

type segment struct {
	kind segKind
	lit  string // segLiteral: the canonical literal
	name string // segParam, segCatchAll: capture name ("" for "*")
}

// Pattern is a parsed path pattern. It is immutable and safe for concurrent
// use. Create it with Parse.
type Pattern struct {
	segs []segment
	str  string
}

// Parse parses a path pattern such as "/item/{id}", "/static/*" or
// "/files/{rest...}". The rules, each reported with the offending segment:
//
//   - the pattern starts with "/" and has no empty segment ("//"); one
//     trailing slash is allowed and ignored;
//   - a parameter is a whole segment "{name}" with name [A-Za-z_][A-Za-z0-9_]*,
//     unique within the pattern, at most MaxParams of them;
//   - a catch-all ("*" or "{name...}") is the last segment;
//   - a literal is already canonical (as Normalize would produce it), since
//     requests are normalized before matching and a non-canonical literal
//     could never match.
func Parse(pattern string) (*Pattern, error) {
	if pattern == "" {
		return nil, errors.New("empty path pattern")
	}
	if pattern[0] != '/' {
		return nil, fmt.Errorf("path pattern %q: must start with \"/\"", pattern)
	}
	body := pattern[1:]
	if len(body) > 0 && body[len(body)-1] == '/' {
		body = body[:len(body)-1] // "/a/" is "/a": trailing slashes never decide a match
	}
	p := &Pattern{}
	if body == "" {
		p.str = "/"
		return p, nil
	}
	raw := strings.Split(body, "/")
	for i, s := range raw {
		seg, err := parseSegment(s, i == len(raw)-1)
		if err != nil {
			return nil, fmt.Errorf("path pattern %q: %w", pattern, err)
		}
		p.segs = append(p.segs, seg)
	}
	if err := p.checkNames(); err != nil {
		return nil, fmt.Errorf("path pattern %q: %w", pattern, err)
	}
	p.str = p.format()
	return p, nil
}

func parseSegment(s string, last bool) (segment, error) {
	switch {
	case s == "":
		return segment{}, errors.New(`empty segment ("//")`)
	case s == "*":
		if !last {
			return segment{}, errors.New(`"*" must be the last segment`)
		}
		return segment{kind: segCatchAll}, nil
	case s[0] == '{' && s[len(s)-1] == '}':
		return parseParam(s[1:len(s)-1], last)
	case strings.ContainsAny(s, "{}*"):
		return segment{}, fmt.Errorf("segment %q: a parameter or \"*\" must be a whole segment", s)
	}
	canon, err := Normalize(nil, []byte("/"+s))
	if err != nil {
		return segment{}, fmt.Errorf("segment %q: %w", s, err)
	}
	if string(canon) != "/"+s {
		return segment{}, fmt.Errorf("segment %q is not canonical: requests are normalized to %q", s, canon)
	}
	return segment{kind: segLiteral, lit: s}, nil
}

func parseParam(name string, last bool) (segment, error) {
	kind := segParam
	if rest, ok := strings.CutSuffix(name, "..."); ok {
		if !last {
			return segment{}, fmt.Errorf("catch-all {%s} must be the last segment", name)
		}
		kind, name = segCatchAll, rest
	}
	if !validName(name) {
		return segment{}, fmt.Errorf("parameter name %q: want [A-Za-z_][A-Za-z0-9_]*", name)
	}
	return segment{kind: kind, name: name}, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (p *Pattern) checkNames() error {
	var n int
	seen := map[string]bool{}
	for _, s := range p.segs {
		if s.name == "" {
			continue
		}
		if seen[s.name] {
			return fmt.Errorf("parameter {%s} appears twice", s.name)
		}
		seen[s.name] = true
		n++
	}
	if n > MaxParams {
		return fmt.Errorf("%d parameters, at most %d allowed", n, MaxParams)
	}
	return nil
}

func (p *Pattern) format() string {
	var b strings.Builder
	for _, s := range p.segs {
		b.WriteByte('/')
		switch {
		case s.kind == segLiteral:
			b.WriteString(s.lit)
		case s.kind == segParam:
			b.WriteString("{" + s.name + "}")
		case s.name == "":
			b.WriteByte('*')
		default:
			b.WriteString("{" + s.name + "...}")
		}
	}
	return b.String()
}

// String returns the canonical form of the pattern: Parse(p.String())
// yields an equal pattern.
func (p *Pattern) String() string { return p.str }

// ParamNames returns the names the pattern captures, in path order
// (a "*" catch-all captures nothing). The slice is freshly allocated.
func (p *Pattern) ParamNames() []string {
	var names []string
	for _, s := range p.segs {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	return names
}

// shape is the pattern with parameter names erased: two patterns with the
// same shape match exactly the same paths.
func (p *Pattern) shape() string {
	var b strings.Builder
	for _, s := range p.segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.lit)
		case segParam:
			b.WriteString("{}")
		case segCatchAll:
			b.WriteByte('*')
		}
	}
	return b.String()
}
