package admin

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/proxy"
)

// metrics serves GET /metrics in Prometheus text format.
func (a *Admin) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	WriteMetrics(w, a.gw, a.version)
}

// WriteMetrics writes every metric of gw, grouped by family, each family
// with its HELP and TYPE lines from the families table: the counters and
// histograms the gateway keeps, the gauges read now (queues, stock,
// origin in-flight) and a few process series. `flashgate -metrics`
// serves the same page.
func WriteMetrics(w io.Writer, gw *proxy.Server, version string) {
	var raw bytes.Buffer
	gw.WritePrometheus(&raw)
	writeLiveGauges(&raw, gw, version)
	metrics.WriteProcessMetrics(&raw)
	metrics.WriteFDMetrics(&raw)
	writeFamilies(w, raw.Bytes())
}

// writeLiveGauges writes the series read from the gateway's state at
// scrape time. Label values come from the rules (routes, items with a
// stock number, queues, origin servers), so they are bounded.
func writeLiveGauges(w io.Writer, gw *proxy.Server, version string) {
	metrics.WriteGaugeUint64(w, `flashgate_build_info{version=`+quote(version)+`}`, 1)
	metrics.WriteGaugeUint64(w, "flashgate_reload_last_ok", b2u(gw.LastReload().OK))
	for _, q := range gw.Queues() {
		l := `{queue=` + quote(q.Name) + `}`
		metrics.WriteGaugeUint64(w, "flashgate_queue_waiting"+l, uint64(q.Waiting))
		metrics.WriteGaugeUint64(w, "flashgate_queue_active"+l, uint64(q.Active))
		metrics.WriteGaugeFloat64(w, "flashgate_queue_admit_rate"+l, q.AdmitRate)
		metrics.WriteGaugeUint64(w, "flashgate_queue_paused"+l, b2u(q.Paused))
		metrics.WriteCounterUint64(w, "flashgate_queue_admissions_total"+l, q.Admitted)
	}
	for _, it := range gw.Items() {
		l := `{route=` + quote(it.Route) + `,item=` + quote(it.Item) + `}`
		metrics.WriteGaugeUint64(w, "flashgate_stock_units"+l, uint64(max(0, it.Stock)))
		metrics.WriteGaugeUint64(w, "flashgate_stock_left"+l, uint64(it.Left))
		metrics.WriteGaugeUint64(w, "flashgate_stock_sold_out"+l, b2u(it.SoldOut))
	}
	for _, o := range gw.OriginServers() {
		l := `{origin=` + quote(o.Origin) + `,server=` + quote(o.Server) + `}`
		metrics.WriteGaugeUint64(w, "flashgate_origin_server_in_flight"+l, uint64(max(0, o.InFlight)))
		metrics.WriteGaugeUint64(w, "flashgate_origin_max_conns"+l, uint64(o.MaxConns))
	}
}

// writeFamilies regroups the samples of raw by family (several metric sets
// write into raw, and Prometheus wants a family's samples together) and
// writes each documented family with HELP and TYPE. Samples of families
// the table does not list are dropped unless they are flashgate's own
// (then they are written untyped, and TestMetricsAllDocumented fails).
func writeFamilies(w io.Writer, raw []byte) {
	var order []string
	samples := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fam := familyOf(sampleName(line))
		if _, ok := families[fam]; !ok && !strings.HasPrefix(fam, "flashgate_") {
			continue
		}
		if _, seen := samples[fam]; !seen {
			order = append(order, fam)
		}
		samples[fam] = append(samples[fam], line)
	}
	bw := bufio.NewWriter(w)
	for _, fam := range order {
		f, ok := families[fam]
		if !ok {
			f = family{typ: "untyped", help: "Undocumented."}
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", fam, f.help, fam, f.typ)
		for _, s := range samples[fam] {
			bw.WriteString(s)
			bw.WriteByte('\n')
		}
	}
	_ = bw.Flush()
}

// sampleName is the metric name of a sample line.
func sampleName(line string) string {
	if i := strings.IndexAny(line, "{ "); i >= 0 {
		return line[:i]
	}
	return line
}

// familyOf maps a sample name to its family: a histogram's _bucket, _sum
// and _count samples (and a summary's _sum and _count) belong to it.
func familyOf(name string) string {
	if _, ok := families[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && (f.typ == "histogram" || f.typ == "summary") {
				return base
			}
		}
	}
	return name
}

// quote writes a label value as Prometheus' text format escapes it.
func quote(v string) string {
	return `"` + labelEscaper.Replace(v) + `"`
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
