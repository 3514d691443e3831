package rehearse

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config describes one rehearsal. The zero value of every field but Target
// has a default (see Defaults).
type Config struct {
	// Target is the gateway's base URL, e.g. http://127.0.0.1:8080.
	Target string
	// OwnTarget must be set to drive a target that is not on loopback: a
	// rehearsal is a load generator, and the operator says so explicitly.
	OwnTarget bool

	Item       string // the sale's item id, "7"
	PagePath   string // the item page, "/item/{id}"
	BuyPath    string // the purchase, POSTed, "/buy/{id}"
	UserCookie string // the cookie that names the signed-in user, "uid"
	Quantity   int    // units per purchase (form field qty), 1

	Shoppers int     // simulated shoppers, 2000
	Bots     float64 // share of bots among arrivals, 0.1
	Profile  Profile // how they arrive
	Limit    int     // units one user may buy (the sale's rule), for the report's check; 1
	Stock    int     // units on sale, for the oversell check when Shop is unset; 0 = unknown

	// Shop is the shop's own base URL (not the gateway's), read for the
	// inventory at the end: GET Shop/api/items/{id} → {"stock","sold"}.
	// Empty: the check uses the purchases the gateway let succeed.
	Shop string
	// Probe, when set, is read once a second for the origin's side of the
	// timeline (requests that reached it, in flight). See MetricsProbe.
	Probe Probe

	// Poll is the longest a shopper waits between two status polls of the
	// waiting room; the gateway's Retry-After is used when shorter. 5s.
	Poll time.Duration
	// MaxPow bounds the proof-of-work difficulty a shopper will solve
	// (bits); a harder puzzle is a give-up, so a rehearsal cannot spin. 22.
	MaxPow int
	// Patience is how many times a shopper retries a step that said "try
	// again" (rate limited, busy) before giving up. 5.
	Patience int
	// Timeout bounds each request. 10s.
	Timeout time.Duration
	// Duration bounds the whole rehearsal; shoppers still busy then are
	// counted as unfinished. 60s.
	Duration time.Duration
	// MaxRequests bounds the requests sent; past it shoppers stop. 1,000,000.
	MaxRequests int64
	// Seed makes arrivals, bot choices and users repeatable. 1.
	Seed int64
}

// Profile is the arrival curve: Spike sends Shoppers over Over with most
// at the start (as at a sale's first second), Ramp grows linearly to its
// peak at the end of Over, Steady spreads them evenly.
type Profile struct {
	Shape string        // "spike" (default), "ramp" or "steady"
	Over  time.Duration // arrival period; 2s
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Item, "7")
	def(&c.PagePath, "/item/{id}")
	def(&c.BuyPath, "/buy/{id}")
	def(&c.UserCookie, "uid")
	def(&c.Profile.Shape, "spike")
	if c.Quantity <= 0 {
		c.Quantity = 1
	}
	if c.Shoppers <= 0 {
		c.Shoppers = 2000
	}
	if c.Bots < 0 {
		c.Bots = 0
	}
	if c.Limit <= 0 {
		c.Limit = 1
	}
	if c.Profile.Over <= 0 {
		c.Profile.Over = 2 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.MaxPow <= 0 {
		c.MaxPow = 22
	}
	if c.Patience <= 0 {
		c.Patience = 5
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 60 * time.Second
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 1_000_000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// ErrNotLoopback is returned for a target off this machine without
// Config.OwnTarget.
var ErrNotLoopback = errors.New("the target is not on loopback: a rehearsal is a load test; pass -i-own-the-target if you run that gateway")

// Validate reports the first problem with a defaulted Config.
func (c Config) Validate() error {
	u, err := url.Parse(c.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("target %q: want http://host:port or https://host:port", c.Target)
	}
	if !c.OwnTarget && !isLoopback(u.Hostname()) {
		return fmt.Errorf("target %q: %w", c.Target, ErrNotLoopback)
	}
	if c.Bots > 1 {
		return fmt.Errorf("bots %.2f: a share between 0 and 1", c.Bots)
	}
	switch c.Profile.Shape {
	case "spike", "ramp", "steady":
	default:
		return fmt.Errorf("profile %q: want spike, ramp or steady", c.Profile.Shape)
	}
	for _, p := range []string{c.PagePath, c.BuyPath} {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("path %q: must start with /", p)
		}
	}
	if c.Shop != "" {
		if u, err := url.Parse(c.Shop); err != nil || u.Host == "" {
			return fmt.Errorf("shop %q: want http://host:port", c.Shop)
		}
	}
	return nil
}

// isLoopback reports whether host (a name or an address) is this machine's
// loopback: "localhost" or an address in 127.0.0.0/8 or ::1. A name is
// not resolved: only "localhost" counts, so DNS cannot turn a rehearsal
// against a remote host into an accident.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// path fills {id} in a path template.
func (c *Config) path(tmpl string) string { return strings.ReplaceAll(tmpl, "{id}", c.Item) }
