// Command flashgate runs the flash-sale edge gateway.
//
// With no arguments it loads ./gateway.yaml and, when that file has a demo:
// section, starts the embedded demo shop in-process so the gateway runs out of
// the box. `flashgate -check -config FILE` validates rules like `nginx -t`;
// `flashgate ctl ...` is the admin API's client (docs/admin.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"flashgate/demo"
	"flashgate/proxy"
	"flashgate/rules"
)

func main() {
	execAwakeSysmon() // sysmon.go
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "ctl" {
		return ctl(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "rehearse" {
		return runRehearse(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("flashgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "gateway.yaml", "rule file to load")
	check := fs.Bool("check", false, "validate the rules, print ok or every error, and exit")
	listen := fs.String("listen", "", "override server.listen")
	noDemo := fs.Bool("no-demo", false, "do not start the embedded demo shop even if the rules ask for it")
	metricsAddr := fs.String("metrics", "", "also serve the admin listener's Prometheus metrics at http://ADDR/metrics (a private address: not the public listener)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: flashgate [flags]          run the gateway\n"+
			"       flashgate ctl COMMAND     call a running gateway's admin API (flashgate ctl -h)\n"+
			"       flashgate rehearse        rehearse a sale (flashgate rehearse -h)\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // -h asked for the usage, which is not a mistake
		}
		return 2
	}
	if *check {
		return checkRules(*configPath, stdout, stderr)
	}
	cfg, err := rules.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	log := newLogger(cfg.Logging, stderr)
	if err := serve(*configPath, cfg, options{demo: !*noDemo, metrics: *metricsAddr}, log, stdout); err != nil {
		log.Error("flashgate stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(l rules.Logging, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// options are the command-line choices that are not rules.
type options struct {
	demo    bool   // start the demo shop when the rules have a demo: section
	metrics string // address of the metrics listener; "" = none
}

func serve(path string, cfg *rules.Config, opt options, log *slog.Logger, stdout io.Writer) error {
	if opt.demo && cfg.Demo != nil {
		shop, err := startDemo(cfg.Demo)
		if err != nil {
			return err
		}
		defer shop.Shutdown()
		fmt.Fprintf(stdout, "demo shop (origin)  http://%s/\n", cfg.Demo.Listen)
	}
	srv, err := proxy.New(proxy.Options{ConfigPath: path, Config: cfg, Logger: log})
	if err != nil {
		return err
	}
	stopAdmin, err := startAdmin(cfg, srv, log, stdout)
	if err != nil {
		return err
	}
	defer stopAdmin()
	if opt.metrics != "" {
		stopMetrics, addr, err := serveMetrics(opt.metrics, srv, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		fmt.Fprintf(stdout, "metrics             http://%s/metrics\n", addr)
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen %q: %w", cfg.Server.Listen, err)
	}
	if addr := srv.RedirectListen(); addr != "" {
		rln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server.tls.redirect_listen %q: %w", addr, err)
		}
		go srv.ServeRedirect(rln)
		fmt.Fprintf(stdout, "redirect to https   http://%s/\n", rln.Addr())
	}
	scheme := "http"
	if cfg.Server.TLS != nil {
		scheme = "https"
	}
	// Watch before announcing: an edit made as soon as the address is
	// printed must not slip between the first load and the watch.
	stop := watchRules(srv, cfg, log)
	defer stop()

	fmt.Fprintf(stdout, "flashgate           %s://%s/  (rules: %s)\n", scheme, ln.Addr(), path)
	fmt.Fprintf(stdout, "  try               %s://%s/item/1\n", scheme, ln.Addr())
	fmt.Fprintf(stdout, "  server clock      %s://%s/_flashgate/time\n", scheme, ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case err := <-errc:
		return err
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout+time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func startDemo(d *rules.Demo) (*demo.Shop, error) {
	ln, err := net.Listen("tcp", d.Listen)
	if err != nil {
		return nil, fmt.Errorf("demo.listen %q: %w", d.Listen, err)
	}
	// rules validated the mode: ParseMode cannot fail here.
	mode, _ := demo.ParseMode(d.Mode)
	shop := demo.New(demo.Options{Mode: mode, HoldWindow: d.HoldWindow})
	go shop.Serve(ln)
	return shop, nil
}

// watchRules reloads on file changes (directories watched, bursts debounced)
// and on SIGHUP. After each reload the watched directories are refreshed, so
// a newly included directory is watched too.
func watchRules(srv *proxy.Server, cfg *rules.Config, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	w, err := rules.NewWatcher(250*time.Millisecond, log)
	if err != nil {
		log.Warn("rule files are not watched; reload with SIGHUP", "err", err)
	} else if err := w.SetDirs(cfg.WatchDirs); err != nil {
		log.Warn("rule directories are not watched; reload with SIGHUP", "err", err)
	}
	var changes <-chan struct{}
	if w != nil {
		changes = w.Changes()
	}
	// An edit saved between the first load and the start of the watch sent
	// no event: look once now (a no-op when the files are unchanged).
	_ = srv.Reload()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			case <-changes:
			}
			if err := srv.Reload(); err == nil && w != nil {
				if err := w.SetDirs(srv.Config().WatchDirs); err != nil {
					log.Warn("rule directories are not watched", "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		signal.Stop(hup)
		if w != nil {
			w.Close()
		}
	}
}
