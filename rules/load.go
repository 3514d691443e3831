package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Load reads the rule file at path and the files it includes, and returns
// the validated Config with defaults filled in. On any problem it returns
// Errors holding all of them. Error positions name files as path names
// them, and included files relative to it ("sales/x.yaml" when path is
// "gateway.yaml").
func Load(path string) (*Config, error) {
	data, err := readRuleFile(path)
	if err != nil {
		return nil, Errors{{Pos: Pos{File: path}, Msg: "cannot read rule file: " + reason(err)}}
	}
	return LoadBytes(path, data)
}

// LoadBytes is Load with the main file's content given (for tests and
// fuzzing); included files are still read from disk, relative to path.
func LoadBytes(path string, data []byte) (*Config, error) {
	c, err := loadBytes(path, data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// loadBytes is LoadBytes returning the Config built so far with errors.
func loadBytes(path string, data []byte) (*Config, error) {
	l := &loader{main: path, digest: sha256.New()}
	var spec fileSpec
	root := l.parse(path, data)
	if root.n != nil {
		l.addErr(root.Decode(&spec))
	}
	c := &Config{Cache: spec.Cache, Admission: spec.Admission, Hotspot: spec.Hotspot}
	l.collect(root, spec.Origins, spec.Routes)
	l.includes(root.Get("include"), spec.Include)
	l.build(c, root, &spec)
	c.Files = l.abs(l.files)
	c.WatchDirs = l.watchDirs
	l.digest.Sum(c.Digest[:0])
	return c, l.errs.result(l.files)
}

// loader carries one Load.
type loader struct {
	main      string
	files     []string // display names, main first
	watchDirs []string
	digest    hash.Hash
	origins   []Node // each an "origins:" mapping, by file
	routes    []Node // every route, by file
	errs      errorList
}

func (l *loader) addErr(err error) { l.errs.addAll(err) }

// parse reads one YAML document into a root Node; an empty file is an
// empty root. Syntax errors are recorded with their position.
func (l *loader) parse(name string, data []byte) Node {
	l.files = append(l.files, name)
	l.watch(filepath.Dir(name))
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], uint64(len(data)))
	fmt.Fprintf(l.digest, "%s\x00", name)
	l.digest.Write(sum[:])
	l.digest.Write(data)

	dec, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		l.errs.add(&Error{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: err.Error()})
		return Node{}
	}
	var doc yaml.Node
	switch err := dec.Load(&doc); {
	case err == io.EOF:
		return Node{}
	case err != nil:
		l.errs.add(syntaxError(name, err))
		return Node{}
	}
	var extra yaml.Node
	if err := dec.Load(&extra); err != io.EOF {
		pos := Pos{File: name, Line: max(extra.Line, 1), Col: max(extra.Column, 1)}
		if err != nil {
			l.errs.add(syntaxError(name, err))
		} else {
			l.errs.add(&Error{Pos: pos, Msg: `a second YAML document ("---"): one file holds one document`})
		}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	return Node{n: root, file: name}
}

// syntaxError positions a yaml/v4 parse error; its message keeps only the
// problem, since the position is ours to print.
func syntaxError(name string, err error) *Error {
	var le *yaml.LoadError
	if errors.As(err, &le) && le.Mark.Line > 0 {
		msg := "invalid YAML: " + le.Message
		if le.ContextMsg != "" {
			msg += " (" + le.ContextMsg + ")"
		}
		return &Error{Pos: Pos{File: name, Line: le.Mark.Line, Col: max(le.Mark.Column, 1)}, Msg: msg}
	}
	return &Error{Pos: Pos{File: name, Line: 1, Col: 1}, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// collect records one file's origins and routes for validation.
func (l *loader) collect(root Node, origins Node, routes []Node) {
	if !origins.IsZero() {
		l.origins = append(l.origins, origins)
	}
	for i := range routes {
		l.routes = append(l.routes, root.Get("routes").Index(i))
	}
}

// includes reads every file matching the include globs, in glob order and
// then name order. A glob that matches nothing is fine (a sale not yet
// written); a file that matches but cannot be read is an error.
func (l *loader) includes(list Node, globs []string) {
	dir := filepath.Dir(l.main)
	seen := map[string]bool{filepath.Clean(l.main): true}
	for i, g := range globs {
		item := list.Index(i)
		pattern := g
		if !filepath.IsAbs(g) {
			pattern = filepath.Join(dir, g)
		}
		l.watch(globDir(pattern))
		matches, err := filepath.Glob(pattern)
		if err != nil {
			l.errs.add(item.Errorf("", "bad glob %q: %v", g, err))
			continue
		}
		for _, m := range matches {
			if filepath.Clean(m) == filepath.Clean(l.main) {
				l.errs.add(item.Errorf("", "glob %q matches the main file %s: an include cannot include itself", g, l.main))
				continue
			}
			if seen[m] {
				continue // matched by an earlier glob: read once
			}
			seen[m] = true
			l.include(item, m)
		}
	}
}

// mainOnlyKeys are the sections only the main file may hold: one process
// has one listener, one log and one cache, and includes do not nest (so
// they cannot form cycles).
var mainOnlyKeys = []string{"server", "logging", "include", "cache", "admission", "demo", "admin"}

func (l *loader) include(item Node, name string) {
	if st, err := os.Stat(name); err == nil && !st.Mode().IsRegular() {
		if strings.HasPrefix(filepath.Base(name), ".") {
			return // Kubernetes' "..data" and its timestamped directories
		}
		// Docker creates a directory where a bind-mounted rule file is
		// missing on the host: that is a lost sale file, not a blank one.
		l.errs.add(item.Errorf("", "%s matches the include but is not a regular file (a directory left by a missing bind mount?)", name))
		return
	}
	data, err := readRuleFile(name)
	if err != nil {
		l.errs.add(item.Errorf("", "cannot read %s: %s", name, reason(err)))
		return
	}
	root := l.parse(name, data)
	for _, key := range mainOnlyKeys {
		if k, _ := root.lookup(key); k != nil {
			l.errs.add(root.Errorf(key, "only the main file %s may set %s: included files hold origins and routes", l.main, key))
		}
	}
	var spec includedSpec
	l.addErr(stripKeys(root, mainOnlyKeys...).Decode(&spec))
	l.collect(root, spec.Origins, spec.Routes)
}

// stripKeys returns a copy of a mapping root without the given keys, so
// that keys already reported are not reported again as unknown.
func stripKeys(root Node, keys ...string) Node {
	if root.n == nil || root.n.Kind != yaml.MappingNode {
		return root
	}
	m := *root.n
	m.Content = nil
	for i := 0; i+1 < len(root.n.Content); i += 2 {
		if !slices.Contains(keys, root.n.Content[i].Value) {
			m.Content = append(m.Content, root.n.Content[i], root.n.Content[i+1])
		}
	}
	root.n = &m
	return root
}

// globDir is the deepest directory of a glob without pattern characters:
// the directory where a new matching file would appear.
func globDir(pattern string) string {
	dir := filepath.Dir(pattern)
	for strings.ContainsAny(dir, `*?[\`) {
		dir = filepath.Dir(dir)
	}
	return dir
}

func (l *loader) watch(dir string) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if !slices.Contains(l.watchDirs, dir) {
		l.watchDirs = append(l.watchDirs, dir)
	}
}

func (l *loader) abs(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if abs, err := filepath.Abs(n); err == nil {
			out[i] = abs
		}
	}
	return out
}

// reason drops the operation and path from a file error: the message
// already names the file.
// MaxFileBytes bounds one rule file: a rule file is written by people, and
// a runaway generator or a wrong path (a log, a disk image) must fail with
// a clear message rather than be read into memory.
const MaxFileBytes = 16 << 20

var errFileTooLarge = fmt.Errorf("larger than %d MiB: not a rule file", MaxFileBytes>>20)

// readRuleFile reads at most MaxFileBytes of a regular file.
func readRuleFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, errFileTooLarge
	}
	return data, nil
}

func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
