package filters

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestWaitText(t *testing.T) {
	for _, tt := range []struct {
		secs int64
		want string
	}{
		{0, "less than a minute"}, {59, "less than a minute"}, {60, "about 1 minute"},
		{61, "about 2 minutes"}, {90, "about 2 minutes"}, {1800, "about 30 minutes"},
		{3540, "about 59 minutes"}, {3541, "about 1 hour"}, {5399, "about 1 hour"}, {5400, "about 2 hours"},
		{36000, "about 10 hours"},
	} {
		if got := WaitText(tt.secs); got != tt.want {
			t.Errorf("WaitText(%d) = %q, want %q", tt.secs, got, tt.want)
		}
	}
}

// TestWaitProgressNeverFalls: as time passes and the place moves forward
// (the estimate with it), the progress never falls, and it reaches 100
// only when nothing is left.
func TestWaitProgressNeverFalls(t *testing.T) {
	last := -1
	for s := int64(0); s <= 600; s += 7 {
		eta := max(0, 600-s) // the line moves at the estimated rate
		if s > 300 {
			eta = 300 // then stands still
		}
		p := waitProgress(s*1e9, eta)
		if p < last || p > 100 {
			t.Fatalf("at %ds (eta %ds) progress %d after %d", s, eta, p, last)
		}
		last = p
	}
	if waitProgress(0, 10) != 0 || waitProgress(10e9, 0) != 100 {
		t.Errorf("bounds: %d %d", waitProgress(0, 10), waitProgress(10e9, 0))
	}
}

// TestQueuedPageAndJSONAgree: the waiting page and its JSON carry the same
// place, wait and progress.
func TestQueuedPageAndJSONAgree(t *testing.T) {
	env := testEnv(t)
	f := mustQueue(t, env, "- queue: {admit_rate: 1/10s}\n")
	for i := range 30 {
		newClient(10+i).visit(f, t0)
	}
	c := newClient(99)
	c.visit(f, t0)
	_, r := c.visit(f, t0+60*sec)
	html := string(r.Ctx.Response.Body())
	_, r = c.visit(f, t0+60*sec, withHeader("Accept", "application/json"))
	var j struct {
		Position, EstimatedWait, Progress int
		WaitText                          string `json:"wait_text"`
	}
	body := r.Ctx.Response.Body()
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(body), "estimated_wait", "estimatedwait")), &j); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	// 29 ahead at the start, one admitted at once and one per 10 s since.
	if j.Position != 24 || j.EstimatedWait != 240 || j.WaitText != "about 4 minutes" || j.Progress != 20 {
		t.Errorf("JSON %s: want place 24, 240 s, about 4 minutes, 20%% (60 s of 300 behind)", body)
	}
	for _, want := range []string{`id="fg-pos">24<`, `id="fg-wait">about 4 minutes<`, `aria-valuenow="20"`, `style="width:20%"`} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestLegacyPageExtra: a page of the first format keeps its {{extra}}:
// the page's built-in part (here the question link).
func TestLegacyPageExtra(t *testing.T) {
	env := testEnv(t)
	cfg := loadConfig(t, "- quiz: {return: /item/7}\n", "pages: {quiz_required: q.html}\n",
		map[string]string{"q.html": "<h1>{{title}}</h1>{{extra}}"})
	if err := env.Begin(cfg.Admission, testKeyring(t)); err != nil {
		t.Fatal(err)
	}
	c, err := CompileWithPages("buy", cfg.Routes[0].Pages, cfg.Routes[0].Filters, env)
	if err != nil {
		t.Fatal(err)
	}
	_, r := verdictOf(c, "/buy/1")
	body := string(r.Ctx.Response.Body())
	if !strings.HasPrefix(body, "<h1>Just a moment</h1>") || !strings.Contains(body, `href="/_flashgate/quiz/buy?return=%2Fitem%2F7"`) {
		t.Errorf("legacy page = %s", body)
	}
}

func TestShopColours(t *testing.T) {
	for _, tt := range []struct{ color, on, link string }{
		{"#1f5fbf", "#ffffff", "#1f5fbf"},
		{"#ffd400", "#1c1e21", "#8c7400"},
		{"#fff", "#1c1e21", "#727272"},
	} {
		sh, err := shopSpec{Color: tt.color}.compile(defaultShop)
		if err != nil {
			t.Fatal(err)
		}
		if string(sh.OnColor) != tt.on || string(sh.LinkColor) != tt.link {
			t.Errorf("%s: on %s link %s, want %s %s", tt.color, sh.OnColor, sh.LinkColor, tt.on, tt.link)
		}
		link, _ := parseColor(string(sh.LinkColor))
		if contrast(link, 0xffffff) < 4.5 {
			t.Errorf("%s: link colour %s reads at %.1f:1 on white", tt.color, sh.LinkColor, contrast(link, 0xffffff))
		}
	}
}

// TestPowFallbackWithoutJavaScript: the pow question page asks a text
// question inside <noscript>; its answer earns the pass as the work would.
// With fallback: none there is no question, and a text answer is refused.
func TestPowFallbackWithoutJavaScript(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		ok   bool
	}{
		{"- quiz: {mode: pow, difficulty: 8}\n", true},
		{"- quiz: {mode: pow, difficulty: 8, fallback: none}\n", false},
	} {
		env := testEnv(t)
		f := mustQuiz(t, env, tt.yaml)
		page := f.servePage(env)
		body := string(callPage(page, "GET", f.page+"?return=/buy/42", "", at(t0)).Response.Body())
		hasQ := strings.Contains(body, `<noscript>`) && strings.Contains(body, `<label for="fg-text">What is `)
		if hasQ != tt.ok {
			t.Fatalf("%s: question without JavaScript %v, want %v:\n%s", tt.yaml, hasQ, tt.ok, body)
		}
		chal := between(body, `name="challenge" value="`, `"`)
		answer := "1"
		if tt.ok {
			answer = solveArithmetic(t, htmlUnescape(between(body, `<label for="fg-text">`, `</label>`)))
		}
		post := callPage(page, "POST", f.page, "challenge="+chal+"&answer=&text_answer="+answer+"&return=/buy/42", at(t0+3*sec))
		if got := post.Response.StatusCode() == 303; got != tt.ok {
			t.Errorf("%s: text answer accepted %v (%d), want %v", tt.yaml, got, post.Response.StatusCode(), tt.ok)
		}
	}
}
