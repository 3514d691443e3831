package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"flashgate/admin"
	"flashgate/proxy"
	"flashgate/rules"
)

// startAdmin starts the admin listener of the rules' admin: section, if
// any, and prints the dashboard's address. With a token the gateway has
// just created (the shipped rules' first run on a loopback address) the
// address carries it in its fragment, which browsers never send, so the
// dashboard's buttons work at once; a token the operator supplied is never
// printed.
func startAdmin(cfg *rules.Config, srv *proxy.Server, log *slog.Logger, stdout io.Writer) (stop func(), err error) {
	if cfg.Admin == nil {
		return func() {}, nil
	}
	token, created, err := admin.LoadToken(cfg)
	if errors.Is(err, admin.ErrTokenNotCreated) && rules.IsLoopback(cfg.Admin.Listen) {
		// A read-only rules directory (the container image): the admin
		// listener still shows everything on loopback; changes need a
		// token, so they are refused until one is given.
		log.Warn("admin API is read-only: no token", "err", err)
		err = nil
	}
	if err != nil {
		return nil, err
	}
	a, err := admin.New(admin.Options{Gateway: srv, Listen: cfg.Admin.Listen, Token: token, Logger: log, Version: version()})
	if err != nil {
		return nil, err
	}
	addr, err := a.Listen(cfg.Admin.Listen)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := a.Serve(); err != nil {
			log.Error("admin listener stopped", "addr", addr.String(), "err", err)
		}
	}()
	url := fmt.Sprintf("http://%s/", addr)
	if created && rules.IsLoopback(cfg.Admin.Listen) {
		log.Info("created an admin token", "file", cfg.AdminTokenPath())
		url += "#token=" + token
	}
	fmt.Fprintf(stdout, "admin dashboard     %s\n", url)
	fmt.Fprintf(stdout, "  metrics           http://%s/metrics\n", addr)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	}, nil
}

// version names the build: the module version, or the VCS revision of a
// development build.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			if v == "" || v == "(devel)" {
				v = "devel"
			}
			v += "+" + s.Value[:12]
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}
