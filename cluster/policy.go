package cluster

import "fmt"

// Policy says what a Redis-backed Store answers while Redis is unreachable
// (the breaker is open, or a call failed or timed out).
type Policy uint8

const (
	// Local answers from this instance's Memory store: rate limits are
	// scaled to this instance's share of the global rate (rate divided by
	// the live instances last counted), spends are single-use per
	// instance, and counts a limit depends on (AddTracked: stock, purchase
	// limits) refuse, since a local count cannot bound a global one.
	Local Policy = iota
	// Open admits: rate limits and counts are not enforced. Counts a limit
	// depends on are counted in flashgate_cluster_unenforced_total and the
	// change is logged as a warning, so it is never silent.
	Open
	// Closed refuses: rate limits answer "retry in a second", spends and
	// counts a limit depends on refuse (the filter's 503 state_full).
	Closed
)

// ParsePolicy parses "local", "open" or "closed".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "local":
		return Local, nil
	case "open":
		return Open, nil
	case "closed":
		return Closed, nil
	}
	return 0, fmt.Errorf("unknown on_failure %q (known: local, open, closed)", s)
}

func (p Policy) String() string {
	switch p {
	case Open:
		return "open"
	case Closed:
		return "closed"
	}
	return "local"
}
