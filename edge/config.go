package edge

import "crypto/tls"

// suites are the TLS 1.2 cipher suites offered: forward secret (ECDHE)
// and authenticated encryption (AES-GCM, ChaCha20-Poly1305) only, as in
// Mozilla's "intermediate" profile. TLS 1.3's suites are all of that kind
// and are not configurable in Go.
var suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Config returns the listener's TLS configuration: TLS minVersion (1.2 or
// 1.3) and up, the suites above, HTTP/1.1 by ALPN (the server speaks
// nothing else, so a client must not try h2), and the certificate from
// current() at each handshake, so that a reload changes certificates
// without touching the listener.
//
// Session tickets stay on with crypto/tls's own keys, which it rotates
// every day and keeps for a week; the one Config lives as long as the
// listener, so reloads do not reset them. They are per process: a client
// moved to another instance does a full handshake.
func Config(minVersion uint16, current func() *Certs) *tls.Config {
	return &tls.Config{
		MinVersion:   minVersion,
		CipherSuites: suites,
		NextProtos:   []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return current().Get(hello)
		},
	}
}
