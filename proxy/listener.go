package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/edge"
	"flashgate/rules"
)

// The public listener's outer layers (package edge): the PROXY protocol
// from trusted balancers, then TLS. Which layers exist, the TLS version
// floor and the redirect listener are fixed when the Server starts; the
// certificates, HSTS and the trusted balancers follow reloads.

// edgeState is what New set up for the listener from the first rules.
type edgeState struct {
	tls      *tls.Config            // nil: plain HTTP
	first    *edge.Certs            // certificates of the first rules: kept if a reload drops server.tls
	proxy    *rules.ProxyProtocol   // nil: no PROXY protocol
	redirect *fasthttp.Server       // the plain-HTTP redirect listener's server, when configured
	port     atomic.Pointer[string] // the TLS listener's port, for redirects
}

// compileCerts compiles server.tls for a snapshot; nil without it.
func compileCerts(cfg *rules.Config) (*edge.Certs, error) {
	if cfg.Server.TLS == nil {
		return nil, nil
	}
	return edge.Compile(cfg.Server.TLS, cfg.Server.Hosts, time.Now())
}

// setupEdge prepares the layers the first rules ask for. Over TLS the
// handler also sets HSTS; a plain listener keeps the handler as it is.
func (s *Server) setupEdge(cfg *rules.Config, snap *Snapshot) {
	s.edge.proxy = cfg.Server.ProxyProtocol
	if s.edge.proxy != nil {
		// A connection read through the PROXY protocol is wrapped, and
		// fasthttp sends one writev only to a bare *net.TCPConn.
		s.srv.WriteBufferSize = wrappedWriteBuffer
	}
	t := cfg.Server.TLS
	if t == nil {
		return
	}
	s.edge.first = snap.certs
	s.edge.tls = edge.Config(t.MinVersion, s.currentCerts)
	s.metrics.Set().NewGauge("flashgate_tls_certificate_expiry_timestamp_seconds", func() float64 {
		return float64(s.currentCerts().NotAfter().Unix())
	})
	s.srv.Handler = s.timeouts.wrap(s.handleTLS)
	s.srv.WriteBufferSize = wrappedWriteBuffer
	if t.RedirectListen != "" {
		_, port, _ := net.SplitHostPort(s.listen)
		s.edge.port.Store(&port)
		s.edge.redirect = &fasthttp.Server{
			Handler: edge.Redirect(func() string { return *s.edge.port.Load() }), Logger: &fasthttpLogger{log: s.log},
			NoDefaultServerHeader: true, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
			IdleTimeout: 10 * time.Second, ReadBufferSize: s.srv.ReadBufferSize,
			// A body is never read: the answer is the same whatever it
			// holds, and the connection closes after it.
			StreamRequestBody: true,
		}
	}
}

// currentCerts returns the live snapshot's certificates.
func (s *Server) currentCerts() *edge.Certs {
	if c := s.current.Load().certs; c != nil {
		return c
	}
	return s.edge.first // server.tls was removed: a restart applies that
}

// handleTLS is handleFrom for a TLS listener: it adds the HSTS header.
func (s *Server) handleTLS(ctx *fasthttp.RequestCtx, peer netip.Addr) {
	s.handleFrom(ctx, peer)
	if v := s.currentCerts().HSTS(); v != nil {
		ctx.Response.Header.SetCanonical(hdrHSTS, v)
	}
}

var hdrHSTS = []byte("Strict-Transport-Security")

// wrappedWriteBuffer is the response write buffer of a listener whose
// connections are wrapped (TLS, PROXY protocol): fasthttp then cannot send
// a header and body with one writev, and with its 4 KiB default an 8 KiB
// page left in two writes (over TLS each its own record, AES-GCM seal and
// syscall: strace counted 2.00 writes a response); with 16 KiB, one TLS
// record's worth as nginx's ssl_buffer_size, it leaves in one. It costs
// 12 KiB more per open connection (beside the ~40 KiB crypto/tls holds for
// one). A plain listener keeps fasthttp's default (bare_lf.go says what
// its large responses cost).
const wrappedWriteBuffer = 16 << 10

// edgeListener puts the configured layers around ln.
func (s *Server) edgeListener(ln net.Listener) net.Listener {
	if _, port, err := net.SplitHostPort(ln.Addr().String()); err == nil {
		s.edge.port.Store(&port) // the port really listened on (server.listen may say 0)
	}
	if p := s.edge.proxy; p != nil {
		refused := s.metrics.Set().GetOrCreateCounter(`flashgate_edge_refused_total{reason="proxy_protocol"}`)
		ln = edge.NewProxyListener(ln, edge.ProxyOptions{
			Trusted:       s.proxyTrusted,
			HeaderTimeout: p.HeaderTimeout,
			Refused:       func(netip.Addr, error) { refused.Inc() },
		})
	}
	if s.edge.tls != nil {
		ln = tls.NewListener(ln, s.edge.tls)
	}
	return ln
}

// proxyTrusted returns the balancers the live rules trust.
func (s *Server) proxyTrusted() []netip.Prefix {
	if p := s.current.Load().Config.Server.ProxyProtocol; p != nil {
		return p.Trusted
	}
	return s.edge.proxy.Trusted
}

// ServeRedirect serves server.tls.redirect_listen's plain-HTTP redirects
// on ln until Shutdown. Without that setting it closes ln and returns nil.
func (s *Server) ServeRedirect(ln net.Listener) error {
	if s.edge.redirect == nil {
		return ln.Close()
	}
	return s.edge.redirect.Serve(ln)
}

// RedirectListen is server.tls.redirect_listen of the first rules; "" if none.
func (s *Server) RedirectListen() string {
	if s.edge.redirect == nil {
		return ""
	}
	return s.current.Load().Config.Server.TLS.RedirectListen
}

func (s *Server) shutdownRedirect(ctx context.Context) {
	if s.edge.redirect != nil {
		_ = s.edge.redirect.ShutdownWithContext(ctx)
	}
}

// restartOnlyEdge reduces server.tls and server.proxy_protocol to what
// only a restart applies, for warnRestartOnly: certificates, HSTS and the
// trusted balancers reload.
func restartOnlyEdge(t *rules.TLS, p *rules.ProxyProtocol) (*rules.TLS, *rules.ProxyProtocol) {
	if t != nil {
		t = &rules.TLS{MinVersion: t.MinVersion, RedirectListen: t.RedirectListen}
	}
	if p != nil {
		p = &rules.ProxyProtocol{HeaderTimeout: p.HeaderTimeout}
	}
	return t, p
}
