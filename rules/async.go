package rules

import (
	"strings"
	"time"
)

// Async is a route's "async:" section: purchases admitted by the route's
// filters are queued at the edge, answered at once 202 with an order
// ticket, and fed to the origin at the configured rate and concurrency
// (package orders; docs/orders.md).
//
//	async:
//	  queue: 20000        # tickets waiting at most (default 10000); more get 503 + Retry-After
//	  rate: 200/s         # deliveries to the origin (required)
//	  concurrency: 16     # deliveries in flight at most (default 8)
//	  timeout: 5s         # one delivery attempt (default: the route's timeout)
//	  retries: 2          # redeliveries after a timeout or 502/503/504, same Idempotency-Key (default 2)
//	  ttl: 5m             # a ticket not delivered by then ends "expired" (default 5m)
//	  keep: 10m           # how long an outcome stays readable (default 10m)
//	  user: cookie:uid    # who asks: cookie:NAME, header:NAME or ip (default ip)
//	  param: id           # the route parameter naming the item (default id)
type Async struct {
	Queue       int
	Rate        Rate
	Concurrency int
	Timeout     time.Duration // 0 = the route's
	Retries     int
	TTL         time.Duration
	Keep        time.Duration
	User        string // "ip", "cookie:NAME" or "header:NAME"
	Param       string
	Pos         Pos
}

type asyncSpec struct {
	Queue       *int     `yaml:"queue"`
	Rate        Rate     `yaml:"rate"`
	Concurrency *int     `yaml:"concurrency"`
	Timeout     Duration `yaml:"timeout"`
	Retries     *int     `yaml:"retries"`
	TTL         Duration `yaml:"ttl"`
	Keep        Duration `yaml:"keep"`
	User        string   `yaml:"user"`
	Param       string   `yaml:"param"`
}

// Bounds of the async section.
const (
	MaxAsyncQueue       = 1 << 22
	MaxAsyncConcurrency = 4096
	MaxAsyncRetries     = 10
)

// buildAsync validates a route's async section; nil when there is none.
func (l *loader) buildAsync(n Node) *Async {
	if n.IsZero() {
		return nil
	}
	var s asyncSpec
	if err := n.Decode(&s); err != nil {
		l.addErr(err) // and go on: report the other keys' errors too
	}
	a := &Async{Queue: 10000, Rate: s.Rate, Concurrency: 8, Timeout: s.Timeout.Duration(), Retries: 2,
		TTL: 5 * time.Minute, Keep: 10 * time.Minute, User: s.User, Param: s.Param, Pos: n.Pos()}
	intIn := func(key string, p *int, lo, hi int, dst *int) {
		if p == nil {
			return
		}
		if *p < lo || *p > hi {
			l.errs.add(n.Errorf(key, "must be within %d..%d, got %d", lo, hi, *p))
			return
		}
		*dst = *p
	}
	intIn("queue", s.Queue, 1, MaxAsyncQueue, &a.Queue)
	intIn("concurrency", s.Concurrency, 1, MaxAsyncConcurrency, &a.Concurrency)
	intIn("retries", s.Retries, 0, MaxAsyncRetries, &a.Retries)
	if a.Rate.N == 0 {
		l.errs.add(n.Errorf("rate", "missing: deliveries to the origin, e.g. 200/s (the rate the shop takes)"))
	}
	durIn := func(key string, v Duration, dst *time.Duration) {
		switch d := v.Duration(); {
		case d > 0:
			*dst = d
		case d < 0:
			l.errs.add(n.Errorf(key, "must be positive, got %v", d))
		}
	}
	durIn("timeout", s.Timeout, &a.Timeout)
	durIn("ttl", s.TTL, &a.TTL)
	durIn("keep", s.Keep, &a.Keep)
	if a.User == "" {
		a.User = "ip"
	}
	src, name, _ := strings.Cut(a.User, ":")
	if !(a.User == "ip" || (src == "cookie" || src == "header") && name != "") {
		l.errs.add(n.Errorf("user", "unknown %q (known: ip, cookie:NAME, header:NAME)", a.User))
	}
	if a.Param == "" {
		a.Param = "id"
	}
	return a
}
