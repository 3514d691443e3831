package proxy

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/internal/fgtest"
)

// TestBrowserTicketPage: a buyer's browser opens the ticket page while the
// order waits (the shop holds the delivery), sees it pending, and, once the
// shop answers, is shown the shop's answer, with and without JavaScript.
// What the browser was served is counted by the gateway's ticket reads.
func TestBrowserTicketPage(t *testing.T) {
	fgtest.Chromium(t)
	for _, js := range []bool{true, false} {
		t.Run(map[bool]string{true: "polling script", false: "without JavaScript"}[js], func(t *testing.T) {
			release := make(chan struct{})
			cs := startCountingShop(t, demo.Options{Items: 1, Stock: 5})
			cs.before = func() { <-release }
			ln := listen(t)
			srv := loopbackGateway(t, ln, fmt.Sprintf(asyncRules, cs.addr, 100, "10/s", 1, "30s"), nil)
			base := "http://" + ln.Addr().String()

			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod("POST")
			req.SetRequestURI(base + "/buy/1")
			req.Header.SetCookie("uid", "ann")
			req.Header.Set("Accept", "text/html")
			if err := fasthttp.Do(req, resp); err != nil || resp.StatusCode() != 202 {
				t.Fatalf("purchase: %v %d %s", err, resp.StatusCode(), resp.Body())
			}
			if !bytes.Contains(resp.Body(), []byte(`http-equiv="refresh"`)) {
				t.Fatalf("the 202 page for browsers does not refresh itself:\n%s", resp.Body())
			}
			ticket := string(resp.Header.Peek("X-Order-Ticket"))

			flags := []string{"--remote-debugging-port=0"}
			if !js {
				flags = append(flags, "--blink-settings=scriptEnabled=false")
			}
			stop := fgtest.StartChromium(t, base+"/_flashgate/orders/"+ticket, flags...)
			defer stop()
			waitReads(t, srv, "pending")
			close(release)
			waitReads(t, srv, "done")
		})
	}
}

// waitReads waits (bounded) until the browser has read a ticket in state.
func waitReads(t *testing.T, srv *Server, state string) {
	t.Helper()
	re := regexp.MustCompile(`flashgate_orders_ticket_reads_total\{state="` + state + `"\} (\d+)`)
	for range 450 {
		var b bytes.Buffer
		srv.WritePrometheus(&b)
		if m := re.FindSubmatch(b.Bytes()); m != nil {
			if n, _ := strconv.Atoi(string(m[1])); n > 0 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond) // Chromium runs in real time
	}
	t.Fatalf("the browser did not read its ticket %s within 45s", state)
}
