package filters

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// quantitySpec is the optional "quantity" of purchase_limit and stock: where
// the request says how many units one purchase takes, so a purchase of n
// units counts n. Exactly one source:
//
//	quantity: {form: qty, max: 5}       # query string or url-encoded body (what FormValue reads)
//	quantity: {query: qty, max: 5}      # query string only
//	quantity: {header: X-Quantity, max: 5}
//
// Without it every purchase counts 1, whatever quantity the origin reads.
type quantitySpec struct {
	Query  string `yaml:"query"`
	Form   string `yaml:"form"`
	Header string `yaml:"header"`
	Max    int    `yaml:"max"`
}

// maxQuantity bounds quantity.max: far above any real per-order limit,
// far below what could overflow a counter.
const maxQuantity = 1_000_000

// quantity reads a request's units. The zero value counts every request as
// 1. Immutable after compile.
type quantity struct {
	src  byte // 0 none, 'q' query, 'f' query and url-encoded body, 'h' header
	name []byte
	max  int64
}

var formContentType = []byte("multipart/form-data")

// quantity compiles spec, positioning errors under key ("quantity").
func (b *Build) quantity(spec quantitySpec, key string) (quantity, error) {
	var q quantity
	n := 0
	for _, s := range []struct {
		src  byte
		name string
	}{{'q', spec.Query}, {'f', spec.Form}, {'h', spec.Header}} {
		if s.name != "" {
			q.src, q.name = s.src, []byte(s.name)
			n++
		}
	}
	switch {
	case n == 0 && spec.Max == 0:
		return q, nil
	case n != 1:
		return q, b.Errorf(key, "name exactly one of query, form or header")
	case spec.Max < 1 || spec.Max > maxQuantity:
		return q, b.Errorf(key+".max", "must be within 1..%d (the most units one purchase may take), got %d", maxQuantity, spec.Max)
	}
	q.max = int64(spec.Max)
	return q, nil
}

// units returns how many units r's purchase takes: 1 when no source is
// configured or the quantity is absent or empty (as origins default it);
// ok is false when it is not a decimal number within 1..max, is given more
// than once (origins disagree on which one counts), or, for a form source,
// the body is multipart (not parsed at the edge). The request must not
// change between Check and Observe: both call units. 0 allocs.
func (q *quantity) units(r *Request) (n int64, ok bool) {
	if q.src == 0 {
		return 1, true
	}
	req := &r.Ctx.Request
	var v []byte
	seen := 0
	count := func(args *fasthttp.Args) {
		for k, val := range args.All() {
			if bytes.Equal(k, q.name) {
				v = val
				seen++
			}
		}
	}
	switch q.src {
	case 'q':
		count(r.Ctx.QueryArgs())
	case 'f':
		if ct := req.Header.ContentType(); len(ct) >= len(formContentType) &&
			bytes.EqualFold(ct[:len(formContentType)], formContentType) {
			return 0, false
		}
		count(r.Ctx.QueryArgs())
		count(req.PostArgs())
	case 'h':
		for k, val := range req.Header.All() {
			if bytes.EqualFold(k, q.name) {
				v = val
				seen++
			}
		}
	}
	switch {
	case seen > 1:
		return 0, false
	case len(v) == 0:
		return 1, true
	}
	return parseUnits(v, q.max)
}

// parseUnits parses a decimal count within 1..max; no sign, no spaces.
func parseUnits(v []byte, max int64) (int64, bool) {
	if len(v) > 9 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n >= 1 && n <= max
}
