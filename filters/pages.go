package filters

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// defaultHTML is the page every rejection renders unless the operator
// replaced it under admission.pages. Placeholders: {{title}}, {{message}},
// {{status}}, {{reason}}, {{filter}}, {{route}}, the rejection's own vars,
// {{extra}} (raw HTML the filter adds, e.g. a countdown script) and
// {{value}} (the dynamic number, rendered per request).
const defaultHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.5em}</style>
</head><body>
<h1>{{title}}</h1>
<p>{{message}}</p>
{{extra}}
</body></html>
`

// TimePath is the gateway page that tells countdown scripts the server's
// clock, so a page's countdown does not trust the visitor's clock. The
// proxy serves it (it is not one of the pages filters register).
const TimePath = "/_flashgate/time"

// admissionSpec is the top-level "admission:" section.
type admissionSpec struct {
	// Pages maps a rejection reason (rate_limited, not_started, ...) to an
	// HTML template file, relative to the rule file that names it.
	Pages map[string]string `yaml:"pages"`
	// Keys, Leeway and Store are process settings decoded by package proxy
	// (the token keyring and the state store); named here so that strict
	// decoding accepts them.
	Keys   rules.Node `yaml:"keys"`
	Leeway rules.Node `yaml:"leeway"`
	Store  rules.Node `yaml:"store"`
}

// loadAdmission decodes the admission section and reads page templates.
func loadAdmission(n rules.Node) (map[string]string, error) {
	var spec admissionSpec
	if n.IsZero() {
		return nil, nil
	}
	if err := n.Decode(&spec); err != nil {
		return nil, err
	}
	pages := make(map[string]string, len(spec.Pages))
	for reason, path := range spec.Pages {
		if !slices.Contains(reasons, reason) {
			return nil, n.Errorf("pages."+reason, "unknown rejection reason %q (known: %s)", reason, strings.Join(reasons, ", "))
		}
		if !filepath.IsAbs(path) && n.Pos().File != "" {
			path = filepath.Join(filepath.Dir(n.Pos().File), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, n.Errorf("pages."+reason, "cannot read page template: %v", err)
		}
		if err := checkPlaceholders(string(b)); err != nil {
			return nil, n.Errorf("pages."+reason, "%s: %v", path, err)
		}
		pages[reason] = string(b)
	}
	return pages, nil
}

// checkPlaceholders checks a page's syntax at load: every {{ is closed and
// names a plain identifier. Whether the name exists is checked when a
// filter renders the page (Build.Reject), which knows its variables.
func checkPlaceholders(tmpl string) error {
	for {
		i := strings.Index(tmpl, "{{")
		if i < 0 {
			return nil
		}
		j := strings.Index(tmpl[i:], "}}")
		if j < 0 {
			return fmt.Errorf("unclosed {{ in %q", clip(tmpl[i:]))
		}
		name := strings.TrimSpace(tmpl[i+2 : i+j])
		if name == "" || strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return fmt.Errorf("bad placeholder {{%s}}: want {{name}} in lowercase letters and _", clip(name))
		}
		tmpl = tmpl[i+j+2:]
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// AddPage registers a gateway page at path (under /_flashgate/) for the
// compile in progress; the proxy mounts the set Commit returns. Registering
// one path twice in one compile is an error.
func (e *Env) AddPage(path string, h fasthttp.RequestHandler) error {
	if len(path) < len("/_flashgate/") || path[:len("/_flashgate/")] != "/_flashgate/" {
		return fmt.Errorf("page path %q is not under /_flashgate/", path)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.pages[path]; dup {
		return fmt.Errorf("page %s registered twice", path)
	}
	e.pages[path] = h
	return nil
}
