package filters

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseBank(t *testing.T) {
	tests := []struct{ in, err string }{
		{"- q: Colour of the banner?\n  a: [Red, crimson]\n", ""},
		{"", "bank has 0 questions, want 1..10000"},
		{"- q: ''\n  a: [x]\n", "question 1: q must be 1..500 bytes of text"},
		{"- q: Why?\n", `question 1 ("Why?"): list at least one answer in a`},
		{"q: not a list\n", "cannot construct !!map"},
	}
	for _, tt := range tests {
		_, err := parseBank([]byte(tt.in))
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("parseBank(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestFileBankAnswers(t *testing.T) {
	fb, err := parseBank([]byte("- q: Colour of the banner?\n  a: [Red, crimson]\n"))
	if err != nil {
		t.Fatal(err)
	}
	id := fb.pick()
	for answer, want := range map[string]bool{"red": true, "  RED ": true, "Crimson": true, "blue": false, "": false} {
		if got := fb.correct(id, []byte(answer)); got != want {
			t.Errorf("correct(%q) = %v", answer, got)
		}
	}
	if q, ok := fb.question(id); !ok || q != "Colour of the banner?" {
		t.Errorf("question = %q, %v", q, ok)
	}
	if _, ok := fb.question(id ^ 1<<40); ok {
		t.Error("a question id of another bank version is accepted")
	}
}

func TestArithmeticBank(t *testing.T) {
	var a arithmetic
	for range 1000 {
		id := a.next(0)
		q, ok := a.question(id, 0)
		if !ok {
			t.Fatalf("id %#x has no question", id)
		}
		if !a.correct(id, []byte(" "+solveArithmetic(t, q)+" "), 0) {
			t.Fatalf("%s: right answer refused", q)
		}
		if a.correct(id, []byte("x"), 0) {
			t.Fatalf("%s: 'x' accepted", q)
		}
	}
	if _, ok := a.question(1<<40, 0); ok {
		t.Error("out-of-range id accepted")
	}
}

// TestBankHotReload edits the bank file: the new questions are served
// without a rule reload, and a broken edit keeps the last good bank.
func TestBankHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bank.yaml")
	write := func(body string, mod time.Time) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	write("- q: First?\n  a: [one]\n", time.Unix(1000, 0))
	h := &hotBank{path: path, log: testEnv(t).Log, interval: int64(time.Second), run: func(f func()) { f() }}
	if _, err := h.load(); err != nil {
		t.Fatal(err)
	}
	id := h.next(t0)
	if q, _ := h.question(id, t0); q != "First?" {
		t.Fatalf("question %q", q)
	}
	write("- q: Second?\n  a: [two]\n", time.Unix(2000, 0))
	if q, _ := h.question(h.next(t0+2*sec), t0+2*sec); q != "Second?" {
		t.Fatalf("after an edit: %q", q)
	}
	if h.correct(id, []byte("one"), t0+2*sec) {
		t.Fatal("a challenge from the old bank is still checked against it")
	}
	write("- q: [broken\n", time.Unix(3000, 0))
	if q, _ := h.question(h.next(t0+4*sec), t0+4*sec); q != "Second?" {
		t.Fatalf("after a broken edit: %q, want the last good bank", q)
	}
}
