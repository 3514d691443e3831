package admin

import (
	"embed"
	"net/http"
)

// ui holds the dashboard: one page, its script and stylesheet, all of our
// own (charts are drawn on canvas), so nothing is fetched from elsewhere.
//
//go:embed ui/index.html ui/app.js ui/style.css
var ui embed.FS

// asset is one embedded file of the dashboard.
type asset struct {
	file, ctype string
}

var assets = map[string]asset{
	"/":                 {"ui/index.html", "text/html; charset=utf-8"},
	"/assets/app.js":    {"ui/app.js", "text/javascript; charset=utf-8"},
	"/assets/style.css": {"ui/style.css", "text/css; charset=utf-8"},
}

// dashboard serves the page at / and its assets under /assets/. They hold
// no data: the page asks the API for everything, with the token when the
// listener needs one, so they are served to anyone who can reach the
// listener.
func (a *Admin) dashboard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := assets[r.URL.Path]
		if !ok {
			fail(w, http.StatusNotFound, "not_found", "nothing at "+r.URL.Path+" (the dashboard is at /, the API under /api/)")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			fail(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path+": allowed GET, HEAD")
			return
		}
		body, err := ui.ReadFile(f.file)
		if err != nil {
			panic("BUG: embedded dashboard file missing: " + f.file)
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}
