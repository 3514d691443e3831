package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"flashgate/internal/fgtest"
)

// rehearsalRules copies the shipped rules into a temporary directory, sized
// for a rehearsal of a few seconds: the demo shop on a free port, the
// quiz's proof of work at its easiest and its minimum solving time short,
// a waiting room that admits the crowd quickly, and origin and fragment
// timeouts long enough that a loaded 2-core CI machine (under -race, ten
// times slower) does not turn a slow answer into a failed page or
// purchase (the stock gate counts a purchase that timed out as taken, and
// the sale would end with units unsold). Every edit must apply,
// so a change to the shipped rules that breaks this copy fails the test
// instead of rehearsing something else.
func rehearsalRules(t *testing.T, saleEdits ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shop := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	edit := func(src, dst string, pairs ...string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("%s no longer contains %q: update rehearsalRules", src, pairs[i])
			}
			s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("../../gateway.yaml", filepath.Join(dir, "gateway.yaml"), "127.0.0.1:9081", shop,
		"max_conn_wait: 100ms", "max_conn_wait: 10s", "timeout: 500ms", "timeout: 10s")
	edit("../../sales/singles-day.yaml", filepath.Join(dir, "sales", "singles-day.yaml"), append([]string{
		"difficulty: 16", "difficulty: 8",
		"min_solve: 2s", "min_solve: 100ms",
		"admit_rate: 20/s", "admit_rate: 1000/s",
		"max_active: 500", "max_active: 5000",
		"timeout: 2s", "timeout: 20s", "timeout: 500ms", "timeout: 10s"}, saleEdits...)...)
	return filepath.Join(dir, "gateway.yaml")
}

// TestRehearseDemoSale runs a small rehearsal of the demo's doorbuster
// (2,000 arrivals, 10% bots, 100 units) through the command, as an
// operator would, and checks the report's invariants.
func TestRehearseDemoSale(t *testing.T) {
	rules := rehearsalRules(t)
	html := filepath.Join(t.ArtifactDir(), "rehearsal.html")
	var out bytes.Buffer
	var errOut fgtest.Buffer
	code := run([]string{"rehearse", "-config", rules, "-shoppers", "2000", "-bots", "0.1", "-over", "1s",
		"-poll", "200ms", "-patience", "20", "-duration", "120s", "-json", "-html", html}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	var rep struct {
		Arrived, Shoppers, Bots, Admitted int64
		UnitsBought                       int64            `json:"units_bought"`
		BotsThrough                       int64            `json:"bots_through"`
		Unexplained                       int64            `json:"unexplained"`
		Outcomes                          map[string]int64 `json:"outcomes"`
		BotOutcomes                       map[string]int64 `json:"bot_outcomes"`
		Refusals                          map[string]int64 `json:"refusals"`
		Inventory                         struct {
			Source         string
			Stock, Sold    int64
			UsersOverLimit int `json:"users_over_limit"`
		}
		Checks []struct {
			Name   string
			OK     bool
			Detail string
		}
		Timeline []json.RawMessage
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, out.String())
	}
	for _, c := range rep.Checks {
		if !c.OK {
			t.Errorf("check %q failed: %s", c.Name, c.Detail)
		}
	}
	if rep.Inventory.Source != "shop" || rep.Inventory.Sold != 100 || rep.Inventory.Stock != 100 {
		t.Logf("outcomes %v\nrefusals %v\nbots %v", rep.Outcomes, rep.Refusals, rep.BotOutcomes)
		t.Errorf("inventory %+v, want 100 of 100 sold by the shop's own count", rep.Inventory)
	}
	if rep.UnitsBought != 100 || rep.Outcomes["bought"] != 100 {
		t.Errorf("units bought %d by %d shoppers, want 100 by 100", rep.UnitsBought, rep.Outcomes["bought"])
	}
	if rep.Inventory.UsersOverLimit != 0 || rep.BotsThrough != 0 || rep.Unexplained != 0 {
		t.Errorf("users over the limit %d, bots through %d, refusals without reason %d: want 0, 0, 0",
			rep.Inventory.UsersOverLimit, rep.BotsThrough, rep.Unexplained)
	}
	if rep.Arrived != 2000 || rep.Shoppers+rep.Bots != rep.Arrived || rep.Bots < 100 || rep.Bots > 300 {
		t.Errorf("arrived %d = %d shoppers + %d bots: want 2000, about 10%% bots", rep.Arrived, rep.Shoppers, rep.Bots)
	}
	var ended int64
	for o, n := range rep.Outcomes {
		if o == "" || o == "unfinished" || o == "error" {
			t.Errorf("%d shoppers ended %q", n, o)
		}
		ended += n
	}
	if ended != rep.Shoppers {
		t.Errorf("outcomes add up to %d, shoppers %d", ended, rep.Shoppers)
	}
	for reason := range rep.Refusals {
		if reason == "" {
			t.Error("a refusal with an empty reason")
		}
	}
	if len(rep.Timeline) == 0 {
		t.Error("no timeline")
	}
	// Progress, on a non-terminal, comes as plain lines.
	progress := errOut.String()
	if !strings.Contains(progress, "rehearse: arrived ") || strings.Contains(progress, "\r") {
		t.Errorf("progress lines missing or not plain:\n%s", progress)
	}
	t.Run("html", func(t *testing.T) { checkHTMLReport(t, html) })
}

// checkHTMLReport opens the HTML report in headless Chromium: it must load
// with no console errors and show the timeline chart (the "ok" series'
// colour on screen). The screenshot is kept as the test's artifact.
func checkHTMLReport(t *testing.T, path string) {
	shot := filepath.Join(t.ArtifactDir(), "rehearsal.png")
	log := fgtest.Screenshot(t, "file://"+path, shot, "--window-size=1280,1400")
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("console message: %s", line)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, log)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// #009E73, the "ok" line; anti-aliasing blurs edges, so allow a little.
	drawn := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, 0x00) && near(g>>8, 0x9E) && near(bl>>8, 0x73) {
				drawn++
			}
		}
	}
	if drawn < 100 {
		t.Errorf("the timeline chart's ok line covers %d pixels of the screenshot, want a drawn line (>= 100)", drawn)
	}
	if st, _ := f.Stat(); st.Size() < 20_000 {
		t.Errorf("screenshot is %d bytes: an empty page?", st.Size())
	}
	t.Logf("screenshot %s (%d pixels of the ok line)", shot, drawn)
}

func near(a uint32, b uint32) bool { return a+12 >= b && a <= b+12 }

// TestRehearseInterrupted: Ctrl-C (SIGINT) in the middle of a rehearsal
// ends it with a partial report and exit status 130.
func TestRehearseInterrupted(t *testing.T) {
	rules := rehearsalRules(t)
	var out bytes.Buffer
	var errOut fgtest.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"rehearse", "-config", rules, "-shoppers", "20000", "-over", "30s",
			"-poll", "200ms", "-duration", "60s"}, &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "rehearse: arrived ") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress within 30s:\n%s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The progress line comes from inside Run, after the command asked for
	// SIGINT: the signal now cancels the rehearsal instead of the test.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 130 {
			t.Errorf("exit %d, want 130", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the rehearsal did not stop within 30s of SIGINT")
	}
	report := out.String()
	if !strings.Contains(report, "PARTIAL (cancelled)") {
		t.Fatalf("no partial report:\n%s", report)
	}
	arrived := 0
	for _, line := range strings.Split(report, "\n") {
		if rest, ok := strings.CutPrefix(line, "Arrived"); ok {
			arrived, _ = strconv.Atoi(strings.Fields(rest)[0])
		}
	}
	if arrived <= 0 || arrived >= 20000 {
		t.Errorf("partial report says %d arrived, want some but not all of 20000:\n%s", arrived, report)
	}
}

// TestRehearseAsyncSale: with the purchase route queued (async:), shoppers
// follow their order tickets to the outcome, and the sale still sells
// exactly its stock to distinct users with no bot through.
func TestRehearseAsyncSale(t *testing.T) {
	rules := rehearsalRules(t, "    max_body_size: 1KiB\n",
		"    max_body_size: 1KiB\n    async: {rate: 300/s, concurrency: 16, user: \"cookie:uid\"}\n")
	var out bytes.Buffer
	var errOut fgtest.Buffer
	code := run([]string{"rehearse", "-config", rules, "-shoppers", "600", "-bots", "0.1", "-over", "1s",
		"-poll", "200ms", "-patience", "20", "-duration", "120s", "-json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	var rep struct {
		UnitsBought int64 `json:"units_bought"`
		Steps       map[string]struct{ Count int }
		Inventory   struct{ Sold int64 }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Inventory.Sold != 100 || rep.UnitsBought != 100 {
		t.Errorf("sold %d by the shop's count, %d bought through the gateway; want 100 and 100", rep.Inventory.Sold, rep.UnitsBought)
	}
	if n := rep.Steps["order"].Count; n < 100 {
		t.Errorf("%d orders followed to their outcome, want at least the 100 sold", n)
	}
}
