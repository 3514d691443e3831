package filters

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBlocklist(t *testing.T) {
	env := testEnv(t)
	dir := t.TempDir()
	list := filepath.Join(dir, "blocked.txt")
	writeFile(t, list, "# bad actors\n203.0.113.0/24\nuser:mallory  # chargebacks\n")
	c := mustCompile(t, env, `- blocklist:
    ips: [198.51.100.7, "2001:db8:bad::/48"]
    users: [eve]
    files: [`+list+`]
    key: "cookie:uid"
`)
	tests := []struct {
		name string
		opts []reqOpt
		want string
	}{
		{"clean", []reqOpt{withIP("192.0.2.1")}, "pass"},
		{"inline ip", []reqOpt{withIP("198.51.100.7")}, "blocked"},
		{"inline ip as ipv4-mapped ipv6", []reqOpt{withIP("::ffff:198.51.100.7")}, "blocked"},
		{"inline ipv6 cidr", []reqOpt{withIP("2001:db8:bad:1::9")}, "blocked"},
		{"file cidr", []reqOpt{withIP("203.0.113.200")}, "blocked"},
		{"inline user", []reqOpt{withCookie("uid", "eve")}, "blocked"},
		{"file user", []reqOpt{withCookie("uid", "mallory")}, "blocked"},
		{"user id in a header instead of the cookie", []reqOpt{withHeader("uid", "eve")}, "pass"},
		{"other user", []reqOpt{withCookie("uid", "alice")}, "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, r := verdictOf(c, "/buy/1", tt.opts...)
			if got := reason(v); got != tt.want {
				t.Fatalf("verdict = %s, want %s", got, tt.want)
			}
			if tt.want == "blocked" && r.Ctx.Response.StatusCode() != 403 {
				t.Errorf("status = %d, want 403", r.Ctx.Response.StatusCode())
			}
		})
	}
}

// TestBlocklistFileReload edits the list file and checks the change is
// picked up without a rule reload, and a broken edit keeps the last list.
func TestBlocklistFileReload(t *testing.T) {
	env := testEnv(t)
	list := filepath.Join(t.TempDir(), "blocked.txt")
	writeFile(t, list, "203.0.113.5\n")
	c := mustCompile(t, env, "- blocklist: {files: ["+list+"], check_every: 1s}\n")
	c.filters[0].(*blocklist).files.run = func(f func()) { f() }
	bad := withIP("203.0.113.5")
	if v, _ := verdictOf(c, "/buy/1", bad); reason(v) != "blocked" {
		t.Fatalf("listed ip: %s", reason(v))
	}
	writeFile(t, list, "192.0.2.1\n")
	if v, _ := verdictOf(c, "/buy/1", withIP("192.0.2.1"), at(t0+int64(500*time.Millisecond))); v.Rejected() {
		t.Fatal("list re-read before check_every passed")
	}
	if v, _ := verdictOf(c, "/buy/1", withIP("192.0.2.1"), at(t0+int64(2*time.Second))); !v.Rejected() {
		t.Fatal("ip added to the file is not blocked after check_every")
	}
	if v, _ := verdictOf(c, "/buy/1", bad, at(t0+int64(4*time.Second))); v.Rejected() {
		t.Fatal("ip removed from the file is still blocked")
	}
	writeFile(t, list, "not an ip\n")
	if v, _ := verdictOf(c, "/buy/1", withIP("192.0.2.1"), at(t0+int64(10*time.Second))); !v.Rejected() {
		t.Fatal("a broken list edit dropped the last good list")
	}
	failed := env.Metrics.GetOrCreateCounter(`flashgate_filter_list_reload_errors_total{route="buy",filter="blocklist"}`).Get()
	if failed != 1 {
		t.Errorf("list reload errors = %d, want 1", failed)
	}
}

func TestTags(t *testing.T) {
	env := testEnv(t)
	list := filepath.Join(t.TempDir(), "vip.txt")
	writeFile(t, list, "user:alice\n10.0.0.0/8\n")
	c := mustCompile(t, env, "- tags: {header: X-Risk, values: [high], lists: {vip: "+list+"}, key: \"cookie:uid\"}\n")
	high, _ := env.TagBit("high")
	vip, _ := env.TagBit("vip")
	tests := []struct {
		name string
		opts []reqOpt
		want Tags
	}{
		{"none", nil, 0},
		{"risk header", []reqOpt{withHeader("X-Risk", "high")}, Tags(0).With(high)},
		{"unknown header value", []reqOpt{withHeader("X-Risk", "extreme")}, 0},
		{"listed user", []reqOpt{withCookie("uid", "alice")}, Tags(0).With(vip)},
		{"listed network and header", []reqOpt{withIP("10.1.2.3"), withHeader("X-Risk", "high")}, Tags(0).With(vip).With(high)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, r := verdictOf(c, "/buy/1", tt.opts...)
			if v.Rejected() || r.Tags != tt.want {
				t.Fatalf("verdict %s, tags %b, want pass, %b", reason(v), r.Tags, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	// Write beside and rename, as editors and ConfigMaps do; then push the
	// mtime forward so a same-second edit is still seen as a change.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err == nil {
		next := st.ModTime().Add(time.Second)
		if err := os.Chtimes(tmp, next, next); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
