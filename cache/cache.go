// Package cache is flashgate's response cache: hot pages and items served
// from memory, correct for CDNs, never leaking one user's page to another.
//
// A route's compiled *Policy decides what is cacheable and for how long
// (policy.go, freshness.go); the store is a byte-bounded ristretto cache
// (store.go); concurrent misses on one key make one origin request
// (flight.go); purges are exact, by prefix (lazy bans), by tag and all,
// soft or hard (purge.go). The proxy calls Serve (or Do + Result.Write) once
// per request, passing a Fetch that forwards a request to the origin.
//
// Per request, Serve answers with X-Cache:
//
//	HIT      fresh entry, from memory, 0 allocations (304 when the client's
//	         validators match; HEAD from the GET entry; gzip/br stored once)
//	MISS     fetched (one coalesced fetch per key), stored if cacheable
//	STALE    past ttl, within stale_while_revalidate (one background
//	         conditional refresh) or stale_if_error (the origin failed/5xx)
//	EXPIRED  past swr but within stale_if_error: refetched synchronously
//	         with the stored validators, so the origin may answer 304
//	BYPASS   not consulted: method, personal request, remembered
//	         uncacheable key (hit-for-miss), or a waiter whose leader's
//	         answer was not shareable
//
// Never leak: a response is not stored if it has Set-Cookie, Cache-Control
// private/no-store/no-cache, Vary: *, or a status outside 200 203 204 300
// 301 308 (404/410 only with negative_ttl); a request with Authorization or
// a session cookie bypasses unless the key includes it; private copies are
// an explicit opt-in (private: {cookie|header}) keyed by that value and
// sent downstream as "private, no-store". Keys hold method (HEAD as GET),
// scheme, host, path, chosen query/headers/cookies; each entry keeps its
// full key and a lookup compares it, so a 64-bit hash collision is a miss,
// never another page.
package cache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// Fetch sends req to the origin and fills resp. It must honour its own
// timeout. req is owned by the cache and valid only during the call; resp
// must be fully read (not streamed) when Fetch returns.
type Fetch func(req *fasthttp.Request, resp *fasthttp.Response) error

// Options configure a Cache. Zero values get the defaults noted.
type Options struct {
	// MaxBytes bounds the total cost (real size) of stored entries. Default 256 MiB.
	MaxBytes int64
	// MaxObject is the largest body stored; larger responses pass uncached. Default 8 MiB.
	MaxObject int64
	// HitForMiss is how long a key whose response was uncacheable skips the
	// coalescing queue. Default 10s; negative disables.
	HitForMiss time.Duration
	// Personal is how personal answers leave the gateway (MarkPersonal).
	// The cache does not apply it itself: the proxy does, on every answer,
	// and takes a new value at each reload.
	Personal PersonalMode
	// SurrogateName is our device token in Surrogate-Control targets
	// ("max-age=60;flashgate"). Default "flashgate".
	SurrogateName string
	// Now is the clock. Default time.Now (and, in Serve, the time fasthttp
	// stamped the request with, which costs nothing).
	Now func() time.Time
	// OnStore, if set, is called once for each new entry before it is
	// published, e.g. to attach a parsed ESI template with SetAttachment.
	// It is not called for entries refreshed by a 304 (they keep theirs).
	OnStore func(e *Entry)
	// Background runs a background revalidation. Default `go f()`; tests
	// pass a function that tracks completion.
	Background func(f func())
	// Metrics receives the cache's metrics. Default a new set (see Metrics).
	Metrics *metrics.Set
	// Logger logs rare events (background refresh failures). Default slog.Default().
	Logger *slog.Logger
}

// Cache is a response cache. Safe for concurrent use; create with New and
// release with Close. It outlives rule reloads: policies change, entries stay.
type Cache struct {
	store     *store
	flights   flights
	tags      tagIndex
	bans      banList
	seed      maphash.Seed
	maxObject int64
	hfm       int64
	surrogate []byte
	now       func() time.Time
	clockSet  bool // Options.Now was given: use it everywhere (tests)
	onStore   func(*Entry)
	bg        func(func())
	log       *slog.Logger
	m         *cacheMetrics
	// objects counts stored responses: +1 per set the store took, -1 per
	// response leaving it (ristretto calls OnExit for rejections,
	// replacements, deletions and evictions alike). For flashgate_cache_items.
	objects atomic.Int64
}

const (
	defaultMaxBytes   = 256 << 20
	defaultMaxObject  = 8 << 20
	defaultHitForMiss = 10 * time.Second
)

// New creates a Cache.
func New(o Options) (*Cache, error) {
	if o.MaxBytes < 0 || o.MaxObject < 0 {
		return nil, fmt.Errorf("cache: max_bytes (%d) and max_object (%d) must not be negative", o.MaxBytes, o.MaxObject)
	}
	clockSet := o.Now != nil
	o = withDefaults(o)
	if o.MaxObject > o.MaxBytes {
		return nil, fmt.Errorf("cache: max_object (%d) must not exceed max_bytes (%d)", o.MaxObject, o.MaxBytes)
	}
	c := &Cache{
		seed: maphash.MakeSeed(), maxObject: o.MaxObject, hfm: int64(o.HitForMiss),
		surrogate: []byte(o.SurrogateName), now: o.Now, onStore: o.OnStore, bg: o.Background,
		log: o.Logger, clockSet: clockSet,
	}
	c.m = newCacheMetrics(o.Metrics, c)
	c.tags.init(o.MaxBytes)
	c.flights.init()
	s, err := newStore(o.MaxBytes, c.onExit, c.m.evictions.Inc)
	if err != nil {
		return nil, err
	}
	c.store = s
	return c, nil
}

func withDefaults(o Options) Options {
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.MaxObject == 0 {
		o.MaxObject = min(defaultMaxObject, o.MaxBytes)
	}
	if o.HitForMiss == 0 {
		o.HitForMiss = defaultHitForMiss
	}
	if o.SurrogateName == "" {
		o.SurrogateName = "flashgate"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Background == nil {
		o.Background = func(f func()) { go f() }
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Close stops the store's goroutines. The Cache must not be used after.
func (c *Cache) Close() { c.store.close() }

// Wait blocks until every Set issued so far has been applied or refused by
// the store. For tests and the admin API; the request path never waits.
func (c *Cache) Wait() { c.store.wait() }

// Metrics returns the set holding the cache's metrics, for the admin
// listener to write with WritePrometheus.
func (c *Cache) Metrics() *metrics.Set { return c.m.set }

// UsedBytes is the total cost of the entries the store holds.
func (c *Cache) UsedBytes() int64 { return c.store.used() }

// Items returns how many responses the cache holds (approximate while
// sets are in flight: ristretto applies them asynchronously).
func (c *Cache) Items() int64 { return max(0, c.objects.Load()) }

// ErrRequestBody is returned for a GET or HEAD with a body on a caching
// route: a body the cache key ignores could change the origin's answer.
var ErrRequestBody = errors.New("cache: request body not allowed on a cacheable GET/HEAD")

// ErrCoalesceTimeout is returned when a request waited coalesce_timeout for
// another request's origin fetch and no stale copy could stand in.
var ErrCoalesceTimeout = errors.New("cache: timed out waiting for a shared origin fetch")

func (c *Cache) nowNanos() int64 { return c.now().UnixNano() }
