package filters

import (
	"flashgate/rules"
)

// blocklistSpec is the "blocklist" filter's spec:
//
//	blocklist:
//	  ips: [203.0.113.7, 198.51.100.0/24, "2001:db8::/48"]
//	  users: [u-123]                 # compared with the identity's value
//	  files: [lists/blocked.txt]     # one IP, CIDR or user:<id> a line; # comments
//	  check_every: 2s                # how often files are checked for changes
//	  key: cookie:uid                # identity whose value users are compared with
//
// Files are re-read when their mtime or size changes, without a rule
// reload; a file that fails to parse keeps the last good list.
type blocklistSpec struct {
	IPs        []string       `yaml:"ips"`
	Users      []string       `yaml:"users"`
	Files      []string       `yaml:"files"`
	CheckEvery rules.Duration `yaml:"check_every"`
	Key        rules.Node     `yaml:"key"`
}

// blocklist answers listed clients 403. Immutable after compile; the file
// part of its list is shared process-lifetime state.
type blocklist struct {
	inline *matchSet
	files  *hotList
	id     *Identity
	reject *Rejection
}

var _ Filter = (*blocklist)(nil)

func newBlocklist(b *Build) (Filter, error) {
	var spec blocklistSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	f := &blocklist{}
	var err error
	if f.inline, err = b.inlineSet(spec.IPs, spec.Users); err != nil {
		return nil, err
	}
	if f.files, err = b.hotList(spec.Files, spec.CheckEvery.Duration(), "files"); err != nil {
		return nil, err
	}
	if f.inline == nil && f.files == nil {
		return nil, b.Errorf("", "list at least one of ips, users, files")
	}
	if f.id, err = b.Identity(spec.Key); err != nil {
		return nil, err
	}
	f.reject, err = b.Reject(RejectSpec{Reason: "blocked", Status: 403, Title: "Access denied",
		Message: "Your requests to this sale have been blocked. If you think this is a mistake, contact the shop."})
	return f, err
}

// inlineSet compiles the inline ips and users (nil when both are empty).
func (b *Build) inlineSet(ips, users []string) (*matchSet, error) {
	if len(ips) == 0 && len(users) == 0 {
		return nil, nil
	}
	m := newMatchSet()
	for i, ip := range ips {
		if err := m.add(ip); err != nil {
			return nil, b.Errorf("ips", "entry %d: %v", i, err)
		}
	}
	for _, u := range users {
		if err := m.add("user:" + u); err != nil {
			return nil, b.Errorf("users", "%v", err)
		}
	}
	return m.seal(), nil
}

// Check rejects a listed IP or user id.
func (f *blocklist) Check(r *Request) Verdict {
	if matches(f.inline, r, f.id) {
		return f.reject.Verdict()
	}
	if f.files != nil && matches(f.files.current(r.Now), r, f.id) {
		return f.reject.Verdict()
	}
	return Continue
}

// matches reports whether r's IP or (present, verified) user id is in m.
func matches(m *matchSet, r *Request, id *Identity) bool {
	if m == nil {
		return false
	}
	if m.hasIP(r.ClientIP) {
		return true
	}
	if len(m.users) == 0 || id.source == "ip" {
		return false
	}
	return m.hasUser(id.value(r))
}
