package cluster

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// health is the Redis store's breaker: consecutive failed calls open it
// (down), and only the background probe closes it again, so that while
// Redis is down no request pays a timeout. A hand-written pair of atomics
// rather than sony/gobreaker: gobreaker's half-open state lets requests
// through as probes, each of which may wait the whole timeout, and its
// Execute takes a mutex per call; here the hot path is one atomic load.
type health struct {
	down      atomic.Bool
	fails     atomic.Int32
	threshold int32
	since     atomic.Int64 // unix nanos of the last change
	instances atomic.Int64
	openViews atomic.Bool // some view answers by Open: say what is unenforced
	lastErr   atomic.Pointer[string]
	wake      chan struct{} // nudges the probe when the breaker opens
	up        *metrics.Gauge
	changes   *metrics.Counter
	log       *slog.Logger
}

func (h *health) init(threshold int, set *metrics.Set, log *slog.Logger) {
	h.threshold = int32(threshold)
	h.since.Store(time.Now().UnixNano())
	h.instances.Store(1)
	h.wake = make(chan struct{}, 1)
	h.log = log
	h.up = set.GetOrCreateGauge(`flashgate_cluster_redis_up`, func() float64 {
		if h.down.Load() {
			return 0
		}
		return 1
	})
	h.changes = set.GetOrCreateCounter(`flashgate_cluster_redis_state_changes_total`)
}

func (h *health) succeeded() {
	if h.fails.Load() != 0 {
		h.fails.Store(0)
	}
}

// failed counts a failed call; the one that reaches the threshold opens
// the breaker and logs it, once.
func (h *health) failed(err error) {
	msg := err.Error()
	h.lastErr.Store(&msg)
	if h.fails.Add(1) < h.threshold || !h.down.CompareAndSwap(false, true) {
		return
	}
	h.since.Store(time.Now().UnixNano())
	h.changes.Inc()
	h.log.LogAttrs(context.Background(), slog.LevelError,
		"redis unreachable: shared state answered by on_failure policy until it returns",
		slog.String("error", msg), slog.Int("failed_calls", int(h.threshold)))
	if h.openViews.Load() {
		h.log.LogAttrs(context.Background(), slog.LevelError,
			"on_failure: open: limits of the filters under it (purchase limits and stock counts included) are NOT enforced "+
				"until redis returns; each such attempt is counted in flashgate_cluster_unenforced_total")
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// recovered closes the breaker after a successful probe.
func (h *health) recovered() {
	h.fails.Store(0)
	if !h.down.CompareAndSwap(true, false) {
		return
	}
	h.since.Store(time.Now().UnixNano())
	h.changes.Inc()
	h.log.LogAttrs(context.Background(), slog.LevelInfo, "redis reachable again: shared state back in redis")
}
