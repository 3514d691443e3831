package rules

import (
	"errors"
	"slices"

	"go.yaml.in/yaml/v4"

	"flashgate/route"
)

// buildRoutes validates every route of every file. Names are the routes'
// identity across reloads (their limiter buckets, queues and caches are
// keyed by them), so they are required and unique.
func (l *loader) buildRoutes(origins []string, fold bool) []*Route {
	var out []*Route
	byName := map[string]*Route{}
	nodes := map[*Route]Node{}
	for _, n := range l.routes {
		r := l.buildRoute(n, origins)
		if r == nil {
			continue
		}
		nodes[r] = n
		if first := byName[r.Name]; first != nil && r.Name != "" {
			l.errs.add(n.Errorf("name", "duplicate route name %q (also at %s)", r.Name, first.Pos))
		} else {
			byName[r.Name] = r
		}
		out = append(out, r)
	}
	l.checkOverlaps(out, nodes, fold)
	return out
}

func (l *loader) buildRoute(n Node, origins []string) *Route {
	var s routeSpec
	if err := n.Decode(&s); err != nil {
		l.addErr(err)
		if n.n == nil || resolve(n.n).Kind != yaml.MappingNode {
			return nil // "want a mapping" says it all
		}
	}
	r := &Route{
		Name: s.Name, Host: string(s.Host), Methods: s.Methods, Path: s.Path, Origin: s.Origin,
		HostRewrite: string(s.HostRewrite), Timeout: s.Timeout.Duration(), MaxBodyBytes: s.MaxBodySize.Bytes(),
		Cache: s.Cache, ESI: s.ESI, Filters: s.Filters, Fallback: s.Fallback, Pages: s.Pages, Pos: n.Pos(),
	}
	r.Async = l.buildAsync(n.Get("async"))
	r.Priority = l.buildPriority(n, s.Priority)
	r.Bulkhead = s.Bulkhead
	l.nonNegative(n, "bulkhead", s.Bulkhead)
	switch {
	case s.Name == "":
		l.errs.add(n.Errorf("name", "missing: every route needs a unique name (state such as rate limits is kept by it)"))
	case !validName(s.Name):
		l.errs.add(n.Errorf("name", "bad route name %q: want letters, digits, '_', '-' or '.'", s.Name))
	}
	l.checkPath(n, r)
	switch {
	case s.Origin == "":
		l.errs.add(n.Errorf("origin", "missing: want one of: %s", list(origins)))
	case !slices.Contains(origins, s.Origin):
		l.errs.add(n.Errorf("origin", "unknown origin %q (known: %s)", s.Origin, list(origins)))
	}
	l.checkMethods(n.Get("methods"), s.Methods)
	for _, f := range s.Filters {
		if _, _, err := f.Kind(); err != nil {
			l.addErr(Errors{err.(*Error)})
		}
	}
	return r
}

func (l *loader) checkPath(n Node, r *Route) {
	if r.Path == "" {
		l.errs.add(n.Errorf("path", `missing: want a path pattern such as "/item/{id}"`))
		return
	}
	p, err := route.Parse(r.Path)
	if err != nil {
		l.errs.add(n.Errorf("path", "%v", err))
		return
	}
	r.Pattern = p
}

func (l *loader) checkMethods(n Node, methods []string) {
	for i, m := range methods {
		switch {
		case !slices.Contains(knownMethods, m):
			l.errs.add(n.Index(i).Errorf("", "unknown method %q (known: %s)", m, list(knownMethods)))
		case slices.Index(methods, m) < i:
			l.errs.add(n.Index(i).Errorf("", "method %s listed twice", m))
		}
	}
}

// checkOverlaps reports routes that would match the same requests, using
// the route table itself so that -check and the runtime agree. NewTable
// stops at the first duplicate, so the later route is set aside and the
// table rebuilt until none is left.
func (l *loader) checkOverlaps(routes []*Route, nodes map[*Route]Node, fold bool) {
	var entries []route.Entry
	var owners []*Route
	for _, r := range routes {
		if r.Pattern != nil {
			entries = append(entries, route.Entry{Host: r.Host, Methods: r.Methods, Pattern: r.Pattern})
			owners = append(owners, r)
		}
	}
	for {
		_, err := route.NewTable(entries, fold)
		var dup *route.DuplicateError
		if !errors.As(err, &dup) {
			return
		}
		a, b := owners[dup.Other], owners[dup.Index]
		what := "every method"
		if dup.Method != "" {
			what = "method " + dup.Method
		}
		l.errs.add(nodes[b].Errorf("path", "route %q matches the same requests as route %q (%s) for %s", b.Name, a.Name, a.Pos, what))
		entries = slices.Delete(entries, dup.Index, dup.Index+1)
		owners = slices.Delete(owners, dup.Index, dup.Index+1)
	}
}
