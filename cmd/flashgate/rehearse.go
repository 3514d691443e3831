package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/demo"
	"flashgate/proxy"
	"flashgate/rehearse"
	"flashgate/rules"
)

// runRehearse is `flashgate rehearse`: a sale rehearsal against -target,
// or, without one, against a gateway and demo shop it starts itself from
// -config, so that `flashgate rehearse` works out of the box.
func runRehearse(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flashgate rehearse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flashgate rehearse [flags]\n\nRehearses a flash sale: a crowd of shoppers and bots against the gateway, then a report.\nWithout -target it starts the demo shop and a gateway from -config on loopback.\n\nFlags:")
		fs.PrintDefaults()
	}
	var c rehearse.Config
	configPath := fs.String("config", "gateway.yaml", "rules for the gateway it starts when there is no -target")
	fs.StringVar(&c.Target, "target", "", "base URL of a running gateway, e.g. http://127.0.0.1:8080 (default: start one)")
	fs.BoolVar(&c.OwnTarget, "i-own-the-target", false, "allow a -target that is not on loopback (this is a load test: only on a gateway you run)")
	fs.StringVar(&c.Shop, "shop", "", "base URL of the shop itself, read for the oversell check (GET /api/items/{id})")
	metricsURL := fs.String("metrics", "", "the gateway's Prometheus endpoint, read once a second for the shop's load")
	reqMetric := fs.String("origin-requests", "flashgate_origin_requests_total", "metric counting requests sent to the shop (with -metrics)")
	inflightMetric := fs.String("origin-in-flight", "flashgate_origin_in_flight", "metric of requests in flight at the shop (with -metrics)")
	fs.StringVar(&c.Item, "item", "7", "the sale's item id")
	fs.StringVar(&c.PagePath, "page", "/item/{id}", "the item page")
	fs.StringVar(&c.BuyPath, "buy", "/buy/{id}", "the purchase, POSTed with qty")
	fs.StringVar(&c.UserCookie, "user-cookie", "uid", "the cookie naming the signed-in user")
	fs.IntVar(&c.Quantity, "qty", 1, "units per purchase")
	fs.IntVar(&c.Shoppers, "shoppers", 2000, "arrivals (shoppers and bots)")
	fs.Float64Var(&c.Bots, "bots", 0.1, "share of arrivals that are bots, 0..1")
	fs.StringVar(&c.Profile.Shape, "profile", "spike", "arrivals: spike, ramp or steady")
	fs.DurationVar(&c.Profile.Over, "over", 2*time.Second, "the period over which they arrive")
	fs.IntVar(&c.Limit, "limit", 1, "units one user may buy, for the report's check")
	fs.IntVar(&c.Stock, "stock", 0, "units on sale, for the oversell check when the shop cannot be read")
	fs.DurationVar(&c.Poll, "poll", 5*time.Second, "longest wait between two polls of the waiting room")
	fs.IntVar(&c.MaxPow, "max-pow", 22, "hardest proof of work a shopper solves (bits)")
	fs.IntVar(&c.Patience, "patience", 5, "retries of a busy or rate-limited step before a shopper gives up")
	fs.DurationVar(&c.Duration, "duration", 60*time.Second, "longest the rehearsal runs")
	fs.Int64Var(&c.MaxRequests, "max-requests", 1_000_000, "most requests it sends")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of arrivals and bot choices")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	htmlPath := fs.String("html", "", "also write a self-contained HTML report with a timeline to this file")
	baseline := fs.Bool("baseline", false, "search the highest sustainable rate of -baseline-page and -baseline-buy instead")
	var bc rehearse.BaselineConfig
	fs.StringVar(&bc.Page, "baseline-page", "/item/1", "page measured by -baseline (GET); empty to skip")
	fs.StringVar(&bc.Buy, "baseline-buy", "/buy/1", "checkout measured by -baseline (POST, a new user per request); empty to skip")
	fs.DurationVar(&bc.Step, "step", 3*time.Second, "length of each -baseline step")
	fs.Float64Var(&bc.Max, "max-rate", 20000, "highest rate -baseline tries")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if c.Target == "" {
		stage, err := startStage(*configPath, *baseline, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "rehearse:", err)
			return 1
		}
		defer stage.close()
		c.Target, c.Shop, c.Probe = stage.gateway, stage.shop, stage.probe
		fmt.Fprintf(stderr, "rehearse: gateway %s (rules %s), demo shop %s\n", stage.gateway, *configPath, stage.shop)
	} else if *metricsURL != "" {
		c.Probe = &rehearse.MetricsProbe{URL: *metricsURL, Requests: *reqMetric, InFlight: *inflightMetric}
	}

	if *baseline {
		bc.Target, bc.OwnTarget, bc.UserCookie = c.Target, c.OwnTarget, c.UserCookie
		b, err := rehearse.RunBaseline(ctx, bc, stderr)
		if b == nil {
			fmt.Fprintln(stderr, "rehearse:", err)
			return 2
		}
		if *asJSON {
			writeJSON(stdout, b)
		} else {
			b.WriteText(stdout)
		}
		return interrupted(ctx)
	}

	rep, err := rehearse.Run(ctx, c, stderr, isTerminal(stderr))
	if err != nil {
		fmt.Fprintln(stderr, "rehearse:", err)
		return 2
	}
	if *asJSON {
		writeJSON(stdout, rep)
	} else {
		rep.WriteText(stdout)
	}
	if *htmlPath != "" {
		if err := writeHTMLReport(*htmlPath, rep); err != nil {
			fmt.Fprintln(stderr, "rehearse:", err)
			return 1
		}
		fmt.Fprintf(stderr, "rehearse: HTML report written to %s\n", *htmlPath)
	}
	if code := interrupted(ctx); code != 0 {
		return code
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// interrupted is 130 (the shell's code for SIGINT) after Ctrl-C, else 0.
func interrupted(ctx context.Context) int {
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeHTMLReport(path string, rep *rehearse.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// stage is a gateway and demo shop started for a rehearsal, on loopback.
type stage struct {
	gateway, shop string
	probe         rehearse.Probe
	close         func()
}

// startStage starts the demo shop where the rules' demo: section says
// (their origins point there) behind a counter of the requests that reach
// it, and a gateway from the rules on a free loopback port. For a capacity
// search every item gets stock enough never to sell out.
func startStage(path string, baseline bool, stderr io.Writer) (*stage, error) {
	cfg, err := rules.Load(path)
	if err != nil {
		return nil, err
	}
	if cfg.Demo == nil {
		return nil, fmt.Errorf("%s has no demo: section: give -target (and -shop) to rehearse a running gateway", path)
	}
	opts := demo.Options{}
	if baseline {
		opts.Stock = 1 << 40
	}
	shop := demo.New(opts)
	// The probe reports the most requests in flight since its last
	// reading, not the count at the instant it reads: a once-a-second look
	// would miss every burst shorter than a second.
	var served, inFlight, peak atomic.Int64
	h := shop.Handler()
	shopSrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		served.Add(1)
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		defer inFlight.Add(-1)
		h(ctx)
	}, NoDefaultServerHeader: true, NoDefaultContentType: true}
	shopLn, err := net.Listen("tcp", cfg.Demo.Listen)
	if err != nil {
		return nil, fmt.Errorf("demo.listen %q: %w (is `flashgate` already running? stop it, or rehearse it with -target)", cfg.Demo.Listen, err)
	}
	go shopSrv.Serve(shopLn)

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := proxy.New(proxy.Options{ConfigPath: path, Config: cfg, Logger: log})
	if err != nil {
		shopSrv.Shutdown()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		shopSrv.Shutdown()
		return nil, err
	}
	go srv.Serve(ln)
	return &stage{
		gateway: "http://" + ln.Addr().String(),
		shop:    "http://" + shopLn.Addr().String(),
		probe: rehearse.ProbeFunc(func(context.Context) (int64, int64, bool) {
			return served.Load(), peak.Swap(inFlight.Load()), true
		}),
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = shopSrv.Shutdown()
			shop.Shutdown()
		},
	}, nil
}
