package filters

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// Rejection is a response rendered at compile time: status, the headers
// naming the filter and reason, an HTML page and a JSON body, each split
// around the places where the Verdict's dynamic value goes. It is immutable
// after Build.Reject returns and shared by every request.
type Rejection struct {
	status          int
	filter          []byte
	reason          []byte
	retryAfter      int64 // fixed Retry-After seconds, 0 = none
	retryAfterValue bool  // the verdict's value is the Retry-After seconds
	interim         bool  // asks the client to come back (a question, the line): see lookahead.go
	html, json      renderedPage
	counter         *metrics.Counter
}

// renderedPage is one body of a rejection, cut where the request's numbers
// go (page_render.go): parts[i], slot i, parts[i+1], ...
type renderedPage struct {
	contentType []byte
	parts       [][]byte
	slots       []slotKind
	phrases     *phrases // the wait phrases, when a slot says the wait in words
	json        bool
}

// Status returns the HTTP status the rejection answers with.
func (rj *Rejection) Status() int { return rj.status }

// Reason returns the machine-readable reason ("rate_limited").
func (rj *Rejection) Reason() string { return string(rj.reason) }

// Verdict returns the verdict that rejects with rj and no dynamic value.
func (rj *Rejection) Verdict() Verdict { return Verdict{rej: rj} }

// With returns the verdict that rejects with rj and renders n as the
// page's value (PageData.Value, and Retry-After when the spec says so).
func (rj *Rejection) With(n int64) Verdict { return Verdict{rej: rj, val: n} }

// Waiting returns the verdict of a waiting page: n is the value (the place
// in line, the seconds to the start), wait the estimated seconds and
// progress the percent of the wait already behind the client (0..100).
func (rj *Rejection) Waiting(n, wait int64, progress int) Verdict {
	return Verdict{rej: rj, val: n, wait: int32(min(max(wait, 0), 1<<31-1)), progress: uint8(min(max(progress, 0), 100))}
}

// RejectSpec describes a rejection for Build.Reject. The page shown is the
// template named by Reason (docs/pages.md), executed once here.
type RejectSpec struct {
	Reason  string // machine-readable, snake_case: "rate_limited"; names the page
	Status  int    // 403, 410, 429 or 503
	Title   string // page title, plain text
	Message string // one or two sentences for the user, plain text
	// Value names the dynamic value in the JSON body ("retry_after",
	// "position", "starts_in"); empty means the rejection has none.
	Value string
	// Waiting adds the estimated wait and progress of Rejection.Waiting to
	// the JSON body (the HTML page shows what its template uses).
	Waiting bool
	// RetryAfterValue sends the dynamic value as Retry-After seconds.
	RetryAfterValue bool
	// RetryAfter is a fixed Retry-After in seconds when RetryAfterValue is false.
	RetryAfter int64
	// Vars are further static fields, by their JSON name: each sets its
	// PageData field (pageVars) and is added to the JSON body.
	Vars map[string]string
}

// pageVars are the PageData fields a RejectSpec.Vars name sets.
var pageVars = map[string]func(*PageData, string){
	"starts_at":      func(d *PageData, v string) { d.StartsAt = v },
	"starts_at_text": func(d *PageData, v string) { d.StartsAtText = v },
	"ends_at":        func(d *PageData, v string) { d.EndsAt = v },
	"ends_at_text":   func(d *PageData, v string) { d.EndsAtText = v },
	"start_unix_ms":  func(d *PageData, v string) { d.StartsAtUnixMS, _ = strconv.ParseInt(v, 10, 64) },
	"quiz_url":       func(d *PageData, v string) { d.QuizURL = v },
	"wait_url":       func(d *PageData, v string) { d.WaitURL = v },
	"status_url":     func(d *PageData, v string) { d.StatusURL = v },
}

// knownStatuses are the statuses a rejection may carry: 403 (refused:
// blocked, limit reached, not started), 410 (gone: ended, sold out), 429
// (slow down) and 503 (busy, try again). Anything else is a bug.
var knownStatuses = map[int]bool{403: true, 410: true, 429: true, 503: true}

func (b *Build) newRejection(s RejectSpec) (*Rejection, error) {
	if !knownStatuses[s.Status] || !slices.Contains(reasons, s.Reason) {
		panic(fmt.Sprintf("BUG: filters: rejection %q with status %d: add the reason to reasons in stages.go", s.Reason, s.Status))
	}
	d := b.pageData(s)
	liveData(d)
	pages := b.pageSet()
	htmlPage, err := pages.render(s.Reason, d)
	if err != nil {
		return nil, fmt.Errorf("pages.%s: %w", s.Reason, err)
	}
	jsonPage := renderedPage{contentType: []byte("application/json"), json: true}
	jsonPage.parts, jsonPage.slots = cut(renderJSON(s, b))
	if s.Waiting {
		jsonPage.phrases = pages.phrasesOf(s.Reason)
	}
	rj := &Rejection{
		status:          s.Status,
		filter:          []byte(b.Kind),
		reason:          []byte(s.Reason),
		retryAfter:      s.RetryAfter,
		retryAfterValue: s.RetryAfterValue,
		interim:         interimReasons[s.Reason],
		html:            htmlPage,
		json:            jsonPage,
		counter:         b.Env.counter(b.Route, b.Kind, s.Reason),
	}
	return rj, nil
}

// pageData is the page's static fields for s.
func (b *Build) pageData(s RejectSpec) *PageData {
	d := &PageData{Shop: b.pageSet().shop, Page: s.Reason, Status: s.Status, Title: s.Title, Message: s.Message,
		Route: b.Route, Filter: b.Kind, RetryAfter: s.RetryAfter, TimeURL: TimePath,
		RefreshSeconds: queueRefresh, PollSeconds: queuePoll}
	for k, v := range s.Vars {
		set, ok := pageVars[k]
		if !ok {
			panic(fmt.Sprintf("BUG: filters: rejection %q: var %q has no PageData field (pageVars)", s.Reason, k))
		}
		set(d, v)
	}
	return d
}

// renderJSON builds {"error":reason,"filter":..,"route":..,"title":..,
// "message":.., vars..., value: <n>, waiting fields}, with markers where
// the request's numbers go.
func renderJSON(s RejectSpec, b *Build) []byte {
	var sb strings.Builder
	field := func(k, v string) {
		sb.WriteString(strconv.Quote(k))
		sb.WriteByte(':')
		sb.WriteString(v)
		sb.WriteByte(',')
	}
	sb.WriteByte('{')
	field("error", jsonString(s.Reason))
	field("filter", jsonString(b.Kind))
	field("route", jsonString(b.Route))
	field("title", jsonString(s.Title))
	field("message", jsonString(s.Message))
	keys := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(k, jsonString(s.Vars[k]))
	}
	if s.Value != "" {
		field(s.Value, marker(slotValue))
	}
	if s.Waiting {
		field("estimated_wait", marker(slotWait))
		field("wait_text", `"`+marker(slotWaitText)+`"`)
		field("progress", marker(slotProgress))
	}
	return []byte(strings.TrimSuffix(sb.String(), ",") + "}\n")
}

// jsonString quotes v as a JSON string. strconv.Quote's escapes are valid
// JSON for printable text; \x escapes are not, so control bytes get \u.
func jsonString(v string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>' || r == '&':
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
