package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"time"
)

// LineConfig tunes a waiting line (the queue filter's settings). Times are
// nanoseconds; Rate is admissions per nanosecond (0: no rate, MaxActive
// alone limits); MaxActive 0 means no limit.
type LineConfig struct {
	Start                int64
	Rate, Burst          float64
	MaxActive, MaxLength int
	MaxSessions          int
	Hold, Claim, Session int64
}

// LineVisit is where a subject stands after a visit: Seq its place (0 in
// the lobby before the start), Position 1 for next, or Admitted with a
// session ending at Expires, or Full when no place could be given.
type LineVisit struct {
	Seq      uint64
	Position int
	Admitted bool
	Expires  int64
	Full     bool
}

// RedisLine is one waiting line shared by every instance: the ticket
// sequence, the lobby (shuffled once, by the visit that opens the line),
// the places, the admitted sessions and the admission credit live in six
// Redis keys of one slot, and each visit is one Lua script. The fairness
// rules are those of the queue filter's in-memory line (one place per
// subject, abandoned places skipped, claim window).
//
// Times come from the callers' clocks (a pass must expire on the clock
// that verifies it); the line keeps its last time monotonic, so a clock
// behind the others never moves it back, and skew between instances
// shifts admissions by at most skew × rate. Safe for concurrent use.
type RedisLine struct {
	v    *RedisView
	keys []string
}

// Line returns the shared line at key, answering failures by the view's
// policy (see RedisLine.Visit).
func (v *RedisView) Line(key uint64) *RedisLine {
	base := v.r.Key(key)
	return &RedisLine{v: v, keys: []string{base + ":m", base + ":p", base + ":w", base + ":l", base + ":s", base + ":q"}}
}

// Policy is what the caller should do when Visit fails.
func (l *RedisLine) Policy() Policy { return l.v.policy }

// Visit is one look at the line by subject at now: it opens the line at
// its start, releases unclaimed and ended sessions, admits as the rate and
// MaxActive allow, and finds or gives the subject's place. An error means
// Redis is down or failed (counted by the breaker): apply Policy.
func (l *RedisLine) Visit(subject uint64, now int64, c LineConfig) (LineVisit, error) {
	r := l.v.r
	if !r.Up() {
		l.v.fallback()
		return LineVisit{}, errDown
	}
	r.m.calls.Inc()
	var seed [4]byte
	_, _ = rand.Read(seed[:])
	us := func(ns int64) int64 { return ns / 1000 }
	res, err := lineVisitScript.Run(context.Background(), r.client, l.keys,
		strconv.FormatUint(subject, 10), us(now), us(c.Start), c.Rate*1000, c.Burst, c.MaxActive,
		c.MaxLength, c.MaxSessions, us(c.Hold), us(c.Claim), us(c.Session), binary.LittleEndian.Uint32(seed[:])).Int64Slice()
	if !r.ok(err) {
		l.v.fallback()
		return LineVisit{}, err
	}
	return LineVisit{Seq: uint64(res[0]), Position: int(res[1]), Admitted: res[2] == 1,
		Expires: res[3] * int64(time.Microsecond), Full: res[4] == 1}, nil
}

// Revoke ends subject's session at seq (a purchase), freeing its slot.
func (l *RedisLine) Revoke(seq, subject uint64) error {
	if !l.v.r.Up() {
		return errDown
	}
	err := lineRevokeScript.Run(context.Background(), l.v.r.client, l.keys,
		seq, strconv.FormatUint(subject, 10)).Err()
	l.v.r.ok(err)
	return err
}

// State returns the places waiting, lobby included, and whether an
// operator paused the line's admissions.
func (l *RedisLine) State() (waiting int, paused bool, err error) {
	if !l.v.r.Up() {
		return 0, false, errDown
	}
	res, err := lineStateScript.Run(context.Background(), l.v.r.client, l.keys).Int64Slice()
	if !l.v.r.ok(err) {
		return 0, false, err
	}
	return int(res[0]), res[1] == 1, nil
}

// SetPaused stops (true) or resumes admissions from the line on every
// instance at once, as of now (the caller's clock, nanoseconds): while
// paused, visits keep places and expire sessions but admit no one, and no
// credit builds up, so resuming lets no burst in.
func (l *RedisLine) SetPaused(paused bool, now int64) error {
	if !l.v.r.Up() {
		return errDown
	}
	flag := "0"
	if paused {
		flag = "1"
	}
	err := linePauseScript.Run(context.Background(), l.v.r.client, l.keys, flag, now/1000).Err()
	l.v.r.ok(err)
	return err
}
