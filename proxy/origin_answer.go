package proxy

import (
	"errors"

	"flashgate/origin"
)

// Answers of a protected origin: the request was refused before it
// reached the shop, so the client is told when to come back.
var (
	ansShed = newAnswer(503, "overloaded", "Busy",
		"The shop is very busy right now and could not take your request. Please try again in a moment.", "2")
	ansBreakerOpen = newAnswer(503, "origin_unavailable", "Service unavailable",
		"The shop is not answering right now. Please try again in a few seconds.", "10")
	ansStaleOnly = newAnswer(503, "cache_only", "Service unavailable",
		"This page is served from the cache only right now, and the cache does not have it. Please try again later.", "30")
)

// originAnswer is the client-facing answer for an origin error.
func originAnswer(err error) *answer {
	if errors.Is(err, errStaleOnly) {
		return ansStaleOnly
	}
	switch origin.Classify(err) {
	case origin.KindTimeout:
		return ansOriginTimeout
	case origin.KindBusy:
		return ansOriginBusy
	case origin.KindShed:
		return ansShed
	case origin.KindOpen:
		return ansBreakerOpen
	}
	return ansBadGateway
}
