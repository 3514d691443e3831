package orders

import (
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics are one queue's counters, labelled by route. A nil *Metrics
// counts nothing.
type Metrics struct {
	queued, duplicate, full, retries *metrics.Counter
	outcomes                         map[Outcome]*metrics.Counter
	statuses                         [6]*metrics.Counter // by status class 1xx..5xx; [0] other
	wait                             *metrics.PrometheusHistogram
}

// waitBuckets are the le bounds of flashgate_orders_wait_seconds: an order
// waits from milliseconds (an idle queue) to its ttl (5m by default).
var waitBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// NewMetrics registers the counters of route's queue in set, and the
// gauges of q: pending jobs, and whether they survive the process
// (flashgate_orders_durable 0: in memory, lost if it dies).
func NewMetrics(set *metrics.Set, route string, q Queue) *Metrics {
	l := `{route=` + strconv.Quote(route)
	m := &Metrics{
		queued:    set.GetOrCreateCounter(`flashgate_orders_queued_total` + l + `}`),
		duplicate: set.GetOrCreateCounter(`flashgate_orders_duplicate_total` + l + `}`),
		full:      set.GetOrCreateCounter(`flashgate_orders_rejected_total` + l + `,reason="queue_full"}`),
		retries:   set.GetOrCreateCounter(`flashgate_orders_retries_total` + l + `}`),
		wait:      set.GetOrCreatePrometheusHistogramExt(`flashgate_orders_wait_seconds`+l+`}`, waitBuckets),
		outcomes:  map[Outcome]*metrics.Counter{},
	}
	for _, o := range []Outcome{Delivered, SoldOut, Expired, Failed} {
		m.outcomes[o] = set.GetOrCreateCounter(`flashgate_orders_outcomes_total` + l + `,outcome="` + string(o) + `"}`)
	}
	for c := range m.statuses {
		class := "other"
		if c > 0 {
			class = strconv.Itoa(c) + "xx"
		}
		m.statuses[c] = set.GetOrCreateCounter(`flashgate_orders_delivered_total` + l + `,status="` + class + `"}`)
	}
	set.GetOrCreateGauge(`flashgate_orders_pending`+l+`}`, func() float64 { return float64(q.Len()) })
	set.GetOrCreateGauge(`flashgate_orders_durable`+l+`}`, func() float64 {
		if q.Durable() {
			return 1
		}
		return 0
	})
	return m
}

// Accepted counts a Submit's result.
func (m *Metrics) Accepted(dup bool, err error) {
	switch {
	case m == nil:
	case err != nil:
		m.full.Inc()
	case dup:
		m.duplicate.Inc()
	default:
		m.queued.Inc()
	}
}

func (m *Metrics) retried() {
	if m != nil {
		m.retries.Inc()
	}
}

func (m *Metrics) observeWait(d time.Duration) {
	if m != nil {
		m.wait.Update(d.Seconds())
	}
}

func (m *Metrics) finished(r Result) {
	if m == nil {
		return
	}
	m.outcomes[r.Outcome].Inc()
	if r.Outcome == Delivered {
		c := r.Status / 100
		if c < 1 || c > 5 {
			c = 0
		}
		m.statuses[c].Inc()
	}
}
