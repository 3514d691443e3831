package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/origin"
)

// Plan B switch kinds. Route switches name a route; server switches an
// origin and one of its servers.
const (
	SwitchDegrade   = "degrade"    // serve the route's fallback, never its origin
	SwitchClose     = "close"      // answer 503 with Message, never the origin
	SwitchScale     = "scale"      // multiply the route's origin limit share and hot-key bucket by Factor
	SwitchStaleOnly = "stale_only" // answer from the cache only (fresh or stale), else the fallback chain
	SwitchDown      = "down"       // take the server out of rotation
	SwitchUp        = "up"         // keep the server in rotation whatever its checks and breaker say
)

// SwitchKinds lists the kinds, for error messages and the admin API.
var SwitchKinds = []string{SwitchDegrade, SwitchClose, SwitchScale, SwitchStaleOnly, SwitchDown, SwitchUp}

// Switch is one Plan B switch. Switches live in the Env, so they survive
// rule reloads; one naming a route or server that a reload removed stays
// listed and applies again if it comes back.
type Switch struct {
	Kind    string    `json:"kind"`
	Route   string    `json:"route,omitempty"`   // route switches
	Origin  string    `json:"origin,omitempty"`  // down, up
	Server  string    `json:"server,omitempty"`  // down, up: host:port as configured
	Message string    `json:"message,omitempty"` // close: shown to clients (plain text)
	Factor  float64   `json:"factor,omitempty"`  // scale: 0 < factor <= 10
	Since   time.Time `json:"since"`             // set by SetSwitch
	// Shared: set on every instance through the cluster's Redis (and
	// cleared on all of them by a ClearSwitch on any). False without
	// cluster:, or when Redis did not take it: this instance only.
	Shared bool `json:"shared"`
}

// Name identifies the switch for ClearSwitch: "<kind>:<route>" for route
// switches, "server:<origin>/<server>" for down and up (one replaces the
// other).
func (w Switch) Name() string {
	if w.Kind == SwitchDown || w.Kind == SwitchUp {
		return "server:" + w.Origin + "/" + w.Server
	}
	return w.Kind + ":" + w.Route
}

// routeSwitches is what a request of one route needs to know, compiled
// when a switch changes.
type routeSwitches struct {
	closed    *answer // close: the prebuilt 503
	degrade   bool
	staleOnly bool
	scale     float64 // 0 = not scaled
}

// switchSet is one immutable generation of switches.
type switchSet struct {
	list   []Switch                  // by name
	routes map[string]*routeSwitches // by route name
}

// switchboard holds the switches: a mutex for changes, an atomic pointer
// for requests (one load, and a nil map lookup when nothing is switched).
type switchboard struct {
	mu    sync.Mutex
	byKey map[string]Switch
	cur   atomic.Pointer[switchSet]
	on    *metrics.Gauge // flashgate_switches_on
}

func (b *switchboard) load() *switchSet {
	if s := b.cur.Load(); s != nil {
		return s
	}
	return &switchSet{}
}

// route returns the switches of route name, or nil.
func (b *switchboard) route(name string) *routeSwitches {
	if b == nil { // a route compiled without protection (the unmatched fallback)
		return nil
	}
	s := b.cur.Load()
	if s == nil || s.routes == nil {
		return nil
	}
	return s.routes[name]
}

// validate checks w against the running snapshot.
func (w *Switch) validate(snap *Snapshot) error {
	switch w.Kind {
	case SwitchDegrade, SwitchClose, SwitchScale, SwitchStaleOnly:
		rt := snap.byName[w.Route]
		if rt == nil {
			return fmt.Errorf("switch %s: unknown route %q (known: %s)", w.Kind, w.Route, strings.Join(slices.Sorted(maps.Keys(snap.byName)), ", "))
		}
		switch {
		case w.Kind == SwitchDegrade && rt.prot.fallback == nil:
			return fmt.Errorf("switch degrade: route %q has no fallback: configure routes[].fallback, or use close", w.Route)
		case w.Kind == SwitchScale && (w.Factor <= 0 || w.Factor > 10):
			return fmt.Errorf("switch scale: factor %g: want 0 < factor <= 10, e.g. 0.5", w.Factor)
		case w.Kind == SwitchClose && len(w.Message) > 500:
			return fmt.Errorf("switch close: message of %d bytes: want at most 500", len(w.Message))
		}
	case SwitchDown, SwitchUp:
		p := snap.pools[w.Origin]
		if p == nil {
			return fmt.Errorf("switch %s: unknown origin %q (known: %s)", w.Kind, w.Origin, snap.poolNames())
		}
		if !slices.Contains(p.Spec().Servers, w.Server) {
			return fmt.Errorf("switch %s: origin %q has no server %q (known: %s)", w.Kind, w.Origin, w.Server, strings.Join(p.Spec().Servers, ", "))
		}
	default:
		return fmt.Errorf("unknown switch kind %q (known: %s)", w.Kind, strings.Join(SwitchKinds, ", "))
	}
	return nil
}

// set adds or replaces w and publishes the new generation.
func (b *switchboard) set(w Switch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byKey == nil {
		b.byKey = map[string]Switch{}
	}
	b.byKey[w.Name()] = w
	b.publish()
}

// clear removes the switch called name, reporting whether there was one.
// get returns the switch called name, if it is on.
func (b *switchboard) get(name string) (Switch, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.byKey[name]
	return w, ok
}

func (b *switchboard) clear(name string) (Switch, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.byKey[name]
	if ok {
		delete(b.byKey, name)
		b.publish()
	}
	return w, ok
}

func (b *switchboard) publish() {
	s := &switchSet{routes: map[string]*routeSwitches{}}
	for _, name := range slices.Sorted(maps.Keys(b.byKey)) {
		w := b.byKey[name]
		s.list = append(s.list, w)
		if w.Route == "" {
			continue
		}
		rs := s.routes[w.Route]
		if rs == nil {
			rs = &routeSwitches{}
			s.routes[w.Route] = rs
		}
		switch w.Kind {
		case SwitchClose:
			rs.closed = closedAnswer(w.Message)
		case SwitchDegrade:
			rs.degrade = true
		case SwitchStaleOnly:
			rs.staleOnly = true
		case SwitchScale:
			rs.scale = w.Factor
		}
	}
	if len(s.routes) == 0 {
		s.routes = nil
	}
	b.cur.Store(s)
	if b.on != nil {
		b.on.Set(float64(len(s.list)))
	}
}

// forced returns the server override switches ask of origin name.
func (b *switchboard) forced(name string) map[string]string {
	m := map[string]string{}
	for _, w := range b.load().list {
		if w.Origin == name {
			m[w.Server] = w.Kind
		}
	}
	return m
}

// closedAnswer is the 503 of a closed route. The message is the
// operator's: HTML and JSON special characters are dropped so it is
// valid in both bodies as written.
func closedAnswer(msg string) *answer {
	if msg == "" {
		msg = "This part of the shop is closed for a moment. Please try again later."
	}
	msg = strings.Map(func(r rune) rune {
		switch r {
		case '<', '>', '&', '"', '\\':
			return -1
		}
		if r < ' ' {
			return ' '
		}
		return r
	}, msg)
	return newAnswer(503, "closed", "Closed", msg, "60")
}

// errSwitchUnknown is returned by ClearSwitch for a name not set.
var errSwitchUnknown = errors.New("no such switch")

// applyForced sets the server overrides switches ask of pool p (a pool
// just created by a reload, or every pool after a change).
func (b *switchboard) applyForced(p *origin.Pool) {
	f := b.forced(p.Name())
	for _, addr := range p.Spec().Servers {
		p.Force(addr, f[addr])
	}
}

// logSwitch logs a switch change; every change is an operator's act.
func logSwitch(log *slog.Logger, msg string, w Switch) {
	attrs := []slog.Attr{slog.String("switch", w.Name()), slog.String("kind", w.Kind)}
	if w.Message != "" {
		attrs = append(attrs, slog.String("message", w.Message))
	}
	if w.Factor != 0 {
		attrs = append(attrs, slog.Float64("factor", w.Factor))
	}
	log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}
