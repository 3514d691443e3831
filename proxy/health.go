package proxy

import (
	"maps"
	"slices"
)

// healthProtect is the protection part of /_flashgate/health.
type healthProtect struct {
	// Status is filled in here: "ok", "degraded" or "down".
	Status string `json:"-"`
	// OriginsDown lists "origin/server" of servers not taking requests
	// (health checks failing, breaker open, switched down).
	OriginsDown  []string `json:"origins_down,omitempty"`
	BreakersOpen []string `json:"breakers_open,omitempty"`
	SwitchesOn   []string `json:"switches_on,omitempty"`
	// OriginsUnreachable lists origins with no server taking requests.
	OriginsUnreachable []string `json:"origins_unreachable,omitempty"`
}

// healthProtect reports the origins and switches honestly: "down" (503)
// only when every origin of the running rules is unreachable and no
// route has a fallback or a cache, since then nothing but errors can be
// served;
// "degraded" (200) when anything is down, open or switched.
func (s *Server) healthProtect() healthProtect {
	snap := s.current.Load()
	var h healthProtect
	unreachable := 0
	for _, name := range slices.Sorted(maps.Keys(snap.pools)) {
		up := 0
		for _, st := range snap.pools[name].Status() {
			if st.Up {
				up++
				continue
			}
			h.OriginsDown = append(h.OriginsDown, st.Origin+"/"+st.Server)
			if st.Breaker == "open" || st.Breaker == "half-open" {
				h.BreakersOpen = append(h.BreakersOpen, st.Origin+"/"+st.Server)
			}
		}
		if up == 0 {
			unreachable++
			h.OriginsUnreachable = append(h.OriginsUnreachable, name)
		}
	}
	for _, w := range s.Switches() {
		h.SwitchesOn = append(h.SwitchesOn, w.Name())
	}
	fallbacks := false
	for _, rt := range snap.routes {
		fallbacks = fallbacks || rt.prot.fallback != nil || rt.Cache != nil
	}
	switch {
	case len(snap.pools) > 0 && unreachable == len(snap.pools) && !fallbacks:
		h.Status = "down"
	case len(h.OriginsDown) > 0 || len(h.SwitchesOn) > 0:
		h.Status = "degraded"
	default:
		h.Status = "ok"
	}
	return h
}
