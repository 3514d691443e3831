package proxy

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"flashgate/origin"
	"flashgate/rules"
)

// Env is the state that outlives snapshots: origin pools (connections and
// health), metrics, and the seams through which later stages will find
// their stores. A pool is keyed by its origin's name and a fingerprint of
// its settings, so a reload that leaves an origin unchanged reuses the
// pool (health state and keep-alive connections survive) while a changed
// origin gets a fresh one. Safe for concurrent use.
type Env struct {
	Metrics *Metrics
	log     *slog.Logger
	ticker  origin.TickerFunc
	dial    func(addr string) (net.Conn, error)
	now     func() time.Time // nil: time.Now
	// passive Envs (Compile with a nil Env, as -check does) start no
	// goroutines and contact no server.
	passive bool

	mu    sync.Mutex
	pools map[poolKey]*origin.Pool
	rc    responseCache // the process-lifetime response cache, see cache_stage.go
	adm   admissionEnv  // filter state store and filters.Env, see admission_env.go
	async asyncEnv      // route purchase queues, see async_stage.go
	prot  protectEnv    // switches, hot-key detectors, bulkheads: protect_env.go
	cl    clusterEnv    // the Redis instances share, see cluster.go
}

// TickerFunc starts health-check tickers (see origin.TickerFunc).
type TickerFunc = origin.TickerFunc

type poolKey struct {
	name string
	fp   [32]byte
}

// EnvOptions configures NewEnv. Zero fields get defaults: a new Metrics, the
// default slog logger, real tickers.
type EnvOptions struct {
	Metrics *Metrics
	Logger  *slog.Logger
	// Ticker starts health-check tickers; tests inject one they drive.
	Ticker origin.TickerFunc
	// Dial, when set, opens every origin connection instead of TCP (with
	// the origin's connect timeout): for in-memory origins in tests and
	// benchmarks. The address is a configured server; nothing else is
	// ever dialled.
	Dial func(addr string) (net.Conn, error)
	// Now is the response cache's and the admission filters' clock; nil
	// means time.Now (and, for the cache, the request's receive time on
	// the hot path, which is free).
	Now func() time.Time
	// CacheBackground runs the cache's background revalidations; nil
	// means `go f()`. Tests pass one that tracks completion.
	CacheBackground func(f func())
}

// NewEnv returns an empty Env.
func NewEnv(o EnvOptions) *Env {
	e := &Env{Metrics: o.Metrics, log: o.Logger, ticker: o.Ticker, dial: o.Dial, pools: map[poolKey]*origin.Pool{}}
	e.rc.now, e.rc.bg = o.Now, o.CacheBackground
	e.now = o.Now
	e.adm.clock = o.Now
	if e.Metrics == nil {
		e.Metrics = NewMetrics()
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.ticker == nil {
		e.ticker = origin.RealTicker
	}
	e.prot.init(e.Metrics.set)
	return e
}

// fingerprint covers every setting of an origin that changes what its
// connections or health state mean (servers, TLS, timeouts, checks), and
// not its position in the file, so moving an origin keeps its pool.
func fingerprint(o *rules.Origin) [32]byte {
	c := *o
	c.Pos = rules.Pos{}
	return sha256.Sum256(fmt.Appendf(nil, "%#v", c))
}

// pool returns the pool for o, creating (and starting the health checker
// of) a new one if no pool with the same name and fingerprint exists.
func (e *Env) pool(o *rules.Origin) *origin.Pool {
	k := poolKey{o.Name, fingerprint(o)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.pools[k]; p != nil {
		return p
	}
	p := origin.New(o, origin.Options{Metrics: e.Metrics.set, Dial: e.dial, Now: e.now, Logger: e.log})
	if !e.passive {
		p.StartHealth(e.log, e.ticker)
	}
	e.prot.sw.applyForced(p) // Plan B server switches survive the pool's replacement
	e.pools[k] = p
	return p
}

// Retain closes every pool not used by one of live (the snapshots still
// serving). Call it after a swap with the new snapshot, or after a failed
// compile with the current one, so pools created for a rejected config do
// not leak their health-check goroutines.
func (e *Env) Retain(live ...*Snapshot) {
	used := map[*origin.Pool]bool{}
	for _, s := range live {
		if s == nil {
			continue
		}
		for _, p := range s.pools {
			used[p] = true
		}
	}
	e.mu.Lock()
	var closing []*origin.Pool
	for k, p := range e.pools {
		if !used[p] {
			delete(e.pools, k)
			closing = append(closing, p)
		}
	}
	stopHot := e.retainProtect(live)
	e.mu.Unlock()
	for _, p := range closing {
		p.Close()
	}
	for _, h := range stopHot {
		h.stop()
	}
}

// Close closes every pool and the response cache. The Env must not be
// used afterwards.
func (e *Env) Close() {
	e.stopAsync()
	e.Retain()
	e.closeCache()
	e.closeCluster()
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orStr(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
