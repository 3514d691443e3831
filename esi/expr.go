package esi

import (
	"bytes"
	"cmp"
	"errors"
)

// expr is a compiled esi:when test, in the language of ESI 1.0 §5:
// comparisons (== != < <= > >=) of variables, 'quoted strings' and
// numbers (integers or decimals: 10, -3, 10.0), negated with ! and
// combined with & and | (also written && and ||), grouped with
// parentheses. Precedence, tightest first: comparison, !, &, |; & and |
// associate from the left.
//
// A comparison is false when either operand is empty or undefined (an
// absent variable without a default), whatever the operator, != included
// (§5.1). Otherwise operands compare as numbers, exactly (no float
// rounding: 10 == 10.0, 0.1 < 0.12), when both are numbers, else as
// bytes. A bare operand is true when non-empty and not "false".
type expr struct {
	op   exprOp
	l, r *expr
	lit  []byte
	v    *varRef
}

type exprOp uint8

const (
	eLit exprOp = iota
	eVar
	eNot
	eAnd
	eOr
	eEq
	eNe
	eLt
	eLe
	eGt
	eGe
)

// maxExprDepth bounds parenthesis and ! nesting so a hostile test cannot
// recurse without limit.
const maxExprDepth = 32

type exprParser struct {
	s     []byte
	depth int
}

func parseExpr(s []byte) (*expr, error) {
	p := exprParser{s: s}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if len(p.s) != 0 {
		return nil, errors.New("unexpected " + quoteShort(p.s))
	}
	return e, nil
}

func quoteShort(s []byte) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return "\"" + string(s) + "\""
}

func (p *exprParser) space() {
	for len(p.s) > 0 && isSpace(p.s[0]) {
		p.s = p.s[1:]
	}
}

func (p *exprParser) eat(tok string) bool {
	p.space()
	if bytes.HasPrefix(p.s, []byte(tok)) {
		p.s = p.s[len(tok):]
		return true
	}
	return false
}

func (p *exprParser) or() (*expr, error) {
	l, err := p.and()
	for err == nil && (p.eat("||") || p.eat("|")) {
		var r *expr
		if r, err = p.and(); err == nil {
			l = &expr{op: eOr, l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) and() (*expr, error) {
	l, err := p.unary()
	for err == nil && (p.eat("&&") || p.eat("&")) {
		var r *expr
		if r, err = p.unary(); err == nil {
			l = &expr{op: eAnd, l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) unary() (*expr, error) {
	if p.depth++; p.depth > maxExprDepth {
		return nil, errors.New("nested too deeply")
	}
	defer func() { p.depth-- }()
	p.space()
	if bytes.HasPrefix(p.s, []byte("!")) && !bytes.HasPrefix(p.s, []byte("!=")) {
		p.s = p.s[1:]
		e, err := p.unary()
		return &expr{op: eNot, l: e}, err
	}
	return p.comparison()
}

var compareOps = [...]struct {
	tok string
	op  exprOp
}{{"==", eEq}, {"!=", eNe}, {"<=", eLe}, {">=", eGe}, {"<", eLt}, {">", eGt}}

func (p *exprParser) comparison() (*expr, error) {
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	for _, c := range compareOps {
		if p.eat(c.tok) {
			r, err := p.operand()
			return &expr{op: c.op, l: l, r: r}, err
		}
	}
	return l, nil
}

func (p *exprParser) operand() (*expr, error) {
	p.space()
	switch {
	case len(p.s) == 0:
		return nil, errors.New("missing operand")
	case p.s[0] == '(':
		p.s = p.s[1:]
		e, err := p.or()
		if err == nil && !p.eat(")") {
			err = errors.New("missing ')'")
		}
		return e, err
	case p.s[0] == '\'':
		end := bytes.IndexByte(p.s[1:], '\'')
		if end < 0 {
			return nil, errors.New("unterminated string")
		}
		e := &expr{op: eLit, lit: p.s[1 : 1+end]}
		p.s = p.s[end+2:]
		return e, nil
	case bytes.HasPrefix(p.s, []byte("$(")):
		v, n, err := parseVar(p.s, 0, "")
		if err != nil {
			return nil, errors.New(err.(*ParseError).Detail)
		}
		p.s = p.s[n:]
		return &expr{op: eVar, v: v}, nil
	}
	n := numberLen(p.s)
	if n == 0 {
		return nil, errors.New("unexpected " + quoteShort(p.s))
	}
	e := &expr{op: eLit, lit: p.s[:n]}
	p.s = p.s[n:]
	return e, nil
}

// numberLen returns the length of the number literal at the start of s:
// an optional '-', digits, optionally '.' and digits; 0 when there is none.
func numberLen(s []byte) int {
	n := 0
	if n < len(s) && s[n] == '-' {
		n++
	}
	d := digits(s[n:])
	if d == 0 {
		return 0
	}
	n += d
	if n+1 < len(s) && s[n] == '.' {
		if f := digits(s[n+1:]); f > 0 {
			n += 1 + f
		}
	}
	return n
}

func digits(s []byte) int {
	n := 0
	for n < len(s) && '0' <= s[n] && s[n] <= '9' {
		n++
	}
	return n
}

// eval reports whether the test holds; personal is true when it read a
// cookie or header, so the chosen branch depends on the user.
func (e *expr) eval(vars Vars) (ok, personal bool) {
	switch e.op {
	case eLit, eVar:
		v, pers := e.value(vars)
		return len(v) > 0 && string(v) != "false", pers
	case eNot:
		ok, personal = e.l.eval(vars)
		return !ok, personal
	case eAnd, eOr:
		l, lp := e.l.eval(vars)
		r, rp := e.r.eval(vars) // both sides: personal must not depend on short-circuit order
		if e.op == eAnd {
			return l && r, lp || rp
		}
		return l || r, lp || rp
	}
	a, ap := e.l.value(vars)
	b, bp := e.r.value(vars)
	if len(a) == 0 || len(b) == 0 {
		return false, ap || bp // §5.1: an empty or undefined operand makes any comparison false
	}
	c := compareValues(a, b)
	switch e.op {
	case eEq:
		ok = c == 0
	case eNe:
		ok = c != 0
	case eLt:
		ok = c < 0
	case eLe:
		ok = c <= 0
	case eGt:
		ok = c > 0
	case eGe:
		ok = c >= 0
	}
	return ok, ap || bp
}

func (e *expr) value(vars Vars) ([]byte, bool) {
	switch e.op {
	case eLit:
		return e.lit, false
	case eVar:
		return e.v.value(vars), e.v.personal()
	}
	ok, personal := e.eval(vars)
	if ok {
		return strTrue, personal
	}
	return strFalse, personal
}

// compareValues compares two numbers numerically, anything else bytewise.
func compareValues(a, b []byte) int {
	if c, ok := compareNumbers(a, b); ok {
		return c
	}
	return bytes.Compare(a, b)
}

// decimal is a number literal split for exact comparison: the integer
// digits without leading zeros, the fraction digits without trailing ones.
type decimal struct {
	neg         bool
	whole, frac []byte
}

// parseDecimal parses a whole operand as a number (numberLen's syntax).
func parseDecimal(b []byte) (decimal, bool) {
	if numberLen(b) != len(b) || len(b) == 0 {
		return decimal{}, false
	}
	var d decimal
	if b[0] == '-' {
		d.neg, b = true, b[1:]
	}
	whole, frac, _ := bytes.Cut(b, []byte("."))
	d.whole = bytes.TrimLeft(whole, "0")
	d.frac = bytes.TrimRight(frac, "0")
	if len(d.whole) == 0 && len(d.frac) == 0 {
		d.neg = false // -0 == 0
	}
	return d, true
}

// compareNumbers compares a and b as decimals of any length, without
// converting them (no overflow, no rounding, no allocation); ok is false
// unless both are numbers.
func compareNumbers(a, b []byte) (c int, ok bool) {
	x, okA := parseDecimal(a)
	y, okB := parseDecimal(b)
	if !okA || !okB {
		return 0, false
	}
	if x.neg != y.neg {
		if x.neg {
			return -1, true
		}
		return 1, true
	}
	switch {
	case len(x.whole) != len(y.whole):
		c = cmp.Compare(len(x.whole), len(y.whole))
	default:
		if c = bytes.Compare(x.whole, y.whole); c == 0 {
			c = bytes.Compare(x.frac, y.frac) // trailing zeros trimmed: bytewise is numeric
		}
	}
	if x.neg {
		c = -c
	}
	return c, true
}
