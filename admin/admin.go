package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"flashgate/proxy"
	"flashgate/rules"
)

// Options configures New.
type Options struct {
	// Gateway is the running gateway the API reads and changes. Required.
	Gateway *proxy.Server
	// Listen is the admin address (rules' admin.listen).
	Listen string
	// Token is the bearer token; "" allows only reads, and only on a
	// loopback address.
	Token string
	// Logger receives one line per change; nil means slog.Default().
	Logger *slog.Logger
	// Version names the build in status answers.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Admin is the admin listener. Safe for concurrent use.
type Admin struct {
	gw       *proxy.Server
	token    []byte
	loopback bool
	log      *slog.Logger
	version  string
	now      func() time.Time
	started  time.Time
	hs       *http.Server
	ln       net.Listener
}

// New checks the options and returns an Admin ready to Listen. It refuses
// an address reachable beyond loopback without a token.
func New(o Options) (*Admin, error) {
	if o.Gateway == nil {
		return nil, errors.New("admin: New needs the gateway")
	}
	a := &Admin{gw: o.Gateway, token: []byte(o.Token), loopback: rules.IsLoopback(o.Listen),
		log: o.Logger, version: o.Version, now: o.Now}
	if !a.loopback && o.Token == "" {
		return nil, fmt.Errorf("admin.listen %s is reachable beyond this machine and no admin token is set "+
			"(admin.token_file or admin.token_env): refusing to start", o.Listen)
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.version == "" {
		a.version = "devel"
	}
	a.started = a.now()
	a.hs = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	return a, nil
}

// Listen binds the admin address; Serve then serves it.
func (a *Admin) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin.listen %q: %w", addr, err)
	}
	a.ln = ln
	return ln.Addr(), nil
}

// Serve serves the bound listener until Shutdown; it returns nil then.
func (a *Admin) Serve() error {
	if err := a.hs.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the listener, waiting up to ctx for calls in progress.
func (a *Admin) Shutdown(ctx context.Context) error { return a.hs.Shutdown(ctx) }

// Handler returns the admin HTTP handler (dashboard, metrics, API).
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range a.routes() {
		mux.Handle(r.pattern, r)
	}
	mux.Handle("/", a.dashboard())
	mux.Handle("/api/", a.guard(false, func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "not_found", "no admin API at "+r.URL.Path+" (see docs/admin.md)")
	}))
	return mux
}
