package flashgate_test

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The module's import graph is a tested property (DESIGN.md, "Packages"):
// imports point down the layout table only. A package's component is its
// top directory ("cache" for flashgate/cache/internal/x), or its first two
// for cmd/ and internal/.

// allowedDeps maps each component to the flashgate components it may
// import. The table is transitively closed (TestDepsTableClosed), so
// checking every direct edge checks every transitive one.
var allowedDeps = map[string][]string{
	"cmd/flashgate": {"admin", "rehearse", "proxy", "origin", "orders", "edge", "filters", "cache", "esi", "hotspot", "token", "cluster", "rules", "route", "demo", "sockio"},
	"admin":         {"proxy", "origin", "orders", "edge", "filters", "cache", "esi", "hotspot", "token", "cluster", "rules", "route", "sockio"},
	"proxy":         {"origin", "orders", "edge", "filters", "cache", "esi", "hotspot", "token", "cluster", "rules", "route", "sockio"},
	"origin":        {"rules", "route", "sockio"},
	"orders":        {"cluster", "rules", "route"},
	"edge":          {"rules", "route"},
	"filters":       {"token", "cluster", "rules", "route"},
	"cache":         {"rules", "route"},
	"rules":         {"route"},
	"rehearse":      nil,
	"esi":           nil,
	"hotspot":       nil,
	"token":         nil,
	"cluster":       nil,
	"route":         nil,
	"sockio":        nil,
	"demo":          nil,
	"bench":         nil,
	".":             nil, // the root package holds only module-wide tests
	// Test support: may use any production package and "testing", but no
	// production package may import it.
	"internal/fgtest": {"proxy", "origin", "orders", "edge", "filters", "cache", "esi", "hotspot", "token", "cluster", "rules", "route", "demo", "rehearse", "sockio"},
}

// whyTarget explains edges banned because of what they point at.
var whyTarget = map[string]string{
	"cmd/flashgate":   "cmd/flashgate is the wiring (flags, signals); nothing imports a main package",
	"rehearse":        "rehearse is a client of the gateway over HTTP; only cmd/flashgate wires it",
	"admin":           "admin sits on top of proxy; only cmd/flashgate wires it",
	"demo":            "demo is the out-of-the-box origin; only cmd/flashgate starts it, so the gateway never depends on an example shop",
	"bench":           "bench holds black-box load scenarios over HTTP; nothing imports them",
	"internal/fgtest": "test helpers: production code never imports them (they import testing)",
	".":               "the root package holds only module-wide tests",
}

// whyFrom explains the bound of each component, for edges banned because
// of where they start.
var whyFrom = map[string]string{
	"admin":    "admin may use proxy and what proxy uses",
	"proxy":    "proxy runs the pipeline over the stages below it; it never reaches up to admin or cmd",
	"origin":   "origin is the origin pools (balancing, health, limits, breakers, fallbacks), configured by rules; it knows nothing of the pipeline",
	"orders":   "orders is the asynchronous purchase queue over cluster state; it knows nothing of the pipeline",
	"edge":     "edge is the public listener's TLS and PROXY protocol, configured by rules; it knows nothing of the pipeline",
	"filters":  "filters decide admission from a request, tokens, cluster state and rules; they know nothing of the cache, ESI or the server",
	"cache":    "the cache is policy plus store, configured by rules; it knows nothing of admission, ESI or the server",
	"rules":    "rules is the config model; it may only parse route patterns, so -check needs nothing else",
	"esi":      "esi is a leaf: it assembles over its own small Fetcher interface, so it is tested and fuzzed without a server or cache",
	"hotspot":  "hotspot is a leaf: sampler, sketch and top-K over plain keys",
	"token":    "token is a leaf: one HMAC format, no I/O",
	"rehearse": "rehearse is a client: it drives the gateway over HTTP and never reaches into its packages",
	"cluster":  "cluster is a leaf: a small store interface keyed by uint64 hashes, so Redis and memory are interchangeable",
	"route":    "route is a leaf: the one path matcher used by rules at check time and proxy at run time",
	"sockio":   "sockio is a leaf: a TCP socket's reads and writes, below every protocol",
	"demo":     "demo is a leaf: an example shop that must look like any other origin",
	"bench":    "bench measures the gateway from outside, over HTTP",
	".":        "the root package holds only module-wide tests",
}

const modulePath = "flashgate"

// component returns the layout-table component of a flashgate import path.
func component(importPath string) string {
	rel, ok := strings.CutPrefix(importPath, modulePath+"/")
	if !ok {
		return "."
	}
	parts := strings.SplitN(rel, "/", 3)
	if (parts[0] == "cmd" || parts[0] == "internal") && len(parts) > 1 {
		return parts[0] + "/" + parts[1]
	}
	return parts[0]
}

func isModulePackage(p string) bool { return p == modulePath || strings.HasPrefix(p, modulePath+"/") }

// listImports returns the direct (non-test) imports of every package of
// the module and of everything they depend on, as `go list -deps` sees
// them. Packages that do not exist yet are simply absent; -e keeps a
// package that does not compile in the list, so a colleague's broken
// build does not hide an import edge.
func listImports(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-e", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...").Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, msg)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && isModulePackage(fields[0]) {
			imports[fields[0]] = fields[1:]
		}
	}
	return imports
}

// TestDeps fails on every import edge the layout table does not allow,
// with the reason the edge is banned.
func TestDeps(t *testing.T) {
	imports := listImports(t)
	if len(imports) == 0 {
		t.Fatal("go list found no flashgate packages: is the test running at the module root?")
	}
	for _, pkg := range slices.Sorted(maps.Keys(imports)) {
		from := component(pkg)
		allowed, known := allowedDeps[from]
		if !known {
			t.Errorf("%s: component %q is not in the layout table (DESIGN.md): add it to allowedDeps in deps_test.go "+
				"with the components it may import (no util or common packages: a shared helper gets a named leaf package)", pkg, from)
			continue
		}
		for _, imp := range imports[pkg] {
			if err := checkEdge(pkg, from, allowed, imp); err != "" {
				t.Error(err)
			}
		}
	}
}

// checkEdge returns why pkg (of component from) may not import imp, or "".
func checkEdge(pkg, from string, allowed []string, imp string) string {
	if (imp == "testing" || strings.HasPrefix(imp, "testing/")) && from != "internal/fgtest" {
		return pkg + " imports " + imp + ": production code never imports testing (it registers test flags and links the test runtime into the binary); move the helper to a _test.go file or internal/fgtest"
	}
	if !isModulePackage(imp) {
		return ""
	}
	to := component(imp)
	if to == from || slices.Contains(allowed, to) {
		return ""
	}
	why := whyTarget[to]
	if why == "" {
		why = whyFrom[from]
	}
	return pkg + " imports " + imp + ": not allowed: " + why
}

// TestDepsTableClosed: if A may import B and B may import C, A may import
// C. Without this, a banned dependency could hide behind allowed edges.
func TestDepsTableClosed(t *testing.T) {
	for a, bs := range allowedDeps {
		for _, b := range bs {
			if _, ok := allowedDeps[b]; !ok {
				t.Errorf("allowedDeps[%q] names %q, which has no row", a, b)
			}
			for _, c := range allowedDeps[b] {
				if c != a && !slices.Contains(bs, c) {
					t.Errorf("%s may import %s, which may import %s, but %s may not import %s", a, b, c, a, c)
				}
			}
		}
	}
}

func TestCheckEdgeReasons(t *testing.T) {
	tests := []struct {
		pkg, imp string
		want     string // substring of the reason; "" = allowed
	}{
		{"flashgate/proxy", "flashgate/cache", ""},
		{"flashgate/proxy/internal/pool", "flashgate/proxy", ""},
		{"flashgate/cache", "flashgate/route", ""},
		{"flashgate/cmd/flashgate", "flashgate/demo", ""},
		{"flashgate/internal/fgtest", "testing", ""},
		{"flashgate/proxy", "flashgate/demo", "only cmd/flashgate starts it"},
		{"flashgate/cache", "flashgate/filters", "knows nothing of admission"},
		{"flashgate/esi", "flashgate/cache", "esi is a leaf"},
		{"flashgate/rules", "flashgate/proxy", "rules is the config model"},
		{"flashgate/filters", "flashgate/internal/fgtest", "production code never imports them"},
		{"flashgate/token", "testing", "production code never imports testing"},
		{"flashgate/route", "testing/synctest", "production code never imports testing"},
	}
	for _, tt := range tests {
		from := component(tt.pkg)
		got := checkEdge(tt.pkg, from, allowedDeps[from], tt.imp)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("checkEdge(%s -> %s) = %q, want containing %q", tt.pkg, tt.imp, got, tt.want)
		}
	}
}
