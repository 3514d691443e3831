// Package edge is the public listener's outer layers: TLS termination
// (certificates chosen by SNI, checked when the rules are compiled, modern
// protocol defaults) and the PROXY protocol (v1 and v2), read only from
// the load balancers the rules trust, so that the address every limit,
// queue and token binding sees is the client's and not the balancer's.
//
// It is configured by package rules (server.tls, server.proxy_protocol)
// and knows nothing of the request pipeline: it hands package proxy a
// net.Listener whose connections already carry the client's address
// (RemoteAddr) and, with TLS, are *tls.Conn.
package edge
