package filters

import (
	"errors"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// Filter is one admission check. Check must be safe for concurrent use,
// must not block (store calls aside), and should allocate nothing.
type Filter interface {
	Check(r *Request) Verdict
}

// Observer is implemented by filters that must see the origin's answer
// (purchase limit: a success; stock gate: sold out, in-flight release).
type Observer interface {
	Observe(r *Request, resp *fasthttp.Response)
}

// Canceler is implemented by filters whose Check reserves state (a purchase
// slot, an in-flight stock slot). When a later filter of the chain rejects,
// Chain.Check cancels the reservations of the filters before it.
type Canceler interface {
	Cancel(r *Request)
}

// Chain is a route's compiled filters, in stage order. It is immutable and
// safe for concurrent use. A nil *Chain has no filters and admits all.
type Chain struct {
	route     string
	filters   []Filter
	names     []string
	observers []Observer
	peekers   []peeker // final filters, asked before an interim refusal (lookahead.go)
}

// Compile builds the chain of route from its "filters:" list, each item a
// one-key map {kind: spec}. Every error is reported (errors.Join), each
// positioned at its item.
//
// Filters must be listed in stage order (window, blocklist/tags, ratelimit,
// quiz, queue, purchase_limit, stock); several of one stage may follow each
// other. Out of order is an error rather than silently reordered, so that
// what the operator reads is what runs.
func Compile(route string, specs []rules.Node, env *Env) (*Chain, error) {
	return CompileWithPages(route, rules.Node{}, specs, env)
}

// CompileWithPages is Compile for a route with its own "pages:" section
// (pagesSpec), which replaces pages of the gateway's for this route's
// refusals and question page. Its errors are reported with the filters'.
func CompileWithPages(route string, pages rules.Node, specs []rules.Node, env *Env) (*Chain, error) {
	c := &Chain{route: route}
	var errs []error
	env.mu.Lock()
	global := env.pageSet
	env.mu.Unlock()
	ps, err := loadPages(pages, global)
	if err != nil {
		return nil, err
	}
	env.notePages(ps)
	last, lastKind := -1, ""
	var holds uint8
	for _, n := range specs {
		name, spec, err := n.Kind()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k, ok := kinds[name]
		if !ok {
			errs = append(errs, n.Errorf(name, "unknown filter kind %q (known: %s)", name, knownKinds()))
			continue
		}
		misplaced := k.stage < last
		if misplaced {
			errs = append(errs, n.Errorf(name, "%q (stage %s) is listed after %q (stage %s); "+
				"filters run in the listed order, which must follow the stage order %s",
				name, stageNames[k.stage], lastKind, stageNames[last], strings.Join(stageNames, " → ")))
		} else {
			last, lastKind = k.stage, name
		}
		// Built even when misplaced, so its own errors are reported too.
		b := &Build{Route: route, Kind: name, Node: spec, Env: env, holds: &holds, pages: ps}
		f, err := k.build(b)
		if err = b.allErrors(err); err != nil {
			errs = append(errs, err)
			continue
		}
		if !misplaced {
			c.add(name, f)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func (c *Chain) add(name string, f Filter) {
	c.filters = append(c.filters, f)
	c.names = append(c.names, name)
	if o, ok := f.(Observer); ok {
		c.observers = append(c.observers, o)
	}
	if p, ok := f.(Peeker); ok {
		c.peekers = append(c.peekers, peeker{p, len(c.filters) - 1})
	}
}

func knownKinds() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Check runs the filters in order and returns the first rejection, counted
// by route, filter and reason, or Continue. A refusal that asks the client
// to come back (a question, the line) gives way to a final one a later
// filter would give (lookahead.go). On a rejection the filters that
// passed before it cancel their reservations.
func (c *Chain) Check(r *Request) Verdict {
	if c == nil {
		return Continue
	}
	for i, f := range c.filters {
		if v := f.Check(r); v.rej != nil {
			v = c.lookAhead(r, i, v)
			v.rej.counter.Inc()
			c.cancel(r, i)
			return v
		}
	}
	return Continue
}

func (c *Chain) cancel(r *Request, upto int) {
	for i := upto - 1; i >= 0; i-- {
		if cf, ok := c.filters[i].(Canceler); ok {
			cf.Cancel(r)
		}
	}
}

// Observe shows the origin's answer to the filters that watch it. For every
// request whose Check returned Continue the proxy must call exactly one of
// Observe (it forwarded the request; also when the origin failed, with resp
// carrying the status the client got, 502 or 504) or Release (it answered
// without the origin: a cache hit, a shed request). Otherwise reserved
// purchase and in-flight stock slots leak until their TTL.
func (c *Chain) Observe(r *Request, resp *fasthttp.Response) {
	if c == nil {
		return
	}
	for _, o := range c.observers {
		o.Observe(r, resp)
	}
}

// Release gives back what Check reserved for a request that will not reach
// the origin after all.
func (c *Chain) Release(r *Request) {
	if c != nil {
		c.cancel(r, len(c.filters))
	}
}

// Observes reports whether the chain has filters that watch the answer; the
// proxy can skip Observe (and must not cache the route's answers) if not.
func (c *Chain) Observes() bool { return c != nil && len(c.observers) > 0 }

// Kinds lists the chain's filter kinds in order, for status pages.
func (c *Chain) Kinds() []string {
	if c == nil {
		return nil
	}
	return append([]string(nil), c.names...)
}

// Build is what a Constructor gets: the filter's place and spec, the Env,
// and helpers that keep state keys, identities and rejections uniform.
type Build struct {
	Route string     // the route's name
	Kind  string     // the filter kind ("ratelimit")
	Node  rules.Node // the spec: the value of {kind: spec}
	Env   *Env

	holds     *uint8   // reservation bits used so far in this chain
	pages     *pageSet // the route's page templates
	decodeErr error    // what Decode found; the constructor still checks the rest
	problems  []error  // value errors Problem recorded
}

// pageSet returns the page templates the filter's pages use.
func (b *Build) pageSet() *pageSet {
	if b.pages != nil {
		return b.pages
	}
	b.Env.mu.Lock()
	defer b.Env.mu.Unlock()
	if b.Env.pageSet != nil {
		return b.Env.pageSet
	}
	return builtinPages
}

// HoldBit allocates the bit a reserving filter passes to Request.Hold and
// Request.Release. A chain has at most 8.
func (b *Build) HoldBit() (uint8, error) {
	if *b.holds == 0xff {
		return 0, b.Errorf("", "a route can have at most 8 filters that reserve state")
	}
	bit := ^*b.holds & (*b.holds + 1) // lowest clear bit
	*b.holds |= bit
	return bit, nil
}

// Decode decodes the spec strictly into v (unknown keys and bad values
// are errors). It keeps its errors for Compile and returns nil, so the
// constructor goes on to check the values that did decode: one run
// reports every error of the spec (`flashgate -check` promises it). A
// value that failed to decode is left zero.
func (b *Build) Decode(v any) error {
	b.decodeErr = b.Node.Decode(v)
	return nil
}

// Problem records an error in the value at key and lets the constructor
// go on checking the values that do not depend on it, so that one run
// reports every error of the spec. The constructor returns b.Problems()
// where it cannot go on (and at its end).
func (b *Build) Problem(key, format string, args ...any) {
	b.problems = append(b.problems, b.Errorf(key, format, args...))
}

// Problems returns the errors Problem recorded, joined, or nil.
func (b *Build) Problems() error { return errors.Join(b.problems...) }

// allErrors joins what Decode found, what Problem recorded and the
// constructor's own error (which may be Problems()), each once; an error
// naming a key Decode already reported is dropped (a value that did not
// decode is zero, and the constructor's complaint about it is noise).
func (b *Build) allErrors(err error) error {
	var des rules.Errors
	errors.As(b.decodeErr, &des)
	reported := func(e error) bool {
		var re *rules.Error
		if !errors.As(e, &re) {
			return false
		}
		for _, d := range des {
			if d.Path == re.Path || strings.HasPrefix(d.Path, re.Path+".") {
				return true
			}
		}
		return false
	}
	out := []error{b.decodeErr}
	seen := map[error]bool{}
	for _, e := range append(append([]error{}, b.problems...), leaves(err)...) {
		if e != nil && !seen[e] && !reported(e) {
			seen[e] = true
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// leaves flattens errors.Join trees into their parts.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// Errorf returns an error positioned at the spec's key (or the spec).
func (b *Build) Errorf(key, format string, args ...any) error {
	return b.Node.Errorf(key, format, args...)
}

// StateID returns the ID of this filter's state. meaning lists the settings
// that give the state its meaning (identity source, scope), never tunables
// such as rates. Two filters of one kind with the same meaning on one route
// get distinct IDs in list order.
func (b *Build) StateID(meaning ...string) StateID {
	h := HashString(strings.Join(meaning, "\x00"))
	e := b.Env
	e.mu.Lock()
	seen := e.seen[b.Route+"\x00"+b.Kind]
	if seen == nil {
		seen = map[uint64]int{}
		e.seen[b.Route+"\x00"+b.Kind] = seen
	}
	n := seen[h]
	seen[h]++
	e.mu.Unlock()
	return StateID{Route: b.Route, Kind: b.Kind, Fingerprint: Mix(h, uint64(n))}
}

// GroupStateID is StateID for state shared by every route that names the
// same group: a web route and an app API route to one buy handler must
// meet one stock count and one purchase limit. An empty group is StateID.
func (b *Build) GroupStateID(group string, meaning ...string) StateID {
	if group == "" {
		return b.StateID(meaning...)
	}
	return StateID{Route: "group:" + group, Kind: b.Kind, Fingerprint: HashString(strings.Join(meaning, "\x00"))}
}

// Reject prebuilds a rejection of this filter, using the operator's page
// for s.Reason if admission.pages names one.
func (b *Build) Reject(s RejectSpec) (*Rejection, error) {
	rj, err := b.newRejection(s)
	if err != nil {
		return nil, b.Errorf("", "%v", err)
	}
	return rj, nil
}
