package cache

import "github.com/VictoriaMetrics/metrics"

// cacheMetrics are the cache's counters; each Inc is one atomic add.
type cacheMetrics struct {
	set                         *metrics.Set
	byState                     [numStates]*metrics.Counter
	coalesced, stored, refused  *metrics.Counter
	hitForMiss, originErrors    *metrics.Counter
	staleOnError, evictions     *metrics.Counter
	revalidated304, revalidated *metrics.Counter
	purges, purged              *metrics.Counter
	notModified                 *metrics.Counter
}

func newCacheMetrics(s *metrics.Set, c *Cache) *cacheMetrics {
	m := &cacheMetrics{set: s}
	for st := State(0); st < numStates; st++ {
		m.byState[st] = s.NewCounter(`flashgate_cache_requests_total{result="` + st.lower() + `"}`)
	}
	m.coalesced = s.NewCounter("flashgate_cache_coalesced_total")
	m.stored = s.NewCounter("flashgate_cache_stores_total")
	m.refused = s.NewCounter("flashgate_cache_uncacheable_total")
	m.hitForMiss = s.NewCounter("flashgate_cache_hit_for_miss_total")
	m.originErrors = s.NewCounter("flashgate_cache_origin_errors_total")
	m.staleOnError = s.NewCounter("flashgate_cache_stale_if_error_total")
	m.evictions = s.NewCounter("flashgate_cache_evictions_total")
	m.revalidated304 = s.NewCounter(`flashgate_cache_revalidations_total{result="not_modified"}`)
	m.revalidated = s.NewCounter(`flashgate_cache_revalidations_total{result="replaced"}`)
	m.purges = s.NewCounter("flashgate_cache_purges_total")
	m.purged = s.NewCounter("flashgate_cache_purged_entries_total")
	m.notModified = s.NewCounter("flashgate_cache_client_not_modified_total")
	s.NewGauge("flashgate_cache_bytes", func() float64 { return float64(c.UsedBytes()) })
	s.NewGauge("flashgate_cache_items", func() float64 { return float64(c.Items()) })
	return m
}
