package esi

import "bytes"

// parseElement parses the ESI element whose start tag is at src[at]. It
// returns the nodes it becomes (none for esi:remove and esi:comment) and the
// offset after it. parent is the enclosing block's name ("" at top level).
func (p *parser) parseElement(at, limit int, parent string, depth int, inVars bool) ([]node, int, error) {
	t, err := scanTag(p.src, at, limit)
	if err != nil {
		return nil, 0, err
	}
	name := string(t.name)
	switch name {
	case "include":
		n, err := p.parseInclude(&t)
		if err != nil {
			return nil, 0, err
		}
		end, err := skipEndTag(p.src, &t, limit, name)
		return []node{n}, end, err
	case "comment":
		end, err := skipEndTag(p.src, &t, limit, name)
		return nil, end, err
	case "remove":
		return p.parseRemove(&t, limit)
	case "vars":
		if t.selfClose {
			return nil, t.end, nil
		}
		return p.parseNodes(t.end, limit, "vars", depth+1, true)
	case "try":
		return p.parseTry(&t, limit, depth, inVars)
	case "choose":
		return p.parseChoose(&t, limit, depth, inVars)
	case "attempt", "except":
		return p.parseBranch(&t, limit, parent, "try", depth, inVars)
	case "when", "otherwise":
		return p.parseBranch(&t, limit, parent, "choose", depth, inVars)
	}
	return nil, 0, &ParseError{Offset: at, What: "esi:" + name[:min(len(name), 32)], Err: ErrUnsupported}
}

func (p *parser) parseInclude(t *tag) (node, error) {
	p.includes++
	src, ok := t.get("src")
	if !ok || len(src) == 0 {
		return node{}, &ParseError{Offset: t.off, What: "esi:include", Err: ErrSyntax, Detail: "src is required"}
	}
	inc := &include{off: t.off, ord: p.includes, over: p.includes > p.opts.MaxIncludes}
	var err error
	if inc.src, err = parseParts(src, t.off, "esi:include src", false); err != nil {
		return node{}, err
	}
	if !hasVars(inc.src) && src[0] == '/' && (len(src) == 1 || src[1] != '/') {
		var req FragmentRequest
		if resolve(&req, nil, nil, src, nil) == nil {
			inc.static = req.Path
		}
	}
	if alt, ok := t.get("alt"); ok && len(alt) > 0 {
		if inc.alt, err = parseParts(alt, t.off, "esi:include alt", false); err != nil {
			return node{}, err
		}
	}
	if v, ok := t.get("onerror"); ok {
		if string(v) != "continue" {
			return node{}, &ParseError{Offset: t.off, What: "esi:include", Err: ErrSyntax, Detail: `onerror must be "continue"`}
		}
		inc.onErrorContinue = true
	}
	return node{kind: kInclude, off: t.off, inc: inc}, nil
}

var (
	removeEnd  = []byte("</esi:remove>")
	cdataStart = []byte("<![CDATA[")
	cdataEnd   = []byte("]]>")
)

// parseRemove drops everything up to </esi:remove>, unparsed (the note
// forbids nesting ESI inside esi:remove; its content is for non-ESI
// clients). A "</esi:remove>" inside a CDATA section is CDATA, not the
// end. Without an end (of the remove, or of a CDATA section in it) the
// remove runs to limit, the end of the page or of the <!--esi comment
// holding it: what a client without ESI would also have shown as the
// removed content. The scan visits each '<' once, so it stays linear.
func (p *parser) parseRemove(t *tag, limit int) ([]node, int, error) {
	if t.selfClose {
		return nil, t.end, nil
	}
	for i := t.end; ; {
		j := bytes.IndexByte(p.src[i:limit], '<')
		if j < 0 {
			return nil, limit, nil
		}
		i += j
		rest := p.src[i:limit]
		switch {
		case bytes.HasPrefix(rest, removeEnd):
			return nil, i + len(removeEnd), nil
		case bytes.HasPrefix(rest, cdataStart):
			k := bytes.Index(rest[len(cdataStart):], cdataEnd)
			if k < 0 {
				return nil, limit, nil
			}
			i += len(cdataStart) + k + len(cdataEnd)
		default:
			i++
		}
	}
}

// parseBranch parses esi:attempt/except (inside try) or esi:when/otherwise
// (inside choose) into a transient node its block collects.
func (p *parser) parseBranch(t *tag, limit int, parent, want string, depth int, inVars bool) ([]node, int, error) {
	name := string(t.name)
	if parent != want {
		return nil, 0, &ParseError{Offset: t.off, What: "esi:" + name, Err: ErrSyntax, Detail: "only allowed directly inside esi:" + want}
	}
	n := node{off: t.off}
	switch name {
	case "attempt":
		n.kind = kAttempt
	case "except":
		n.kind = kExcept
	case "otherwise":
		n.kind = kOtherwise
	case "when":
		n.kind = kWhen
		test, ok := t.get("test")
		if !ok {
			return nil, 0, &ParseError{Offset: t.off, What: "esi:when", Err: ErrSyntax, Detail: "test is required"}
		}
		e, err := parseExpr(test)
		if err != nil {
			return nil, 0, &ParseError{Offset: t.off, What: "esi:when test", Err: ErrSyntax, Detail: err.Error()}
		}
		n.test = e
	}
	if t.selfClose {
		return []node{n}, t.end, nil
	}
	body, end, err := p.parseNodes(t.end, limit, name, depth+1, inVars)
	n.body = body
	return []node{n}, end, err
}

func (p *parser) parseTry(t *tag, limit, depth int, inVars bool) ([]node, int, error) {
	children, end, err := p.blockChildren(t, limit, "try", depth, inVars)
	if err != nil {
		return nil, 0, err
	}
	b := &tryBlock{}
	attempts, excepts := 0, 0
	for i := range children {
		c := &children[i]
		if c.kind == kAttempt {
			attempts++
			b.attempt = c.body
		} else {
			excepts++
			b.except = c.body
		}
	}
	if attempts != 1 || excepts > 1 {
		return nil, 0, &ParseError{Offset: t.off, What: "esi:try", Err: ErrSyntax, Detail: "needs one esi:attempt and at most one esi:except"}
	}
	return []node{{kind: kTry, off: t.off, try: b}}, end, nil
}

func (p *parser) parseChoose(t *tag, limit, depth int, inVars bool) ([]node, int, error) {
	children, end, err := p.blockChildren(t, limit, "choose", depth, inVars)
	if err != nil {
		return nil, 0, err
	}
	b := &chooseBlock{}
	otherwise := 0
	for i := range children {
		c := &children[i]
		if c.kind == kWhen {
			if otherwise > 0 {
				return nil, 0, &ParseError{Offset: c.off, What: "esi:when", Err: ErrSyntax, Detail: "after esi:otherwise"}
			}
			b.whens = append(b.whens, whenBranch{test: c.test, body: c.body})
			continue
		}
		otherwise++
		b.otherwise = c.body
	}
	if len(b.whens) == 0 || otherwise > 1 {
		return nil, 0, &ParseError{Offset: t.off, What: "esi:choose", Err: ErrSyntax, Detail: "needs esi:when elements and at most one esi:otherwise"}
	}
	return []node{{kind: kChoose, off: t.off, choose: b}}, end, nil
}

// blockChildren parses the body of esi:try or esi:choose: only its branch
// elements and whitespace may appear there.
func (p *parser) blockChildren(t *tag, limit int, name string, depth int, inVars bool) ([]node, int, error) {
	if t.selfClose {
		return nil, 0, &ParseError{Offset: t.off, What: "esi:" + name, Err: ErrSyntax, Detail: "must not be empty"}
	}
	body, end, err := p.parseNodes(t.end, limit, name, depth+1, inVars)
	if err != nil {
		return nil, 0, err
	}
	children := body[:0]
	for _, c := range body {
		switch c.kind {
		case kAttempt, kExcept, kWhen, kOtherwise:
			children = append(children, c)
		case kLiteral:
			if len(bytes.TrimSpace(c.lit)) != 0 {
				return nil, 0, &ParseError{Offset: c.off, What: "esi:" + name, Err: ErrSyntax, Detail: "text outside its branches"}
			}
		default:
			return nil, 0, &ParseError{Offset: c.off, What: "esi:" + name, Err: ErrSyntax, Detail: "element outside its branches"}
		}
	}
	return children, end, nil
}
