package proxy

import (
	"fmt"
	"time"

	"flashgate/filters"
	"flashgate/origin"
)

// The Go API the admin listener (package admin) is built on: what an
// operator reads and changes while the gateway serves. Every method is
// safe for concurrent use with requests and reloads; errors naming a
// route, item or queue the serving rules lack match filters.ErrNotFound.

// Status is the gateway's state for status pages.
type Status struct {
	RulesLoadedAt time.Time    `json:"rules_loaded_at"`
	LastReload    ReloadStatus `json:"last_reload"`
	Files         []string     `json:"files"`
	Routes        int          `json:"routes"`
	Origins       int          `json:"origins"`
}

// Status returns when the serving rules were loaded, the last reload's
// outcome and what the rules hold.
func (s *Server) Status() Status {
	s.reloadMu.Lock()
	at := s.loadedAt
	s.reloadMu.Unlock()
	snap := s.current.Load()
	return Status{RulesLoadedAt: at, LastReload: s.LastReload(), Files: snap.Config.Files,
		Routes: len(snap.routes), Origins: len(snap.pools)}
}

// EffectiveRules returns the serving rules as one YAML document, includes
// merged and defaults filled in, with secrets redacted.
func (s *Server) EffectiveRules() ([]byte, error) { return s.Config().DumpRedacted() }

// Items lists the items with a stock number on every stock gate.
func (s *Server) Items() []filters.StockItem {
	if f := s.env.admissionFilters(); f != nil {
		return f.StockItems()
	}
	return nil
}

// Item returns one item of route's stock gate.
func (s *Server) Item(route, item string) (filters.StockItem, error) {
	f, err := s.filtersFor("route %q has no stock filter", route)
	if err != nil {
		return filters.StockItem{}, err
	}
	return f.StockItem(route, item)
}

// AddStock adds delta units (negative takes away) to an item's stock.
func (s *Server) AddStock(route, item string, delta int) error {
	f, err := s.filtersFor("route %q has no stock filter", route)
	if err != nil {
		return err
	}
	return f.AddStock(route, item, int64(delta))
}

// ResetStock gives an item back its rule's stock and forgets its attempts
// and sold-out mark.
func (s *Server) ResetStock(route, item string) error {
	f, err := s.filtersFor("route %q has no stock filter", route)
	if err != nil {
		return err
	}
	return f.ResetStock(route, item)
}

// Queues lists the waiting rooms of the serving rules.
func (s *Server) Queues() []filters.QueueStats {
	if f := s.env.admissionFilters(); f != nil {
		return f.Queues()
	}
	return nil
}

// PauseQueue stops (true) or resumes (false) admissions from a waiting
// room, named by its group or route.
func (s *Server) PauseQueue(name string, paused bool) error {
	f, err := s.filtersFor("no waiting room named %q", name)
	if err != nil {
		return err
	}
	return f.PauseQueue(name, paused)
}

// filtersFor returns the filters.Env, or a not-found error formatted with
// name when no rules with filters were ever compiled.
func (s *Server) filtersFor(format, name string) (*filters.Env, error) {
	f := s.env.admissionFilters()
	if f == nil {
		return nil, fmt.Errorf(format+" (no route has filters): %w", name, filters.ErrNotFound)
	}
	return f, nil
}

// OriginServer is one origin server's state now, with its connection
// limit.
type OriginServer struct {
	origin.ServerStatus
	MaxConns int `json:"max_conns"`
}

// OriginServers lists the servers of the serving rules' origins, by origin
// then in configured order.
func (s *Server) OriginServers() []OriginServer {
	snap := s.current.Load()
	var out []OriginServer
	for _, o := range snap.Config.Origins {
		p := snap.pools[o.Name]
		if p == nil {
			continue
		}
		for _, st := range p.Status() {
			out = append(out, OriginServer{ServerStatus: st, MaxConns: p.MaxConns()})
		}
	}
	return out
}

// ErrSwitchUnknown matches (errors.Is) ClearSwitch's error for a name no
// switch that is on has.
var ErrSwitchUnknown = errSwitchUnknown
