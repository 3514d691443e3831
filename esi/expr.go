package esi

import (
	"bytes"
	"errors"
)

// expr is a compiled esi:when test: comparisons (== != < <= > >=) of
// variables, 'quoted strings' and integers, combined with && || ! and
// parentheses. Operands compare as integers when both are integers, else as
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
	for err == nil && p.eat("||") {
		var r *expr
		if r, err = p.and(); err == nil {
			l = &expr{op: eOr, l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) and() (*expr, error) {
	l, err := p.unary()
	for err == nil && p.eat("&&") {
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
	n := 0
	for n < len(p.s) && (p.s[n] == '-' && n == 0 || '0' <= p.s[n] && p.s[n] <= '9') {
		n++
	}
	if n == 0 || n == 1 && p.s[0] == '-' {
		return nil, errors.New("unexpected " + quoteShort(p.s))
	}
	e := &expr{op: eLit, lit: p.s[:n]}
	p.s = p.s[n:]
	return e, nil
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

func compareValues(a, b []byte) int {
	x, okA := parseInt(a)
	y, okB := parseInt(b)
	if okA && okB {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return bytes.Compare(a, b)
}

// parseInt parses a decimal integer of at most 18 digits (no overflow).
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
