package proxy

import "flashgate/origin"

// originAnswer is the client-facing answer for an origin error.
func originAnswer(err error) *answer {
	switch origin.Classify(err) {
	case origin.KindTimeout:
		return ansOriginTimeout
	case origin.KindBusy:
		return ansOriginBusy
	}
	return ansBadGateway
}
