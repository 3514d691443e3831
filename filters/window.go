package filters

import (
	"errors"
	"strconv"
	"time"
)

// windowSpec is the "window" filter's spec:
//
//	window:
//	  start: 2026-11-25T12:00:00Z   # RFC 3339; omitted = open since forever
//	  end:   2026-11-25T14:00:00Z   # omitted = never ends
//	  param: id                     # route parameter naming the item (default "id")
//	  items: {"42": {start: 2026-11-25T13:00:00Z}}   # per-item windows; unset times inherit
type windowSpec struct {
	Start string                `yaml:"start"`
	End   string                `yaml:"end"`
	Param string                `yaml:"param"`
	Items map[string]windowTime `yaml:"items"`
}

type windowTime struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

// window answers "not started" (403, with a live countdown and Retry-After)
// before a sale opens and "ended" (410) after it closes, per route and per
// item. It is stateless; immutable after compile.
type window struct {
	param   string
	route   span
	items   map[string]*span
	hasItem bool
}

// span is one compiled window: 0 means unbounded on that side.
type span struct {
	start, end int64
	notStarted *Rejection
	ended      *Rejection
}

var _ Filter = (*window)(nil)

func newWindow(b *Build) (Filter, error) {
	var spec windowSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	w := &window{param: spec.Param, items: map[string]*span{}, hasItem: len(spec.Items) > 0}
	if w.param == "" {
		w.param = "id"
	}
	route, err := b.span(spec.Start, spec.End, "start", "end", nil)
	if err != nil {
		return nil, err
	}
	w.route = *route
	for item, t := range spec.Items {
		at := "items." + item + "."
		s, err := b.span(t.Start, t.End, at+"start", at+"end", route)
		if err != nil {
			return nil, err
		}
		w.items[itemName(item)] = s
	}
	return w, nil
}

// span parses one window; inherit supplies times the item leaves unset.
func (b *Build) span(start, end, startKey, endKey string, inherit *span) (*span, error) {
	s := &span{}
	if inherit != nil {
		s.start, s.end = inherit.start, inherit.end
	}
	var err, bad error
	if start != "" {
		if s.start, err = parseTime(start); err != nil {
			bad = errors.Join(bad, b.Errorf(startKey, "want an RFC 3339 time like 2026-11-25T12:00:00Z: %v", err))
		}
	}
	if end != "" {
		if s.end, err = parseTime(end); err != nil {
			bad = errors.Join(bad, b.Errorf(endKey, "want an RFC 3339 time like 2026-11-25T14:00:00Z: %v", err))
		}
	}
	if bad != nil {
		return nil, bad // both times are reported when both are wrong
	}
	if s.start != 0 && s.end != 0 && s.end <= s.start {
		return nil, b.Errorf(endKey, "the window ends (%s) before it starts (%s)", fmtTime(s.end), fmtTime(s.start))
	}
	if s.start != 0 {
		if s.notStarted, err = b.Reject(notStartedSpec(s.start)); err != nil {
			return nil, err
		}
	}
	if s.end != 0 {
		s.ended, err = b.Reject(RejectSpec{Reason: "sale_ended", Status: 410, Title: "This sale has ended",
			Message: "This sale ended on " + peopleTime(s.end) + ". Thank you for your interest.",
			Vars:    map[string]string{"ends_at": fmtTime(s.end), "ends_at_text": peopleTime(s.end)}})
	}
	return s, err
}

func parseTime(v string) (int64, error) {
	t, err := time.Parse(time.RFC3339, v)
	return t.UnixNano(), err
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }

// notStartedSpec is the countdown page (templates/not_started.html): it
// says when the sale starts and how long that is from now, and its script
// counts down on the server's clock and reloads when the sale opens.
func notStartedSpec(start int64) RejectSpec {
	return RejectSpec{
		Reason: "not_started", Status: 403, Title: "The sale has not started yet",
		Message: "The sale opens on " + peopleTime(start) + ". Keep this page open, or come back then.",
		Value:   "starts_in", RetryAfterValue: true,
		Vars: map[string]string{"starts_at": fmtTime(start), "starts_at_text": peopleTime(start),
			"start_unix_ms": strconv.FormatInt(start/1e6, 10)},
	}
}

// peopleTime is t as the pages show it: "Wed 25 Nov 2026, 12:00 UTC".
func peopleTime(ns int64) string { return time.Unix(0, ns).UTC().Format("Mon 2 Jan 2006, 15:04 MST") }

// Check rejects outside the item's (or else the route's) window.
func (w *window) Check(r *Request) Verdict {
	s := &w.route
	if w.hasItem {
		if it, ok := w.items[string(r.Item(w.param))]; ok {
			s = it
		}
	}
	switch {
	case s.start != 0 && r.Now < s.start:
		left := (s.start - r.Now + 1e9 - 1) / 1e9
		return s.notStarted.Waiting(left, left, 0)
	case s.end != 0 && r.Now >= s.end:
		return s.ended.Verdict()
	}
	return Continue
}
