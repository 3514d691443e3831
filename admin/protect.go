package admin

import (
	"errors"
	"log/slog"
	"net/http"

	"flashgate/proxy"
)

// The protection calls: hot keys, Plan B switches, origin servers
// (docs/protection.md has what each switch does).

func (a *Admin) hotKeys(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, nonNil(a.gw.HotKeys()))
}

func (a *Admin) switches(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, nonNil(a.gw.Switches()))
}

// setSwitch turns a switch on (or replaces the one of the same name); the
// gateway checks it against the running rules.
func (a *Admin) setSwitch(w http.ResponseWriter, r *http.Request) {
	var sw proxy.Switch
	if !decode(w, r, &sw) {
		return
	}
	if err := a.gw.SetSwitch(sw); err != nil {
		fail(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	a.change(r, "switch on", slog.String("switch", sw.Name()))
	for _, on := range a.gw.Switches() {
		if on.Name() == sw.Name() {
			reply(w, http.StatusOK, on)
			return
		}
	}
	reply(w, http.StatusOK, sw)
}

func (a *Admin) clearSwitch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.gw.ClearSwitch(name); err != nil {
		if errors.Is(err, proxy.ErrSwitchUnknown) {
			fail(w, http.StatusNotFound, "not_found", err.Error())
			return
		}
		fail(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	a.change(r, "switch off", slog.String("switch", name))
	reply(w, http.StatusOK, nonNil(a.gw.Switches()))
}
