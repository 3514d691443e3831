package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// guard wraps an endpoint with the token rule: a call that changes
// something needs the token always; any other call needs it when the
// listener is reachable beyond loopback.
func (a *Admin) guard(mutating bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.loopback && !localHost(r.Host) {
			// A page elsewhere whose name resolves to 127.0.0.1 (DNS
			// rebinding) must not read what loopback serves without a token.
			fail(w, http.StatusForbidden, "bad_host",
				"on a loopback address the admin API answers only to Host 127.0.0.1, [::1] or localhost, not "+r.Host)
			return
		}
		if !mutating && a.loopback {
			h(w, r)
			return
		}
		if len(a.token) == 0 {
			fail(w, http.StatusForbidden, "no_token_configured",
				"changes need an admin token and none is configured: set admin.token_file or admin.token_env")
			return
		}
		if !a.tokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flashgate admin"`)
			fail(w, http.StatusUnauthorized, "unauthorized",
				"send the admin token as \"Authorization: Bearer <token>\"")
			return
		}
		h(w, r)
	}
}

// localHost reports whether a Host header names this machine: a loopback
// IP or localhost, with or without a port.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenOK compares the request's bearer token with ours in constant time;
// hashing both first keeps the comparison's time independent of lengths.
func (a *Admin) tokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	x, y := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256(a.token)
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// who names the caller in change logs: its address (no token, ever).
func who(r *http.Request) string { return r.RemoteAddr }
