package proxy

import (
	"io"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/origin"
)

// Metrics holds the gateway's Prometheus metrics in its own metrics.Set
// (not the library's global one), so that several Servers in one process,
// as in tests, do not share counters. Safe for concurrent use.
type Metrics struct {
	set           *metrics.Set
	reloads       *metrics.Counter // flashgate_reload_total: attempts that found a change
	reloadErrors  *metrics.Counter // flashgate_reload_errors_total
	lastSuccess   *metrics.Gauge   // flashgate_reload_last_success_timestamp_seconds
	accessDropped *metrics.Counter // flashgate_access_log_dropped_total
	esiErrors     *metrics.Counter // flashgate_esi_errors_total
	edge          statusCounters   // answers given before a route matched
	gateway       statusCounters   // /_flashgate/* endpoints

	// flashgate_esi_template_errors_total and the once-per-URL log (esi_errors.go)
	esiTemplates *esiTemplateErrors
}

// NewMetrics returns an empty metric set with the gateway's fixed metrics.
func NewMetrics() *Metrics {
	s := metrics.NewSet()
	return &Metrics{
		set:           s,
		reloads:       s.NewCounter("flashgate_reload_total"),
		reloadErrors:  s.NewCounter("flashgate_reload_errors_total"),
		lastSuccess:   s.NewGauge("flashgate_reload_last_success_timestamp_seconds", nil),
		accessDropped: s.NewCounter("flashgate_access_log_dropped_total"),
		esiErrors:     s.NewCounter("flashgate_esi_errors_total"),
		edge:          newStatusCounters(s, "_edge"),
		gateway:       newStatusCounters(s, "_gateway"),
		esiTemplates:  newESITemplateErrors(s),
	}
}

// Set returns the underlying set, for packages that add their own metrics.
func (m *Metrics) Set() *metrics.Set { return m.set }

// WritePrometheus writes every metric in Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) { m.set.WritePrometheus(w) }

// statusCounters is flashgate_requests_total{route, class} and
// flashgate_request_duration_seconds{route, class} for one route, indexed
// by status/100 (index 0 holds anything outside 1xx..5xx). Created once
// per route name at compile time (the set dedups by name, so a recompile
// shares them), so recording allocates nothing.
type statusCounters struct {
	count   [6]*metrics.Counter
	latency [6]*metrics.PrometheusHistogram
}

// LatencyBuckets are the bounds of the request latency histograms, the
// same as the origin calls' (origin.LatencyBuckets).
var LatencyBuckets = origin.LatencyBuckets

func newStatusCounters(s *metrics.Set, routeName string) statusCounters {
	var c statusCounters
	for i, class := range [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		labels := `{route="` + routeName + `",class="` + class + `"}`
		c.count[i] = s.GetOrCreateCounter(`flashgate_requests_total` + labels)
		c.latency[i] = s.GetOrCreatePrometheusHistogramExt(`flashgate_request_duration_seconds`+labels, LatencyBuckets)
	}
	return c
}

func statusIndex(status int) int {
	i := status / 100
	if i < 1 || i > 5 {
		i = 0
	}
	return i
}

func (c *statusCounters) inc(status int) { c.count[statusIndex(status)].Inc() }

// timedEvery is the sampling of the request latency histograms: one
// answer in timedEvery of each route and class is timed. Timing needs a
// clock read at the handler's end, ≈80 ns on the bench box, ~10% of a
// cache hit; one in 16 costs 5 ns a request and still gives a histogram
// per route and class that fills in seconds under sale traffic.
const timedEvery = 16

// counted counts an answer and reports whether to time it: the first of
// each route and class, then every timedEvery-th.
func (c *statusCounters) counted(status int) bool {
	i := statusIndex(status)
	c.count[i].Inc()
	return c.count[i].Get()%timedEvery == 1
}

// observe records the time from a request's receipt to its handler's end.
func (c *statusCounters) observe(status int, nanos int64) {
	c.latency[statusIndex(status)].Update(float64(nanos) / 1e9)
}
