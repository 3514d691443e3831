package rehearse

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Bot kinds, taken in turn by arriving bots. Each should be refused.
var botKinds = []string{
	"direct",     // posts the purchase at once: no page, no line, no quiz
	"no_cookies", // the same without any cookie (no user either)
	"replay",     // replays the cookies of a shopper who already bought
	"borrowed",   // uses another shopper's fresh passes under its own name and address
	"one_ip",     // one of a farm of users behind a single address, posting directly
}

// farmAddr is the one address the one_ip farm shares.
var farmAddr = net.IPv4(127, 254, 254, 254)

// botAttempts is how many purchases a bot tries before it gives up.
const botAttempts = 3

// bot runs one bot of kind and reports whether any purchase of it
// succeeded (a bot that got through).
func (r *run) bot(ctx context.Context, id int, kind string) (outcome string, through bool) {
	src := sourceAddr(id)
	if kind == "one_ip" {
		src = farmAddr
	}
	c := r.t.newClient(src)
	defer c.close()
	user := "bot-" + strconv.Itoa(id)
	switch kind {
	case "direct", "one_ip":
		c.jar[r.cfg.UserCookie] = user
	case "replay", "borrowed":
		pool := r.leaked
		if kind == "borrowed" {
			pool = r.borrowed
		}
		jar, ok := take(ctx, pool, 2*time.Second)
		if !ok {
			// Nothing to steal yet: it behaves as a direct bot.
			c.jar[r.cfg.UserCookie] = user
			break
		}
		c.jar = jar
		if kind == "borrowed" {
			c.jar[r.cfg.UserCookie] = user
		}
	}
	path := r.cfg.path(r.cfg.BuyPath)
	form := url.Values{"qty": {strconv.Itoa(r.cfg.Quantity)}}
	last := "refused"
	for i := 0; i < botAttempts && ctx.Err() == nil; i++ {
		a := c.do("POST", path, form)
		r.rec.answer(&a, false)
		switch {
		case a.err == errBudget:
			return outUnfinished, through
		case a.err == nil && a.status >= 200 && a.status < 300:
			through = true
			r.rec.bought(c.jar[r.cfg.UserCookie], int64(r.cfg.Quantity))
			last = "got_through"
		case a.reason != "":
			last = "refused:" + a.reason
		case a.err != nil:
			last = outError
		default:
			last = "refused:status_" + strconv.Itoa(a.status)
		}
	}
	return kind + " " + last, through
}

// take waits up to d for a jar on ch.
func take(ctx context.Context, ch chan map[string]string, d time.Duration) (map[string]string, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case jar := <-ch:
		return jar, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
