package filters

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// A question bank hands out questions by a 64-bit id that travels inside
// the signed challenge, so the server keeps no per-challenge state: the id
// is enough to ask the question again and to check the answer.
type questionBank interface {
	// next returns a random question's id.
	next(now int64) uint64
	// question returns the text of question id; ok is false when id no
	// longer exists (the bank file changed since the challenge was made).
	question(id uint64, now int64) (text string, ok bool)
	// correct reports whether answer answers question id.
	correct(id uint64, answer []byte, now int64) bool
}

// arithmetic is the default bank: "What is 7 + 5?" with operands from the
// id. It stops scripts that do not look at the page, not ones that do; for
// those, use a bank file of questions about the sale or proof of work.
type arithmetic struct{}

const arithOps = "+-×"

func (arithmetic) next(int64) uint64 {
	a, b, op := rand.Uint64N(20)+2, rand.Uint64N(20)+2, rand.Uint64N(3)
	if op == 1 && b > a {
		a, b = b, a // no negative answers
	}
	return a<<16 | b<<8 | op
}

func arithParts(id uint64) (a, b int, op byte, ok bool) {
	a, b, o := int(id>>16&0xff), int(id>>8&0xff), id&0xff
	if id>>24 != 0 || a < 2 || a > 21 || b < 2 || b > 21 || o > 2 {
		return 0, 0, 0, false
	}
	return a, b, "+-*"[o], true
}

func (arithmetic) question(id uint64, _ int64) (string, bool) {
	a, b, op, ok := arithParts(id)
	if !ok {
		return "", false
	}
	sym := map[byte]string{'+': "+", '-': "−", '*': "×"}[op]
	return "What is " + strconv.Itoa(a) + " " + sym + " " + strconv.Itoa(b) + "?", true
}

func (arithmetic) correct(id uint64, answer []byte, _ int64) bool {
	a, b, op, ok := arithParts(id)
	if !ok {
		return false
	}
	want := a + b
	switch op {
	case '-':
		want = a - b
	case '*':
		want = a * b
	}
	got, err := strconv.Atoi(strings.TrimSpace(string(answer)))
	return err == nil && got == want
}

// fileBank is a bank read from a YAML file of questions:
//
//   - q: Which colour is the sale banner?
//     a: [red, crimson]
//
// Answers match ignoring case and surrounding space. Question ids carry the
// file's version (a hash of its bytes) so a challenge issued from an
// edited file is refused rather than checked against the wrong answer.
type fileBank struct {
	version   uint32
	questions []bankQuestion
}

type bankQuestion struct {
	Q string   `yaml:"q"`
	A []string `yaml:"a"`
}

// Bank file bounds: a bank is read whole into memory.
const (
	maxBankBytes     = 1 << 20
	maxBankQuestions = 10_000
	maxQuestionLen   = 500
)

func parseBank(b []byte) (*fileBank, error) {
	if len(b) > maxBankBytes {
		return nil, fmt.Errorf("bank is %d bytes, at most %d", len(b), maxBankBytes)
	}
	var qs []bankQuestion
	if err := yaml.Unmarshal(b, &qs); err != nil {
		return nil, err
	}
	if len(qs) == 0 || len(qs) > maxBankQuestions {
		return nil, fmt.Errorf("bank has %d questions, want 1..%d", len(qs), maxBankQuestions)
	}
	for i := range qs {
		q := &qs[i]
		q.Q = strings.TrimSpace(q.Q)
		if q.Q == "" || len(q.Q) > maxQuestionLen || !utf8.ValidString(q.Q) {
			return nil, fmt.Errorf("question %d: q must be 1..%d bytes of text", i+1, maxQuestionLen)
		}
		if len(q.A) == 0 {
			return nil, fmt.Errorf("question %d (%q): list at least one answer in a", i+1, q.Q)
		}
		for j, a := range q.A {
			q.A[j] = strings.ToLower(strings.TrimSpace(a))
		}
	}
	return &fileBank{version: uint32(HashBytes(b)), questions: qs}, nil
}

func (fb *fileBank) pick() uint64 {
	return uint64(fb.version)<<32 | rand.Uint64N(uint64(len(fb.questions)))
}

func (fb *fileBank) lookup(id uint64) *bankQuestion {
	i := id & 0xffffffff
	if uint32(id>>32) != fb.version || i >= uint64(len(fb.questions)) {
		return nil
	}
	return &fb.questions[i]
}

func (fb *fileBank) question(id uint64) (string, bool) {
	if q := fb.lookup(id); q != nil {
		return q.Q, true
	}
	return "", false
}

func (fb *fileBank) correct(id uint64, answer []byte) bool {
	q := fb.lookup(id)
	if q == nil {
		return false
	}
	got := strings.ToLower(strings.TrimSpace(string(answer)))
	for _, a := range q.A {
		if got == a {
			return true
		}
	}
	return false
}

// hotBank is a fileBank re-read when its file's modification time or size
// changes, checked at most every interval from the request that notices
// the interval passed (in its own goroutine), so an edit needs no rule
// reload and a bad edit keeps the last good bank. It is process-lifetime
// state (Env.State), shared by every compile that names the same file.
type hotBank struct {
	path     string
	log      *slog.Logger
	interval int64
	due      atomic.Int64
	bank     atomic.Pointer[fileBank]
	mu       sync.Mutex // held while loading
	stamp    fileStamp  // guarded by mu
	run      func(func())
}

var _ questionBank = (*hotBank)(nil)

// load reads the file if it changed; on error the current bank is kept.
func (h *hotBank) load() (bool, error) {
	st, err := os.Stat(h.path)
	if err != nil {
		return false, err
	}
	stamp := fileStamp{st.ModTime(), st.Size()}
	if h.bank.Load() != nil && stamp == h.stamp {
		return false, nil
	}
	b, err := os.ReadFile(h.path)
	if err != nil {
		return false, err
	}
	fb, err := parseBank(b)
	if err != nil {
		return false, fmt.Errorf("%s: %w", h.path, err)
	}
	h.bank.Store(fb)
	h.stamp = stamp
	return true, nil
}

func (h *hotBank) current(now int64) *fileBank {
	if due := h.due.Load(); now >= due && h.due.CompareAndSwap(due, now+h.interval) {
		if h.run != nil {
			h.run(h.refresh)
		} else {
			go h.refresh()
		}
	}
	return h.bank.Load()
}

func (h *hotBank) refresh() {
	if !h.mu.TryLock() {
		return
	}
	defer h.mu.Unlock()
	switch changed, err := h.load(); {
	case err != nil:
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "quiz bank not reloaded; keeping the last good bank",
			slog.String("file", h.path), slog.String("error", err.Error()))
	case changed:
		h.log.LogAttrs(context.Background(), slog.LevelInfo, "quiz bank reloaded", slog.String("file", h.path))
	}
}

func (h *hotBank) next(now int64) uint64 { return h.current(now).pick() }
func (h *hotBank) question(id uint64, now int64) (string, bool) {
	return h.current(now).question(id)
}
func (h *hotBank) correct(id uint64, answer []byte, now int64) bool {
	return h.current(now).correct(id, answer)
}

// bank returns the question bank of file (the arithmetic bank when file
// is empty), loading it now so that a broken file fails the compile.
func (b *Build) bank(file string) (questionBank, error) {
	if file == "" {
		return arithmetic{}, nil
	}
	path := b.path(file)
	h := b.Env.State(b.StateID("quiz-bank", path), func() any {
		return &hotBank{path: path, log: b.Env.Log, interval: int64(2 * time.Second)}
	}).(*hotBank)
	h.mu.Lock()
	_, err := h.load()
	h.mu.Unlock()
	if err != nil {
		return nil, b.Errorf("bank", "%v", err)
	}
	return h, nil
}
