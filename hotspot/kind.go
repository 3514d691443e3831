package hotspot

import "fmt"

// Kind is what a key identifies.
type Kind uint8

// Key kinds.
const (
	KindParam  Kind = iota // a route parameter (the item id), as "<route>:<value>"
	KindURL                // the request path and query
	KindUser               // a user identity from a cookie or header
	KindClient             // the client address
	kinds
)

var kindNames = [kinds]string{"param", "url", "user", "client"}

// KindNames lists the kinds' names, in Kind order.
func KindNames() []string { return kindNames[:] }

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown key kind %q (known: param, url, user, client)", s)
}

func (k Kind) String() string {
	if k < kinds {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText writes the kind's name (JSON for the admin API).
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
