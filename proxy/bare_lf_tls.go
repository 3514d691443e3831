package proxy

import "crypto/tls"

// lfTLSConn is an lfConn over a TLS connection: the bare-LF scan reads the
// decrypted bytes, and the connection keeps Handshake and ConnectionState,
// which is how fasthttp's ctx.IsTLS (and so X-Forwarded-Proto and the
// Secure flag of the gateway's cookies) knows it is TLS.
type lfTLSConn struct {
	*lfConn
	tls *tls.Conn
}

func (c *lfTLSConn) Handshake() error { return c.tls.Handshake() }

func (c *lfTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }
