package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminSection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	body := `origins:
  shop: {servers: ["127.0.0.1:9081"]}
routes:
  - {name: page, path: /, origin: shop}
admission:
  keys: [{id: 1, secret: "0123456789abcdef0123456789abcdef"}]
admin: {token_file: secrets/admin-token}
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin == nil || c.Admin.Listen != DefaultAdminListen {
		t.Fatalf("Admin = %+v, want listen %s", c.Admin, DefaultAdminListen)
	}
	if got, want := c.AdminTokenPath(), filepath.Join(dir, "secrets/admin-token"); got != want {
		t.Errorf("AdminTokenPath = %q, want %q (relative to the rule file)", got, want)
	}
	out, err := c.DumpRedacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "0123456789abcdef") || !strings.Contains(string(out), "secret: <redacted>") {
		t.Errorf("DumpRedacted shows the secret or no redaction:\n%s", out)
	}
	if !strings.Contains(string(out), "token_file: secrets/admin-token") {
		t.Errorf("DumpRedacted lost where the token is:\n%s", out)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9090": true, "[::1]:9090": true, "localhost:9090": true, "127.5.6.7:1": true,
		":9090": false, "0.0.0.0:9090": false, "10.0.0.1:9090": false, "[::]:9090": false, "bad": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
