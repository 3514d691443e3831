package proxy

import (
	"errors"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Origin error kinds, the "kind" label of flashgate_origin_errors_total.
const (
	errKindTimeout   = iota // connect or response timeout → 504
	errKindRefused          // connection refused or reset → 502
	errKindNoHealthy        // every server marked down → 502
	errKindBusy             // MaxConns reached and MaxConnWait expired → 503
	errKindTooLarge         // response body over the limit → 502
	errKindOther            // anything else (bad response, closed early) → 502
	errKinds
)

var errKindNames = [errKinds]string{"timeout", "refused", "no_healthy", "busy", "too_large", "other"}

// classify maps an origin call's error to its kind.
func classify(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return errKindTimeout
	case errors.Is(err, errNoHealthy):
		return errKindNoHealthy
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return errKindBusy
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return errKindTooLarge
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return errKindRefused
	}
	return errKindOther
}

// originAnswer is the client-facing answer for an origin error.
func originAnswer(err error) *answer {
	switch classify(err) {
	case errKindTimeout:
		return ansOriginTimeout
	case errKindBusy:
		return ansOriginBusy
	}
	return ansBadGateway
}
