package origin

import "fmt"

// Priority is a request's class when its origin is overloaded: sheddable
// requests are refused first, critical ones last (checkout keeps working
// while browsing is shed).
type Priority uint8

// Priorities, from the last shed to the first.
const (
	Critical Priority = iota
	Normal
	Sheddable
	priorities
)

var priorityNames = [priorities]string{"critical", "normal", "sheddable"}

// share is the fraction of the limit each class may fill: a sheddable
// request is refused once half the limit is in use, so the other half is
// always there for normal and critical ones; normal ones leave the last
// tenth to critical ones.
var share = [priorities]float64{1, 0.9, 0.5}

// waits says whether a class waits for a slot; a sheddable request is
// refused at once (its wait would only delay the answer it gets anyway).
var waits = [priorities]bool{true, true, false}

// ParsePriority returns the priority named s ("" is Normal).
func ParsePriority(s string) (Priority, error) {
	if s == "" {
		return Normal, nil
	}
	for i, n := range priorityNames {
		if n == s {
			return Priority(i), nil
		}
	}
	return Normal, fmt.Errorf("unknown priority %q (allowed: critical, normal, sheddable)", s)
}

func (p Priority) String() string { return priorityNames[p] }
