package cluster

import "github.com/redis/go-redis/v9"

// The scripts run with EVALSHA and fall back to EVAL on NOSCRIPT (a
// restarted Redis has an empty script cache). Each touches the keys it is
// given only, all of one slot.
//
// Times inside scripts come from Redis TIME, never from the instance:
// instances' clocks differ, and a limiter fed several clocks over-issues.
// Lua numbers are doubles, so times are microseconds (≈1.8e15 now, exact
// to 0.25µs), not nanoseconds (1.8e18 would round to 256ns steps).

// gcraScript is the GCRA step of gcra() in store.go. KEYS[1] holds the
// theoretical arrival time in microseconds. ARGV: emission and tolerance
// in nanoseconds, n cells. Returns {1, 0} or {0, nanoseconds to wait}.
var gcraScript = redis.NewScript(`
local emission = tonumber(ARGV[1]) / 1000
local tolerance = tonumber(ARGV[2]) / 1000
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if tat < now then tat = now end
local nxt = tat + n * emission
local allow_at = nxt - tolerance - emission
if now < allow_at then
  return {0, math.ceil((allow_at - now) * 1000)}
end
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, 0}
`)

// addScript is INCRBY with a TTL set when the counter is created (a fixed
// window, as Memory.Add). ARGV: delta, ttl in milliseconds.
var addScript = redis.NewScript(`
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v
`)

// flagScript sets a flag counter (INCR, TTL on creation), returns its new
// value and announces it: the channel in ARGV[2] gets the key's hex, so
// every instance caches it. ARGV: ttl in ms, channel, payload.
var flagScript = redis.NewScript(`
local v = redis.call('INCR', KEYS[1])
if v == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return v
`)

// getTTLScript reads a counter and its remaining life in ms: {value, pttl}.
var getTTLScript = redis.NewScript(`
local v = tonumber(redis.call('GET', KEYS[1])) or 0
return {v, redis.call('PTTL', KEYS[1])}
`)

// heartbeatScript records ARGV[1] as live until now + ARGV[2] ms and
// returns how many instances are live. KEYS[1] is a sorted set.
var heartbeatScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
`)
