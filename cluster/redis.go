package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
)

// RedisOptions configures NewRedis. Addrs, MasterName, Username, Password,
// DB, TLS and PoolSize are go-redis's UniversalOptions: one address is a
// single node, several a Redis Cluster, and with MasterName they are
// Sentinels.
type RedisOptions struct {
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	TLS        *tls.Config
	PoolSize   int // 0 = go-redis's default (10 per CPU)
	// Timeout bounds each call (write and read); it is also the longest a
	// request waits for a free pooled connection. Default 5ms.
	Timeout time.Duration
	// BreakerFailures consecutive failed calls mark Redis down (default 5):
	// from then on no call goes to Redis until a background probe, every
	// BreakerOpen (default 1s), gets an answer again.
	BreakerFailures int
	BreakerOpen     time.Duration
	// Lease > 0 turns on batched rate limits: see Redis.View.
	Lease int
	// Fallback is the store the Local policy answers from; required.
	Fallback *Memory
	// Prefix starts every key and channel name (default "fg:"), so that
	// several gateways can share one Redis.
	Prefix string
	// Metrics receives flashgate_cluster_redis_*; nil means a private set.
	Metrics *metrics.Set
	// Log receives the state changes (down, back up); nil = slog.Default().
	Log *slog.Logger
}

// Redis is the shared state of several gateway instances, kept in Redis:
// the operations of Store done atomically in Redis (GCRA in one Lua
// script reading Redis TIME, so instances' clocks never meet; counters with
// INCRBY and a TTL set once; spends with SET NX PX), a local cache of set
// flags kept true by pub/sub (Flags), a message bus (Publish, Subscribe)
// and the health of the connection (Status).
//
// Every key is prefix + "{" + 16 hex digits + "}": the hash tag is the
// whole caller's key, so each script touches one slot (Redis Cluster) and
// distinct keys spread over the slots.
//
// A Redis that fails or answers later than Timeout costs the call its
// timeout and is answered by the view's Policy; after BreakerFailures such
// calls in a row no request waits for Redis until a background probe sees
// it answer again (one log line each way, flashgate_cluster_redis_up).
//
// Safe for concurrent use. Close stops its goroutines and the client.
type Redis struct {
	client  redis.UniversalClient
	opts    RedisOptions
	id      string // this instance, in heartbeats and bus messages
	log     *slog.Logger
	health  health
	flags   flagCache
	leases  *leases
	m       redisMetrics
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	subsMu  sync.Mutex
	subs    map[string][]func([]byte)
	resyncs []func()
}

type redisMetrics struct {
	errors, unenforced *metrics.Counter
	fallback           [3]*metrics.Counter // by Policy
	calls, leased      *metrics.Counter
}

// ErrNoFallback is returned by NewRedis without RedisOptions.Fallback.
var ErrNoFallback = errors.New("cluster: Redis needs a Fallback memory store for on_failure: local")

// NewRedis returns a Redis store over a new go-redis universal client and
// starts its probe, heartbeat and subscription goroutines. It does not
// wait for Redis: an unreachable Redis at start is reported like one that
// goes away later, and the store answers by its policy until it returns.
func NewRedis(o RedisOptions) (*Redis, error) {
	if o.Fallback == nil {
		return nil, ErrNoFallback
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Millisecond
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerOpen <= 0 {
		o.BreakerOpen = time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "fg:"
	}
	set := o.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	r := &Redis{opts: o, id: newInstanceID(), log: o.Log, subs: map[string][]func([]byte){}}
	if r.log == nil {
		r.log = slog.Default()
	}
	quietGoRedis()
	r.client = redis.NewUniversalClient(clientOptions(o))
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.health.init(o.BreakerFailures, set, r.log)
	r.m = redisMetrics{
		errors:     set.GetOrCreateCounter(`flashgate_cluster_redis_errors_total`),
		unenforced: set.GetOrCreateCounter(`flashgate_cluster_unenforced_total`),
		calls:      set.GetOrCreateCounter(`flashgate_cluster_redis_calls_total`),
		leased:     set.GetOrCreateCounter(`flashgate_cluster_leased_total`),
	}
	for p := Local; p <= Closed; p++ {
		r.m.fallback[p] = set.GetOrCreateCounter(`flashgate_cluster_fallback_total{on_failure="` + p.String() + `"}`)
	}
	r.flags.init()
	if o.Lease > 0 {
		r.leases = newLeases(o.Lease)
	}
	r.wg.Add(2)
	go r.probe()
	go r.listen()
	return r, nil
}

// clientOptions turns o into go-redis options that never make a request
// wait longer than o.Timeout on a live connection: no retries, the
// socket deadlines and the pool wait at Timeout, and context deadlines
// honoured mid-command (go-redis ignores them without
// ContextTimeoutEnabled). Dialing gets a little longer (at least 50ms), as
// a TLS handshake needs it; the breaker keeps dials off the request path
// once Redis is known down.
func clientOptions(o RedisOptions) *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs: o.Addrs, MasterName: o.MasterName, Username: o.Username, Password: o.Password, DB: o.DB,
		TLSConfig: o.TLS, PoolSize: o.PoolSize, Protocol: 2, DisableIdentity: true,
		MaxRetries:   -1,
		ReadTimeout:  o.Timeout,
		WriteTimeout: o.Timeout,
		PoolTimeout:  o.Timeout,
		DialTimeout:  max(4*o.Timeout, 50*time.Millisecond),
		// A dial that fails is not retried by the request that needed it.
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
		MinIdleConns:          2,
	}
}

func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Client returns the underlying go-redis client, for callers that build
// their own structures on the shared Redis (an order queue, stock holds).
// Calls made through it bypass the breaker: report their failures with
// Failed so that the store's health stays true.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Key returns the Redis key of a Store key: prefix + "{hex}". Exposed so
// that scripts written elsewhere address the same state; Key(k) + a suffix
// names further keys in the same slot (as RedisLine's six keys).
func (r *Redis) Key(key uint64) string {
	var b [40]byte
	s := append(b[:0], r.opts.Prefix...)
	s = append(s, '{')
	s = appendHex(s, key)
	return string(append(s, '}'))
}

func appendHex(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for i := 60; i >= 0; i -= 4 {
		dst = append(dst, digits[(v>>uint(i))&0xf])
	}
	return dst
}

// Up reports whether Redis is considered reachable (the breaker is closed).
func (r *Redis) Up() bool { return !r.health.down.Load() }

// Failed records a failed call made outside the store (through Client),
// feeding the breaker.
func (r *Redis) Failed(err error) { r.failed(err) }

// Status is what /_flashgate/health shows of the cluster store.
type Status struct {
	Mode      string    `json:"mode"`  // "redis"
	State     string    `json:"state"` // "up" or "down"
	Since     time.Time `json:"since"`
	Instances int       `json:"instances"` // live instances at the last heartbeat
	LastError string    `json:"last_error,omitempty"`
}

// Status returns the store's current health.
func (r *Redis) Status() Status {
	st := Status{Mode: "redis", State: "up", Since: time.Unix(0, r.health.since.Load()),
		Instances: int(r.health.instances.Load())}
	if !r.Up() {
		st.State = "down"
	}
	if e := r.health.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// Close stops the goroutines and closes the client.
func (r *Redis) Close() error {
	r.cancel()
	err := r.client.Close()
	r.wg.Wait()
	return err
}

// ok feeds the breaker with a call's outcome and reports whether the call
// succeeded (redis.Nil, "no such key", is a success); on false the caller
// applies its policy.
func (r *Redis) ok(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		r.health.succeeded()
		return true
	}
	r.failed(err)
	return false
}

func (r *Redis) failed(err error) {
	r.m.errors.Inc()
	r.health.failed(err)
}

// probe runs while the store is open: every BreakerOpen it pings Redis
// when it is down (closing the breaker when it answers) and sends this
// instance's heartbeat when it is up, counting the live instances that the
// Local policy divides rate limits by.
func (r *Redis) probe() {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.BreakerOpen)
	defer t.Stop()
	r.heartbeat()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.health.wake:
		}
		if r.Up() {
			r.heartbeat()
			continue
		}
		ctx, cancel := context.WithTimeout(r.ctx, max(r.opts.BreakerOpen/2, 50*time.Millisecond))
		err := r.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			r.health.recovered()
			r.heartbeat()
		}
	}
}

// heartbeat records this instance as live (for 3 probe periods) and reads
// how many are, with Redis TIME as the clock.
func (r *Redis) heartbeat() {
	ctx, cancel := context.WithTimeout(r.ctx, max(r.opts.BreakerOpen/2, 50*time.Millisecond))
	defer cancel()
	ttl := strconv.FormatInt(3*r.opts.BreakerOpen.Milliseconds(), 10)
	n, err := heartbeatScript.Run(ctx, r.client, []string{r.opts.Prefix + "{instances}"}, r.id, ttl).Int64()
	if err != nil {
		if r.ctx.Err() == nil {
			r.failed(err)
		}
		return
	}
	r.health.instances.Store(max(n, 1))
}

// Instances returns the live instances counted at the last heartbeat
// (at least 1; the last count is kept while Redis is down).
func (r *Redis) Instances() int { return int(r.health.instances.Load()) }

func (r *Redis) String() string {
	return fmt.Sprintf("redis store (instance %s, timeout %v)", r.id, r.opts.Timeout)
}
