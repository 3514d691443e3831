package proxy

import (
	"context"
	"encoding/json"
	"log/slog"

	"flashgate/cluster"
)

// Plan B switches across instances: with cluster:, a switch set or
// cleared on one instance is written to a Redis record table and announced
// on the bus; every other instance then reads the table and applies it,
// as it does after each (re)subscription, when announcements may have been
// missed. An operator closing checkout closes
// it on every instance, whichever one the command reached.
//
// Redis holds what is shared: a switch set while Redis does not answer is
// applied on this instance only (Shared false, listed so), and a resync
// leaves such switches alone; it clears only shared switches that are no
// longer in Redis.

const (
	switchTopic = "switch"   // bus topic: the name of a changed switch
	switchTable = "switches" // record table: name → Switch (JSON)
)

// shareSwitch writes w for the other instances; it reports whether they
// will have it (false without cluster:).
func (e *Env) shareSwitch(w Switch) bool {
	r := e.clusterRedis()
	if r == nil {
		return false
	}
	w.Shared = true
	b, _ := json.Marshal(w)
	ctx := context.Background()
	err := r.PutRecord(ctx, switchTable, w.Name(), b)
	if err == nil {
		err = r.Publish(ctx, switchTopic, []byte(w.Name()))
	}
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "cluster: switch applied on this instance only",
			slog.String("switch", w.Name()), slog.String("error", err.Error()))
		return false
	}
	return true
}

// unshareSwitch removes the switch called name from the other instances.
func (e *Env) unshareSwitch(name string) {
	r := e.clusterRedis()
	if r == nil {
		return
	}
	ctx := context.Background()
	err := r.DeleteRecord(ctx, switchTable, name)
	if err == nil {
		err = r.Publish(ctx, switchTopic, []byte(name))
	}
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "cluster: switch cleared on this instance only",
			slog.String("switch", name), slog.String("error", err.Error()))
	}
}

// startSwitchSync starts the goroutine that makes this instance's shared
// switches what Redis holds: once now (the table may hold switches set
// before this instance started), after every announcement of a change and
// after every (re)subscription. Announcements only wake it: it reads the
// whole table, so that changes in a burst are applied in no other order
// than Redis's, and the bus listener, which must not block, makes no
// Redis call. Called with e.cl.mu held.
func (e *Env) startSwitchSync(r *cluster.Redis) {
	ch := make(chan struct{}, 1)
	e.cl.switchSync = ch
	wake := func() {
		select {
		case ch <- struct{}{}:
		default: // a sync is pending already
		}
	}
	r.Subscribe(switchTopic, func([]byte) { wake() })
	r.OnResubscribe(wake)
	wake()
	go func() {
		for range ch {
			e.resyncSwitches(r)
		}
	}()
}

// resyncSwitches makes this instance's shared switches what Redis holds;
// when Redis lost the table (a restart without persistence), it writes
// this instance's shared switches back instead of clearing them: an
// operator's "checkout closed" must not end because Redis restarted.
func (e *Env) resyncSwitches(r *cluster.Redis) {
	ctx := context.Background()
	recs, written, err := r.Records(ctx, switchTable)
	if err != nil {
		return // Redis is away: the resync after it returns catches up
	}
	if !written {
		mine := map[string][]byte{}
		for _, w := range e.prot.sw.load().list {
			if w.Shared {
				mine[w.Name()], _ = json.Marshal(w)
			}
		}
		if r.RestoreRecords(ctx, switchTable, mine) != nil {
			return
		}
		if len(mine) > 0 {
			e.log.LogAttrs(ctx, slog.LevelWarn, "cluster: redis had lost the switches; wrote this instance's back",
				slog.Int("switches", len(mine)))
		}
		return
	}
	for _, w := range e.prot.sw.load().list {
		if _, ok := recs[w.Name()]; w.Shared && !ok {
			e.dropSharedSwitch(w.Name())
		}
	}
	for _, b := range recs {
		e.takeSharedSwitch([]byte(b))
	}
}

// takeSharedSwitch applies a switch record, unless this instance already
// has it as it is.
func (e *Env) takeSharedSwitch(b []byte) {
	var w Switch
	if json.Unmarshal(b, &w) != nil || w.Kind == "" {
		return
	}
	w.Shared = true
	if cur, ok := e.prot.sw.get(w.Name()); ok && sameSwitch(cur, w) {
		return
	}
	e.switchOn(w, "switch on (set on another instance)")
}

// sameSwitch reports whether a and b are the same setting (Since compared
// as an instant: a record's has been through JSON).
func sameSwitch(a, b Switch) bool {
	if !a.Since.Equal(b.Since) {
		return false
	}
	a.Since = b.Since
	return a == b
}

// dropSharedSwitch clears the switch called name if this instance has it
// from Redis.
func (e *Env) dropSharedSwitch(name string) {
	if cur, ok := e.prot.sw.get(name); ok && cur.Shared {
		e.switchOff(name, "switch off (cleared on another instance)")
	}
}
