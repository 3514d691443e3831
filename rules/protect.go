package rules

import (
	"cmp"
	"time"
)

// Origin protection settings (docs/protection.md): the origin's
// concurrency limit and its servers' circuit breakers, and a route's
// priority class. The route's fallback: and the top-level hotspot: are
// Nodes decoded by package proxy, which builds what they name.

// Priorities, lowest shed last.
var priorities = []string{"critical", "normal", "sheddable"}

// Adaptive limit algorithms.
var adaptiveModes = []string{"gradient", "aimd"}

// OriginLimit bounds the requests in flight to one origin (all its
// servers). Zero Max = no limit.
type OriginLimit struct {
	Max      int           // the limit, or the adaptive limit's ceiling
	Adaptive string        // "" (static), "gradient" or "aimd"
	Min      int           // adaptive floor, default 4 (never above Max)
	Wait     time.Duration // how long a request may wait for a slot, default 10ms
}

// Breaker configures a circuit breaker per origin server. Zero Failures =
// no breaker.
type Breaker struct {
	Failures int           // consecutive failures (errors, 5xx) that open it
	Open     time.Duration // how long it stays open before probing, default 10s
	Probes   int           // requests let through half-open, default 1
}

type originLimitSpec struct {
	Max      int      `yaml:"max"`
	Adaptive string   `yaml:"adaptive"`
	Min      int      `yaml:"min"`
	Wait     Duration `yaml:"wait"`
}

type originBreakerSpec struct {
	Failures int      `yaml:"failures"`
	Open     Duration `yaml:"open"`
	Probes   int      `yaml:"probes"`
}

func (l *loader) buildLimit(n Node, s *originLimitSpec) OriginLimit {
	if s == nil {
		return OriginLimit{}
	}
	lim := OriginLimit{Max: s.Max, Adaptive: s.Adaptive, Min: cmp.Or(s.Min, 4), Wait: orDefault(s.Wait, 10*time.Millisecond)}
	if s.Max <= 0 {
		l.errs.add(n.Errorf("max", "missing or not positive (%d): want the most requests in flight to this origin, e.g. max: 64", s.Max))
	}
	if s.Adaptive != "" {
		l.oneOf(n, "adaptive", s.Adaptive, adaptiveModes)
	}
	l.nonNegative(n, "min", s.Min)
	if s.Max > 0 && lim.Min > s.Max {
		if s.Min == 0 {
			lim.Min = s.Max
		} else {
			l.errs.add(n.Errorf("min", "min %d is above max %d", s.Min, s.Max))
		}
	}
	if lim.Wait > time.Second {
		l.errs.add(n.Errorf("wait", "wait %s is over 1s: a request waiting longer for a slot than it would for the origin is not shedding", lim.Wait))
	}
	return lim
}

func (l *loader) buildBreaker(n Node, s *originBreakerSpec) Breaker {
	if s == nil {
		return Breaker{}
	}
	b := Breaker{Failures: s.Failures, Open: orDefault(s.Open, 10*time.Second), Probes: cmp.Or(s.Probes, 1)}
	if s.Failures <= 0 {
		l.errs.add(n.Errorf("failures", "missing or not positive (%d): want the consecutive failures that open a server's breaker, e.g. failures: 5", s.Failures))
	}
	l.nonNegative(n, "probes", s.Probes)
	return b
}

func (l *loader) buildPriority(n Node, p string) string {
	p = cmp.Or(p, "normal")
	l.oneOf(n, "priority", p, priorities)
	return p
}
