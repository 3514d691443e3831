package filters

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/rules"
	"flashgate/token"
)

// queueSpec is the "queue" filter's spec (a virtual waiting room):
//
//   - queue:
//     mode: wait               # wait (default): hand out places and show the waiting page |
//     # require: only check the pass of the group's waiting room (a POST buy route)
//     group: singles-day       # routes naming one group share one room and its passes
//     admit_rate: 50/s         # wait: admissions per second (admit_rate and/or max_active)
//     max_active: 500          # wait: sessions at once
//     session: 10m             # wait: how long an admitted client may use the routes (default 10m)
//     max_length: 100000       # wait: places in line; beyond it 503 queue_full (default 100000)
//     start: 2026-11-25T12:00:00Z  # wait, optional: arrivals before it are shuffled at the start
//     hold: 5m                 # wait: a place is kept this long after its last poll (>= 5m, default 5m)
//     claim: 2m                # wait: an admitted client must come back within this (default 2m)
//     wait_url: /item/7        # require: the page where the line is, named by the refusal
//     revoke_on: [200, 201]    # origin statuses on this route that count as a purchase
//     # (default for mode: require: every 2xx; mode: wait: none)
//     purchases: 1             # purchases per session (default 1): the last one ends it
//     key: cookie:uid          # who "the client" is (see IdentitySpec; default ip)
//
// A request with a valid pass (cookie fg_queue_pass, or header
// X-Flashgate-Queue for apps) goes on. In wait mode any other request takes
// (or keeps) its place: it gets a ticket (cookie fg_queue_ticket, header
// X-Flashgate-Ticket) and 503 queued with its position; the page refreshes
// itself and polls /_flashgate/queue/<group or route>/status. When its turn
// comes the next request or poll receives the pass. In require mode a
// request without a pass is refused (403 queue_required, naming wait_url)
// and never queued: a purchase is a POST, which a waiting page cannot
// replay, and a bot posting to the buy URL must not skip the line. Tickets
// and passes are bound to the client identity, so copies do not work. The
// fairness rule is on waitingRoom.
//
// A session is one buyer's turn, not a pass factory (queue_session.go):
// its pass is a function of the session, so asking again without it gives
// the same pass, never a second one; a purchase (a revoke_on answer) ends
// the session, which revokes that pass on every route of the group and
// frees the max_active slot; and at most `purchases` attempts of a session
// are in flight or bought at any time, so concurrent posts cannot buy more.
type queueSpec struct {
	AdmitRate rules.Rate     `yaml:"admit_rate"`
	MaxActive int            `yaml:"max_active"`
	Session   rules.Duration `yaml:"session"`
	MaxLength int            `yaml:"max_length"`
	Start     time.Time      `yaml:"start"`
	Hold      rules.Duration `yaml:"hold"`
	Claim     rules.Duration `yaml:"claim"`
	RevokeOn  []int          `yaml:"revoke_on"`
	Purchases int            `yaml:"purchases"`
	Key       rules.Node     `yaml:"key"`
	Mode      string         `yaml:"mode"`
	Group     string         `yaml:"group"`
	WaitURL   string         `yaml:"wait_url"`
}

const (
	queueTicketCookie = "fg_queue_ticket"
	queueTicketHeader = "X-Flashgate-Ticket"
	queuePassCookie   = "fg_queue_pass"
	queuePassHeader   = "X-Flashgate-Queue"
	queuePrefix       = "/_flashgate/queue/"
	queuePoll         = 5  // seconds between status polls of the waiting page
	queueRefresh      = 20 // seconds between reloads of the page without JavaScript
	minHold           = 5 * time.Minute
	maxQueueLength    = 10_000_000
	revokeSalt        = 0x7265766f6b656421 // "revoked!": revoked passes, apart from other flags
)

// queue is the compiled waiting-room filter. Immutable after compile and
// safe for concurrent use; the line lives in a waitingRoom kept across
// reloads, revocations in the Store.
type queue struct {
	store     Store
	keys      *token.Keyring
	id        *Identity
	room      *waitingRoom  // nil in require mode
	members   *groupMembers // nil without a group
	require   bool          // mode: require
	prefix    uint64        // token scope and store keys: the route's, or the group's
	ticketTTL int64
	session   int64 // wait: the session length a pass's IssuedAt is derived from
	revokeOn  [600]bool
	buys      bool   // some revoke_on status is set: the route is where purchases are made
	purchases int64  // purchases per session
	hold      uint8  // Build.HoldBit of the session's purchase reservation
	status    string // the status endpoint's path

	queued, full, required, used, stateFull *Rejection
	admitted                                *metrics.Counter
}

var (
	_ Filter   = (*queue)(nil)
	_ Observer = (*queue)(nil)
	_ Canceler = (*queue)(nil)
)

func newQueue(b *Build) (Filter, error) {
	var spec queueSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	f := &queue{store: b.Store(), keys: b.Env.Tokens()}
	if f.keys == nil {
		return nil, b.Errorf("", "the queue signs tickets and passes: configure token keys for the gateway")
	}
	if err := f.compilePurchases(b, &spec); err != nil {
		return nil, err
	}
	var err error
	if f.id, err = b.Identity(spec.Key); err != nil {
		return nil, err
	}
	name := b.Route
	if spec.Group != "" {
		if !validGroup(spec.Group) {
			return nil, b.Errorf("group", "group %q: use 1..64 letters, digits, '-', '_' or '.' (it names the page /_flashgate/queue/<group>/status)", spec.Group)
		}
		name = spec.Group
	}
	f.status = queuePrefix + name + "/status"
	switch spec.Mode {
	case "", "wait":
		err = f.compileWait(b, &spec)
	case "require":
		err = f.compileRequire(b, &spec)
	default:
		err = b.Errorf("mode", "unknown mode %q (known: wait, require)", spec.Mode)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// compileWait builds a waiting room's front door: places, the waiting
// page, the status endpoint. Grouped, the room and its status page are
// shared by the group's wait members and registered once.
func (f *queue) compileWait(b *Build, spec *queueSpec) error {
	if spec.WaitURL != "" {
		return b.Errorf("wait_url", "wait_url is for mode: require (in mode: wait the route is the waiting page)")
	}
	cfg, err := queueConfig(b, spec)
	if err != nil {
		return err
	}
	f.ticketTTL = cfg.hold + cfg.session
	f.session = cfg.session
	// The line's meaning: who is in it and when it opens. Rates, lengths
	// and durations are tunables and keep the line across a reload.
	start := spec.Start.UTC().Format(time.RFC3339Nano)
	var roomID StateID
	registerPage := true
	if spec.Group == "" {
		roomID = b.StateID(f.id.String(), start)
		f.prefix = roomID.Key()
	} else {
		m, first, err := joinGroup(b, spec.Group, f.id.String())
		if err != nil {
			return err
		}
		if m.wait && m.roomCfg != cfg {
			return b.Errorf("group", "routes of group %q that wait (mode: wait) share one line: give them the same "+
				"admit_rate, max_active, session, max_length, start, hold and claim (they differ from another route's)", spec.Group)
		}
		f.members, registerPage = m, !m.wait
		roomID = b.GroupStateID(spec.Group, f.id.String(), start)
		// Passes are scoped to the group without the start, so require
		// members, which do not know it, verify them alike.
		f.prefix = b.GroupStateID(spec.Group, f.id.String()).Key()
		if first {
			warnRequireOnly(b, m, spec.Group)
		}
	}
	f.room = b.Env.State(roomID, func() any { return b.newRoom(roomID, cfg) }).(*waitingRoom)
	f.room.retune(cfg)
	if m := f.members; m != nil && registerPage {
		m.wait, m.roomCfg = true, cfg
		room := f.room
		b.Env.onCommit(func() { m.room.Store(room) })
	}
	if err := f.rejections(b); err != nil {
		return err
	}
	f.admitted = b.Env.Metrics.GetOrCreateCounter(`flashgate_queue_admitted_total{route=` + quoteLabel(b.Route) + `}`)
	if !registerPage {
		return nil
	}
	if err := b.Env.AddPage(f.status, f.serveStatus(b.Env)); err != nil {
		return b.Errorf("", "%v (one queue per route or group)", err)
	}
	return nil
}

// compileRequire builds the check of a route that spends what the line
// gave (a purchase): it needs the group whose waiting page hands out the
// pass and that page's address, and takes none of the line's tunables.
func (f *queue) compileRequire(b *Build, spec *queueSpec) error {
	if spec.Group == "" {
		return b.Errorf("mode", "mode: require checks the pass of a waiting room on another route: "+
			"give both routes the same group (group: ...)")
	}
	if spec.WaitURL == "" {
		return b.Errorf("mode", "mode: require needs wait_url: the page where the line is, e.g. /item/7")
	}
	if string(localPath([]byte(spec.WaitURL))) != spec.WaitURL || strings.ContainsAny(spec.WaitURL, "\"<>'`") {
		return b.Errorf("wait_url", "%q is not a path on this site (want e.g. /item/7)", spec.WaitURL)
	}
	for _, t := range []struct {
		key string
		set bool
	}{
		{"admit_rate", spec.AdmitRate.N != 0}, {"max_active", spec.MaxActive != 0}, {"session", spec.Session.Duration() != 0},
		{"max_length", spec.MaxLength != 0}, {"start", !spec.Start.IsZero()}, {"hold", spec.Hold.Duration() != 0},
		{"claim", spec.Claim.Duration() != 0},
	} {
		if t.set {
			return b.Errorf(t.key, "%s is for mode: wait; set it on the group's waiting route", t.key)
		}
	}
	m, first, err := joinGroup(b, spec.Group, f.id.String())
	if err != nil {
		return err
	}
	if first {
		warnRequireOnly(b, m, spec.Group)
	}
	f.members, f.require = m, true
	f.prefix = b.GroupStateID(spec.Group, f.id.String()).Key()
	f.required, err = b.Reject(RejectSpec{Reason: "queue_required", Status: 403, Title: "Please wait in line first",
		Message: "This sale lets buyers in a few at a time, in the order they arrived. " +
			"Go to the sale page to take your place; when it is your turn you can buy.",
		Vars: map[string]string{"wait_url": spec.WaitURL, "status_url": f.status}})
	return err
}

// warnRequireOnly logs, once the compile is committed, when routes require
// the group's pass but none hands it out: nobody could ever pass them.
func warnRequireOnly(b *Build, m *groupMembers, group string) {
	env := b.Env
	env.onCommit(func() {
		if !m.wait {
			m.room.Store(nil)
			env.Log.Warn("queue group has routes that require its pass but none that issues it (mode: wait): they refuse everyone",
				"group", group)
		}
	})
}

func randomSeed() (s [32]byte) {
	_, _ = rand.Read(s[:])
	return s
}

func queueConfig(b *Build, s *queueSpec) (roomConfig, error) {
	dur := func(d rules.Duration, def time.Duration) int64 {
		if d.Duration() > 0 {
			return int64(d.Duration())
		}
		return int64(def)
	}
	cfg := roomConfig{maxActive: s.MaxActive, maxLength: s.MaxLength, session: dur(s.Session, 10*time.Minute),
		hold: dur(s.Hold, minHold)}
	cfg.claim = dur(s.Claim, time.Duration(min(int64(2*time.Minute), cfg.session)))
	if !s.Start.IsZero() {
		cfg.start = s.Start.UnixNano()
	}
	if s.AdmitRate.N < 0 || s.MaxActive < 0 || (s.AdmitRate.N == 0 && s.MaxActive == 0) {
		return cfg, b.Errorf("admit_rate", "set admit_rate (like 50/s), max_active, or both")
	}
	if s.AdmitRate.N > 0 {
		perSec := float64(s.AdmitRate.N) * float64(time.Second) / float64(s.AdmitRate.Per)
		cfg.rate = perSec / float64(time.Second)
		cfg.burst = max(1, perSec) // at most one second's worth at once after a pause
	}
	if cfg.maxLength == 0 {
		cfg.maxLength = 100_000
	}
	if cfg.maxLength < 1 || cfg.maxLength > maxQueueLength {
		return cfg, b.Errorf("max_length", "must be within 1..%d, got %d", maxQueueLength, cfg.maxLength)
	}
	if cfg.hold < int64(minHold) {
		return cfg, b.Errorf("hold", "must be at least %v: people look away from a waiting page", minHold)
	}
	if cfg.claim > cfg.session {
		return cfg, b.Errorf("claim", "must not exceed session (%v)", time.Duration(cfg.session))
	}
	// Sessions tracked at once: what max_active or the rate can admit in
	// one session, with room for the unclaimed ones a claim window frees.
	cfg.maxSessions = maxQueueLength
	if cfg.maxActive > 0 {
		cfg.maxSessions = min(cfg.maxSessions, cfg.maxActive*int(max(1, cfg.session/cfg.claim)+1))
	}
	if cfg.rate > 0 {
		cfg.maxSessions = min(cfg.maxSessions, int(float64(cfg.session)*cfg.rate+cfg.burst)+1)
	}
	return cfg, nil
}

func (f *queue) rejections(b *Build) error {
	var err error
	f.queued, err = b.Reject(RejectSpec{Reason: "queued", Status: 503, Title: "You are in line",
		Message: "This sale is very popular right now, so we let buyers in a few at a time, in the order they arrived.",
		Value:   "position", Waiting: true, RetryAfter: queuePoll, Vars: map[string]string{"status_url": f.status}})
	if err != nil {
		return err
	}
	f.full, err = b.Reject(RejectSpec{Reason: "queue_full", Status: 503, Title: "The line is full",
		Message:    "So many people are waiting that we cannot give you a fair place right now. Please try again in a minute.",
		RetryAfter: 60})
	return err
}

var (
	hdrRefresh = []byte("Refresh")
	valRefresh = []byte("20")
)

// Check lets a client with a valid pass through; everyone else is placed
// in (or kept in) line, and let through when its turn has come. 0 allocs
// for a pass and for a client waiting with its ticket.
func (f *queue) Check(r *Request) Verdict {
	subject, _ := r.Key(f.id)
	var c token.Claims
	if f.passClaims(r, subject, &c) {
		return f.reservePurchase(r, &c)
	}
	if f.require {
		return f.required.Verdict()
	}
	v := f.room.visit(subject, r.Now)
	switch {
	case v.full:
		return f.full.Verdict()
	case v.admitted:
		f.issuePass(r, subject, v)
		return Continue
	}
	joined := f.keepTicket(r, subject, v.seq)
	r.Ctx.Response.Header.SetCanonical(hdrRefresh, valRefresh)
	eta := f.room.eta(v.position)
	return f.queued.Waiting(int64(v.position), eta, waitProgress(r.Now-joined, eta))
}

// validPass reports whether r carries an unrevoked pass of subject.
func (f *queue) validPass(r *Request, subject uint64) bool {
	var c token.Claims
	return f.passClaims(r, subject, &c)
}

func (f *queue) passClaims(r *Request, subject uint64, c *token.Claims) bool {
	return f.signedPass(r, subject, c) && f.store.Get(f.revokeKey(c), r.Now) == 0
}

// keepTicket (re)issues the ticket cookie when the client's ticket does not
// already name its place, and returns when the client took that place (a
// renewed ticket keeps the time, for the waiting page's progress).
func (f *queue) keepTicket(r *Request, subject, seq uint64) (joined int64) {
	var c token.Claims
	tok := tokenFrom(r, queueTicketHeader, queueTicketCookie)
	joined = r.Now
	if tok != nil && f.keys.Verify(&c, tok, r.Now) == nil && c.Kind == token.KindQueueTicket &&
		c.Subject == subject && c.Scope == f.prefix && c.Seq == seq {
		if c.ExpiresAt-r.Now > f.ticketTTL/2 {
			return c.IssuedAt
		}
		joined = c.IssuedAt
	}
	c = token.Claims{Kind: token.KindQueueTicket, Scope: f.prefix, Subject: subject, IssuedAt: joined,
		ExpiresAt: r.Now + f.ticketTTL, Seq: seq}
	c.RandomNonce()
	buf := f.keys.Sign(r.scratch(token.EncodedLen)[:0], &c)
	setTokenCookie(r, queueTicketCookie, buf, f.ticketTTL)
	return joined
}

// issuePass gives the client its session's pass: the same token however
// often it is asked for (sessionPass), so a session never has two.
func (f *queue) issuePass(r *Request, subject uint64, v visit) []byte {
	c := f.sessionPass(subject, v, r.Now)
	buf := f.keys.Sign(r.scratch(token.EncodedLen)[:0], &c)
	setTokenCookie(r, queuePassCookie, buf, v.expires-r.Now)
	f.admitted.Inc()
	return buf
}
