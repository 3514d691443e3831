package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// Options configures New.
type Options struct {
	// ConfigPath is the main rule file; Reload reads it again.
	ConfigPath string
	// Config, when set, is the initial configuration (ConfigPath is then
	// used only by Reload); else New loads ConfigPath.
	Config *rules.Config
	// Logger receives the gateway's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ticker starts health-check tickers; nil means real tickers.
	Ticker TickerFunc
	// Dial replaces TCP for origin connections (see EnvOptions.Dial).
	Dial func(addr string) (net.Conn, error)
	// load replaces rules.Load in tests.
	load func(path string) (*rules.Config, error)
	// cacheBackground replaces `go f()` for cache revalidations in tests.
	cacheBackground func(f func())
	// hotManual leaves hot-key analysis to the test (hotRuntime.det.Step).
	hotManual bool
}

// Server is the public gateway listener: a fasthttp server running the
// request pipeline on the current Snapshot, which Reload replaces. The
// listener limits (timeouts, buffer and body sizes, connection limits)
// are taken from the configuration given to New; a reload that changes
// them takes effect at the next restart. Safe for concurrent use.
type Server struct {
	cfgPath   string
	load      func(path string) (*rules.Config, error)
	log       *slog.Logger
	now       func() time.Time
	env       *Env
	metrics   *Metrics
	ids       *idGenerator
	current   atomic.Pointer[Snapshot]
	last      atomic.Pointer[ReloadStatus]
	reloadMu  sync.Mutex // one reload at a time
	loadedAt  time.Time  // guarded by reloadMu
	endpoints map[string]GatewayHandler
	srv       *fasthttp.Server
	timeouts  *connTimeouts // server.read/write/idle_timeout for srv
	access    *accessLog
	accessOut io.Closer // nil unless the access log is a file we opened
	shutdown  time.Duration
	listen    string
	edge      edgeState // TLS and PROXY protocol layers (listener.go)
}

// New loads (unless opts.Config is set) and compiles the configuration and
// returns a Server ready to Serve.
func New(opts Options) (*Server, error) {
	s := &Server{
		cfgPath: opts.ConfigPath, log: opts.Logger, now: opts.Now,
		ids: newIDGenerator(), endpoints: map[string]GatewayHandler{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.load = opts.load
	if s.load == nil {
		s.load = rules.Load
	}
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = s.load(opts.ConfigPath); err != nil {
			return nil, err
		}
	}
	s.metrics = NewMetrics()
	s.env = NewEnv(EnvOptions{Metrics: s.metrics, Logger: s.log, Ticker: opts.Ticker, Dial: opts.Dial,
		Now: opts.Now, CacheBackground: opts.cacheBackground})
	s.env.prot.manual = opts.hotManual
	snap, err := Compile(cfg, s.env)
	if err != nil {
		s.env.Close()
		return nil, err
	}
	s.current.Store(snap)
	s.loadedAt = s.now()
	s.last.Store(&ReloadStatus{OK: true, At: s.loadedAt})
	s.metrics.lastSuccess.Set(float64(s.loadedAt.Unix()))
	if err := s.openAccessLog(cfg.Logging.AccessLog); err != nil {
		s.env.Close()
		return nil, err
	}
	s.srv = s.newFastHTTP(&cfg.Server)
	s.setupEdge(cfg, snap)
	s.registerBuiltinEndpoints()
	return s, nil
}

// newFastHTTP builds the listener with the configured production limits.
func (s *Server) newFastHTTP(c *rules.Server) *fasthttp.Server {
	s.shutdown = orDur(c.ShutdownTimeout, 15*time.Second)
	s.listen = orStr(c.Listen, "127.0.0.1:8080")
	s.timeouts = newConnTimeouts(orDur(c.ReadTimeout, 10*time.Second),
		orDur(c.WriteTimeout, 30*time.Second), orDur(c.IdleTimeout, 60*time.Second))
	return &fasthttp.Server{
		Handler:      s.timeouts.wrap(s.handleFrom),
		ErrorHandler: s.handleServerError,
		// ReadTimeout, WriteTimeout and IdleTimeout stay 0: s.timeouts
		// enforces them with a sweeper, since fasthttp's per-request
		// deadline updates cost ≈510 ns a request (conn_timeouts.go).
		ConnState: s.timeouts.connState,
		// ReadBufferSize bounds the request line plus headers.
		ReadBufferSize: int(orInt64(c.MaxHeaderBytes, 16<<10)),
		// An answer that overflows the write buffer costs a second write
		// syscall: the connection is an lfConn (bare_lf.go), and fasthttp
		// sends header and body with one writev only to a *net.TCPConn. At
		// 16 KiB an answer up to that size (the 8 KiB item page with its
		// header) goes in one write: 7.4 -> 6.4 syscalls and ≈ 15% less CPU
		// per forwarded page, for ≈ 8 KB more per open connection (30 -> 38
		// KB measured with 2000 idle keep-alive connections). bench/RESULTS.md,
		// "Pass-through (issue #15)".
		WriteBufferSize:    16 << 10,
		MaxRequestBodySize: int(orInt64(c.MaxBodyBytes, 1<<20)),
		MaxConnsPerIP:      c.MaxConnsPerIP,
		Concurrency:        c.Concurrency,
		// The gateway names itself in Via; Content-Type is the origin's.
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		// Path normalisation is ours: the pipeline reads the raw path
		// (URI.PathOriginal) and runs route.Normalize, never ctx.Path().
		Logger:                &fasthttpLogger{log: s.log},
		SecureErrorLogMessage: true,
	}
}

// handleServerError answers requests fasthttp could not read: a body over
// the limit (413), headers over the buffer (431), a read timeout (408),
// anything else malformed (400).
func (s *Server) handleServerError(ctx *fasthttp.RequestCtx, err error) {
	var a *answer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		a = ansTooLarge
	case errors.Is(err, errBareLF):
		a = ansBareLF
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		a = ansHeaderLarge
	case errors.As(err, &ne) && ne.Timeout():
		a = ansTimeoutReq
	default:
		a = ansBadRequest
	}
	a.write(ctx)
	var id [32]byte
	ctx.Response.Header.SetBytesV(hdrRequestID, s.ids.Append(id[:0]))
	ctx.SetConnectionClose() // the rest of the stream cannot be trusted
	s.metrics.edge.inc(a.status)
}

// Handler returns the request handler, for tests and embedding.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Serve serves on ln until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.timeouts.start()
	return s.srv.Serve(lfListener{s.edgeListener(ln)}) // bare_lf.go reads what TLS decrypted
}

// ListenAndServe listens on server.listen and serves.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("server.listen %q: %w", s.listen, err)
	}
	return s.Serve(ln)
}

// Shutdown stops accepting connections, closes idle ones and waits for
// requests in flight to finish, for at most server.shutdown_timeout (or
// ctx's deadline if sooner). Then it stops health checks and flushes the
// access log. It returns ctx's error (or context.DeadlineExceeded) when
// requests were still running at the deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.shutdown)
	defer cancel()
	// The connection timeouts keep running meanwhile: fasthttp closes idle
	// connections itself, but one still sending a request ends at
	// read_timeout only by them.
	s.shutdownRedirect(ctx)
	err := s.srv.ShutdownWithContext(ctx)
	if err != nil {
		// Requests still run: keep pools, the access log and the timeouts
		// for them; the timeouts' sweeper ends with the last connection.
		s.timeouts.drain()
		return fmt.Errorf("shutdown: requests still in flight after %s: %w", s.shutdown, err)
	}
	s.timeouts.stop()
	s.env.Close()
	if s.access != nil {
		s.access.close()
	}
	if s.accessOut != nil {
		return s.accessOut.Close()
	}
	return nil
}

// Snapshot returns the snapshot currently serving.
func (s *Server) Snapshot() *Snapshot { return s.current.Load() }

// Config returns the configuration currently serving (for the watcher's
// directory list and status pages). It must not be modified.
func (s *Server) Config() *rules.Config { return s.current.Load().Config }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// WritePrometheus writes the server's metrics in Prometheus text format.
func (s *Server) WritePrometheus(w io.Writer) {
	s.metrics.WritePrometheus(w)
	s.env.writeCacheMetrics(w) // flashgate_cache_*
}

func (s *Server) openAccessLog(dest string) error {
	var w io.Writer
	switch dest {
	case "":
		return nil
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("logging.access_log: %w", err)
		}
		w, s.accessOut = f, f
	}
	s.access = newAccessLog(w, s.metrics.accessDropped)
	return nil
}

// fasthttpLogger routes fasthttp's own messages (accept errors, failed
// TLS handshakes and the like) to slog at warn level, at most one a
// second: fasthttp logs once per failed connection, and a scanner
// offering TLS 1.0 must not flood the log. The next line says how many
// were dropped.
type fasthttpLogger struct {
	log     *slog.Logger
	now     func() time.Time // nil: time.Now
	next    atomic.Int64     // unix ns before which lines are dropped
	dropped atomic.Int64
}

func (l *fasthttpLogger) Printf(format string, args ...any) {
	clock := l.now
	if clock == nil {
		clock = time.Now
	}
	now := clock().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(time.Second)) {
		l.dropped.Add(1)
		return
	}
	msg := "fasthttp: " + fmt.Sprintf(format, args...)
	if n := l.dropped.Swap(0); n > 0 {
		l.log.Warn(msg, "dropped_since_last", n)
		return
	}
	l.log.Warn(msg)
}

func orInt64(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}
