package admin

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// docs/metrics.md lists exactly the families of the table, with their
// types and labels.
func TestMetricsDocMatchesTable(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\w+) \\| ([^|]+) \\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		name, typ := m[1], m[2]
		labels := strings.NewReplacer("`", "", " ", "", "—", "").Replace(m[3])
		documented[name] = true
		f, ok := families[name]
		switch {
		case !ok:
			t.Errorf("docs/metrics.md lists %s, which /metrics does not expose", name)
		case f.typ != typ || f.labels != labels:
			t.Errorf("docs/metrics.md: %s is %s {%s}; the table says %s {%s}", name, typ, labels, f.typ, f.labels)
		}
	}
	for name := range families {
		if !documented[name] {
			t.Errorf("docs/metrics.md does not list %s", name)
		}
	}
}

// Every family /metrics exposes is in the table, with HELP and TYPE once,
// its samples together and labelled as documented; under traffic the
// series the dashboard and the alerts read are there.
func TestMetricsAllDocumented(t *testing.T) {
	g := startGateway(t, "127.0.0.1:0", testToken)
	call(t, "GET", g.public+"/item/1", "", "")
	call(t, "GET", g.public+"/item/1", "", "")
	call(t, "POST", g.public+"/buy/7", "", "")
	page := call(t, "GET", g.admin+"/metrics", "", "")
	if ct := page.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	help, typ := map[string]int{}, map[string]int{}
	done := map[string]bool{}
	current := ""
	for _, line := range strings.Split(strings.TrimSpace(page.body), "\n") {
		if f, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(f, " ")
			help[name]++
			if text == "" || text == "Undocumented." {
				t.Errorf("%s has no help text", name)
			}
			if done[name] {
				t.Errorf("%s: samples not together", name)
			}
			if current != "" {
				done[current] = true
			}
			current = name
			continue
		}
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(f, " ")
			typ[name]++
			if fam, ok := families[name]; !ok || fam.typ != kind {
				t.Errorf("TYPE %s %s; the table says %q", name, kind, fam.typ)
			}
			continue
		}
		name, labels, _ := parseSample(line)
		fam := familyOf(name)
		if fam != current {
			t.Errorf("sample %q is not under its family's HELP (%s)", line, current)
		}
		var keys []string
		for k := range labels {
			if k != "le" && k != "quantile" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		want := strings.Split(families[fam].labels, ",")
		if families[fam].labels == "" || families[fam].labels == "quantile" {
			want = nil
		}
		sort.Strings(want)
		if !slices.Equal(keys, want) {
			t.Errorf("%s has labels %v, documented %v", line, keys, want)
		}
	}
	for name, n := range help {
		if n != 1 || typ[name] != 1 {
			t.Errorf("%s: %d HELP and %d TYPE lines, want 1 each", name, n, typ[name])
		}
	}
	for _, want := range []string{
		"flashgate_request_duration_seconds", "flashgate_requests_total", "flashgate_origin_duration_seconds",
		"flashgate_origin_server_in_flight", "flashgate_origin_server_errors_total", "flashgate_origin_requests_total", "flashgate_filter_rejections_total",
		"flashgate_cache_requests_total", "flashgate_cache_items", "flashgate_cache_bytes", "flashgate_queue_waiting",
		"flashgate_queue_admissions_total", "flashgate_stock_left", "flashgate_stock_sold_out", "flashgate_esi_errors_total",
		"flashgate_reload_total", "flashgate_reload_last_ok", "go_goroutines", "process_resident_memory_bytes",
	} {
		if help[want] == 0 {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(page.body, `flashgate_request_duration_seconds_bucket{route="item",class="2xx",le="0.0005"}`) {
		t.Errorf("no latency histogram for route item")
	}
	if !strings.Contains(page.body, `flashgate_stock_left{route="buy",item="7"} 1`) {
		t.Errorf("stock_left of buy/7 is not 1 after one of 2 units was taken")
	}
}
