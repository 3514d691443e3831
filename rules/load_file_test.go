package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIncludeMatchingADirectoryIsAnError(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	write(t, main, "include: [\"sales/*.yaml\"]\norigins:\n  shop: {servers: [127.0.0.1:9081]}\n")
	// Docker leaves a directory where a bind-mounted file was missing.
	if err := os.MkdirAll(filepath.Join(dir, "sales", "black-friday.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Kubernetes' hidden ..data directory is not a rule file and not an error.
	if err := os.MkdirAll(filepath.Join(dir, "sales", "..data.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	if err == nil {
		t.Fatal("a directory named like a sale file was loaded as if empty")
	}
	if got := err.Error(); !strings.Contains(got, "black-friday.yaml matches the include but is not a regular file") || strings.Contains(got, "..data") {
		t.Fatalf("error = %q", got)
	}
}

func TestRuleFileSizeIsBounded(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	big := "# " + strings.Repeat("x", MaxFileBytes) + "\n"
	write(t, main, big)
	_, err := Load(main)
	if err == nil || !strings.Contains(err.Error(), "gateway.yaml: cannot read rule file: larger than 16 MiB: not a rule file") {
		t.Fatalf("error = %v", err)
	}
}
