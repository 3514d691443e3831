package route

import (
	"fmt"
	"slices"
	"strings"
)

// Result says what Table.Match found.
type Result uint8

const (
	// NotFound: no route's host and path match.
	NotFound Result = iota
	// Found: a route matches host, path and method.
	Found
	// MethodNotAllowed: routes match host and path, none allows the method.
	MethodNotAllowed
	// CaseVariant: the table matches case exactly, and ignoring ASCII case
	// the path would meet another route (or a route where exactly it meets
	// none): "/BUY/1" beside "/buy/{id}". Answer it at the edge, never
	// with another route or the unmatched fallback, since a shop that
	// routes case-insensitively would read it as the route it names.
	CaseVariant
)

func (r Result) String() string {
	switch r {
	case Found:
		return "found"
	case MethodNotAllowed:
		return "method not allowed"
	case CaseVariant:
		return "case variant of a route"
	default:
		return "not found"
	}
}

// Entry is one route of a Table.
type Entry struct {
	// Host matches the request's host, ASCII case-insensitively, ignoring a
	// port and a trailing dot. "" matches any host.
	Host string
	// Methods lists the allowed methods (case-sensitive, as HTTP says);
	// nil or empty allows every method.
	Methods []string
	Pattern *Pattern
}

// DuplicateError reports two entries that would match the same requests:
// same host, same pattern shape (parameter names aside) and overlapping
// methods. Index and Other are positions in the entries given to NewTable.
type DuplicateError struct {
	Index, Other int
	Method       string // a method both allow, "" if both allow every method
}

func (e *DuplicateError) Error() string {
	if e.Method == "" {
		return fmt.Sprintf("route %d duplicates route %d", e.Index, e.Other)
	}
	return fmt.Sprintf("route %d duplicates route %d for method %s", e.Index, e.Other, e.Method)
}

// Table matches requests against a fixed set of entries. It is immutable
// after NewTable and safe for concurrent use; the zero value matches
// nothing.
type Table struct {
	hosts    map[string]*node // lowercased host → its routes
	anyHost  *node            // routes without a host
	foldCase bool
	// upperLits: some literal holds an upper-case letter, so a lowercase
	// path can be a case variant too ("/buy/sale" of "/buy/{id=Sale}").
	upperLits bool
}

// node is one trie level. Literal children are scanned linearly while few
// (comparing short strings beats hashing them); past mapFanout they are
// also indexed by a map, so "/sale/{one of 200 sales}" stays one lookup.
type node struct {
	lits     []litChild
	litIndex map[string]*node // when len(lits) > mapFanout; keys lowercased when folding
	// foldIndex is litIndex by lowercased literal in a case-sensitive
	// table, for the case-variant walk (the first literal of each folded
	// spelling, as a linear scan would find).
	foldIndex map[string]*node
	param     *node
	catchAll  *node
	leaves    []leaf
}

type litChild struct {
	lit  string
	next *node
}

type leaf struct {
	index   int
	methods []string  // nil = any method
	caps    []capture // what the entry captures, in path order
}

// capture is one parameter of an entry: Match fills Params from the
// matched leaf's captures once the walk is over, since entries sharing a
// trie node may capture differently ("GET /buy/{id=7}" binds id where
// "POST /buy/7" binds nothing, yet both are the node for "7").
type capture struct {
	seg  int     // index of the path segment (0 = the first)
	kind segKind // segFixed, segParam or segCatchAll (named only)
	name string
}

// capturesOf lists the captures of segs.
func capturesOf(segs []segment) []capture {
	var caps []capture
	for i, s := range segs {
		if s.name != "" {
			caps = append(caps, capture{seg: i, kind: s.kind, name: s.name})
		}
	}
	return caps
}

// NewTable builds a table from entries; Match returns indexes into entries.
// With caseInsensitive, literal segments match regardless of ASCII case;
// without, they match exactly and a path that would meet another route
// once case is ignored is a CaseVariant.
// It fails with a *DuplicateError when two entries would match the same
// requests, or when an entry has no pattern or an invalid host.
func NewTable(entries []Entry, caseInsensitive bool) (*Table, error) {
	t := &Table{hosts: map[string]*node{}, anyHost: &node{}, foldCase: caseInsensitive}
	for i, e := range entries {
		if e.Pattern == nil {
			return nil, fmt.Errorf("route %d: no path pattern", i)
		}
		root, err := t.rootFor(e.Host)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w", i, err)
		}
		if err := root.insert(e.Pattern.segs, leaf{index: i, methods: e.Methods, caps: capturesOf(e.Pattern.segs)}, caseInsensitive); err != nil {
			return nil, err
		}
		for _, s := range e.Pattern.segs {
			t.upperLits = t.upperLits || hasUpper([]byte(s.lit))
		}
	}
	return t, nil
}

func (t *Table) rootFor(host string) (*node, error) {
	if host == "" {
		return t.anyHost, nil
	}
	key := strings.TrimSuffix(strings.ToLower(host), ".")
	if key == "" || strings.ContainsAny(key, "/ \t") || (strings.Contains(key, ":") && key[0] != '[') {
		return nil, fmt.Errorf("host %q: want a host name without port", host)
	}
	if t.hosts[key] == nil {
		t.hosts[key] = &node{}
	}
	return t.hosts[key], nil
}

func (n *node) insert(segs []segment, l leaf, fold bool) error {
	for _, s := range segs {
		n = n.child(s, fold)
	}
	for _, o := range n.leaves {
		if m, ok := overlap(o.methods, l.methods); ok {
			return &DuplicateError{Index: l.index, Other: o.index, Method: m}
		}
	}
	n.leaves = append(n.leaves, l)
	return nil
}

func (n *node) child(s segment, fold bool) *node {
	switch s.kind {
	case segParam:
		if n.param == nil {
			n.param = &node{}
		}
		return n.param
	case segCatchAll:
		if n.catchAll == nil {
			n.catchAll = &node{}
		}
		return n.catchAll
	}
	// segLiteral and segFixed: "{id=7}" is the literal "7" for matching,
	// so it shares "7"'s node, its precedence and its duplicate check.
	lit := s.lit
	if fold {
		lit = strings.ToLower(lit)
	}
	for _, c := range n.lits {
		if c.lit == lit {
			return c.next
		}
	}
	c := litChild{lit: lit, next: &node{}}
	n.lits = append(n.lits, c)
	if len(n.lits) > mapFanout {
		if n.litIndex == nil {
			n.litIndex = make(map[string]*node, len(n.lits))
			for _, o := range n.lits {
				n.litIndex[o.lit] = o.next
			}
		}
		n.litIndex[lit] = c.next
		if !fold {
			n.indexFolded()
		}
	}
	return c.next
}

// indexFolded (re)builds foldIndex from lits, first spelling first.
func (n *node) indexFolded() {
	n.foldIndex = make(map[string]*node, len(n.lits))
	for _, o := range n.lits {
		k := strings.ToLower(o.lit)
		if n.foldIndex[k] == nil {
			n.foldIndex[k] = o.next
		}
	}
}

// mapFanout is the literal fan-out above which a node indexes its children
// by a map: about where a linear scan of short strings gets slower than a
// string hash (BenchmarkRouteMatch/fanout).
const mapFanout = 8

// overlap reports whether two method sets share a method, and names one.
func overlap(a, b []string) (string, bool) {
	switch {
	case len(a) == 0 && len(b) == 0:
		return "", true
	case len(a) == 0:
		return b[0], true
	case len(b) == 0:
		return a[0], true
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return m, true
		}
	}
	return "", false
}
