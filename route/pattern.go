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
	segFixed                   // "{id=7}": the segment "7" (a literal), captured as id
	segParam                   // "{id}": one non-empty segment
	segCatchAll                // "*" or "{rest...}": zero or more segments, last only
)

type segment struct {
	kind segKind
	lit  string // segLiteral, segFixed: the canonical literal
	name string // segFixed, segParam, segCatchAll: capture name ("" for "*")
}

// Pattern is a parsed path pattern. It is immutable and safe for concurrent
// use. Create it with Parse.
type Pattern struct {
	segs []segment
	str  string
}

// Parse parses a path pattern such as "/item/{id}", "/buy/{id=7}",
// "/static/*" or "/files/{rest...}". The rules, each reported with the
// offending segment:
//
//   - the pattern starts with "/" and has no empty segment ("//"); one
//     trailing slash is allowed and ignored;
//   - a parameter is a whole segment "{name}" with name [A-Za-z_][A-Za-z0-9_]*,
//     unique within the pattern, at most MaxParams of them (fixed values
//     included);
//   - a parameter with a fixed value, "{name=value}", matches like the
//     literal value and captures the segment as name, so that a route for
//     one item ("/buy/{id=7}") still tells its filters and cache tags which
//     item it is; the value follows the rules of a literal;
//   - a catch-all ("*" or "{name...}") is the last segment;
//   - a literal is already canonical (as Normalize would produce it), since
//     requests are normalized before matching and a non-canonical literal
//     could never match; a decimal literal has no leading zero ("7", not
//     "007"), since it matches every spelling of its number (see Table.Match).
//
// Decimal segments. A literal or fixed value made only of ASCII digits
// matches a request segment made only of digits when both are equal once
// leading zeros are dropped: "/buy/{id=7}" matches "/buy/7", "/buy/007" and
// "/buy/0007", and "/x/0" matches "/x/00". Origins commonly parse ids with
// strconv.Atoi or a database cast, so "007" is the same item as "7" to them;
// a route that compared bytes would let "/buy/007" fall through to a general
// "/buy/{id}" route and skip the sale's filters. For an origin whose ids are
// strings ("007" a different item from "7"), this over-applies the sale's
// route to a few extra paths, which is the safe direction.
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
	if err := checkLiteral(fmt.Sprintf("segment %q", s), s); err != nil {
		return segment{}, err
	}
	return segment{kind: segLiteral, lit: s}, nil
}

// checkLiteral reports why lit (a literal or a fixed value, named what in
// the error) could never match a normalized request segment, if it could not.
func checkLiteral(what, lit string) error {
	canon, err := Normalize(nil, []byte("/"+lit))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if string(canon) != "/"+lit {
		return fmt.Errorf("%s is not canonical: requests are normalized to %q", what, canon)
	}
	if d := canonicalDecimal([]byte(lit)); len(d) != len(lit) {
		return fmt.Errorf("%s is not canonical: a decimal matches without its leading zeros, write %q", what, d)
	}
	return nil
}

func parseParam(name string, last bool) (segment, error) {
	if name, value, ok := strings.Cut(name, "="); ok {
		return parseFixed(name, value)
	}
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

// parseFixed parses "{name=value}".
func parseFixed(name, value string) (segment, error) {
	if !validName(name) {
		return segment{}, fmt.Errorf("parameter name %q: want [A-Za-z_][A-Za-z0-9_]*", name)
	}
	if value == "" {
		return segment{}, fmt.Errorf("parameter {%s=}: empty fixed value", name)
	}
	if strings.ContainsAny(value, "{}*=") {
		return segment{}, fmt.Errorf("parameter {%s=%s}: a fixed value is a literal, without \"{\", \"}\", \"*\" or \"=\"", name, value)
	}
	if err := checkLiteral(fmt.Sprintf("parameter {%s=%s}: value %q", name, value, value), value); err != nil {
		return segment{}, err
	}
	return segment{kind: segFixed, lit: value, name: name}, nil
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
		case s.kind == segFixed:
			b.WriteString("{" + s.name + "=" + s.lit + "}")
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

// shape is the pattern with parameter names erased (a fixed value is its
// literal): two patterns with the same shape match exactly the same paths.
func (p *Pattern) shape() string {
	var b strings.Builder
	for _, s := range p.segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral, segFixed:
			b.WriteString(s.lit)
		case segParam:
			b.WriteString("{}")
		case segCatchAll:
			b.WriteByte('*')
		}
	}
	return b.String()
}
