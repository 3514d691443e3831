package rules

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// maxDecodeNodes bounds the nodes one decode visits, so that a few lines of
// nested aliases ("billion laughs") cannot make a reload spin.
const maxDecodeNodes = 1 << 20

var (
	nodeType      = reflect.TypeFor[Node]()
	unmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoder is a strict YAML-node-to-struct decoder. yaml/v4's own
// Node.Load(v, yaml.WithKnownFields()) is strict too, but its errors carry
// neither the key path nor the allowed keys ("field x not found in type
// rules.originSpec"); operators need "origins.shop.balanse: unknown key
// (allowed: ...)". So the walk is ours and yaml/v4 only parses.
type decoder struct {
	file   string
	errs   errorList
	budget int
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs.add(&Error{Pos: Pos{File: d.file, Line: n.Line, Col: n.Column}, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decodeInto(n *yaml.Node, path string, v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		d.errorf(n, path, "BUG: Decode needs a non-nil pointer, got %T", v)
		return
	}
	d.decode(n, path, rv.Elem())
}

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	if d.budget--; d.budget == 0 {
		d.errorf(n, path, "too many nodes after alias expansion (more than %d)", maxDecodeNodes)
	}
	if d.budget < 0 {
		return
	}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(Node{n: n, file: d.file, path: path}))
		return
	}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.SetZero() // "key:" with no value means the default
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem())
		return
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalType) {
		d.text(n, path, v)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, path, v)
	case reflect.Slice:
		d.list(n, path, v)
	case reflect.Map:
		d.mapping(n, path, v)
	default:
		d.scalar(n, path, v)
	}
}

func (d *decoder) text(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a single value, got %s", describe(n))
		return
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
		d.errorf(n, path, "%v", err)
	}
}

// field is a struct field reachable from YAML.
type field struct {
	name  string
	index int
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs = append(fs, field{name, i})
	}
	return fs
}

func (d *decoder) structure(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	fs := fieldsOf(v.Type())
	d.pairs(n, path, func(key string, k, val *yaml.Node) {
		i := slices.IndexFunc(fs, func(f field) bool { return f.name == key })
		if i < 0 {
			names := make([]string, len(fs))
			for j, f := range fs {
				names[j] = f.name
			}
			d.errorf(k, joinKey(path, key), "unknown key %q (allowed: %s)", key, strings.Join(names, ", "))
			return
		}
		d.decode(val, joinKey(path, key), v.Field(fs[i].index))
	})
}

// pairs calls fn for each key of a mapping, refusing non-string and
// repeated keys (YAML says keys are unique; yaml/v4 lets the last win).
func (d *decoder) pairs(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node)) {
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "want a plain key, got %s", describe(k))
			continue
		}
		if first := seen[k.Value]; first != nil {
			d.errorf(k, joinKey(path, k.Value), "key repeated (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		fn(k.Value, k, n.Content[i+1])
	}
}

func (d *decoder) list(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, path+"["+strconv.Itoa(i)+"]", s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, path, "BUG: cannot decode into %s", v.Type())
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.pairs(n, path, func(key string, _, val *yaml.Node) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, joinKey(path, key), e)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
	})
	v.Set(m)
}

func (d *decoder) scalar(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want %s, got %s", want(v.Kind()), describe(n))
		return
	}
	var err error
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value) // any scalar reads as text: "listen: 8080" means "8080"
	case reflect.Bool:
		var b bool
		if b, err = strconv.ParseBool(n.Value); err == nil && n.Tag == "!!bool" {
			v.SetBool(b)
		} else {
			err = fmt.Errorf("want true or false, got %s", describe(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		err = setInt(n, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		err = setUint(n, v)
	case reflect.Float32, reflect.Float64:
		err = setFloat(n, v)
	case reflect.Interface:
		err = n.Load(v.Addr().Interface())
	default:
		err = fmt.Errorf("BUG: cannot decode into %s", v.Type())
	}
	if err != nil {
		d.errorf(n, path, "%v", err)
	}
}

func want(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Interface:
		return "a value"
	}
	return "an integer"
}

func setInt(n *yaml.Node, v reflect.Value) error {
	i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
	if n.Tag != "!!int" || err != nil {
		if n.Tag == "!!int" {
			return fmt.Errorf("integer %s out of range", n.Value)
		}
		return fmt.Errorf("want an integer, got %s", describe(n))
	}
	v.SetInt(i)
	return nil
}

func setUint(n *yaml.Node, v reflect.Value) error {
	i, err := strconv.ParseUint(n.Value, 0, v.Type().Bits())
	if n.Tag != "!!int" || err != nil {
		return fmt.Errorf("want a non-negative integer, got %s", describe(n))
	}
	v.SetUint(i)
	return nil
}

func setFloat(n *yaml.Node, v reflect.Value) error {
	f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
	if (n.Tag != "!!float" && n.Tag != "!!int") || err != nil {
		return fmt.Errorf("want a number, got %s", describe(n))
	}
	v.SetFloat(f)
	return nil
}
