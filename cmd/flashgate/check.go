package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"flashgate/proxy"
	"flashgate/route"
	"flashgate/rules"
)

// checkRules runs the same load and compile as a reload, without
// listening, and prints every error: those of loading (syntax, keys,
// origins, paths) and those of compiling (filters, cache, ESI), in one
// run, whatever file each is in.
func checkRules(path string, stdout, stderr io.Writer) int {
	cfg, err := rules.LoadPartial(path)
	if cfg != nil {
		if err == nil {
			err = proxy.Check(cfg)
		} else if cerr := proxy.Check(compilable(cfg)); cerr != nil {
			err = joinLines(err, cerr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range append(proxy.IdentityWarnings(cfg), proxy.HotspotWarnings(cfg)...) {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// compilable returns a copy of a Config that failed to load, with what
// loading already reported made harmless, so the compile reports only its
// own errors: a route without a usable pattern gets a unique placeholder,
// a route naming an unknown origin takes a known one, a second route of
// the same name is renamed, an unknown server.unmatched becomes deny.
func compilable(cfg *rules.Config) *rules.Config {
	c := *cfg
	known := make([]string, 0, len(c.Origins))
	for _, o := range c.Origins {
		known = append(known, o.Name)
	}
	if !slices.Contains(known, c.Server.Unmatched) {
		c.Server.Unmatched = "deny"
	}
	c.Routes = make([]*rules.Route, 0, len(cfg.Routes))
	seen := map[string]bool{}
	for i, r := range cfg.Routes {
		rc := *r
		if rc.Pattern == nil {
			p, err := route.Parse(fmt.Sprintf("/_flashgate_check/%d", i))
			if err != nil {
				panic("BUG: placeholder pattern: " + err.Error())
			}
			rc.Pattern = p
		}
		if !slices.Contains(known, rc.Origin) {
			if len(known) == 0 {
				continue // nothing to compile it against; loading said why
			}
			rc.Origin = known[0]
		}
		for seen[rc.Name] {
			rc.Name += "~"
		}
		if overlaps(c.Routes, &rc, cfg.Server.CaseInsensitive) {
			continue // a second route for the same requests: loading said so
		}
		seen[rc.Name] = true
		c.Routes = append(c.Routes, &rc)
	}
	return &c
}

// overlaps reports whether r matches requests one of routes already does,
// as the route table would refuse it.
func overlaps(routes []*rules.Route, r *rules.Route, caseInsensitive bool) bool {
	entries := make([]route.Entry, 0, len(routes)+1)
	for _, o := range append(routes, r) {
		entries = append(entries, route.Entry{Host: o.Host, Methods: o.Methods, Pattern: o.Pattern})
	}
	_, err := route.NewTable(entries, caseInsensitive)
	return err != nil
}

// joinLines reports the lines of a and then those of b not already in a.
func joinLines(a, b error) error {
	have := map[string]bool{}
	for _, l := range strings.Split(a.Error(), "\n") {
		have[l] = true
	}
	var extra []string
	for _, l := range strings.Split(b.Error(), "\n") {
		if !have[l] {
			extra = append(extra, l)
		}
	}
	if len(extra) == 0 {
		return a
	}
	return errors.New(a.Error() + "\n" + strings.Join(extra, "\n"))
}
