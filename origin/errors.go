package origin

import (
	"errors"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Kind is the class of an origin call's error, the "kind" label of
// flashgate_origin_errors_total; the proxy maps it to a client answer.
type Kind int

// Origin error kinds.
const (
	KindTimeout   Kind = iota // connect or response timeout → 504
	KindRefused               // connection refused or reset → 502
	KindNoHealthy             // every server forced down, or marked down with all_down: refuse → 502
	KindBusy                  // MaxConns reached and MaxConnWait expired → 503
	KindTooLarge              // response body over the limit → 502
	KindOther                 // anything else (bad response, closed early) → 502
	KindShed                  // the concurrency limit stayed full → 503 with Retry-After
	KindOpen                  // every usable server's breaker is open → 503 with Retry-After
	kinds
)

var kindNames = [kinds]string{"timeout", "refused", "no_healthy", "busy", "too_large", "other", "shed", "breaker_open"}

// String returns the kind's metric label.
func (k Kind) String() string { return kindNames[k] }

// ErrNoHealthy means no server may be sent the request: every server is
// forced down by an operator, or marked down by the health checks with
// health.all_down: refuse.
var ErrNoHealthy = errors.New("no healthy server")

// NotSent reports whether err means the request never reached a server:
// refused by the gateway's own protection (no server may take it, the
// limit stayed full, the breakers are open, no free connection), by the
// network before a connection existed (connection refused, connect
// timeout), or on connections found closed before it went out (errStale,
// when the retries ran out). The shop then did not act on it, so admission
// may give back what the attempt took (a stock gate's unit). A response
// timeout or a reset may come after the shop acted, and is not NotSent.
func NotSent(err error) bool {
	return errors.Is(err, ErrNoHealthy) || errors.Is(err, ErrShed) || errors.Is(err, ErrBreakerOpen) ||
		errors.Is(err, fasthttp.ErrNoFreeConns) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, errStale)
}

// Classify maps an origin call's error to its kind.
func Classify(err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.Is(err, ErrNoHealthy):
		return KindNoHealthy
	case errors.Is(err, ErrShed):
		return KindShed
	case errors.Is(err, ErrBreakerOpen):
		return KindOpen
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return KindBusy
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return KindTooLarge
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return KindRefused
	}
	return KindOther
}
