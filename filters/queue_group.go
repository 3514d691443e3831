package filters

import (
	"sync/atomic"
)

// Groups of the queue and quiz filters. Routes naming one group share one
// waiting room (queue) or one pass scope (quiz): the shop's item page
// (GET, where people wait) and its buy form's target (POST, where the pass
// is spent) are two routes of one sale. The gateway page of a group
// (/_flashgate/queue/<group>/status, /_flashgate/quiz/<group>) is
// registered once per compile, by the group's first member, and every
// member must agree on the settings that page and the shared tokens
// depend on; a disagreement is a load error naming both routes.

// groupMembers is what one compile learned about a group so far, kept as
// Env state under the group's name so that it lives as long as some route
// names the group. Its plain fields are written only while compiling (one
// goroutine, between Env.Begin and Env.Commit); room is read by requests
// of the serving snapshot, hence atomic.
type groupMembers struct {
	gen   uint64 // the compile these fields describe
	first string // the route that registered the group's page
	shape any    // the first member's shared settings, comparable
	page  bool   // the group's gateway page is registered
	wait  bool   // a member issues passes (queue mode: wait)
	// roomCfg is the waiting room of the first wait member: every wait
	// member of the group must tune the shared room alike.
	roomCfg roomConfig
	// room is the waiting room of the group's wait members, published on
	// commit, so that require members can free a purchaser's slot.
	room atomic.Pointer[waitingRoom]
}

// joinGroup claims group for the filter being built and checks that its
// shared settings (a comparable value: same identity, same tunables) agree
// with those of the group's first member in this compile. It reports
// whether this member is the first, which registers the group's page.
func joinGroup(b *Build, group string, shape any) (*groupMembers, bool, error) {
	id := StateID{Route: "group:" + group, Kind: b.Kind + "/members"}
	m := b.Env.State(id, func() any { return new(groupMembers) }).(*groupMembers)
	gen := b.Env.compileGen()
	if m.gen != gen {
		// The first member seen by this compile: the settings of the
		// previous compile no longer count.
		m.gen, m.first, m.shape, m.page, m.wait, m.roomCfg = gen, b.Route, shape, false, false, roomConfig{}
		return m, true, nil
	}
	if m.shape != shape {
		return nil, false, b.Errorf("group", "routes of group %q must share its settings, but these differ from route %q's "+
			"(identity key and the settings of the group's page)", group, m.first)
	}
	return m, false, nil
}

// compileGen returns the number of the compile in progress (Env.Begin).
func (e *Env) compileGen() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gen
}

// validGroup reports whether name can be a group: it becomes a path
// segment of the group's gateway page.
func validGroup(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
