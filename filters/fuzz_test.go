package filters

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzListEntry: an entry the list parser accepts matches the addresses it
// names and nothing of the other family; a rejected entry adds nothing.
func FuzzListEntry(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "198.51.100.0/24", "2001:db8::/32", "::ffff:192.0.2.1",
		"::ffff:192.0.2.0/120", "::ffff:0.0.0.0/90", "user:alice", "user:", "0.0.0.0/0", "1.2.3.4/33", "fe80::1%eth0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		m := newMatchSet()
		err := m.add(entry)
		m.seal()
		if err != nil {
			if len(m.prefixes) != 0 || len(m.users) != 0 {
				t.Fatalf("rejected %q but added to the set", entry)
			}
			return
		}
		if id, ok := strings.CutPrefix(entry, "user:"); ok {
			if !m.hasUser([]byte(id)) {
				t.Fatalf("user entry %q does not match its id", entry)
			}
			return
		}
		for p := range m.prefixes {
			if !m.hasIP(p.Addr()) {
				t.Fatalf("entry %q (%v) does not match its own address", entry, p)
			}
			if p.Addr().Is4() && m.hasIP(netip.IPv6Unspecified()) {
				t.Fatalf("IPv4 entry %q matches an IPv6 address", entry)
			}
		}
	})
}

// FuzzSignedValue: a signed identity verifies only values signed with one
// of its keys, and then yields exactly the signed id.
func FuzzSignedValue(f *testing.F) {
	f.Add("alice", sign(shopKey, "alice"))
	f.Add("alice", sign(oldKey, "alice"))
	f.Add("bob", "bob.")
	f.Add("a.b", sign(shopKey, "a.b"))
	f.Add("x", "x."+strings.Repeat("A", 43))
	id, msg := compileIdentity(IdentitySpec{Use: "cookie:uid", Signed: &SignedSpec{Keys: []string{shopKey}}})
	if msg != "" {
		f.Fatal(msg)
	}
	f.Fuzz(func(t *testing.T, user, value string) {
		r := newReq("/buy/1")
		got := id.verify(r, []byte(value))
		if value == sign(shopKey, user) && user != "" {
			if string(got) != user {
				t.Fatalf("valid signature for %q yields %q", user, got)
			}
			return
		}
		if got != nil && value != sign(shopKey, string(got)) {
			t.Fatalf("%q verified as %q without a valid signature", value, got)
		}
	})
}
