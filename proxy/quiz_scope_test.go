package proxy

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/bits"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// twoQuizRules: the doorbuster's buy route asks a hard proof of work, the
// cheaper item's an easy one. Keys sign both quizzes' challenges alike.
const twoQuizRules = `
origins:
  shop: {servers: ["%s"]}
routes:
  - name: door
    methods: [POST]
    path: /buy/1
    origin: shop
    filters:
      - quiz: {mode: pow, difficulty: 22, min_solve: 1s, return: /item/1}
  - name: cheap
    methods: [POST]
    path: /buy/2
    origin: shop
    filters:
      - quiz: {mode: pow, difficulty: 8, min_solve: 1s, return: /item/2}
`

// quizChallenge fetches a challenge of the quiz page page (JSON).
func quizChallenge(t *testing.T, g *gateway, page string) string {
	t.Helper()
	r := g.do(t, "GET", page, nil, "Accept", "application/json")
	var ch struct{ Challenge string }
	if err := json.Unmarshal(r.Body(), &ch); err != nil || ch.Challenge == "" {
		t.Fatalf("GET %s: %d %s (%v)", page, r.StatusCode(), r.Body(), err)
	}
	return ch.Challenge
}

// quizAnswer posts challenge and answer to page and returns the pass it
// gives ("" if refused) and the answer's status.
func quizAnswer(t *testing.T, g *gateway, page, challenge, answer string) (string, int) {
	t.Helper()
	form := url.Values{"challenge": {challenge}, "answer": {answer}}.Encode()
	r := g.do(t, "POST", page, []byte(form), "Accept", "application/json", "Content-Type", "application/x-www-form-urlencoded")
	var p struct{ Pass string }
	_ = json.Unmarshal(r.Body(), &p)
	return p.Pass, r.StatusCode()
}

// powAnswer finds n with SHA-256(challenge ":" n) starting with difficulty
// zero bits, as the quiz page's script does.
func powAnswer(challenge string, difficulty int) string {
	for n := 0; ; n++ {
		a := strconv.Itoa(n)
		sum := sha256.Sum256([]byte(challenge + ":" + a))
		zeros := 0
		for _, c := range sum {
			zeros += bits.LeadingZeros8(c)
			if c != 0 {
				break
			}
		}
		if zeros >= difficulty {
			return a
		}
	}
}

// TestQuizChallengeRedeemableWhereIssued: a challenge taken from the
// doorbuster's quiz, solved to the cheap quiz's difficulty and answered at
// the cheap quiz's page, gives no pass (and certainly none that opens the
// doorbuster's buy route); one solved challenge answered at two pages
// gives one pass; a pass opens only its own quiz's route.
func TestQuizChallengeRedeemableWhereIssued(t *testing.T) {
	var buys atomic.Int64
	addr := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		buys.Add(1)
		ctx.SetBodyString("bought")
	})
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(twoQuizRules, addr))
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64 // each request a second after the one before: min_solve is met
	clock.Store(time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC).UnixNano())
	g := newGateway(t, cfg, Options{ConfigPath: path, Now: func() time.Time { return time.Unix(0, clock.Add(int64(time.Second))) }})
	const doorPage, cheapPage = "/_flashgate/quiz/door", "/_flashgate/quiz/cheap"

	door := quizChallenge(t, g, doorPage)
	cheap := quizChallenge(t, g, cheapPage)
	cheapAnswer := powAnswer(cheap, 8)
	tests := []struct {
		name, page, challenge, answer string
		wantPass                      bool
	}{
		{"doorbuster's challenge, cheap difficulty, cheap page", cheapPage, door, powAnswer(door, 8), false},
		{"cheap challenge at the doorbuster's page", doorPage, cheap, cheapAnswer, false},
		{"cheap challenge at its own page", cheapPage, cheap, cheapAnswer, true},
		{"the same solved challenge again", cheapPage, cheap, cheapAnswer, false},
	}
	var cheapPass string
	for _, tt := range tests {
		pass, st := quizAnswer(t, g, tt.page, tt.challenge, tt.answer)
		if (pass != "") != tt.wantPass {
			t.Errorf("%s: status %d, pass %v; want a pass: %v", tt.name, st, pass != "", tt.wantPass)
		}
		if pass != "" && !tt.wantPass {
			if r := g.do(t, "POST", "/buy/1", nil, "X-Flashgate-Quiz", pass); r.StatusCode() == 200 {
				t.Errorf("%s: the pass opened the doorbuster's buy route", tt.name)
			}
		}
		if pass != "" && tt.wantPass {
			cheapPass = pass
		}
	}
	if cheapPass == "" {
		t.Fatal("no cheap pass to try on the routes")
	}
	r := g.do(t, "POST", "/buy/1", nil, "Accept", "application/json", "X-Flashgate-Quiz", cheapPass)
	if r.StatusCode() != 403 || !strings.Contains(string(r.Body()), `"error":"quiz_invalid"`) {
		t.Errorf("the cheap quiz's pass on the doorbuster's route: %d %s, want 403 quiz_invalid", r.StatusCode(), r.Body())
	}
	if r := g.do(t, "POST", "/buy/2", nil, "X-Flashgate-Quiz", cheapPass); r.StatusCode() != 200 {
		t.Errorf("the cheap quiz's pass on its own route: %d %s, want the shop's 200", r.StatusCode(), r.Body())
	}
	if n := buys.Load(); n != 1 {
		t.Errorf("the shop saw %d purchases, want the 1 the cheap pass paid for", n)
	}
}
