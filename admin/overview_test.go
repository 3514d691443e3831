package admin

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseSample(t *testing.T) {
	for _, tc := range []struct {
		line, name string
		labels     map[string]string
		value      string
	}{
		{`flashgate_reload_total 3`, "flashgate_reload_total", map[string]string{}, "3"},
		{`a{route="buy",class="2xx"} 1.5`, "a", map[string]string{"route": "buy", "class": "2xx"}, "1.5"},
		{`a{item="say \"hi\"\\n",x="\n"} 2`, "a", map[string]string{"item": "say \"hi\"\\n", "x": "\n"}, "2"},
		{`b_bucket{le="+Inf"} 7`, "b_bucket", map[string]string{"le": "+Inf"}, "7"},
	} {
		name, labels, rest := parseSample(strings.ReplaceAll(tc.line, "\n", `\n`))
		if name != tc.name || strings.TrimSpace(rest) != tc.value || len(labels) != len(tc.labels) {
			t.Errorf("%q: %q %v %q", tc.line, name, labels, rest)
			continue
		}
		for k, v := range tc.labels {
			if labels[k] != v {
				t.Errorf("%q: label %s = %q, want %q", tc.line, k, labels[k], v)
			}
		}
	}
	for _, bad := range []string{`a{route="buy} 1`, `a{route=buy} 1`, `a{`, `noval`} {
		if name, _, _ := parseSample(bad); name != "" {
			t.Errorf("%q parsed as %q", bad, name)
		}
	}
}

// FuzzParseSample: whatever the label value, a sample written as /metrics
// writes it (quote) reads back to the same value; no input panics.
func FuzzParseSample(f *testing.F) {
	for _, s := range []string{"buy", `a"b`, `back\slash`, "new\nline", "", "ünïcode", `\n`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		parseSample(v) // arbitrary lines must not panic
		line := `m{k=` + quote(v) + `,z="1"} 42`
		name, labels, rest := parseSample(line)
		if name != "m" || labels["k"] != v || labels["z"] != "1" {
			t.Fatalf("%q: name %q labels %q", line, name, labels)
		}
		if n, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err != nil || n != 42 {
			t.Fatalf("%q: value %q", line, rest)
		}
	})
}
