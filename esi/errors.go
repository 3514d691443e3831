package esi

import (
	"errors"
	"strconv"
)

// Parse errors. A *ParseError wraps one of these; test with errors.Is.
var (
	// ErrPageTooLarge: the page is longer than ParseOptions.MaxPageBytes.
	ErrPageTooLarge = errors.New("page larger than MaxPageBytes")
	// ErrBinary: the body holds a NUL byte, so it is not an HTML/XML template.
	ErrBinary = errors.New("binary body (NUL byte)")
	// ErrUnclosed: an ESI tag, block or <!--esi comment has no end.
	ErrUnclosed = errors.New("unclosed")
	// ErrSyntax: malformed tag, attribute, variable or test expression.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported: an ESI element this processor does not implement (esi:inline, esi:eval, ...).
	ErrUnsupported = errors.New("unsupported element")
	// ErrNesting: blocks nested deeper than ParseOptions.MaxNesting.
	ErrNesting = errors.New("blocks nested deeper than MaxNesting")
)

// Include failures. Assemble reports them in an *IncludeError when no alt,
// onerror="continue" or esi:except absorbed them.
var (
	// ErrHostNotAllowed: an absolute src whose host Config.HostAllowed refused (SSRF guard).
	ErrHostNotAllowed = errors.New("host not allowed")
	// ErrBadSrc: a src that is not a path or http(s) URL, holds control bytes, or climbs above "/".
	ErrBadSrc = errors.New("bad src")
	// ErrDepth: the include is deeper than Config.MaxDepth.
	ErrDepth = errors.New("include deeper than MaxDepth")
	// ErrLoop: the include names a page already in its ancestor chain.
	ErrLoop = errors.New("include loop")
	// ErrTooManyIncludes: the include comes after the template's first
	// MaxIncludes (ParseOptions or Config) in document order.
	ErrTooManyIncludes = errors.New("more includes than MaxIncludes")
	// ErrBudget: the page already made Config.MaxFetches fragment fetches.
	ErrBudget = errors.New("more fetches than MaxFetches")
	// ErrStatus: the fragment's status is not 2xx.
	ErrStatus = errors.New("fragment status not 2xx")
	// ErrFragmentTooLarge: the fragment (decompressed) exceeds Config.MaxFragmentBytes.
	ErrFragmentTooLarge = errors.New("fragment larger than MaxFragmentBytes")
	// ErrNoFragment: the Fetcher returned neither a fragment nor an error.
	ErrNoFragment = errors.New("fetcher returned no fragment")
)

// ParseError is a template error at a byte offset of the page.
type ParseError struct {
	Offset int    // byte offset of the offending tag in the page
	What   string // the construct, e.g. "esi:include", "<!--esi"
	Err    error  // one of the Err* parse errors above
	Detail string // optional detail, e.g. the unknown element's name
}

func (e *ParseError) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "esi: byte "...)
	b = strconv.AppendInt(b, int64(e.Offset), 10)
	b = append(b, ": "...)
	if e.What != "" {
		b = append(b, e.What...)
		b = append(b, ": "...)
	}
	b = append(b, e.Err.Error()...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	return string(b)
}

func (e *ParseError) Unwrap() error { return e.Err }

// IncludeError is an include that failed without a fallback: its src and alt
// (if any) failed, it has no onerror="continue", and no esi:try caught it.
// Per the ESI 1.0 note the whole page then fails.
type IncludeError struct {
	Src    string // the src attribute after variable expansion
	Offset int    // byte offset of the esi:include in its template
	Depth  int    // 1 for includes of the page itself
	Err    error
}

func (e *IncludeError) Error() string {
	return "esi: include " + strconv.Quote(e.Src) + " at byte " + strconv.Itoa(e.Offset) +
		" (depth " + strconv.Itoa(e.Depth) + "): " + e.Err.Error()
}

func (e *IncludeError) Unwrap() error { return e.Err }
