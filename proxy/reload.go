package proxy

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"flashgate/rules"
)

// ReloadStatus is the outcome of the last reload, for the admin API and
// /_flashgate/health.
type ReloadStatus struct {
	OK    bool      `json:"ok"`
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// LastReload returns the outcome of the last reload (or of the initial
// load).
func (s *Server) LastReload() ReloadStatus { return *s.last.Load() }

// Reload reads the configuration again, compiles it and swaps it in. When
// the files are byte-identical (same Digest) to the serving rules it keeps
// them, and records success if the last reload had been rejected (the bad
// edit was undone). On any error
// the current snapshot keeps serving; the error is logged ("rejected
// FILE:LINE:COL ...; still serving rules loaded at HH:MM:SS"), counted and
// kept for LastReload, and returned. Requests already running finish on
// the snapshot they started with. Safe for concurrent use; reloads are
// serialised.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, err := s.load(s.cfgPath)
	if err == nil && cfg.Digest == s.current.Load().Config.Digest && !s.pagesChanged() {
		s.restored()
		return nil
	}
	s.metrics.reloads.Inc()
	var snap *Snapshot
	if err == nil {
		snap, err = Compile(cfg, s.env)
	}
	now := s.now()
	if err != nil {
		s.env.Retain(s.current.Load()) // close pools made for the rejected config
		if last := s.LastReload(); !last.OK && last.Error == err.Error() {
			// The same rejection again: a write that is not a rule edit (a
			// log file in the rules directory, an editor's swap file) woke
			// the watcher. Logging it again would wake it again, forever.
			return err
		}
		s.reject(err, now)
		return err
	}
	old := s.current.Swap(snap)
	s.warnRestartOnly(old.Config, cfg)
	s.loadedAt = now
	s.last.Store(&ReloadStatus{OK: true, At: now})
	s.metrics.lastSuccess.Set(float64(now.Unix()))
	// Pools only the old snapshot used are closed; requests still on it
	// keep working (Close only stops health checks and idle connections).
	s.env.Retain(snap)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "rules reloaded",
		slog.Int("routes", len(snap.routes)), slog.Int("origins", len(snap.pools)))
	return nil
}

// warnRestartOnly logs the settings a reload changed that only a restart
// applies: the listener's limits are fixed when it starts, and the access
// log is opened once. Trusted proxies, unmatched and case_insensitive are
// compiled into the snapshot and do change on reload.
func (s *Server) warnRestartOnly(old, cur *rules.Config) {
	a, b := old.Server, cur.Server
	a.TrustedProxies, a.Unmatched, a.CaseInsensitive, a.Hosts, a.Pos = nil, "", false, nil, rules.Pos{}
	b.TrustedProxies, b.Unmatched, b.CaseInsensitive, b.Hosts, b.Pos = nil, "", false, nil, rules.Pos{}
	a.TLS, a.ProxyProtocol = restartOnlyEdge(a.TLS, a.ProxyProtocol)
	b.TLS, b.ProxyProtocol = restartOnlyEdge(b.TLS, b.ProxyProtocol)
	var changed []string
	if !reflect.DeepEqual(a, b) {
		changed = append(changed, "server (listen, timeouts, sizes, connection limits)")
	}
	if old.Logging.AccessLog != cur.Logging.AccessLog {
		changed = append(changed, "logging.access_log")
	}
	if adminOf(old) != adminOf(cur) {
		changed = append(changed, "admin")
	}
	if len(changed) > 0 {
		s.log.LogAttrs(context.Background(), slog.LevelWarn,
			"reloaded, but these settings take effect only at the next restart: "+strings.Join(changed, ", "))
	}
}

// restored records a reload that found the files byte for byte as the
// serving rules: after a rejected edit was undone, the rejection is no
// longer what the files say, so health and status must stop showing it.
func (s *Server) restored() {
	if s.LastReload().OK {
		return
	}
	now := s.now()
	s.last.Store(&ReloadStatus{OK: true, At: now})
	s.log.LogAttrs(context.Background(), slog.LevelInfo,
		"rule files are back to the serving rules (loaded at "+s.loadedAt.Format("15:04:05")+"); the rejected edit is gone")
}

// adminOf is the admin section without its position, for comparison.
func adminOf(c *rules.Config) rules.Admin {
	if c.Admin == nil {
		return rules.Admin{}
	}
	a := *c.Admin
	a.Pos = rules.Pos{}
	return a
}

// reject records a failed reload.
func (s *Server) reject(err error, now time.Time) {
	s.metrics.reloadErrors.Inc()
	msg := err.Error()
	s.last.Store(&ReloadStatus{OK: false, At: now, Error: msg})
	s.log.LogAttrs(context.Background(), slog.LevelError,
		"rejected "+oneLine(err)+"; still serving rules loaded at "+s.loadedAt.Format("15:04:05"),
		slog.Int("errors", countErrors(err)))
}

// oneLine joins a multi-error's lines with "; " for a single log line.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// countErrors counts the errors of a report that has one per line (both
// rules.Errors and errors.Join print that way).
func countErrors(err error) int {
	return 1 + strings.Count(strings.TrimSpace(err.Error()), "\n")
}

// pagesChanged reports whether a page template the filters read changed
// while the rule files did not (filters.Env.PagesChanged).
func (s *Server) pagesChanged() bool {
	fenv := s.env.admissionFilters()
	return fenv != nil && fenv.PagesChanged()
}
