package filters

import (
	"math/rand/v2"
	"sort"
	"sync"

	"flashgate/cluster"
)

// waitingRoom is the state of one queue filter: the places handed out, in
// order, and the sessions admitted from them. In memory one instance runs
// one line; with a shared store (cluster:) the same line, by the same
// rules, lives in Redis for every instance (cluster.RedisLine, see
// queue_shared.go). It survives rule reloads as Env state.
//
// Fairness rule. Clients who arrive before the sale starts wait in a lobby
// with no order; at the start the lobby is shuffled (crypto-seeded) into
// the line, so being early by a millisecond or by an hour gives the same
// chance. From then on the line is first come, first served. One place per
// identity: arriving again, from another tab or after losing the cookie,
// finds the same place. A place is kept while its holder polls (the
// waiting page refreshes itself); after hold without a poll it is dropped
// when the line reaches it, without using an admission, so abandoned
// places never slow the line. An admitted client must claim its session
// within claim, or the session is released to the next in line.
//
// Bounds: at most maxLength places waiting (lobby included), at most
// maxSessions sessions tracked. All methods take the room's mutex; they
// run only for clients without a valid pass, and allocate nothing once the
// index map has grown to its working size.
type waitingRoom struct {
	mu  sync.Mutex
	cfg roomConfig

	started bool
	lobby   []uint64          // subjects that arrived before start
	places  []place           // ring of waiting places, index seq % len
	head    uint64            // seq of the first waiting place
	tail    uint64            // next seq to hand out; seqs start at 1
	where   map[uint64]uint64 // subject → seq (lobbySeq while in the lobby)

	credit    float64 // admissions the rate allows now
	lastCheck int64
	sessions  []session // admitted, in seq order; sessions[:first] are over
	first     int
	active    int // sessions admitted, not expired, released or revoked
	claimNext int // first session whose claim deadline has not been processed
	rnd       *rand.Rand

	// shared, when set, is the line every instance shares (queue_shared.go):
	// visit, revoke and length go to it, and the fields above serve only
	// while it fails under on_failure: local.
	shared *cluster.RedisLine

	paused   bool   // an operator stopped admissions (Env.PauseQueue)
	admitted uint64 // admissions so far, for Env.Queues
}

type roomConfig struct {
	start       int64   // unix nanos; 0 = open from the beginning
	rate        float64 // admissions per nanosecond; 0 = no rate
	burst       float64 // most admissions at once after a pause
	maxActive   int     // 0 = no limit
	maxLength   int
	maxSessions int
	hold        int64
	claim       int64
	session     int64
}

type place struct {
	subject  uint64
	lastSeen int64
}

type session struct {
	seq      uint64
	subject  uint64
	claimBy  int64
	expires  int64
	claimed  bool
	released bool // not claimed in time, or revoked
}

// lobbySeq is the seq of a place in the lobby (before the start).
const lobbySeq = 0

func newWaitingRoom(cfg roomConfig, seed [32]byte) *waitingRoom {
	return &waitingRoom{
		cfg:    cfg,
		places: make([]place, cfg.maxLength),
		where:  make(map[uint64]uint64, min(cfg.maxLength, 1<<16)),
		head:   1, tail: 1,
		rnd: rand.New(rand.NewChaCha8(seed)),
	}
}

// visit is one look at the line by subject, who holds a ticket for seq
// (or none: 0 with ticket false). It joins the line if needed and returns
// where the subject stands.
type visit struct {
	seq      uint64 // the subject's place (lobbySeq in the lobby)
	position int    // 1 = next; in the lobby: lobby size
	admitted bool   // a session is ready: issue a pass expiring at expires
	expires  int64
	full     bool // no place could be given
}

func (q *waitingRoom) visit(subject uint64, now int64) visit {
	if q.shared != nil {
		if v, ok := q.sharedVisit(subject, now); ok {
			return v
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.advance(now)
	seq, ok := q.where[subject]
	if !ok {
		return q.join(subject, now)
	}
	if seq == lobbySeq {
		return visit{seq: lobbySeq, position: len(q.lobby)}
	}
	if seq >= q.head {
		p := &q.places[seq%uint64(len(q.places))]
		p.lastSeen = now
		return visit{seq: seq, position: int(seq - q.head + 1)}
	}
	s := q.session(seq)
	if s == nil || s.released || s.subject != subject || (!s.claimed && now > s.claimBy) {
		delete(q.where, subject) // the place lapsed: join again at the back
		return q.join(subject, now)
	}
	s.claimed = true
	return visit{seq: seq, admitted: true, expires: s.expires}
}

func (q *waitingRoom) join(subject uint64, now int64) visit {
	if int(q.tail-q.head)+len(q.lobby) >= q.cfg.maxLength {
		return visit{full: true}
	}
	if !q.started {
		q.lobby = append(q.lobby, subject)
		q.where[subject] = lobbySeq
		return visit{seq: lobbySeq, position: len(q.lobby)}
	}
	seq := q.push(subject, now)
	q.advance(now) // an empty line admits at once
	if seq < q.head {
		if s := q.session(seq); s != nil {
			s.claimed = true
			return visit{seq: seq, admitted: true, expires: s.expires}
		}
	}
	return visit{seq: seq, position: int(seq - q.head + 1)}
}

func (q *waitingRoom) push(subject uint64, now int64) uint64 {
	seq := q.tail
	q.tail++
	q.places[seq%uint64(len(q.places))] = place{subject: subject, lastSeen: now}
	q.where[subject] = seq
	return seq
}

// advance opens the line at the start, expires sessions and admits as
// many places as the rate and max_active allow, skipping abandoned ones.
func (q *waitingRoom) advance(now int64) {
	if !q.started {
		if now < q.cfg.start {
			return
		}
		q.open(now)
	}
	q.expire(now)
	if q.paused {
		q.lastCheck = max(q.lastCheck, now) // no credit builds up while paused
		return
	}
	if q.cfg.rate > 0 && now > q.lastCheck {
		// Credit accrues at the rate while people wait, however rarely the
		// line is looked at (admissions catch up at the next visit); an
		// empty line saves at most burst for the next arrivals.
		q.credit = min(q.credit+float64(now-q.lastCheck)*q.cfg.rate, float64(maxQueueLength))
		if q.head == q.tail {
			q.credit = min(q.credit, q.cfg.burst)
		}
	}
	q.lastCheck = max(q.lastCheck, now)
	for q.head < q.tail {
		p := &q.places[q.head%uint64(len(q.places))]
		if now-p.lastSeen > q.cfg.hold {
			delete(q.where, p.subject) // abandoned: skipped, costs no admission
			q.head++
			continue
		}
		if (q.cfg.rate > 0 && q.credit < 1) || (q.cfg.maxActive > 0 && q.active >= q.cfg.maxActive) ||
			len(q.sessions)-q.first >= q.cfg.maxSessions {
			return
		}
		q.credit--
		q.active++
		q.admitted++
		q.sessions = append(q.sessions, session{seq: q.head, subject: p.subject,
			claimBy: now + q.cfg.claim, expires: now + q.cfg.session})
		q.head++
	}
}

// open shuffles the lobby into the line: the fairness rule for early
// arrivals.
func (q *waitingRoom) open(now int64) {
	q.started = true
	q.lastCheck = now
	q.credit = min(1, q.cfg.burst)
	q.rnd.Shuffle(len(q.lobby), func(i, j int) { q.lobby[i], q.lobby[j] = q.lobby[j], q.lobby[i] })
	for _, s := range q.lobby {
		q.push(s, now)
	}
	q.lobby = nil
}

// expire releases sessions not claimed in time and forgets ended ones.
func (q *waitingRoom) expire(now int64) {
	for ; q.claimNext < len(q.sessions) && q.sessions[q.claimNext].claimBy < now; q.claimNext++ {
		if s := &q.sessions[q.claimNext]; !s.claimed && !s.released {
			s.released = true
			q.active--
		}
	}
	for ; q.first < q.claimNext && q.sessions[q.first].expires <= now; q.first++ {
		s := &q.sessions[q.first]
		if !s.released {
			q.active--
		}
		if seq, ok := q.where[s.subject]; ok && seq == s.seq {
			delete(q.where, s.subject)
		}
	}
	// Compact once the ended prefix outweighs the live part: amortised O(1).
	if q.first > 1024 && q.first > len(q.sessions)/2 {
		n := copy(q.sessions, q.sessions[q.first:])
		q.sessions = q.sessions[:n]
		q.claimNext -= q.first
		q.first = 0
	}
}

func (q *waitingRoom) session(seq uint64) *session {
	live := q.sessions[q.first:]
	i := sort.Search(len(live), func(i int) bool { return live[i].seq >= seq })
	if i < len(live) && live[i].seq == seq {
		return &live[i]
	}
	return nil
}

// retune applies a recompiled filter's tunables (rate, max_active,
// lengths, durations) to the line, keeping its places and sessions.
func (q *waitingRoom) retune(cfg roomConfig) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cfg.maxLength != len(q.places) {
		q.resize(cfg.maxLength)
	}
	q.cfg = cfg
}

// resize moves the waiting places into a ring of n slots. If fewer than
// the waiting places, the last arrivals lose theirs (the line was shrunk).
func (q *waitingRoom) resize(n int) {
	places := make([]place, n)
	for seq := q.head; seq < q.tail; seq++ {
		p := q.places[seq%uint64(len(q.places))]
		if int(seq-q.head) >= n {
			delete(q.where, p.subject)
			continue
		}
		places[seq%uint64(n)] = p
	}
	q.tail = min(q.tail, q.head+uint64(n))
	q.places = places
}

// revoke ends the session of seq held by subject (a purchase was made),
// freeing its max_active slot at once. A pass of an earlier line (the
// room was recreated) names a seq of someone else here: the subject must
// match.
func (q *waitingRoom) revoke(seq, subject uint64) {
	if q.shared != nil && q.shared.Revoke(seq, subject) == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.session(seq); s != nil && s.subject == subject && !s.released {
		s.released = true
		q.active--
	}
}

// length returns the number of places waiting, lobby included.
func (q *waitingRoom) length() int {
	if n, _, ok := q.sharedState(); ok {
		return n
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.localLength()
}

// localLength is the in-memory line's places, lobby included; q.mu held.
func (q *waitingRoom) localLength() int { return int(q.tail-q.head) + len(q.lobby) }

// sharedState is the shared line's length and pause, ok false when the
// room has no shared line or Redis did not answer (then the local line's
// count stands in).
func (q *waitingRoom) sharedState() (waiting int, paused, ok bool) {
	if q.shared == nil {
		return 0, false, false
	}
	waiting, paused, err := q.shared.State()
	return waiting, paused, err == nil
}
