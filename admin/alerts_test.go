package admin

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// The shipped alerting rules name only series /metrics exposes, with the
// labels those series have, and each points at the runbook.
func TestAlertsNameExistingSeries(t *testing.T) {
	data, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	if err := yaml.Load(data, &file); err != nil {
		t.Fatal(err)
	}
	series := regexp.MustCompile(`\b((?:flashgate|go|process)_[a-z0-9_]+)(\{[^}]*\})?`)
	matcher := regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	grouping := regexp.MustCompile(`\b(?:by|on|without|ignoring)\s*\(([^)]*)\)`)
	n := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || !strings.Contains(r.Annotations["runbook"], "docs/operations.md#plan-b") {
				t.Errorf("rule %q: needs alert, expr, a severity and a runbook link", r.Alert)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("%s: unbalanced parentheses in %s", r.Alert, r.Expr)
			}
			// le is a histogram's; instance and job are added by Prometheus
			// to every series it scrapes.
			labels := map[string]bool{"le": true, "instance": true, "job": true}
			found := 0
			for _, m := range series.FindAllStringSubmatch(r.Expr, -1) {
				fam := familyOf(m[1])
				f, ok := families[fam]
				if !ok {
					t.Errorf("%s names %s, which /metrics does not expose", r.Alert, m[1])
					continue
				}
				found++
				for _, l := range strings.Split(f.labels, ",") {
					labels[l] = true
				}
				for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
					if !strings.Contains(","+f.labels+",", ","+lm[1]+",") {
						t.Errorf("%s: %s has no label %q (labels: %s)", r.Alert, fam, lm[1], f.labels)
					}
				}
			}
			if found == 0 {
				t.Errorf("%s names no flashgate series", r.Alert)
			}
			for _, gm := range grouping.FindAllStringSubmatch(r.Expr, -1) {
				for _, l := range strings.Split(gm[1], ",") {
					if l = strings.TrimSpace(l); l != "" && !labels[l] {
						t.Errorf("%s groups by %q, a label none of its series has", r.Alert, l)
					}
				}
			}
		}
	}
	if n < 8 {
		t.Errorf("%d rules; the runbook's Plan B table needs more", n)
	}
}
