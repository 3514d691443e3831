package filters

import (
	"fmt"
	"html"
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
	html, json      renderedPage
	counter         *metrics.Counter
}

type renderedPage struct {
	contentType []byte
	parts       [][]byte // the body split at each {{value}}
}

// Status returns the HTTP status the rejection answers with.
func (rj *Rejection) Status() int { return rj.status }

// Reason returns the machine-readable reason ("rate_limited").
func (rj *Rejection) Reason() string { return string(rj.reason) }

// Verdict returns the verdict that rejects with rj and no dynamic value.
func (rj *Rejection) Verdict() Verdict { return Verdict{rej: rj} }

// With returns the verdict that rejects with rj and renders n at each
// {{value}} (and as Retry-After when the spec says so).
func (rj *Rejection) With(n int64) Verdict { return Verdict{rej: rj, val: n} }

// RejectSpec describes a rejection for Build.Reject.
type RejectSpec struct {
	Reason  string // machine-readable, snake_case: "rate_limited"; names the operator's page
	Status  int    // 403, 410, 429 or 503
	Title   string // page title, plain text
	Message string // one or two sentences for the user, plain text
	// Value names the dynamic value in the JSON body ("retry_after",
	// "position", "starts_in"); empty means the rejection has none.
	Value string
	// RetryAfterValue sends the dynamic value as Retry-After seconds.
	RetryAfterValue bool
	// RetryAfter is a fixed Retry-After in seconds when RetryAfterValue is false.
	RetryAfter int64
	// Vars are further static fields: substituted at {{name}} in the HTML
	// (escaped) and added to the JSON body as strings.
	Vars map[string]string
	// Extra is raw HTML inserted at {{extra}} (scripts, meta tags), trusted.
	Extra string
}

// knownStatuses are the statuses a rejection may carry: 403 (refused:
// blocked, limit reached, not started), 410 (gone: ended, sold out), 429
// (slow down) and 503 (busy, try again). Anything else is a bug.
var knownStatuses = map[int]bool{403: true, 410: true, 429: true, 503: true}

func (b *Build) newRejection(s RejectSpec) (*Rejection, error) {
	if !knownStatuses[s.Status] || !slices.Contains(reasons, s.Reason) {
		panic(fmt.Sprintf("BUG: filters: rejection %q with status %d: add the reason to reasons in stages.go", s.Reason, s.Status))
	}
	vars := map[string]string{
		"title": s.Title, "message": s.Message, "reason": s.Reason, "filter": b.Kind,
		"route": b.Route, "status": strconv.Itoa(s.Status),
	}
	for k, v := range s.Vars {
		vars[k] = v
	}
	tmpl := defaultHTML
	if p, ok := b.Env.pageTemplate(s.Reason); ok {
		tmpl = p
	}
	htmlParts, err := renderHTML(tmpl, vars, s.Extra, s.Value != "")
	if err != nil {
		return nil, fmt.Errorf("admission.pages.%s: %w", s.Reason, err)
	}
	rj := &Rejection{
		status:          s.Status,
		filter:          []byte(b.Kind),
		reason:          []byte(s.Reason),
		retryAfter:      s.RetryAfter,
		retryAfterValue: s.RetryAfterValue,
		html:            renderedPage{contentType: []byte("text/html; charset=utf-8"), parts: htmlParts},
		json:            renderedPage{contentType: []byte("application/json"), parts: renderJSON(s, b)},
		counter:         b.Env.counter(b.Route, b.Kind, s.Reason),
	}
	return rj, nil
}

// renderHTML substitutes every {{name}} of tmpl, keeping {{value}} as split
// points. An unknown name is an error, so an operator's typo shows at load.
func renderHTML(tmpl string, vars map[string]string, extra string, hasValue bool) ([][]byte, error) {
	// Extra is trusted HTML from the filter; its own placeholders
	// ({{value}}, vars) are expanded like the template's.
	tmpl = strings.ReplaceAll(tmpl, "{{extra}}", extra)
	var parts [][]byte
	var cur strings.Builder
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			cur.WriteString(tmpl)
			break
		}
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ at byte %d", i)
		}
		cur.WriteString(tmpl[:i])
		name := strings.TrimSpace(tmpl[i+2 : i+j])
		tmpl = tmpl[i+j+2:]
		switch v, ok := vars[name]; {
		case name == "value" && hasValue:
			parts = append(parts, []byte(cur.String()))
			cur.Reset()
		case name == "value":
			// the rejection has no dynamic value: render nothing
		case ok:
			cur.WriteString(html.EscapeString(v))
		default:
			return nil, fmt.Errorf("unknown placeholder {{%s}} (known: %s)", name, knownNames(vars))
		}
	}
	return append(parts, []byte(cur.String())), nil
}

func knownNames(vars map[string]string) string {
	names := []string{"value", "extra"}
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// renderJSON builds {"error":reason,"filter":..,"route":..,"message":..,
// vars..., value: <n>} with the value last, so the body splits in two.
func renderJSON(s RejectSpec, b *Build) [][]byte {
	var sb strings.Builder
	field := func(k, v string) {
		sb.WriteString(strconv.Quote(k))
		sb.WriteByte(':')
		sb.WriteString(jsonString(v))
		sb.WriteByte(',')
	}
	sb.WriteByte('{')
	field("error", s.Reason)
	field("filter", b.Kind)
	field("route", b.Route)
	field("message", s.Message)
	keys := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(k, s.Vars[k])
	}
	body := strings.TrimSuffix(sb.String(), ",")
	if s.Value == "" {
		return [][]byte{[]byte(body + "}\n")}
	}
	return [][]byte{[]byte(body + "," + strconv.Quote(s.Value) + ":"), []byte("}\n")}
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
