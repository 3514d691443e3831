package flashgate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageDocs: every package of the module has a package doc comment,
// and a library's starts "Package <name> ", as godoc expects. Packages
// that do not exist yet are simply not listed.
func TestPackageDocs(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	// .Doc is the first sentence of the package comment, from the package's
	// non-test files; \t separates fields since a synopsis has spaces.
	out, err := exec.Command(goBin, "list", "-e", "-f", "{{.ImportPath}}\t{{.Name}}\t{{.Doc}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) < 3 || f[1] == "" { // a directory whose files do not parse: go vet reports it
			continue
		}
		n++
		if msg := docProblem(f[1], f[2]); msg != "" {
			t.Errorf("%s: %s", f[0], msg)
		}
	}
	if n == 0 {
		t.Fatal("go list found no packages: is the test running at the module root?")
	}
}

// docProblem says what is wrong with a package's doc synopsis, or "".
func docProblem(name, doc string) string {
	switch {
	case doc == "":
		return "no package doc comment: add `// Package " + name + " ...` above the package clause (usually in doc.go)"
	case name != "main" && !strings.HasPrefix(doc, "Package "+name+" "):
		return "package doc starts " + quote(doc) + ", want \"Package " + name + " ...\""
	}
	return ""
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + s + `"`
}

func TestDocProblem(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"demo", "Package demo is an embedded demo shop.", ""},
		{"main", "Flashgate is an edge gateway for flash sales.", ""},
		{"demo", "", "no package doc comment"},
		{"demo", "Package demos is a typo.", `want "Package demo ..."`},
		{"demo", "The demo shop.", `want "Package demo ..."`},
	}
	for _, tt := range tests {
		got := docProblem(tt.name, tt.doc)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("docProblem(%q, %q) = %q, want containing %q", tt.name, tt.doc, got, tt.want)
		}
	}
}
