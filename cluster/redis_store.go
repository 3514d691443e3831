package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisView is the Store of a Redis under one failure Policy: the filters
// of one kind share a view (cluster.filters overrides the policy per kind).
// Views of one Redis share its client, breaker, flag cache and leases.
type RedisView struct {
	r      *Redis
	policy Policy
}

var _ Store = (*RedisView)(nil)

// View returns the Store that answers by policy while Redis is down.
func (r *Redis) View(policy Policy) *RedisView {
	if policy == Open {
		r.health.openViews.Store(true)
	}
	return &RedisView{r: r, policy: policy}
}

// Policy returns the view's failure policy.
func (v *RedisView) Policy() Policy { return v.policy }

// fallback counts a call answered by the policy rather than by Redis.
func (v *RedisView) fallback() Policy {
	v.r.m.fallback[v.policy].Inc()
	return v.policy
}

// run is a script call that reports false when Redis is down or fails.
func (r *Redis) run(s *redis.Script, key uint64, args ...any) (any, bool) {
	if !r.Up() {
		return nil, false
	}
	r.m.calls.Inc()
	res, err := s.Run(context.Background(), r.client, []string{r.Key(key)}, args...).Result()
	return res, r.ok(err)
}

// Allow implements Store. Batched (Lease > 0), a single cell is taken
// from this instance's lease of the key and Redis is asked for n cells at
// a time in the background (see leases).
func (v *RedisView) Allow(key uint64, now int64, emission, tolerance int64, n int) (bool, int64, bool) {
	if v.r.leases != nil && n == 1 && v.r.Up() {
		if ok, wait, handled := v.r.leases.allow(v, key, now, emission, tolerance); handled {
			return ok, wait, true
		}
	}
	return v.allowExact(key, now, emission, tolerance, n)
}

func (v *RedisView) allowExact(key uint64, now int64, emission, tolerance int64, n int) (bool, int64, bool) {
	if res, ok := v.r.run(gcraScript, key, emission, tolerance, n); ok {
		a := res.([]any)
		return a[0].(int64) == 1, a[1].(int64), true
	}
	switch v.fallback() {
	case Local:
		// This instance's share of the global rate: emission times the
		// live instances (the tolerance stays, so the burst shrinks alike).
		return v.r.opts.Fallback.Allow(key, now, emission*int64(v.r.Instances()), tolerance, n)
	case Open:
		return true, 0, true
	}
	return false, int64(time.Second), true
}

// Add implements Store; it fails open (returns delta) whatever the policy,
// as its contract says, except that Local counts in the fallback store.
func (v *RedisView) Add(key uint64, delta, ttl, now int64) int64 {
	if res, ok := v.r.run(addScript, key, delta, ttlMillis(ttl)); ok {
		return res.(int64)
	}
	if v.fallback() == Local {
		return v.r.opts.Fallback.Add(key, delta, ttl, now)
	}
	return delta
}

// AddTracked implements Store. Without Redis a count a limit depends on
// cannot be kept: Local and Closed refuse (tracked false); Open admits and
// counts it in flashgate_cluster_unenforced_total.
func (v *RedisView) AddTracked(key uint64, delta, ttl, now int64) (int64, bool) {
	if res, ok := v.r.run(addScript, key, delta, ttlMillis(ttl)); ok {
		return res.(int64), true
	}
	if v.fallback() == Open {
		v.r.m.unenforced.Inc()
		return delta, true
	}
	return delta, false
}

// Get implements Store.
func (v *RedisView) Get(key uint64, now int64) int64 {
	if res, ok := v.r.run(getTTLScript, key); ok {
		return res.([]any)[0].(int64)
	}
	if v.fallback() == Local {
		return v.r.opts.Fallback.Get(key, now)
	}
	return 0
}

// SpendOnce implements Store with SET NX PX.
func (v *RedisView) SpendOnce(key uint64, expiresAt, now int64) bool {
	if expiresAt <= now {
		return false
	}
	if v.r.Up() {
		v.r.m.calls.Inc()
		ok, err := v.r.client.SetNX(context.Background(), v.r.Key(key), 1, time.Duration(expiresAt-now)).Result()
		if v.r.ok(err) {
			return ok
		}
	}
	switch v.fallback() {
	case Local:
		return v.r.opts.Fallback.SpendOnce(key, expiresAt, now)
	case Open:
		return true
	}
	return false
}

// Forget implements Store: the key is deleted in Redis, in the fallback
// store and from every instance's flag cache.
func (v *RedisView) Forget(key uint64) {
	v.r.opts.Fallback.Forget(key)
	v.r.flags.forget(key)
	if !v.r.Up() {
		return
	}
	v.r.m.calls.Inc()
	pipe := v.r.client.Pipeline()
	pipe.Del(context.Background(), v.r.Key(key))
	pipe.Publish(context.Background(), v.r.opts.Prefix+"flags", "-"+strconv.FormatUint(key, 16))
	_, err := pipe.Exec(context.Background())
	v.r.ok(err)
}

// Flag implements Store: a set flag is answered from the local cache,
// which pub/sub fills on every instance the moment any sets it; an unset
// one asks Redis (and caches what it finds set).
func (v *RedisView) Flag(key uint64, now int64) bool {
	if v.r.flags.has(key, now) {
		return true
	}
	if res, ok := v.r.run(getTTLScript, key); ok {
		a := res.([]any)
		if a[0].(int64) <= 0 {
			return false
		}
		if ttl := a[1].(int64); ttl > 0 { // -1: no expiry; not cached, read each time
			v.r.flags.set(key, now+ttl*int64(time.Millisecond))
		}
		return true
	}
	if v.fallback() == Local {
		return v.r.opts.Fallback.Flag(key, now)
	}
	return false
}

// SetFlag implements Store. Without Redis the flag is still kept in this
// instance's cache: a sold-out mark only refuses, so enforcing it locally
// is safe under every policy.
func (v *RedisView) SetFlag(key uint64, ttl, now int64) (first, tracked bool) {
	msg := "+" + strconv.FormatUint(key, 16) + ":" + strconv.FormatInt(ttlMillis(ttl), 10)
	if res, ok := v.r.run(flagScript, key, ttlMillis(ttl), v.r.opts.Prefix+"flags", msg); ok {
		v.r.flags.set(key, now+ttl)
		return res.(int64) == 1, true
	}
	v.fallback()
	had := v.r.flags.has(key, now)
	v.r.flags.set(key, now+ttl)
	return !had, true
}

func ttlMillis(ttl int64) int64 { return max(ttl/int64(time.Millisecond), 1) }
