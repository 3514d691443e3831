package filters

import "flashgate/cluster"

// sharedLines is implemented by stores that keep waiting lines for every
// instance (cluster.RedisView): with one, a queue filter's waitingRoom
// hands its visits to the shared line and keeps its own, in-memory state
// only for on_failure: local.
type sharedLines interface {
	Line(key uint64) *cluster.RedisLine
}

// newRoom returns the waiting room of the queue being built under id: the
// in-memory line, shared through the store when the store shares lines.
func (b *Build) newRoom(id StateID, cfg roomConfig) *waitingRoom {
	q := newWaitingRoom(cfg, randomSeed())
	if s, ok := b.Store().(sharedLines); ok {
		q.shared = s.Line(id.Key())
	}
	return q
}

func (c roomConfig) line() cluster.LineConfig {
	return cluster.LineConfig{Start: c.start, Rate: c.rate, Burst: c.burst, MaxActive: c.maxActive,
		MaxLength: c.maxLength, MaxSessions: c.maxSessions, Hold: c.hold, Claim: c.claim, Session: c.session}
}

// sharedVisit is visit on the shared line. ok false means "use the local
// line" (Redis failed under on_failure: local); under open the subject is
// let in for a session, under closed the line answers full (503 with
// Retry-After) until Redis returns.
func (q *waitingRoom) sharedVisit(subject uint64, now int64) (v visit, ok bool) {
	q.mu.Lock()
	cfg := q.cfg
	q.mu.Unlock()
	lv, err := q.shared.Visit(subject, now, cfg.line())
	if err == nil {
		return visit{seq: lv.Seq, position: lv.Position, admitted: lv.Admitted, expires: lv.Expires, full: lv.Full}, true
	}
	switch q.shared.Policy() {
	case cluster.Open:
		return visit{admitted: true, expires: now + cfg.session}, true
	case cluster.Closed:
		return visit{full: true}, true
	}
	return visit{}, false
}
