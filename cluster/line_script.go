package cluster

import "github.com/redis/go-redis/v9"

// linePrelude is shared by the waiting-line scripts: the line's keys and
// the session record. KEYS: meta hash, places hash (seq → "subject:seen"),
// where hash (subject → seq, 0 in the lobby), lobby list, sessions hash
// (seq → "subject|claimBy|expires|claimed|released"), session order list.
// Subjects stay strings (a uint64 does not fit a Lua double); seqs and
// times (microseconds) do.
const linePrelude = `
local M, P, W, L, S, SQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local function fmt(x) return string.format('%.0f', x) end
local function getSess(seq)
  local v = redis.call('HGET', S, seq)
  if not v then return nil end
  local subj, claimBy, expires, claimed, released = string.match(v, '^(%d+)|(%-?%d+)|(%-?%d+)|(%d)|(%d)$')
  if not subj then return nil end
  return {subject = subj, claimBy = tonumber(claimBy), expires = tonumber(expires),
    claimed = claimed == '1', released = released == '1'}
end
local function putSess(seq, s)
  redis.call('HSET', S, seq, s.subject .. '|' .. fmt(s.claimBy) .. '|' .. fmt(s.expires) .. '|' ..
    (s.claimed and '1' or '0') .. '|' .. (s.released and '1' or '0'))
end
`

// lineVisitScript is filters.waitingRoom's visit (advance, then find or
// join) over the keys of linePrelude: the same fairness rules, one line
// for every instance. ARGV: subject, now, start, rate (admissions per
// microsecond), burst, max_active, max_length, max_sessions, hold, claim,
// session (times in microseconds), a random seed for the lobby shuffle
// (used by the one call that opens the line). Returns {seq, position,
// admitted, expires, full}.
var lineVisitScript = redis.NewScript(linePrelude + `
local subject = ARGV[1]
local now = tonumber(ARGV[2])
local cfg = {start = tonumber(ARGV[3]), rate = tonumber(ARGV[4]), burst = tonumber(ARGV[5]),
  maxActive = tonumber(ARGV[6]), maxLength = tonumber(ARGV[7]), maxSessions = tonumber(ARGV[8]),
  hold = tonumber(ARGV[9]), claim = tonumber(ARGV[10]), session = tonumber(ARGV[11])}
local seed = tonumber(ARGV[12])

local m = redis.call('HMGET', M, 'started', 'head', 'tail', 'credit', 'last', 'active', 'claimIdx', 'paused')
local started = m[1] == '1'
local paused = m[8] == '1'
local head = tonumber(m[2]) or 1
local tail = tonumber(m[3]) or 1
local credit = tonumber(m[4]) or 0
local last = tonumber(m[5]) or 0
local active = tonumber(m[6]) or 0
local claimIdx = tonumber(m[7]) or 0

local function push(subj)
  local seq = tail
  tail = tail + 1
  redis.call('HSET', P, seq, subj .. ':' .. fmt(now))
  redis.call('HSET', W, subj, seq)
  return seq
end

-- The lobby is shuffled once, by the call that opens the line
-- (Fisher-Yates with a Park-Miller generator seeded by the caller).
local function open()
  started = true
  last = now
  credit = math.min(1, cfg.burst)
  local lobby = redis.call('LRANGE', L, 0, -1)
  local x = seed % 2147483646 + 1
  for i = #lobby, 2, -1 do
    x = (x * 48271) % 2147483647
    local j = (x % i) + 1
    lobby[i], lobby[j] = lobby[j], lobby[i]
  end
  for _, s in ipairs(lobby) do push(s) end
  redis.call('DEL', L)
end

local function expire()
  while true do
    local seq = redis.call('LINDEX', SQ, claimIdx)
    if not seq then break end
    local s = getSess(seq)
    if s and s.claimBy >= now then break end
    if s and not s.claimed and not s.released then
      s.released = true
      active = active - 1
      putSess(seq, s)
    end
    claimIdx = claimIdx + 1
  end
  while claimIdx > 0 do
    local seq = redis.call('LINDEX', SQ, 0)
    local s = getSess(seq)
    if s and s.expires > now then break end
    if s then
      if not s.released then active = active - 1 end
      if redis.call('HGET', W, s.subject) == seq then redis.call('HDEL', W, s.subject) end
      redis.call('HDEL', S, seq)
    end
    redis.call('LPOP', SQ)
    claimIdx = claimIdx - 1
  end
end

local function advance()
  if not started then
    if now < cfg.start then return end
    open()
  end
  expire()
  if paused then
    last = math.max(last, now) -- no credit builds up while paused
    return
  end
  if cfg.rate > 0 and now > last then
    credit = math.min(credit + (now - last) * cfg.rate, 10000000)
    if head == tail then credit = math.min(credit, cfg.burst) end
  end
  last = math.max(last, now)
  local nsess = redis.call('LLEN', SQ)
  while head < tail do
    local p = redis.call('HGET', P, head)
    local subj, seen = string.match(p or '', '^(%d+):(%-?%d+)$')
    if subj == nil or now - tonumber(seen) > cfg.hold then
      if subj and redis.call('HGET', W, subj) == fmt(head) then redis.call('HDEL', W, subj) end
      redis.call('HDEL', P, head)
      head = head + 1
    else
      if (cfg.rate > 0 and credit < 1) or (cfg.maxActive > 0 and active >= cfg.maxActive) or
        nsess >= cfg.maxSessions then
        break
      end
      credit = credit - 1
      active = active + 1
      putSess(head, {subject = subj, claimBy = now + cfg.claim, expires = now + cfg.session,
        claimed = false, released = false})
      redis.call('RPUSH', SQ, head)
      nsess = nsess + 1
      redis.call('HDEL', P, head)
      head = head + 1
    end
  end
end

local function join()
  if tail - head + redis.call('LLEN', L) >= cfg.maxLength then return {0, 0, 0, 0, 1} end
  if not started then
    redis.call('RPUSH', L, subject)
    redis.call('HSET', W, subject, 0)
    return {0, redis.call('LLEN', L), 0, 0, 0}
  end
  local seq = push(subject)
  advance()
  if seq < head then
    local s = getSess(seq)
    if s then
      s.claimed = true
      putSess(seq, s)
      return {seq, 0, 1, s.expires, 0}
    end
  end
  return {seq, seq - head + 1, 0, 0, 0}
end

local function visit()
  advance()
  local seq = redis.call('HGET', W, subject)
  if not seq then return join() end
  if seq == '0' then return {0, redis.call('LLEN', L), 0, 0, 0} end
  local n = tonumber(seq)
  if n >= head then
    redis.call('HSET', P, n, subject .. ':' .. fmt(now))
    return {n, n - head + 1, 0, 0, 0}
  end
  local s = getSess(seq)
  if s == nil or s.released or s.subject ~= subject or (not s.claimed and now > s.claimBy) then
    redis.call('HDEL', W, subject)
    return join()
  end
  s.claimed = true
  putSess(seq, s)
  return {n, 0, 1, s.expires, 0}
end

local res = visit()
redis.call('HSET', M, 'started', started and '1' or '0', 'head', fmt(head), 'tail', fmt(tail),
  'credit', string.format('%.6f', credit), 'last', fmt(last), 'active', fmt(active), 'claimIdx', fmt(claimIdx))
-- A line nobody looks at for a day is gone.
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, 86400000) end
return res
`)

// lineRevokeScript ends the session of seq held by subject (ARGV), freeing
// its max_active slot.
var lineRevokeScript = redis.NewScript(linePrelude + `
local s = getSess(ARGV[1])
if s and s.subject == ARGV[2] and not s.released then
  s.released = true
  putSess(ARGV[1], s)
  redis.call('HINCRBY', M, 'active', -1)
end
return 0
`)

// lineStateScript returns {places waiting (lobby included), paused}.
var lineStateScript = redis.NewScript(linePrelude + `
local m = redis.call('HMGET', M, 'head', 'tail', 'paused')
return {(tonumber(m[2]) or 1) - (tonumber(m[1]) or 1) + redis.call('LLEN', L), m[3] == '1' and 1 or 0}
`)

// linePauseScript sets the line's pause (ARGV[1] "1" or "0") at ARGV[2]
// (microseconds). Resuming moves the credit clock to now, so that a pause
// nobody visited during saves no admissions for a burst; the line's own
// time never goes back.
var linePauseScript = redis.NewScript(linePrelude + `
redis.call('HSET', M, 'paused', ARGV[1])
if ARGV[1] == '0' then
  local last = tonumber(redis.call('HGET', M, 'last')) or 0
  redis.call('HSET', M, 'last', fmt(math.max(last, tonumber(ARGV[2]))))
end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, 86400000) end
return 0
`)
