package esi

import "bytes"

// ParseOptions bounds the work and memory of Parse. Zero fields take the
// defaults named on each.
type ParseOptions struct {
	MaxPageBytes int // default 8 MiB: larger pages are ErrPageTooLarge
	MaxIncludes  int // default 256 esi:include elements per template; the ones past it fail as includes (ErrTooManyIncludes)
	MaxNesting   int // default 16 levels of try/choose/vars/<!--esi blocks
}

const (
	DefaultMaxPageBytes = 8 << 20
	DefaultMaxIncludes  = 256
	DefaultMaxNesting   = 16
)

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxPageBytes <= 0 {
		o.MaxPageBytes = DefaultMaxPageBytes
	}
	if o.MaxIncludes <= 0 {
		o.MaxIncludes = DefaultMaxIncludes
	}
	if o.MaxNesting <= 0 {
		o.MaxNesting = DefaultMaxNesting
	}
	return o
}

var (
	markOpen    = []byte("<esi:")
	markClose   = []byte("</esi:")
	markComment = []byte("<!--esi")
	htmlComment = []byte("<!--")
	commentEnd  = []byte("-->")
)

// Parse parses an ESI page. The work is linear in len(page) and bounded by
// opts. A page without "<esi:" or "<!--esi" is not scanned further: it
// becomes one literal and HasESI reports false. A page with ESI markup and a
// NUL byte is refused with ErrBinary (the caller serves it unassembled).
// Errors are *ParseError with the byte offset of the offending construct.
//
// The template retains page; see Template.
func Parse(page []byte, opts ParseOptions) (*Template, error) {
	opts = opts.withDefaults()
	if len(page) > opts.MaxPageBytes {
		return nil, &ParseError{Offset: opts.MaxPageBytes, Err: ErrPageTooLarge}
	}
	t := &Template{src: page, reqIndep: true, lastFail: -1}
	if !hasMarkup(page) {
		if len(page) > 0 {
			t.nodes = []node{{kind: kLiteral, lit: page}}
		}
		return t, nil
	}
	if i := bytes.IndexByte(page, 0); i >= 0 {
		return nil, &ParseError{Offset: i, Err: ErrBinary}
	}
	p := parser{src: page, opts: opts}
	nodes, _, err := p.parseNodes(0, len(page), "", 0, false)
	if err != nil {
		return nil, err
	}
	t.nodes, t.esi, t.includes = nodes, true, p.includes
	t.mayFail = mayFail(nodes)
	t.lastFail = -1
	for i := range nodes {
		if mayFail(nodes[i : i+1]) {
			t.lastFail = i
		}
	}
	t.reqIndep = !usesVars(nodes)
	return t, nil
}

// hasMarkup reports whether the page holds "<esi:" or "<!--esi". It hops
// from '<' to '<' with IndexByte: bytes.Contains ran at ~280 MB/s on HTML
// (a '<' every few dozen bytes defeats its first-byte scan), this at
// several GB/s.
func hasMarkup(page []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(page[i:], '<')
		if j < 0 {
			return false
		}
		i += j + 1
		rest := page[i:]
		if len(rest) >= 4 && rest[0] == 'e' && string(rest[:4]) == "esi:" ||
			len(rest) >= 6 && rest[0] == '!' && string(rest[:6]) == "!--esi" {
			return true
		}
	}
}

type parser struct {
	src      []byte
	opts     ParseOptions
	includes int
}

// parseNodes parses src[start:limit] up to </esi:closer> (or limit when
// closer is ""). It returns the nodes and the offset after the end tag.
func (p *parser) parseNodes(start, limit int, closer string, depth int, inVars bool) ([]node, int, error) {
	if depth > p.opts.MaxNesting {
		return nil, 0, &ParseError{Offset: start, Err: ErrNesting}
	}
	var nodes []node
	pos, lit := start, start
	for {
		i := bytes.IndexByte(p.src[pos:limit], '<')
		if i < 0 {
			break
		}
		at := pos + i
		rest := p.src[at:limit]
		switch {
		case bytes.HasPrefix(rest, markOpen):
			nodes = p.appendText(nodes, lit, at, inVars)
			n, next, err := p.parseElement(at, limit, closer, depth, inVars)
			if err != nil {
				return nil, 0, err
			}
			nodes = append(nodes, n...)
			pos, lit = next, next
		case bytes.HasPrefix(rest, markClose):
			name, end := endTag(p.src, at, limit)
			if end < 0 || name != closer || closer == "" {
				return nil, 0, &ParseError{Offset: at, What: "</esi:" + name[:min(len(name), 32)] + ">", Err: ErrSyntax, Detail: "unexpected end tag"}
			}
			return p.appendText(nodes, lit, at, inVars), end, nil
		case bytes.HasPrefix(rest, markComment):
			nodes = p.appendText(nodes, lit, at, inVars)
			n, next, err := p.parseComment(at, limit, depth, inVars)
			if err != nil {
				return nil, 0, err
			}
			nodes = append(nodes, n...)
			pos, lit = next, next
		case bytes.HasPrefix(rest, htmlComment):
			pos = skipHTMLComment(p.src, at, limit) // commented-out ESI is not executed; the comment stays text
		default:
			pos = at + 1
		}
	}
	if closer != "" {
		return nil, 0, &ParseError{Offset: start, What: "esi:" + closer, Err: ErrUnclosed, Detail: "no </esi:" + closer + ">"}
	}
	return p.appendText(nodes, lit, limit, inVars), limit, nil
}

// skipHTMLComment returns the offset after the ordinary HTML comment
// "<!-- ... -->" at src[at], or limit when it has no end (a browser then
// treats the rest of the page as comment, so does this). As in HTML,
// "<!-->" and "<!--->" are complete (empty) comments: the end is looked
// for from the second '-'.
func skipHTMLComment(src []byte, at, limit int) int {
	from := at + len("<!")
	if i := bytes.Index(src[from:limit], commentEnd); i >= 0 {
		return from + i + len(commentEnd)
	}
	return limit
}

// appendText adds src[from:to] as a literal, or as text with variables
// inside esi:vars.
func (p *parser) appendText(nodes []node, from, to int, inVars bool) []node {
	if from >= to {
		return nodes
	}
	s := p.src[from:to]
	if inVars && bytes.Contains(s, []byte("$(")) {
		parts, _ := parseParts(s, from, "esi:vars", true)
		return append(nodes, node{kind: kText, off: from, text: parts})
	}
	return append(nodes, node{kind: kLiteral, off: from, lit: s})
}

// parseComment parses <!--esi ... -->: the inside is ESI, the wrapper vanishes.
func (p *parser) parseComment(at, limit, depth int, inVars bool) ([]node, int, error) {
	start := at + len(markComment)
	end := bytes.Index(p.src[start:limit], commentEnd)
	if end < 0 {
		return nil, 0, &ParseError{Offset: at, What: "<!--esi", Err: ErrUnclosed, Detail: "no -->"}
	}
	nodes, _, err := p.parseNodes(start, start+end, "", depth+1, inVars)
	return nodes, start + end + len(commentEnd), err
}

// endTag reads "</esi:name>" at src[at]; end is -1 when malformed.
func endTag(src []byte, at, limit int) (string, int) {
	i := at + len(markClose)
	start := i
	for i < limit && isNameByte(src[i]) {
		i++
	}
	name := string(src[start:i])
	for i < limit && isSpace(src[i]) {
		i++
	}
	if i >= limit || src[i] != '>' {
		return name, -1
	}
	return name, i + 1
}

// skipEndTag consumes optional whitespace and </esi:name> after a
// non-self-closed empty element such as <esi:include ...></esi:include>.
func skipEndTag(src []byte, t *tag, limit int, name string) (int, error) {
	if t.selfClose {
		return t.end, nil
	}
	i := t.end
	for i < limit && isSpace(src[i]) {
		i++
	}
	if bytes.HasPrefix(src[i:limit], markClose) {
		if got, end := endTag(src, i, limit); end > 0 && got == name {
			return end, nil
		}
	}
	return 0, &ParseError{Offset: t.off, What: "esi:" + name, Err: ErrUnclosed, Detail: "use <esi:" + name + " .../> or </esi:" + name + ">"}
}

// mayFail reports whether an include outside any esi:try lacks
// onerror="continue", so that rendering the nodes can fail as a whole.
func mayFail(nodes []node) bool {
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case kInclude:
			if !n.inc.onErrorContinue {
				return true
			}
		case kTry:
			if mayFail(n.try.except) {
				return true
			}
		case kChoose:
			for _, w := range n.choose.whens {
				if mayFail(w.body) {
					return true
				}
			}
			if mayFail(n.choose.otherwise) {
				return true
			}
		}
	}
	return false
}

// usesVars reports whether any node reads a variable: text inside
// esi:vars that kept a "$(" (even one left literal by the lenient parse:
// the answer errs on the side of "depends"), an include src or alt with a
// variable, or an esi:when test with one, in every branch.
func usesVars(nodes []node) bool {
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case kText:
			return true
		case kInclude:
			if hasVars(n.inc.src) || hasVars(n.inc.alt) {
				return true
			}
		case kTry:
			if usesVars(n.try.attempt) || usesVars(n.try.except) {
				return true
			}
		case kChoose:
			for _, w := range n.choose.whens {
				if w.test.usesVars() || usesVars(w.body) {
					return true
				}
			}
			if usesVars(n.choose.otherwise) {
				return true
			}
		}
	}
	return false
}

// usesVars reports whether the test reads a variable anywhere.
func (e *expr) usesVars() bool {
	if e == nil {
		return false
	}
	return e.op == eVar || e.l.usesVars() || e.r.usesVars()
}
