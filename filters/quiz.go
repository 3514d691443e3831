package filters

import (
	"net/url"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/route"
	"flashgate/rules"
	"flashgate/token"
)

// quizSpec is the "quiz" filter's spec:
//
//   - quiz:
//     mode: text               # text (default: a question, works without JavaScript) | pow
//     bank: quiz/sale.yaml     # text: question file, re-read when it changes (default: arithmetic)
//     difficulty: 16           # pow: leading zero bits of SHA-256 (8..26, default 16)
//     fallback: text           # pow: without JavaScript ask an arithmetic question (default) | none
//     min_solve: 2s            # answers sooner than this after the question are refused (default 2s)
//     challenge_ttl: 5m        # how long a question may be answered (default 5m)
//     pass_ttl: 10m            # how long the earned pass may be used (default 10m)
//     max_attempts: 10         # answers per client per attempts_window (default 10)
//     attempts_window: 10m     # (default 10m)
//     scope: route             # route (default): a pass opens any URL of the route once |
//     # path: only the path the quiz was asked for (/buy/42 names the item)
//     group: singles-day       # routes naming one group share one quiz page and pass scope
//     return: /item/7          # the page a client goes back to after answering (for POST routes)
//     key: cookie:uid          # who "the client" is (see IdentitySpec; default ip)
//
// A request to the route must carry a pass (cookie fg_quiz, or header
// X-Flashgate-Quiz for apps); each pass opens the route once. Without one
// the client gets 403 quiz_required pointing at /_flashgate/quiz/<group or
// route>, which serves the challenge and then sends the client back (303)
// to return, or to the page it came from. A POST route (a purchase) needs
// return: a browser cannot be sent back to a POST, so it answers the
// question, returns to the item page and buys from there, spending the pass
// on the POST. Passes are bound to the client identity and scope, so a
// copied pass fails; their nonces are spent in the Store, so a replayed
// pass fails, also on another instance sharing the Store. A pass is spent
// only by a request that goes on: if a later filter refuses it (no queue
// pass yet) or the cache answers it, the pass is given back.
type quizSpec struct {
	Mode           string         `yaml:"mode"`
	Bank           string         `yaml:"bank"`
	Difficulty     int            `yaml:"difficulty"`
	MinSolve       rules.Duration `yaml:"min_solve"`
	ChallengeTTL   rules.Duration `yaml:"challenge_ttl"`
	PassTTL        rules.Duration `yaml:"pass_ttl"`
	MaxAttempts    int            `yaml:"max_attempts"`
	AttemptsWindow rules.Duration `yaml:"attempts_window"`
	Scope          string         `yaml:"scope"`
	Key            rules.Node     `yaml:"key"`
	Group          string         `yaml:"group"`
	Return         string         `yaml:"return"`
	Fallback       string         `yaml:"fallback"`
}

// Where quiz passes travel.
const (
	quizCookie = "fg_quiz"
	quizHeader = "X-Flashgate-Quiz"
	quizPrefix = "/_flashgate/quiz/"
)

// quiz is the compiled quiz filter. Immutable after compile and safe for
// concurrent use; spent nonces and attempt counts live in the Store.
type quiz struct {
	store    Store
	keys     *token.Keyring
	id       *Identity
	bank     questionBank // nil in pow mode
	pow      int          // difficulty; 0 in text mode
	perPath  bool
	prefix   uint64 // StateID key: scopes, spent nonces, attempts
	minSolve int64
	chalTTL  int64
	passTTL  int64
	maxTries int64
	window   int64
	page     string // the challenge page's path
	pages    *pageSet
	fallback questionBank // pow mode: the question asked without JavaScript (nil: none)
	route    string
	hold     uint8 // HoldBit: this request spent a pass

	required, invalid, expired, used *Rejection
	issued, solved, refused          *metrics.Counter
}

var (
	_ Filter   = (*quiz)(nil)
	_ Canceler = (*quiz)(nil)
)

// quizShape is what the routes of one quiz group must agree on: the group
// shares one page, served with its first member's settings, and one pass
// scope, bound to one identity.
type quizShape struct {
	mode, bank, id             string
	pow                        int
	minSolve, chalTTL, passTTL int64
	maxTries, window           int64
	perPath                    bool
}

func newQuiz(b *Build) (Filter, error) {
	var spec quizSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	f := &quiz{store: b.Store(), keys: b.Env.Tokens(), route: b.Route, page: quizPrefix + b.Route, pages: b.pageSet()}
	if f.keys == nil {
		return nil, b.Errorf("", "the quiz signs passes: configure token keys for the gateway")
	}
	if err := f.configure(b, &spec); err != nil {
		return nil, err
	}
	var err error
	if f.id, err = b.Identity(spec.Key); err != nil {
		return nil, err
	}
	if f.hold, err = b.HoldBit(); err != nil {
		return nil, err
	}
	registerPage := true
	if spec.Group == "" {
		f.prefix = b.StateID(spec.Scope, f.id.String()).Key()
	} else {
		if !validGroup(spec.Group) {
			return nil, b.Errorf("group", "group %q: use 1..64 letters, digits, '-', '_' or '.' (it names the page /_flashgate/quiz/<group>)", spec.Group)
		}
		shape := quizShape{bank: spec.Bank, id: f.id.String(), pow: f.pow, minSolve: f.minSolve,
			chalTTL: f.chalTTL, passTTL: f.passTTL, maxTries: f.maxTries, window: f.window, perPath: f.perPath}
		_, first, err := joinGroup(b, spec.Group, shape)
		if err != nil {
			return nil, err
		}
		registerPage = first
		f.page = quizPrefix + spec.Group
		f.prefix = b.GroupStateID(spec.Group, spec.Scope, f.id.String()).Key()
	}
	if err := f.rejections(b, spec.Return); err != nil {
		return nil, err
	}
	f.issued = b.Env.Metrics.GetOrCreateCounter(`flashgate_quiz_challenges_total{route=` + quoteLabel(b.Route) + `}`)
	f.solved = b.Env.Metrics.GetOrCreateCounter(`flashgate_quiz_passes_total{route=` + quoteLabel(b.Route) + `}`)
	f.refused = b.Env.Metrics.GetOrCreateCounter(`flashgate_quiz_answers_refused_total{route=` + quoteLabel(b.Route) + `}`)
	if !registerPage {
		return f, nil
	}
	if err := b.Env.AddPage(f.page, f.servePage(b.Env)); err != nil {
		return nil, b.Errorf("", "%v (one quiz per route or group)", err)
	}
	return f, nil
}

// configure validates the spec and fills the tunables with defaults.
func (f *quiz) configure(b *Build, s *quizSpec) error {
	dur := func(d rules.Duration, def time.Duration) int64 {
		if d.Duration() > 0 {
			return int64(d.Duration())
		}
		return int64(def)
	}
	f.minSolve = dur(s.MinSolve, 2*time.Second)
	f.chalTTL = dur(s.ChallengeTTL, 5*time.Minute)
	f.passTTL = dur(s.PassTTL, 10*time.Minute)
	f.window = dur(s.AttemptsWindow, 10*time.Minute)
	f.maxTries = int64(s.MaxAttempts)
	if f.maxTries == 0 {
		f.maxTries = 10
	}
	if s.MinSolve.Duration() < 0 || f.minSolve >= f.chalTTL {
		return b.Errorf("min_solve", "must be at least 0 and below challenge_ttl (%v)", time.Duration(f.chalTTL))
	}
	if f.maxTries < 1 {
		return b.Errorf("max_attempts", "must be at least 1, got %d", f.maxTries)
	}
	if s.Return != "" && (string(localPath([]byte(s.Return))) != s.Return || strings.ContainsAny(s.Return, "\"<>'`")) {
		return b.Errorf("return", "%q is not a path on this site (want e.g. /item/7)", s.Return)
	}
	switch s.Scope {
	case "", "route":
	case "path":
		f.perPath = true
		if s.Return != "" {
			return b.Errorf("return", "scope: path binds a pass to the page the quiz was asked for, "+
				"but with return the quiz is asked for %s: use scope: route", s.Return)
		}
	default:
		return b.Errorf("scope", "unknown scope %q (known: route, path)", s.Scope)
	}
	switch s.Mode {
	case "", "text":
		if s.Difficulty != 0 || s.Fallback != "" {
			return b.Errorf("difficulty", "difficulty and fallback are for mode: pow")
		}
		var err error
		f.bank, err = b.bank(s.Bank)
		return err
	case "pow":
		if s.Bank != "" {
			return b.Errorf("bank", "a question bank is for mode: text")
		}
		f.pow = s.Difficulty
		switch s.Fallback {
		case "", "text":
			f.fallback = arithmetic{}
		case "none":
		default:
			return b.Errorf("fallback", "unknown fallback %q (known: text, none)", s.Fallback)
		}
		if f.pow == 0 {
			f.pow = 16
		}
		if f.pow < minPowDifficulty || f.pow > maxPowDifficulty {
			return b.Errorf("difficulty", "must be within %d..%d, got %d", minPowDifficulty, maxPowDifficulty, f.pow)
		}
		return nil
	}
	return b.Errorf("mode", "unknown mode %q (known: text, pow)", s.Mode)
}

// rejections prebuilds the answers of the protected route: all 403 with a
// link to the quiz; the reasons tell operators why. The link returns to
// ret when given (a POST route: the page its form is on), else to the
// page that was refused (by script; without one the quiz page reads the
// Referer).
func (f *quiz) rejections(b *Build, ret string) error {
	quizURL := f.page
	if ret != "" {
		quizURL += "?return=" + url.QueryEscape(ret)
	}
	mk := func(reason, msg string) (*Rejection, error) {
		return b.Reject(RejectSpec{Reason: reason, Status: 403, Title: "Just a moment",
			Message: msg, Vars: map[string]string{"quiz_url": quizURL}})
	}
	var err error
	for _, x := range []struct {
		dst       **Rejection
		reason, m string
	}{
		{&f.required, "quiz_required", "To keep this sale fair, we check that every buyer is a person. It only takes a moment."},
		{&f.invalid, "quiz_invalid", "Your answer pass is not valid for this page or this device. Please answer a new question."},
		{&f.expired, "quiz_expired", "Your answer pass has expired. Please answer a new question."},
		{&f.used, "quiz_used", "Your answer pass has already been used. Please answer a new question."},
	} {
		if *x.dst, err = mk(x.reason, x.m); err != nil {
			return err
		}
	}
	return nil
}

// scope returns the scope claim for a request to path (ignored unless the
// filter is per path). Callers pass the path the origin reads.
func (f *quiz) scope(path []byte) uint64 {
	if !f.perPath {
		return f.prefix
	}
	return Mix(f.prefix, HashBytes(path))
}

// requestScope is the scope a pass must carry to open r: per path, the
// path normalised as the origin reads it (as the proxy matched it).
func (f *quiz) requestScope(r *Request) uint64 {
	if !f.perPath {
		return f.prefix
	}
	p, err := route.Normalize(r.Scratch[:0], r.Ctx.Request.URI().PathOriginal())
	r.Scratch = p[:0]
	if err != nil {
		return 0 // the proxy answers 400 before filters; never a valid scope
	}
	return f.scope(p)
}

// issuedHere reports whether challenge c was issued by this quiz for a
// client going back to ret: its scope is the one this quiz gives passes
// for ret (the quiz's, or with scope: path the path's), and in pow mode it
// asks this quiz's difficulty. Keys sign every quiz's challenges alike, so
// without it a challenge solved at a cheap quiz's difficulty and answered
// at its page would carry another quiz's scope into the pass.
func (f *quiz) issuedHere(c *token.Claims, ret []byte) bool {
	if c.Scope != f.scopeOf(ret) {
		return false
	}
	return f.bank != nil || powOf(c.Seq) == f.pow
}

// challengeKey is the flag that spends challenge c. It is the same for
// every quiz of the gateway (challenge nonces are random), so one solved
// challenge yields one pass wherever it is answered.
func challengeKey(c *token.Claims) uint64 { return Mix(challengeSalt, c.NonceKey()) }

// Check admits a request carrying an unspent pass for this client and
// scope, spending it. 0 allocs.
func (f *quiz) Check(r *Request) Verdict {
	tok := tokenFrom(r, quizHeader, quizCookie)
	if tok == nil {
		return f.required.Verdict()
	}
	var c token.Claims
	switch err := f.keys.Verify(&c, tok, r.Now); err {
	case nil:
	case token.ErrExpired:
		return f.expired.Verdict()
	default:
		return f.invalid.Verdict()
	}
	subject, _ := r.Key(f.id)
	if c.Kind != token.KindQuizPass || c.Subject != subject || c.Scope != f.requestScope(r) {
		return f.invalid.Verdict()
	}
	// The flag must outlive every instant at which the pass still verifies.
	if !f.store.SpendOnce(Mix(f.prefix, c.NonceKey()), c.ExpiresAt+f.keys.Leeway(), r.Now) {
		return f.used.Verdict()
	}
	r.Hold(f.hold)
	return Continue
}

// Cancel gives back the pass this request spent when it does not go on
// after all: a later filter refused it (the buyer has no queue pass yet)
// or the cache answered. The buyer keeps the answer it earned; the spend
// stays atomic, since only the request that spent the pass can give it
// back. 0 allocs.
func (f *quiz) Cancel(r *Request) {
	if !r.Release(f.hold) {
		return
	}
	var c token.Claims
	if tok := tokenFrom(r, quizHeader, quizCookie); tok == nil || f.keys.Verify(&c, tok, r.Now) != nil {
		return
	}
	f.store.Forget(Mix(f.prefix, c.NonceKey()))
}
