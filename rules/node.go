package rules

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Node is a YAML subtree with the file it came from and its key path, so
// that the package owning a section can decode it strictly and still
// report "file:line:col: routes[2].cache.ttl: ...". The zero value is an
// absent section. A Node is immutable and safe for concurrent use.
type Node struct {
	n    *yaml.Node
	file string
	path string
}

// IsZero reports whether the section was absent (or null).
func (n Node) IsZero() bool {
	return n.n == nil || (n.n.Kind == yaml.ScalarNode && n.n.Tag == "!!null")
}

// Path returns the key path of the node, e.g. "routes[2].cache".
func (n Node) Path() string { return n.path }

// Pos returns the node's position; the zero Pos for a zero Node.
func (n Node) Pos() Pos {
	if n.n == nil {
		return Pos{File: n.file}
	}
	return Pos{File: n.file, Line: n.n.Line, Col: n.n.Column}
}

// Decode decodes the node into v, a non-nil pointer, strictly: unknown
// keys, repeated keys, wrong types and bad values (any
// encoding.TextUnmarshaler, such as Duration, Size and Rate, may refuse
// its text) are all reported, as Errors positioned in the file and named
// by path below n.Path(). Struct fields are matched by their `yaml:"name"`
// tag (or lowercased field name); fields of type Node or []Node keep the
// subtree for later. A zero Node decodes to nothing and returns nil.
func (n Node) Decode(v any) error {
	if n.IsZero() {
		return nil
	}
	d := decoder{file: n.file, budget: maxDecodeNodes}
	d.decodeInto(n.n, n.path, v)
	return d.errs.result(nil)
}

// Errorf returns an error positioned at the child key of n (or at n itself
// when key is "" or absent), named by the key's path.
func (n Node) Errorf(key, format string, args ...any) *Error {
	pos, path := n.Pos(), n.path
	if key != "" {
		path = joinKey(n.path, key)
		if k, _ := n.lookup(key); k != nil {
			pos = Pos{File: n.file, Line: k.Line, Col: k.Column}
		}
	}
	return &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Kind reads a one-key map such as {ratelimit: {...}}: name is the key,
// spec its value (path "….ratelimit"). A map with no key or several keys
// (two kinds in one list item) is an error.
func (n Node) Kind() (name string, spec Node, err error) {
	if n.IsZero() {
		return "", Node{}, n.Errorf("", "missing: want a one-key map like {kind: {...}}")
	}
	m := resolve(n.n)
	if m.Kind != yaml.MappingNode {
		return "", Node{}, n.Errorf("", "want a one-key map like {kind: {...}}, got %s", describe(m))
	}
	switch len(m.Content) / 2 {
	case 1:
		key := m.Content[0].Value
		return key, n.child(key, m.Content[1]), nil
	case 0:
		return "", Node{}, n.Errorf("", "empty map: want one key naming the kind")
	}
	var keys []string
	for i := 0; i < len(m.Content); i += 2 {
		keys = append(keys, m.Content[i].Value)
	}
	return "", Node{}, n.Errorf("", "one item holds %d kinds (%s): give each its own list item", len(keys), strings.Join(keys, ", "))
}

// Get returns the value of key in a mapping node, or the zero Node.
func (n Node) Get(key string) Node {
	if _, v := n.lookup(key); v != nil {
		return n.child(key, v)
	}
	return Node{file: n.file, path: joinKey(n.path, key)}
}

// Index returns the i-th item of a sequence node, or the zero Node.
func (n Node) Index(i int) Node {
	path := n.path + "[" + strconv.Itoa(i) + "]"
	if n.n == nil {
		return Node{file: n.file, path: path}
	}
	s := resolve(n.n)
	if s.Kind != yaml.SequenceNode || i < 0 || i >= len(s.Content) {
		return Node{file: n.file, path: path}
	}
	return Node{n: s.Content[i], file: n.file, path: path}
}

// lookup finds key in a mapping node: the key node and the value node.
func (n Node) lookup(key string) (k, v *yaml.Node) {
	if n.n == nil {
		return nil, nil
	}
	m := resolve(n.n)
	if m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func (n Node) child(key string, v *yaml.Node) Node {
	return Node{n: v, file: n.file, path: joinKey(n.path, key)}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows aliases to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!bool":
			return "boolean " + n.Value
		}
		return fmt.Sprintf("%s %q", n.Tag, n.Value)
	}
	return "an alias"
}
