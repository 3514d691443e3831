package proxy

import (
	"fmt"
	"maps"
	"slices"

	"flashgate/hotspot"
	"flashgate/origin"
)

// The protection API (docs/protection.md): what the admin API shows and
// sets. Every method is safe for concurrent use.

// HotKeys returns the current hot set, static keys first, then the
// hottest first; empty without a hotspot section.
func (s *Server) HotKeys() []hotspot.HotKey {
	h := s.current.Load().hot
	if h == nil {
		return []hotspot.HotKey{}
	}
	return h.det.HotKeys()
}

// Switches returns the Plan B switches that are on, by name.
func (s *Server) Switches() []Switch {
	return slices.Clone(s.env.prot.sw.load().list)
}

// SetSwitch turns a switch on (or replaces the one with the same Name),
// after checking it against the running rules: the route or server must
// exist, a degraded route must have a fallback, a scale factor must be in
// (0, 10]. The change is logged and counted, and survives reloads.
func (s *Server) SetSwitch(w Switch) error {
	if err := w.validate(s.current.Load()); err != nil {
		return err
	}
	w.Since = s.now()
	w.Shared = s.env.shareSwitch(w) // cluster_switches.go
	s.env.switchOn(w, "switch on")
	return nil
}

// ClearSwitch turns off the switch called name (see Switch.Name).
func (s *Server) ClearSwitch(name string) error {
	if !s.env.switchOff(name, "switch off") {
		names := make([]string, 0)
		for _, w := range s.Switches() {
			names = append(names, w.Name())
		}
		return fmt.Errorf("%w %q (on: %v)", errSwitchUnknown, name, names)
	}
	s.env.unshareSwitch(name)
	return nil
}

// switchOn turns w on in this instance (set here or on another one, msg
// says which): the request path, the server overrides, the count, the log.
func (e *Env) switchOn(w Switch, msg string) {
	e.prot.sw.set(w)
	e.applyServerSwitches()
	e.prot.switchChanges[w.Kind].Inc()
	logSwitch(e.log, msg, w)
}

// switchOff turns the switch called name off in this instance, as
// switchOn turns one on; false when it is not on.
func (e *Env) switchOff(name, msg string) bool {
	w, ok := e.prot.sw.clear(name)
	if !ok {
		return false
	}
	e.applyServerSwitches()
	e.prot.switchChanges[w.Kind].Inc()
	logSwitch(e.log, msg, w)
	return true
}

// applyServerSwitches sets the server overrides on every pool in the Env
// (the running snapshot's and any an older one still uses).
func (e *Env) applyServerSwitches() {
	e.mu.Lock()
	pools := slices.Collect(maps.Values(e.pools))
	e.mu.Unlock()
	for _, p := range pools {
		e.prot.sw.applyForced(p)
	}
}

// Origins returns the state of every origin server of the running rules:
// health, operator override, breaker, requests in flight and the origin's
// concurrency limit, by origin name then configured order.
func (s *Server) Origins() []origin.ServerStatus {
	snap := s.current.Load()
	out := []origin.ServerStatus{}
	for _, name := range slices.Sorted(maps.Keys(snap.pools)) {
		out = append(out, snap.pools[name].Status()...)
	}
	return out
}
