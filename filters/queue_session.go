package filters

import (
	"encoding/binary"

	"github.com/valyala/fasthttp"

	"flashgate/token"
)

// A queue session is one buyer's turn. What makes it one, not a pass
// factory:
//
//   - Its pass is a function of the session (sessionPass): subject, place,
//     expiry and a nonce derived from them. An admitted client that asks
//     again without its cookie gets the same token back, so a session has
//     one pass however often it is asked for, and the revocation keyed by
//     that nonce covers every copy.
//   - On a route with revoke_on (the buy route), an attempt reserves one of
//     the session's `purchases` before it is forwarded (the reservation is
//     given back unless the origin answers with a revoke_on status), so
//     concurrent posts of one pass cannot buy more than `purchases`.
//   - The purchase that uses the last of them ends the session: the pass
//     stops working on every route of the group (on every instance sharing
//     the Store) and the max_active slot goes to the next in line.

// Salts of the session's state in the Store, apart from other flags and
// counters (revokeSalt is in queue.go).
const (
	reserveSalt = 0x7175657565726573 // "queueres": purchases in flight or made
	boughtSalt  = 0x7175657565627579 // "queuebuy": purchases made
)

// compilePurchases reads revoke_on and purchases: which answers are a
// purchase, and how many a session may make.
func (f *queue) compilePurchases(b *Build, spec *queueSpec) error {
	for _, s := range spec.RevokeOn {
		if s < 100 || s > 599 {
			return b.Errorf("revoke_on", "status %d is not an HTTP status", s)
		}
		f.revokeOn[s] = true
	}
	if len(spec.RevokeOn) == 0 && spec.Mode == "require" {
		for s := 200; s < 300; s++ { // a require route is where the turn is spent: a purchase
			f.revokeOn[s] = true
		}
	}
	f.buys = spec.Mode == "require" || len(spec.RevokeOn) > 0
	switch {
	case spec.Purchases < 0:
		return b.Errorf("purchases", "must be at least 1, got %d", spec.Purchases)
	case spec.Purchases > 0 && !f.buys:
		return b.Errorf("purchases", "purchases counts the answers in revoke_on: set revoke_on on this route, or put purchases on the buy route (mode: require)")
	}
	f.purchases = int64(max(1, spec.Purchases))
	if !f.buys {
		return nil
	}
	var err error
	f.hold, err = b.HoldBit()
	if err != nil {
		return err
	}
	f.used, err = b.Reject(RejectSpec{Reason: "queue_turn_busy", Status: 429, RetryAfter: 1, Title: "One moment",
		Message: "A purchase with your turn in line is already on its way. Wait for its answer before trying again."})
	if err != nil {
		return err
	}
	f.stateFull, err = b.Reject(stateFullSpec)
	return err
}

// sessionPass returns the claims of the pass of the session v of subject.
// Everything in it derives from the session, so signing it again gives the
// same token.
func (f *queue) sessionPass(subject uint64, v visit, now int64) token.Claims {
	c := token.Claims{Kind: token.KindQueuePass, Scope: f.prefix, Subject: subject,
		IssuedAt: min(now, v.expires-f.session), ExpiresAt: v.expires, Seq: v.seq}
	h := Mix(Mix(Mix(f.prefix, subject), v.seq), uint64(v.expires))
	binary.LittleEndian.PutUint64(c.Nonce[:8], h)
	binary.LittleEndian.PutUint32(c.Nonce[8:], uint32(Mix(h, 1)))
	return c
}

// revokeKey is the flag that ends the session of pass c.
func (f *queue) revokeKey(c *token.Claims) uint64 { return Mix(f.prefix^revokeSalt, c.NonceKey()) }

// reservePurchase lets a request with a valid pass c through, reserving
// one of its session's purchases on a buy route.
func (f *queue) reservePurchase(r *Request, c *token.Claims) Verdict {
	if !f.buys {
		return Continue
	}
	k, ttl := Mix(f.prefix^reserveSalt, c.NonceKey()), c.ExpiresAt+f.keys.Leeway()-r.Now
	n, tracked := f.store.AddTracked(k, 1, ttl, r.Now)
	switch {
	case !tracked:
		return f.stateFull.Verdict() // an untracked turn could buy without bound
	case n > f.purchases:
		f.store.Add(k, -1, ttl, r.Now)
		return f.used.Verdict()
	}
	r.Hold(f.hold)
	return Continue
}

// Observe keeps the reservation of a purchase (a revoke_on answer) and
// ends the session once it has made its purchases; any other answer gives
// the reservation back.
func (f *queue) Observe(r *Request, resp *fasthttp.Response) {
	st := resp.StatusCode()
	if st < 0 || st >= len(f.revokeOn) || !f.revokeOn[st] {
		f.Cancel(r)
		return
	}
	if !r.Release(f.hold) {
		return
	}
	subject, _ := r.Key(f.id)
	var c token.Claims
	if !f.signedPass(r, subject, &c) {
		return
	}
	ttl := c.ExpiresAt + f.keys.Leeway() - r.Now
	if f.store.Add(Mix(f.prefix^boughtSalt, c.NonceKey()), 1, ttl, r.Now) < f.purchases {
		return
	}
	f.store.SpendOnce(f.revokeKey(&c), c.ExpiresAt+f.keys.Leeway(), r.Now)
	room := f.room
	if f.members != nil {
		// The group's live room: a require member has none of its own.
		room = f.members.room.Load()
	}
	if room != nil {
		room.revoke(c.Seq, subject)
	}
}

// Cancel gives back the purchase reservation of a request that was not
// forwarded, or not bought.
func (f *queue) Cancel(r *Request) {
	if !r.Release(f.hold) {
		return
	}
	subject, _ := r.Key(f.id)
	var c token.Claims
	if f.signedPass(r, subject, &c) {
		f.store.Add(Mix(f.prefix^reserveSalt, c.NonceKey()), -1, c.ExpiresAt+f.keys.Leeway()-r.Now, r.Now)
	}
}

// signedPass reads r's pass of subject, revoked or not: a concurrent
// purchase may have ended the session since Check.
func (f *queue) signedPass(r *Request, subject uint64, c *token.Claims) bool {
	tok := tokenFrom(r, queuePassHeader, queuePassCookie)
	return tok != nil && f.keys.Verify(c, tok, r.Now) == nil &&
		c.Kind == token.KindQueuePass && c.Subject == subject && c.Scope == f.prefix
}
