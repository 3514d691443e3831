package route

import (
	"bytes"
	"slices"
)

// maxHost bounds the host names Match looks up: a DNS name has at most 253
// bytes (+ a trailing dot), so a longer Host header can only be host-less.
const maxHost = 256

// Match finds the route for a request. path should be the output of
// Normalize; host is the Host header (a port and a trailing dot are
// ignored, case does not matter). On Found, index is the position of the
// entry given to NewTable and ps holds its parameters (aliasing path); on
// NotFound, MethodNotAllowed or CaseVariant, index is -1 and ps is empty. ps may be nil
// when the parameters are not needed. Match does not allocate.
//
// Precedence: a route for the request's host beats a host-less route; then
// the most specific pattern wins, comparing segments left to right with
// literal = fixed value ({id=7}) > {param} > catch-all; among routes that
// match the path, only one allowing the method counts (so "GET /item/{id}"
// serves GET /item/special even if "POST /item/special" exists).
//
// A decimal request segment matches a decimal literal or fixed value when
// they are equal without leading zeros (see Parse), and a fixed value binds
// the request's segment without them: "/buy/007" matched by "/buy/{id=7}"
// binds id = "7". Plain {param} values are bound as sent.
//
// A case-sensitive table walks a path holding an upper-case letter a
// second time ignoring case, and answers CaseVariant when that walk ends
// elsewhere; lowercase paths (nearly all) walk once, unless some route's
// literal has an upper-case letter.
func (t *Table) Match(host, method, path []byte, ps *Params) (index int, res Result) {
	if ps != nil {
		ps.Reset()
	}
	if t == nil || t.anyHost == nil {
		return -1, NotFound
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1] // a trailing slash is insignificant, see the package doc
	}
	pos := 0
	if len(path) == 1 {
		pos = 1 // "/" has no segments
	}
	var m matcher
	m.method, m.path, m.ps = method, path, ps
	m.fold, m.litsLower = t.foldCase, t.foldCase
	l := t.lookup(&m, host, pos)
	if !t.foldCase && (t.upperLits || hasUpper(path)) && t.caseVariant(host, method, path, pos, l, m.sawPath) {
		if ps != nil {
			ps.Reset()
		}
		return -1, CaseVariant
	}
	if l != nil {
		return m.found(l)
	}
	if ps != nil {
		ps.Reset()
	}
	if m.sawPath {
		return -1, MethodNotAllowed
	}
	return -1, NotFound
}

// lookup walks the routes of host, then the host-less ones.
func (t *Table) lookup(m *matcher, host []byte, pos int) *leaf {
	if root := t.hostRoot(host); root != nil {
		if l := m.walk(root, pos); l != nil {
			return l
		}
	}
	return m.walk(t.anyHost, pos)
}

// caseVariant reports whether a case-sensitive table answers path
// differently once ASCII case is ignored: exact is the leaf the exact walk
// found (nil: none), sawPath whether it matched a route but not the method.
// Such a path is a case variant of a route ("/BUY/1" of "/buy/{id}"): sent
// on to another route or the unmatched fallback, it would reach a shop that
// routes case-insensitively without the filters of the route it names.
func (t *Table) caseVariant(host, method, path []byte, pos int, exact *leaf, sawPath bool) bool {
	m := matcher{method: method, path: path, fold: true}
	folded := t.lookup(&m, host, pos)
	switch {
	case folded == nil:
		return m.sawPath && exact == nil && !sawPath
	case exact == nil:
		return true
	}
	return folded.index != exact.index
}

// hasUpper reports whether path holds an ASCII upper-case letter; unless
// a literal has one (Table.upperLits), paths without one cannot be case
// variants, so they skip the second walk.
func hasUpper(path []byte) bool {
	for _, c := range path {
		if c-'A' < 26 {
			return true
		}
	}
	return false
}

// Allow appends to dst the methods that routes matching host and path
// allow, for the Allow header of a 405 (RFC 9110 section 15.5.6): the
// routes of the request's host first, then host-less ones, each method
// once (a route allowing every method adds nothing: Match never answers
// MethodNotAllowed where one matches). It does not allocate when dst has room.
func (t *Table) Allow(dst []string, host, path []byte) []string {
	if t == nil || t.anyHost == nil {
		return dst
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	pos := 0
	if len(path) == 1 {
		pos = 1
	}
	m := matcher{path: path, fold: t.foldCase, litsLower: t.foldCase, collect: true, allow: dst}
	if root := t.hostRoot(host); root != nil {
		m.walk(root, pos)
	}
	m.walk(t.anyHost, pos)
	return m.allow
}

// matcher carries one Match call's inputs through the recursive walk.
type matcher struct {
	method, path []byte
	ps           *Params // nil: capture nothing
	fold         bool    // compare literals ignoring ASCII case
	litsLower    bool    // the table's literals are stored lowercased (built folding)
	sawPath      bool    // some route matched the path but not the method
	collect      bool    // Allow: gather every matching leaf's methods, match none
	allow        []string
}

func (m *matcher) found(l *leaf) (int, Result) {
	if m.ps != nil {
		bind(m.ps, l.caps, m.path)
	}
	return l.index, Found
}

// bind fills ps with the captures of the matched entry, reading path once
// more: a second pass over a short path is cheaper than saving and
// restoring captures at every backtrack of the walk.
func bind(ps *Params, caps []capture, path []byte) {
	seg, pos := 0, 0 // pos: the '/' that starts segment seg, or len(path)
	if len(path) == 1 {
		pos = 1 // "/" has no segments
	}
	for _, c := range caps {
		for ; seg < c.seg; seg++ {
			pos = segmentEnd(path, pos)
		}
		var v []byte
		switch {
		case c.kind == segCatchAll && pos >= len(path):
			v = path[len(path):] // matched nothing: empty, not nil
		case c.kind == segCatchAll:
			v = path[pos+1:]
		case c.kind == segFixed:
			v = canonicalDecimal(path[pos+1 : segmentEnd(path, pos)])
		default:
			v = path[pos+1 : segmentEnd(path, pos)]
		}
		ps.names[ps.n] = c.name
		ps.push(v)
	}
}

// segmentEnd returns the end of the segment that starts with the '/' at
// pos: the next '/' or len(path).
func segmentEnd(path []byte, pos int) int {
	end := pos + 1
	for end < len(path) && path[end] != '/' {
		end++
	}
	return end
}

// walk matches the segments of m.path from pos (the index of the '/' that
// starts the next segment, or len(path) at the end) below n, trying literal,
// then parameter, then catch-all children, and backtracking on failure.
func (m *matcher) walk(n *node, pos int) *leaf {
	if pos >= len(m.path) {
		if l := m.leafFor(n); l != nil {
			return l
		}
		if n.catchAll != nil {
			return m.leafFor(n.catchAll)
		}
		return nil
	}
	end := segmentEnd(m.path, pos)
	seg := m.path[pos+1 : end]
	if len(n.lits) > 0 {
		if next := m.literal(n, canonicalDecimal(seg)); next != nil {
			if l := m.walk(next, end); l != nil {
				return l
			}
		}
	}
	if n.param != nil && len(seg) > 0 {
		if l := m.walk(n.param, end); l != nil {
			return l
		}
	}
	if n.catchAll != nil {
		return m.leafFor(n.catchAll)
	}
	return nil
}

// literal returns the child of n for literal segment seg (already through
// canonicalDecimal, as the table's literals are), or nil. Literals are
// unique per node (folded when the table folds case), so at most one child
// matches.
func (m *matcher) literal(n *node, seg []byte) *node {
	if n.litIndex != nil {
		if !m.fold {
			return n.litIndex[string(seg)]
		}
		index := n.litIndex // keys lowercased: the table folds
		if !m.litsLower {
			index = n.foldIndex
		}
		var buf [64]byte
		if len(seg) <= len(buf) {
			for i, c := range seg {
				buf[i] = lower(c)
			}
			return index[string(buf[:len(seg)])]
		}
	}
	for i := range n.lits {
		if m.equal(n.lits[i].lit, seg) {
			return n.lits[i].next
		}
	}
	return nil
}

func (m *matcher) leafFor(n *node) *leaf {
	if m.collect {
		m.gather(n)
		return nil
	}
	for i := range n.leaves {
		l := &n.leaves[i]
		if len(l.methods) == 0 {
			return l
		}
		for _, x := range l.methods {
			if x == string(m.method) {
				return l
			}
		}
		m.sawPath = true
	}
	return nil
}

func (m *matcher) equal(lit string, seg []byte) bool {
	if !m.fold {
		return lit == string(seg)
	}
	if len(lit) != len(seg) {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if lower(lit[i]) != lower(seg[i]) { // lit is lowercase already unless a case-sensitive table is walked folding
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// hostRoot returns the trie of the routes for host (a Host header: any
// case, maybe a port and a trailing dot), or nil.
func (t *Table) hostRoot(host []byte) *node {
	if len(t.hosts) == 0 {
		return nil
	}
	key, upper := hostKey(host)
	if !upper {
		return t.hosts[string(key)] // the common case: already lowercase, no copy
	}
	if len(key) > maxHost {
		return nil
	}
	var buf [maxHost]byte
	for i, c := range key {
		buf[i] = lower(c)
	}
	return t.hosts[string(buf[:len(key)])]
}

// hostKey strips the port and trailing dot from host, and reports whether
// the rest holds upper-case letters.
func hostKey(host []byte) (key []byte, upper bool) {
	end := len(host)
	if end > 0 && host[0] == '[' { // IPv6 literal "[::1]:8080"
		if i := bytes.IndexByte(host, ']'); i >= 0 {
			end = i + 1
		}
	} else if i := bytes.IndexByte(host, ':'); i >= 0 {
		end = i
	}
	if end > 0 && host[end-1] == '.' {
		end--
	}
	for _, c := range host[:end] {
		if c >= 'A' && c <= 'Z' {
			return host[:end], true
		}
	}
	return host[:end], false
}

func (m *matcher) gather(n *node) {
	for i := range n.leaves {
		for _, x := range n.leaves[i].methods {
			if !slices.Contains(m.allow, x) {
				m.allow = append(m.allow, x)
			}
		}
	}
}
