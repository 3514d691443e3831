package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// String formats p as "file:line:col", or just "file" when the line is
// unknown (a file that could not be read at all).
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem in a rule file, positioned at the offending key or
// value. Path names the key, e.g. "routes[2].origin".
type Error struct {
	Pos  Pos
	Path string
	Msg  string
}

// Error returns "file:line:col: path: msg".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Path + ": " + e.Msg
}

// Errors is every problem found in one load, in file order (main file
// first, then includes), then by position.
type Errors []*Error

// Error returns one error per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// errorList collects errors while loading; the zero value is ready.
type errorList struct {
	errs Errors
}

func (l *errorList) add(e *Error) { l.errs = append(l.errs, e) }

func (l *errorList) addAll(err error) {
	if es, ok := err.(Errors); ok {
		l.errs = append(l.errs, es...)
		return
	}
	if err != nil {
		l.errs = append(l.errs, &Error{Msg: err.Error()})
	}
}

// result sorts the errors by file (in the order files were read), line and
// column, and returns nil when there are none.
func (l *errorList) result(fileOrder []string) error {
	if len(l.errs) == 0 {
		return nil
	}
	rank := func(file string) int {
		if i := slices.Index(fileOrder, file); i >= 0 {
			return i
		}
		return len(fileOrder)
	}
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(rank(a.Pos.File), rank(b.Pos.File)),
			cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return l.errs
}
