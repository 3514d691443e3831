package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/internal/fgtest"
)

func TestCheckShippedRules(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "../../gateway.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("-check gateway.yaml: exit %d, stderr:\n%s", code, errOut.String())
	}
	if out.String() != "ok\n" {
		t.Fatalf("-check printed %q, want \"ok\\n\"", out.String())
	}
}

func TestCheckReportsEveryErrorWithPosition(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-check", "-config", "testdata/broken.yaml"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if out.Len() != 0 {
		t.Fatalf("stdout %q, want nothing", out.String())
	}
	for _, want := range []string{
		`testdata/broken.yaml:7:5: routes[0].origin: unknown origin "shpo" (known: shop)`,
		`testdata/broken.yaml:8:5: routes[1].name: duplicate route name "item" (also at testdata/broken.yaml:5:5)`,
		`testdata/broken.yaml:11:14: routes[1].timeout:`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q; got:\n%s", want, errOut.String())
		}
	}
}

func TestCheckMissingFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "testdata/nope.yaml"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "testdata/nope.yaml") {
		t.Fatalf("error does not name the file: %s", errOut.String())
	}
}

const reloadRules = `server: {listen: "127.0.0.1:0", shutdown_timeout: 5s}
logging: {level: warn}
origins:
  shop: {servers: [%s]}
routes:
  - {name: page, path: "/page", origin: shop}
%s`

// TestEditUnderLoadNoFailedRequest runs the real command, edits its rule file
// the way editors do (write a temporary file, rename it over) while clients
// keep sending requests, waits for the new route to answer, and then stops
// the process with SIGTERM. No request may fail across the swap.
func TestEditUnderLoadNoFailedRequest(t *testing.T) {
	origin := startOrigin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeRules(t, path, fmt.Sprintf(reloadRules, origin, ""))

	var stdout, stderr fgtest.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"-config", path, "-metrics", "127.0.0.1:0"}, &stdout, &stderr) }()
	addr := waitForAddr(t, &stdout, exit)
	metricsAddr := metricsLine.FindStringSubmatch(stdout.String())
	if metricsAddr == nil {
		t.Fatalf("no metrics address printed: %q", stdout.String())
	}

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fasthttp.Client{}
			for i := 0; i < 20000; i++ { // bounded even if the test goes wrong
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := c.Get(nil, "http://"+addr+"/page")
				if err != nil || code != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}

	edited := time.Now()
	writeRules(t, path, fmt.Sprintf(reloadRules, origin, `  - {name: added, path: "/added", origin: shop}`+"\n"))
	c := &fasthttp.Client{}
	var took time.Duration
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, _, err := c.Get(nil, "http://"+addr+"/added")
		if err == nil && code == 200 {
			took = time.Since(edited)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edit did not take effect within 10s; stderr:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond) // polling the gateway, not asserting on time
	}
	close(stop)
	wg.Wait()
	t.Logf("edit took effect after %v; %d requests served across the reload", took, ok.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed across the reload (%d ok)", failed.Load(), ok.Load())
	}
	if ok.Load() == 0 {
		t.Fatal("no request was served")
	}
	code, body, err := c.Get(nil, "http://"+metricsAddr[1]+"/metrics")
	if err != nil || code != 200 {
		t.Fatalf("metrics: %d %v", code, err)
	}
	for _, want := range []string{"flashgate_reload_total 1\n", `flashgate_requests_total{route="added",class="2xx"}`, "go_goroutines "} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flashgate did not stop after SIGTERM")
	}
}

// writeRules replaces path atomically, as editors and config tools do.
func writeRules(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func startOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		ctx.SetBodyString("hello from " + string(ctx.Path()))
	}}
	go s.Serve(ln)
	t.Cleanup(func() { s.Shutdown() })
	return ln.Addr().String()
}

var (
	addrLine    = regexp.MustCompile(`flashgate\s+http://([0-9.:]+)/`)
	metricsLine = regexp.MustCompile(`metrics\s+http://([0-9.:]+)/metrics`)
)

// waitForAddr reads the listening address the command prints at start.
func waitForAddr(t *testing.T, stdout *fgtest.Buffer, exit <-chan int) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case code := <-exit:
			t.Fatalf("flashgate exited with %d before listening", code)
		default:
		}
		sc := bufio.NewScanner(io.NopCloser(strings.NewReader(stdout.String())))
		for sc.Scan() {
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				return m[1]
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("flashgate printed no address: %q", stdout.String())
	return ""
}

// TestCheckBrokenPage: a sale file's page template that names a field that
// does not exist fails -check with the page's file:line:col.
func TestCheckBrokenPage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "testdata/brokenpage/gateway.yaml"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q", code, out.String())
	}
	want := "testdata/brokenpage/sales/dawn.yaml:6:7: routes[0].pages.not_started: testdata/brokenpage/sales/pages/soon.html:3:11: can't evaluate field StartsAtTxt in type *filters.PageData"
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q; got:\n%s", want, errOut.String())
	}
}

// TestCheckReportsEveryValueErrorOfAFilter: two wrong values in one filter
// are two errors, not the first one only.
func TestCheckReportsEveryValueErrorOfAFilter(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-check", "-config", "testdata/filter-errors.yaml"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut.String())
	}
	for _, want := range []string{
		`testdata/filter-errors.yaml:11:18: routes[0].filters[0].window.start: want an RFC 3339 time`,
		`testdata/filter-errors.yaml:11:35: routes[0].filters[0].window.end: want an RFC 3339 time`,
		`testdata/filter-errors.yaml:12:26: routes[0].filters[1].purchase_limit.max: must be at least 1, got 0`,
		`testdata/filter-errors.yaml:12:34: routes[0].filters[1].purchase_limit.per: unknown "weird"`,
		`testdata/filter-errors.yaml:13:17: routes[0].filters[2].stock.overbook: must be within 1..100, got 500`,
		`testdata/filter-errors.yaml:13:32: routes[0].filters[2].stock.mode: unknown "weird"`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q; got:\n%s", want, errOut.String())
		}
	}
}
