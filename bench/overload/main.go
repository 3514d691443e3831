// Command overload is the origin-protection benchmark (bench/overload.sh):
// a slow origin that records the most requests it ever had in flight, and
// an open-loop load generator that offers a gateway browse requests at a
// fixed rate, many times what that origin can take, beside a few
// closed-loop checkout clients. It reports, per gateway, the origin's peak
// in flight, the admitted requests' p99 beside the unloaded p99, the shed
// fraction and how fast the shed answers came, and whether checkout kept
// working.
//
//	overload -mode origin -addr 127.0.0.1:9000 -delay 20ms
//	overload -mode load -name fg -target 127.0.0.1:8080 -origin 127.0.0.1:9000 -rate 8000 -checkout 4 -d 5s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	mode := flag.String("mode", "", "origin or load")
	addr := flag.String("addr", "127.0.0.1:9000", "origin: address to listen on")
	delay := flag.Duration("delay", 20*time.Millisecond, "origin: service time of one request")
	name := flag.String("name", "gateway", "load: the row's name")
	target := flag.String("target", "", "load: the gateway's host:port")
	originAddr := flag.String("origin", "", "load: the origin's host:port, for its peak in flight")
	rate := flag.Int("rate", 8000, "load: browse requests offered per second (open loop)")
	clients := flag.Int("c", 512, "load: most browse requests in flight (the generator's workers)")
	checkout := flag.Int("checkout", 4, "load: concurrent checkout clients")
	dur := flag.Duration("d", 5*time.Second, "load: duration")
	flag.Parse()
	switch *mode {
	case "origin":
		serveOrigin(*addr, *delay)
	case "load":
		if *target == "" || *originAddr == "" {
			log.Fatal("load needs -target and -origin")
		}
		runLoad(*name, *target, *originAddr, *rate, *clients, *checkout, *dur)
	default:
		fmt.Fprintln(os.Stderr, "usage: overload -mode origin|load ...")
		os.Exit(2)
	}
}

// serveOrigin answers every path after delay; /_stats returns and, with
// ?reset=1, resets the peak in flight and the call count.
func serveOrigin(addr string, delay time.Duration) {
	var inflight, peak, calls atomic.Int64
	h := func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/_stats" {
			b, _ := json.Marshal(map[string]int64{"peak": peak.Load(), "calls": calls.Load()})
			if ctx.QueryArgs().Has("reset") {
				peak.Store(0)
				calls.Store(0)
			}
			ctx.SetBody(b)
			return
		}
		calls.Add(1)
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(delay) // the origin's capacity: what makes it slow
		inflight.Add(-1)
		ctx.SetContentType("text/html")
		ctx.SetBodyString("<p>page</p>")
	}
	log.Fatal((&fasthttp.Server{Handler: h, Concurrency: 1 << 16}).ListenAndServe(addr))
}

type sample struct {
	lat time.Duration
	ok  bool
}

// loop sends GETs of path until stop, recording each answer.
func loop(c *fasthttp.HostClient, path string, stop *atomic.Bool, mu *sync.Mutex, out *[]sample) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI(path)
	req.Header.SetHost("shop.example")
	var local []sample
	for !stop.Load() {
		t := time.Now()
		err := c.DoTimeout(req, resp, 10*time.Second)
		local = append(local, sample{time.Since(t), err == nil && resp.StatusCode() == 200})
	}
	mu.Lock()
	*out = append(*out, local...)
	mu.Unlock()
}

func run(c *fasthttp.HostClient, n int, path string, d time.Duration) []sample {
	var stop atomic.Bool
	var mu sync.Mutex
	var out []sample
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { loop(c, path, &stop, &mu, &out) })
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return out
}

func p99(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	return s[len(s)*99/100]
}

func originStats(origin string, reset bool) map[string]int64 {
	uri := "http://" + origin + "/_stats"
	if reset {
		uri += "?reset=1"
	}
	_, body, err := fasthttp.Get(nil, uri)
	if err != nil {
		log.Fatal(err)
	}
	var m map[string]int64
	json.Unmarshal(body, &m) //nolint:errcheck // our own origin's JSON
	return m
}

// offer sends GETs of path at rate per second for d, from at most
// workers goroutines; a request that finds every worker busy is counted
// as not sent (the generator, not the gateway, fell behind).
func offer(c *fasthttp.HostClient, rate, workers int, path string, d time.Duration) (out []sample, unsent int) {
	tokens := make(chan struct{}, workers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI(path)
			req.Header.SetHost("shop.example")
			var local []sample
			for range tokens {
				t := time.Now()
				err := c.DoTimeout(req, resp, 10*time.Second)
				local = append(local, sample{time.Since(t), err == nil && resp.StatusCode() == 200})
			}
			mu.Lock()
			out = append(out, local...)
			mu.Unlock()
		})
	}
	start := time.Now()
	sent := 0
	for tick := time.NewTicker(time.Millisecond); time.Since(start) < d; <-tick.C {
		for due := int(time.Since(start).Seconds() * float64(rate)); sent < due; sent++ {
			select {
			case tokens <- struct{}{}:
			default:
				unsent++
			}
		}
	}
	close(tokens)
	wg.Wait()
	return out, unsent
}

func runLoad(name, target, origin string, rate, clients, checkouts int, d time.Duration) {
	c := &fasthttp.HostClient{Addr: target, MaxConns: clients + checkouts + 8, ReadTimeout: 15 * time.Second}
	// Unloaded: one client, the same path.
	var unloaded []time.Duration
	for _, s := range run(c, 1, "/browse/1", d/3) {
		unloaded = append(unloaded, s.lat)
	}
	originStats(origin, true)
	var browse, checkout []sample
	var wg sync.WaitGroup
	var unsent int
	wg.Go(func() { browse, unsent = offer(c, rate, clients, "/browse/1", d) })
	wg.Go(func() { checkout = run(c, checkouts, "/checkout/1", d) })
	wg.Wait()
	st := originStats(origin, false)
	var admitted, shed []time.Duration
	for _, s := range browse {
		if s.ok {
			admitted = append(admitted, s.lat)
		} else {
			shed = append(shed, s.lat)
		}
	}
	cok := 0
	for _, s := range checkout {
		if s.ok {
			cok++
		}
	}
	total := len(browse)
	fmt.Printf("| %s | %d | %d | %.1f | %.1f | %d | %.1f%% | %.2f | %d/%d |\n", name, total, unsent, ms(p99(unloaded)),
		ms(p99(admitted)), st["peak"], 100*float64(len(shed))/float64(max(total, 1)),
		ms(p99(shed)), cok, len(checkout))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
