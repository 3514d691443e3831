package filters

import (
	"crypto/sha256"
	"embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"flashgate/rules"
)

// The built-in page templates. Every page executes "layout" and fills its
// blocks; pageFiles says which file draws which page.
//
//go:embed templates/*.html
var templateFS embed.FS

// pageNames are the pages a shop can replace: every refusal reason, the
// question page, the quiz's "too many answers", and the gateway's own
// answers: the shop down (502, 503, 504) and a bad request (4xx).
var pageNames = append(slices.Clone(reasons), "quiz", "quiz_too_many", "origin_down", "gateway_error")

// pageFiles maps a page to its built-in file; the rest use message.html.
var pageFiles = map[string]string{
	"not_started":     "not_started.html",
	"queued":          "queued.html",
	"queue_required":  "queue_required.html",
	"quiz_required":   "quiz_required.html",
	"quiz_invalid":    "quiz_required.html",
	"quiz_expired":    "quiz_required.html",
	"quiz_used":       "quiz_required.html",
	"quiz":            "quiz.html",
	"sold_out":        "sold_out.html",
	"stock_exhausted": "sold_out.html",
	"purchase_limit":  "purchase_limit.html",
	"origin_down":     "origin_down.html",
}

// pagesSpec is a "pages:" section, at admission (the whole gateway) or on
// a route (its refusals and question page), e.g.
//
//	pages:
//	  shop: {name: Ember & Oak, color: "#b4471f", logo: /static/logo.svg}
//	  dir: pages/             # <page>.html files here replace the built-in ones
//	  layout: pages/frame.html  # redefines "layout" (and any block) for every page
//	  queued: pages/line.html   # one page
//
// Paths are relative to the rule file that names them. A route's pages
// start from the gateway's and replace what they name.
type pagesSpec struct {
	shop   shopSpec
	dir    string
	layout string
	files  map[string]string // page → path
}

// pageSet is a compiled set of page templates: every page, parsed and
// checked. Immutable after newPageSet.
type pageSet struct {
	shop  Shop
	pages map[string]*template.Template
	// files are the operator's files of this set and its parent, by page
	// ("layout" for the frame), for error messages and the next level.
	files map[string]string
	dir   string
	// read holds a hash of every operator file parsed into the set, so a
	// reload can tell that a page changed while the rules did not.
	read map[string][32]byte
}

var builtinPages = func() *pageSet {
	ps, err := newPageSet(nil, pagesSpec{})
	if err != nil {
		panic("BUG: filters: built-in page templates: " + err.Error())
	}
	return ps
}()

// loadPages decodes a pages section n into a set over parent (nil: the
// built-in pages). A zero n returns parent.
func loadPages(n rules.Node, parent *pageSet) (*pageSet, error) {
	if parent == nil {
		parent = builtinPages
	}
	if n.IsZero() {
		return parent, nil
	}
	var raw map[string]rules.Node
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	spec := pagesSpec{files: map[string]string{}}
	rel := func(p string) string {
		if !filepath.IsAbs(p) && n.Pos().File != "" {
			return filepath.Join(filepath.Dir(n.Pos().File), p)
		}
		return p
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		v := raw[key]
		var err error
		switch {
		case key == "shop":
			err = v.Decode(&spec.shop)
		case key == "dir" || key == "layout" || slices.Contains(pageNames, key):
			var p string
			if err = v.Decode(&p); err == nil {
				switch key {
				case "dir":
					spec.dir = rel(p)
				case "layout":
					spec.layout = rel(p)
				default:
					spec.files[key] = rel(p)
				}
			}
		default:
			return nil, n.Errorf(key, "unknown page %q (known: shop, dir, layout, %s)", key, strings.Join(pageNames, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	ps, err := newPageSet(parent, spec)
	if err != nil {
		if pe, ok := err.(*pageError); ok {
			return nil, n.Errorf(pe.key, "%s", pe.msg)
		}
		return nil, n.Errorf("", "%v", err)
	}
	return ps, nil
}

// pageError is a template problem found while compiling a set, with the
// pages key it belongs to.
type pageError struct{ key, msg string }

func (e *pageError) Error() string { return e.key + ": " + e.msg }

// newPageSet compiles spec over parent: the built-in files, then the
// parent's and spec's layout, then each page's file (spec's, else the
// parent's, else the dir's, else the built-in one). Every page is executed
// once with sample data, so a field that does not exist is found now, not
// when a shopper is refused.
func newPageSet(parent *pageSet, spec pagesSpec) (*pageSet, error) {
	ps := &pageSet{shop: defaultShop, pages: map[string]*template.Template{}, files: map[string]string{},
		read: map[string][32]byte{}}
	if parent != nil {
		ps.shop, ps.dir = parent.shop, parent.dir
		for k, v := range parent.files {
			ps.files[k] = v
		}
	}
	var err error
	if ps.shop, err = spec.shop.compile(ps.shop); err != nil {
		return nil, &pageError{"shop.color", err.Error()}
	}
	if spec.dir != "" {
		if st, err := os.Stat(spec.dir); err != nil || !st.IsDir() {
			return nil, &pageError{"dir", fmt.Sprintf("%s is not a readable directory", spec.dir)}
		}
		ps.dir = spec.dir
		// A file in the new dir replaces what the parent named for that page.
		for _, p := range pageNames {
			delete(ps.files, p)
		}
	}
	if spec.layout != "" {
		ps.files["layout"] = spec.layout
	}
	for p, f := range spec.files {
		ps.files[p] = f
	}
	base, err := parseBuiltin(template.New("").Option("missingkey=error"), "layout.html", "solver.html")
	if err != nil {
		return nil, err
	}
	if f := ps.files["layout"]; f != "" {
		if base, err = ps.parseFile(base, f); err != nil {
			return nil, &pageError{"layout", err.Error()}
		}
	}
	for _, page := range pageNames {
		t, key, err := ps.parsePage(base, page)
		if err == nil {
			err = checkPage(t, page)
		}
		if err != nil {
			return nil, &pageError{key, err.Error()}
		}
		ps.pages[page] = t
	}
	return ps, nil
}

// parsePage parses page's file into a copy of base. key is the pages key
// an error belongs to.
func (ps *pageSet) parsePage(base *template.Template, page string) (*template.Template, string, error) {
	t, err := base.Clone()
	if err != nil {
		return nil, page, err
	}
	file := pageFiles[page]
	if file == "" {
		file = "message.html"
	}
	// The built-in page goes in first even when replaced: its blocks
	// ("extra", "head") are there for a replacement that calls the frame
	// and redefines only some of them.
	if t, err = parseBuiltin(t, file); err != nil {
		return nil, "layout", err // a built-in page fails only through the operator's layout
	}
	if f := ps.files[page]; f != "" {
		t, err = ps.parseFile(t, f)
		return t, page, err
	}
	if ps.dir != "" {
		f := filepath.Join(ps.dir, page+".html")
		if _, err := os.Stat(f); err == nil {
			t, err = ps.parseFile(t, f)
			return t, "dir", err
		}
	}
	return t, "layout", nil
}

func parseBuiltin(t *template.Template, files ...string) (*template.Template, error) {
	for _, f := range files {
		b, err := templateFS.ReadFile("templates/" + f)
		if err != nil {
			return nil, err
		}
		if t, err = t.New(f).Parse(string(b)); err != nil {
			return nil, err
		}
	}
	// The page is the last file parsed: it is what Execute runs.
	return t.Lookup(files[len(files)-1]), nil
}

func (ps *pageSet) parseFile(t *template.Template, path string) (*template.Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read page template: %v", err)
	}
	ps.read[path] = sha256.Sum256(b)
	text, err := migrateLegacy(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if t, err = t.New(path).Parse(text); err != nil {
		return nil, cleanTemplateErr(err)
	}
	return t, nil
}

// checkPage executes t once into nothing with every field set, so that an
// unknown field or a bad call fails at load with its file:line:col.
func checkPage(t *template.Template, page string) error {
	d := sampleData(page)
	if err := t.Execute(io.Discard, d); err != nil {
		return cleanTemplateErr(err)
	}
	for _, ph := range waitPhrases {
		if t.Lookup(ph) == nil {
			return fmt.Errorf("the layout must define the wait phrase %q", ph)
		}
		if err := t.ExecuteTemplate(io.Discard, ph, 5); err != nil {
			return cleanTemplateErr(err)
		}
	}
	return nil
}

func sampleData(page string) *PageData {
	return &PageData{Shop: defaultShop, Page: page, Status: 403, Title: "t", Message: "m", Route: "r", Filter: "f",
		Value: "1", Position: "1", Wait: "1", WaitText: "w", Progress: "1", StartsAt: "s", EndsAt: "e",
		QuizURL: "/q", WaitURL: "/w", StatusURL: "/s", TimeURL: TimePath, RefreshSeconds: 20, PollSeconds: 5,
		Quiz: QuizData{Mode: "pow", Question: "q", Challenge: "c", Action: "/a", Return: "/", Difficulty: 8}}
}

// cleanTemplateErr drops the "template: " prefix and the executing
// context, keeping "file:line:col: what".
func cleanTemplateErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	if i := strings.Index(msg, ": executing "); i >= 0 {
		if j := strings.Index(msg[i:], ">: "); j >= 0 {
			msg = msg[:i] + ": " + msg[i+j+3:]
		}
	}
	return fmt.Errorf("%s", msg)
}

// Page files written for the first page format (before html/template) used
// {{name}} placeholders. Such a file (every action a lowercase name) is
// translated on load, so it keeps working; docs/pages.md shows the new
// names.
var (
	legacyAction = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
	legacyNames  = map[string]string{
		"title": "{{.Title}}", "message": "{{.Message}}", "status": "{{.Status}}", "reason": "{{.Page}}",
		"filter": "{{.Filter}}", "route": "{{.Route}}", "value": "{{.Value}}", "extra": `{{template "extra" .}}`,
		"starts_at": "{{.StartsAt}}", "start_unix_ms": "{{.StartsAtUnixMS}}", "ends_at": "{{.EndsAt}}",
		"quiz_url": "{{.QuizURL}}", "wait_url": "{{.WaitURL}}", "status_url": "{{.StatusURL}}",
	}
	lowerName = regexp.MustCompile(`^[a-z_]+$`)
)

func migrateLegacy(text string) (string, error) {
	acts := legacyAction.FindAllStringSubmatch(text, -1)
	if len(acts) == 0 {
		return text, nil
	}
	for _, a := range acts {
		if !lowerName.MatchString(a[1]) || a[1] == "end" || a[1] == "else" {
			return text, nil // a template of today's kind
		}
	}
	var bad error
	out := legacyAction.ReplaceAllStringFunc(text, func(a string) string {
		name := legacyAction.FindStringSubmatch(a)[1]
		if v, ok := legacyNames[name]; ok {
			return v
		}
		if bad == nil {
			known := make([]string, 0, len(legacyNames))
			for k := range legacyNames {
				known = append(known, k)
			}
			sort.Strings(known)
			bad = fmt.Errorf("unknown placeholder {{%s}} (known: %s; or write today's {{.Field}} form, docs/pages.md)", name, strings.Join(known, ", "))
		}
		return a
	})
	return out, bad
}

// notePages records the page files a compile read (Env.PagesChanged).
func (e *Env) notePages(ps *pageSet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pendingPages == nil {
		e.pendingPages = map[string][32]byte{}
	}
	for p, h := range ps.read {
		e.pendingPages[p] = h
	}
}

// PagesChanged reports whether a page template file read by the last
// committed compile has changed (or gone) since: the rule files can be
// byte-identical while a page was edited, and the page must reload too.
func (e *Env) PagesChanged() bool {
	e.mu.Lock()
	files := e.pageFiles
	e.mu.Unlock()
	for p, h := range files {
		b, err := os.ReadFile(p)
		if err != nil || sha256.Sum256(b) != h {
			return true
		}
	}
	return false
}
