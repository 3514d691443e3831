package filters

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func solvePow(challenge string, difficulty int) string {
	for n := 0; ; n++ {
		a := strconv.Itoa(n)
		if powSolved([]byte(challenge), []byte(a), difficulty) {
			return a
		}
	}
}

func TestPowSolved(t *testing.T) {
	ans := solvePow("chal", 12)
	tests := []struct {
		name, answer string
		want         bool
	}{
		{"solution", ans, true},
		{"empty", "", false},
		{"not digits", "12a", false},
		{"leading space", " " + ans, false},
		{"too long", strings.Repeat("1", 21), false},
	}
	for _, tt := range tests {
		if got := powSolved([]byte("chal"), []byte(tt.answer), 12); got != tt.want {
			t.Errorf("%s: powSolved(%q) = %v", tt.name, tt.answer, got)
		}
	}
	if powSolved([]byte("other"), []byte(ans), 12) && powSolved([]byte("other2"), []byte(ans), 12) {
		t.Error("one answer solves unrelated challenges")
	}
}

func TestQuizPowFlow(t *testing.T) {
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {mode: pow, difficulty: 10, min_solve: 1s}\n")
	page := f.servePage(env)
	c := decodeJSON(t, callPage(page, "GET", f.page, "", jsonAccept, at(t0)))
	if c.Mode != "pow" || c.Difficulty != 10 || c.MinSolveMS != 1000 {
		t.Fatalf("challenge %+v", c)
	}
	bad := callPage(page, "POST", f.page, "challenge="+c.Challenge+"&answer=1", jsonAccept, at(t0+2*sec))
	if bad.Response.StatusCode() != 403 {
		t.Fatalf("wrong proof: %d", bad.Response.StatusCode())
	}
	c = decodeJSON(t, callPage(page, "GET", f.page, "", jsonAccept, at(t0)))
	ok := callPage(page, "POST", f.page, "challenge="+c.Challenge+"&answer="+solvePow(c.Challenge, 10), jsonAccept, at(t0+2*sec))
	if ok.Response.StatusCode() != 200 || decodeJSON(t, ok).Pass == "" {
		t.Fatalf("right proof: %d %s", ok.Response.StatusCode(), ok.Response.Body())
	}
}

// TestPowScriptSolves runs the page's script in node with a minimal DOM and
// checks that the server accepts what it submits.
func TestPowScriptSolves(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is needed to test the proof-of-work script")
		}
		t.Skip("node not installed")
	}
	env := testEnv(t)
	f := mustQuiz(t, env, "- quiz: {mode: pow, difficulty: 12, min_solve: 1s}\n")
	page := string(callPage(f.servePage(env), "GET", f.page, "", at(t0)).Response.Body())
	chal := between(page, `name="challenge" value="`, `"`)
	// The page's first script is the solver (templates/solver.html).
	script := between(page, "<script>", "</script>")
	js := "var submitted=null;function setTimeout(f){f();}\n" + script +
		"\nfgSolve(" + strconv.Quote(chal) + ",12,function(){},function(a){submitted=a;});\nconsole.log(submitted);\n"
	path := filepath.Join(t.TempDir(), "pow.js")
	if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, path).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	answer := string(bytes.TrimSpace(out))
	if !powSolved([]byte(chal), []byte(answer), 12) {
		t.Fatalf("the script submitted %q, which does not solve the challenge", answer)
	}
}
