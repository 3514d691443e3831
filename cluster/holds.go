package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Hold is one reservation of a stock gate (filters, mode reserve): units
// of an item, counted under Count in the Store, held for an order until
// Expires (unix nanoseconds, the instances' clock: a skew of a second
// shifts a window of minutes by that second, nothing more).
type Hold struct {
	Order   string
	Item    string
	Count   uint64 // the Store counter the units are counted in
	Units   int64
	TTL     int64 // the counter's ttl, for the Add that gives units back
	Expires int64
}

// Adder is the part of a Store a hold book gives units back through.
type Adder interface {
	Add(key uint64, delta int64, ttlNanos int64, now int64) int64
}

// RedisHolds is a stock gate's holds in Redis, shared by every instance:
// a hash of order → hold and a sorted set of orders by expiry, under one
// hash tag (one slot). Each method that ends a hold removes it in one
// script and then gives its units back with the Store's Add, so a hold is
// given back at most once whichever instance ends it (if an instance dies
// between the two steps, the units stay counted: never oversold). Safe
// for concurrent use.
type RedisHolds struct {
	r          *Redis
	counts     Adder
	hash, zset string
	// nextSweep rate-limits Expire to one Redis call per sweepEvery per
	// instance: the gate calls it on every attempt.
	nextSweep atomic.Int64
}

// sweepEvery is how often an instance looks for ended holds: units come
// back to buyers at most this long after their window ends.
const sweepEvery = int64(100 * time.Millisecond)

// Holds returns the hold book under key (a gate's state key), giving units
// back through counts (the gate's Store).
func (r *Redis) Holds(key uint64, counts Adder) *RedisHolds {
	return &RedisHolds{r: r, counts: counts, hash: r.Key(key) + ":holds", zset: r.Key(key) + ":hexp"}
}

// holdValue encodes a hold's fields but the order (the hash field) and
// the expiry (the sorted set's score): "count units ttl item".
func holdValue(h Hold) string {
	return strconv.FormatUint(h.Count, 10) + " " + strconv.FormatInt(h.Units, 10) + " " +
		strconv.FormatInt(h.TTL, 10) + " " + h.Item
}

func parseHold(order, v string, expiresMillis float64) (Hold, bool) {
	f := strings.SplitN(v, " ", 4)
	if len(f) != 4 {
		return Hold{}, false
	}
	count, err1 := strconv.ParseUint(f[0], 10, 64)
	units, err2 := strconv.ParseInt(f[1], 10, 64)
	ttl, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Hold{}, false
	}
	return Hold{Order: order, Item: f[3], Count: count, Units: units, TTL: ttl, Expires: int64(expiresMillis) * 1e6}, true
}

// holdPutScript: KEYS hash, zset; ARGV order, value, expiry (ms).
var holdPutScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`)

// holdTakeScript removes one hold and returns {value, expiry ms}, or nil.
var holdTakeScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
local e = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {v, tostring(e)}
`)

// holdExpireScript removes up to ARGV[2] holds whose expiry (ms) is at most
// ARGV[1] and returns {order, value, ...}.
var holdExpireScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[1], id)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  if v then out[#out+1] = id; out[#out+1] = v end
end
return out
`)

func (b *RedisHolds) run(s *redis.Script, args ...any) (any, bool) {
	if !b.r.Up() {
		return nil, false
	}
	b.r.m.calls.Inc()
	res, err := s.Run(context.Background(), b.r.client, []string{b.hash, b.zset}, args...).Result()
	if err == redis.Nil {
		return nil, true
	}
	return res, b.r.ok(err)
}

// Put records h; false when h.Order is held already or Redis failed (the
// caller then gives the units back: the shop stays the source of truth).
func (b *RedisHolds) Put(h Hold) bool {
	res, ok := b.run(holdPutScript, h.Order, holdValue(h), h.Expires/1e6)
	return ok && res != nil && res.(int64) == 1
}

// Settle ends order's hold: paid keeps its units counted, otherwise they
// are given back. A hold whose window has ended by now is given back and
// reported as not held, as Expire would have.
func (b *RedisHolds) Settle(order string, paid bool, now int64) (Hold, bool) {
	res, ok := b.run(holdTakeScript, order)
	if !ok || res == nil {
		return Hold{}, false
	}
	a := res.([]any)
	exp, _ := strconv.ParseFloat(a[1].(string), 64)
	h, valid := parseHold(order, a[0].(string), exp)
	if !valid {
		return Hold{}, false
	}
	if h.Expires <= now {
		b.counts.Add(h.Count, -h.Units, h.TTL, now)
		return Hold{}, false
	}
	if !paid {
		b.counts.Add(h.Count, -h.Units, h.TTL, now)
	}
	return h, true
}

// Expire gives back the units of holds ended by now, looking at most once
// per sweepEvery per instance.
func (b *RedisHolds) Expire(now int64) int {
	next := b.nextSweep.Load()
	if now < next || !b.nextSweep.CompareAndSwap(next, now+sweepEvery) {
		return 0
	}
	n := 0
	for {
		res, ok := b.run(holdExpireScript, now/1e6, 64)
		if !ok || res == nil {
			return n
		}
		a := res.([]any)
		for i := 0; i+1 < len(a); i += 2 {
			if h, valid := parseHold(a[i].(string), a[i+1].(string), 0); valid {
				b.counts.Add(h.Count, -h.Units, h.TTL, now)
				n++
			}
		}
		if len(a) < 2*64 {
			return n
		}
	}
}

// Lookup returns order's hold if it is held at now.
func (b *RedisHolds) Lookup(order string, now int64) (Hold, bool) {
	if !b.r.Up() {
		return Hold{}, false
	}
	ctx := context.Background()
	pipe := b.r.client.Pipeline()
	v := pipe.HGet(ctx, b.hash, order)
	e := pipe.ZScore(ctx, b.zset, order)
	_, err := pipe.Exec(ctx)
	if err != nil && err != redis.Nil {
		b.r.ok(err)
		return Hold{}, false
	}
	if v.Err() != nil || e.Err() != nil {
		return Hold{}, false
	}
	h, ok := parseHold(order, v.Val(), e.Val())
	if !ok || h.Expires <= now {
		return Hold{}, false
	}
	return h, true
}

// Len returns the holds held, expired ones not yet given back included.
func (b *RedisHolds) Len() int {
	if !b.r.Up() {
		return 0
	}
	n, err := b.r.client.HLen(context.Background(), b.hash).Result()
	if !b.r.ok(err) {
		return 0
	}
	return int(n)
}
