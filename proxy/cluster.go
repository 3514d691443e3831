package proxy

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"sync"

	"flashgate/cache"
	"flashgate/cluster"
	"flashgate/filters"
	"flashgate/rules"
)

// clusterEnv is the process's connection to the Redis that instances
// share (rules `cluster:`), made by the first Compile that names one and
// kept for the life of the Env: like admission.store, the section is read
// at start only. Without the section it stays empty and every piece of
// state lives in process memory, as before. Safe for concurrent use.
type clusterEnv struct {
	mu    sync.Mutex
	spec  *rules.Cluster // as connected
	redis *cluster.Redis
	// switchSync asks the switch syncer to read the shared switches again
	// (cluster_switches.go); closed with the client.
	switchSync chan struct{}
}

// purgeTopic is the bus topic of cache purges: a purge on one instance
// purges every instance's cache.
const purgeTopic = "purge"

// clusterFor connects to the configured Redis on first use. A passive Env
// (-check) never connects. A later compile that changes the section is
// warned about, not applied.
func (e *Env) clusterFor(c *rules.Cluster) error {
	if c == nil || e.passive {
		return nil
	}
	cl := &e.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.redis != nil {
		if !reflect.DeepEqual(withoutTLS(c), withoutTLS(cl.spec)) {
			e.log.LogAttrs(context.Background(), slog.LevelWarn,
				"cluster changed: it takes effect only at the next restart")
		}
		return nil
	}
	mem, err := cluster.NewMemory(cluster.MemoryOptions{Keys: 1 << 16, Flags: 1 << 14, Metrics: e.Metrics.set})
	if err != nil {
		return err
	}
	opts := cluster.RedisOptions{Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username,
		Password: c.Password, DB: c.DB, PoolSize: c.PoolSize, Timeout: c.Timeout,
		BreakerFailures: c.BreakerFailures, BreakerOpen: c.BreakerOpen, Lease: c.Lease,
		Fallback: mem, Metrics: e.Metrics.set, Log: e.log}
	if c.TLS != nil {
		opts.TLS = c.TLS.Config
	}
	r, err := cluster.NewRedis(opts)
	if err != nil {
		return err
	}
	r.Subscribe(purgeTopic, e.applyRemotePurge)
	cl.spec, cl.redis = c, r
	e.startSwitchSync(r) // cluster_switches.go
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "cluster: sharing admission state and purges through redis",
		slog.String("cluster", c.String()))
	return nil
}

// withoutTLS drops the parsed TLS config (its pointers differ per load)
// so that two loads of the same section compare equal.
func withoutTLS(c *rules.Cluster) rules.Cluster {
	v := *c
	if v.TLS != nil {
		t := *v.TLS
		t.Config = nil
		v.TLS = &t
	}
	return v
}

// clusterRedis returns the shared Redis store, nil without cluster:.
func (e *Env) clusterRedis() *cluster.Redis {
	e.cl.mu.Lock()
	defer e.cl.mu.Unlock()
	return e.cl.redis
}

// useCluster points fenv at the shared store: one view per failure policy
// in use, the section's on_failure by default and cluster.filters per kind.
func (e *Env) useCluster(fenv *filters.Env) {
	r := e.clusterRedis()
	if r == nil {
		return
	}
	spec := e.cl.spec
	view := func(p string) filters.Store {
		pol, _ := cluster.ParsePolicy(p) // validated by rules
		return r.View(pol)
	}
	fenv.Store = view(spec.OnFailure)
	fenv.HoldBooks = func(key uint64, store filters.Store) filters.HoldBook { return r.Holds(key, store) }
	fenv.KindStores = map[string]filters.Store{}
	for kind, p := range spec.Filters {
		fenv.KindStores[kind] = view(p)
	}
}

// broadcastPurge sends a purge applied here to the other instances.
func (e *Env) broadcastPurge(p cache.Purge) {
	r := e.clusterRedis()
	if r == nil {
		return
	}
	b, _ := json.Marshal(p)
	if err := r.Publish(context.Background(), purgeTopic, b); err != nil {
		e.log.LogAttrs(context.Background(), slog.LevelWarn, "cluster: purge not sent to the other instances",
			slog.String("error", err.Error()))
	}
}

// applyRemotePurge applies another instance's purge to this cache only.
func (e *Env) applyRemotePurge(payload []byte) {
	var p cache.Purge
	if json.Unmarshal(payload, &p) != nil {
		return
	}
	if c := e.Cache(); c != nil {
		c.Purge(p)
	}
}

// clusterStatus is the cluster part of /_flashgate/health: nil without
// cluster:.
func (e *Env) clusterStatus() *cluster.Status {
	r := e.clusterRedis()
	if r == nil {
		return nil
	}
	st := r.Status()
	return &st
}

// closeCluster stops the Redis client; the Env is closing.
func (e *Env) closeCluster() {
	e.cl.mu.Lock()
	defer e.cl.mu.Unlock()
	if e.cl.redis != nil {
		_ = e.cl.redis.Close()
		e.cl.redis = nil
		close(e.cl.switchSync)
	}
}
