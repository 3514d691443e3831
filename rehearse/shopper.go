package rehearse

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Shopper outcomes: every arrival ends in exactly one.
const (
	outBought     = "bought"
	outSoldOut    = "sold_out"
	outLimit      = "purchase_limit"
	outError      = "error"      // the gateway or shop kept failing
	outUnfinished = "unfinished" // still busy when the rehearsal ended
)

// shopper walks one buyer through the sale as a browser's page scripts
// (or an app) do, and returns its outcome.
func (r *run) shopper(ctx context.Context, id int) string {
	c := r.t.newClient(sourceAddr(id))
	defer c.close()
	user := "shopper-" + strconv.Itoa(id)
	c.jar[r.cfg.UserCookie] = user
	s := &walk{run: r, c: c, user: user, patience: r.cfg.Patience}
	if !s.enter(ctx) {
		return s.end
	}
	return s.buy(ctx)
}

// walk is one shopper's state on the way to a purchase.
type walk struct {
	*run
	c        *client
	user     string
	patience int    // "try again" answers still accepted
	end      string // the outcome, once decided
}

// enter loads the item page until let in: it waits in line when queued
// (polling the status the waiting page polls) and returns false with
// s.end set when refused for good.
func (s *walk) enter(ctx context.Context) bool {
	first := time.Now()
	queued := false
	page := s.cfg.path(s.cfg.PagePath)
	for try := 0; ; try++ {
		if ctx.Err() != nil {
			s.end = outUnfinished
			return false
		}
		a := s.c.do("GET", page, nil)
		s.rec.answer(&a, false)
		if try == 0 && a.err == nil {
			s.rec.latency(stepPage, a.latency)
		}
		switch {
		case a.err == errBudget:
			s.end = outUnfinished
			return false
		case a.err == nil && a.status == 200:
			if queued {
				s.rec.latency(stepQueue, time.Since(first))
			}
			s.rec.wasAdmitted()
			s.live.admitted.Add(1)
			return true
		case a.reason == "queued":
			queued = true
			if n, ok := a.num("length"); ok {
				s.rec.queueLength(int64(n))
			} else if n, ok := a.num("position"); ok {
				s.rec.queueLength(int64(n))
			}
			if !s.waitInLine(ctx, &a) {
				return false
			}
		case s.tryAgain(&a):
			if !s.pause(ctx, s.backoff(&a)) {
				return false
			}
		default:
			s.end = s.refusal(&a)
			return false
		}
	}
}

// waitInLine polls the waiting room's status until the shopper is let in
// (the next page load then succeeds) or refused. Without a status URL in
// the answer it waits and reloads the page, as the page does without
// JavaScript.
func (s *walk) waitInLine(ctx context.Context, q *answer) bool {
	s.live.waiting.Add(1)
	defer s.live.waiting.Add(-1)
	status := q.str("status_url")
	wait := s.pollWait(q)
	for {
		if !s.pause(ctx, wait) {
			return false
		}
		if status == "" {
			return true // reload the page
		}
		a := s.c.do("GET", status, nil)
		admitted, _ := a.body["admitted"].(bool)
		s.rec.answer(&a, a.err == nil && a.status == 200 && !admitted)
		switch {
		case a.err == errBudget:
			s.end = outUnfinished
			return false
		case a.err == nil && a.status == 200 && admitted:
			return true
		case a.err == nil && a.status == 200:
			if n, ok := a.num("length"); ok {
				s.rec.queueLength(int64(n))
			}
			wait = s.pollWait(&a)
		case s.tryAgain(&a):
			wait = s.backoff(&a)
		default:
			s.end = s.refusal(&a)
			return false
		}
	}
}

// buy posts the purchase until it succeeds or is refused for good, earning
// the passes the gateway asks for on the way.
func (s *walk) buy(ctx context.Context) string {
	path := s.cfg.path(s.cfg.BuyPath)
	form := url.Values{"qty": {strconv.Itoa(s.cfg.Quantity)}}
	for {
		if ctx.Err() != nil {
			return outUnfinished
		}
		a := s.c.do("POST", path, form)
		s.rec.answer(&a, false)
		if a.err == nil {
			s.rec.latency(stepBuy, a.latency)
		}
		if a.err == nil && a.status == 202 && a.str("status_url") != "" {
			a = s.awaitOrder(ctx, &a) // an async route: the outcome comes later
		}
		switch {
		case a.err == errBudget:
			return outUnfinished
		case a.err == context.Canceled:
			return outUnfinished
		case a.err == nil && a.status >= 200 && a.status < 300:
			s.rec.bought(s.user, int64(s.cfg.Quantity))
			s.live.bought.Add(int64(s.cfg.Quantity))
			s.leak()
			return outBought
		case strings.HasPrefix(a.reason, "quiz_"):
			if !s.solveQuiz(ctx, a.str("quiz_url")) {
				return s.end
			}
		case a.reason == "queue_required":
			if !s.enter(ctx) {
				return s.end
			}
		case s.tryAgain(&a):
			if !s.pause(ctx, s.backoff(&a)) {
				return s.end
			}
		default:
			return s.refusal(&a)
		}
	}
}

// awaitOrder follows an accepted order (202 with a ticket, on a route the
// gateway queues) by polling its status as the ticket page does, and
// returns the final answer: the shop's own, or the gateway's for it
// (sold out, expired, failed).
func (s *walk) awaitOrder(ctx context.Context, accepted *answer) answer {
	status, start := accepted.str("status_url"), time.Now()
	wait := s.pollWait(accepted)
	for {
		if !s.pause(ctx, wait) {
			return answer{err: context.Canceled}
		}
		a := s.c.do("GET", status, nil)
		pending := a.err == nil && a.status == 202
		s.rec.answer(&a, pending)
		if !pending {
			if a.err == nil {
				s.rec.latency(stepOrder, time.Since(start))
			}
			return a
		}
		wait = s.pollWait(&a)
	}
}

// solveQuiz fetches the challenge, solves it for real (proof of work, or
// the arithmetic question), waits out the quiz's minimum solving time as a
// reading person would, and answers it. The pass comes back as a cookie.
func (s *walk) solveQuiz(ctx context.Context, quizURL string) bool {
	if quizURL == "" {
		s.end = "refused:quiz_without_url"
		return false
	}
	ret := ""
	if u, err := url.Parse(quizURL); err == nil {
		ret = u.Query().Get("return")
	}
	start := time.Now()
	for {
		q := s.c.do("GET", quizURL, nil)
		shown := time.Now() // a person starts reading when the question appears
		s.rec.answer(&q, false)
		if q.err != nil || q.status != 200 {
			if s.tryAgain(&q) && s.pause(ctx, s.backoff(&q)) {
				continue
			}
			s.end = s.refusal(&q)
			return false
		}
		answer, ok := s.solve(&q)
		if !ok {
			s.end = "gave_up:quiz_too_hard"
			return false
		}
		minSolve, _ := q.num("min_solve_ms")
		// A person reads and answers a little slower than the minimum.
		if !s.pause(ctx, time.Duration(minSolve*1.1)*time.Millisecond-time.Since(shown)) {
			return false
		}
		form := url.Values{"challenge": {q.str("challenge")}, "answer": {answer}}
		if ret != "" {
			form.Set("return", ret)
		}
		a := s.c.do("POST", q.str("answer_url"), form)
		s.rec.answer(&a, false)
		switch {
		case a.err == nil && a.status == 200:
			s.rec.latency(stepQuiz, time.Since(start))
			s.lend()
			return true
		case a.err == nil && a.status == 403 && s.patience > 0:
			s.patience-- // a refused answer comes with a fresh question
		case s.tryAgain(&a):
			if !s.pause(ctx, s.backoff(&a)) {
				return false
			}
		default:
			s.end = s.refusal(&a)
			return false
		}
	}
}

func (s *walk) solve(q *answer) (string, bool) {
	switch q.str("mode") {
	case "pow":
		d, _ := q.num("difficulty")
		if int(d) > s.cfg.MaxPow {
			return "", false
		}
		return solvePow(q.str("challenge"), int(d))
	case "text":
		return solveText(q.str("question"))
	}
	return "", false
}

// tryAgain reports an answer a person retries after a while (rate limited,
// busy, a failed connection) while patience lasts, and spends one unit.
func (s *walk) tryAgain(a *answer) bool {
	retry := a.err != nil && a.err != errBudget || a.status == 429 || a.status >= 500 || a.reason == "stock_busy"
	if !retry || s.patience <= 0 {
		return false
	}
	s.patience--
	return true
}

// backoff is how long a person waits before trying again: the gateway's
// Retry-After when it gives one (capped by Poll), else a second.
func (s *walk) backoff(a *answer) time.Duration {
	if a.retry > 0 {
		return min(a.retry, s.cfg.Poll)
	}
	return time.Second
}

func (s *walk) pollWait(a *answer) time.Duration {
	if a.retry > 0 {
		return min(a.retry, s.cfg.Poll)
	}
	return s.cfg.Poll
}

// refusal names the final outcome of a refused shopper.
func (s *walk) refusal(a *answer) string {
	switch {
	case a.err == errBudget:
		return outUnfinished
	case a.err != nil || (a.status >= 500 && a.reason == ""):
		return outError
	case isSoldOut(a):
		return outSoldOut
	case a.reason == "purchase_limit":
		return outLimit
	case a.reason != "":
		return "refused:" + a.reason
	default:
		return "refused:status_" + strconv.Itoa(a.status)
	}
}

// pause sleeps for d unless ctx ends first; then it sets the outcome to
// unfinished and returns false.
func (s *walk) pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil || s.unfinished()
	}
	if d >= 500*time.Millisecond {
		s.c.close() // a person reading a page holds no connection open for long
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return s.unfinished()
	}
}

func (s *walk) unfinished() bool {
	s.end = outUnfinished
	return false
}

// lend shows this shopper's fresh passes to the bots that borrow them
// (as a pass copied off a forum would be), without waiting for them.
func (s *walk) lend() { offer(s.borrowed, s.c.jar) }

// leak hands this shopper's cookies (spent passes, a session that has
// ended) to the bots that replay them.
func (s *walk) leak() { offer(s.leaked, s.c.jar) }

// offer puts a copy of jar on ch if there is room.
func offer(ch chan map[string]string, jar map[string]string) {
	cp := make(map[string]string, len(jar))
	for k, v := range jar {
		cp[k] = v
	}
	select {
	case ch <- cp:
	default:
	}
}
