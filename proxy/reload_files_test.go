package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flashgate/rules"
)

// TestCompileShippedConfig: the repository's gateway.yaml compiles (what
// `flashgate -check` and the first start do).
func TestCompileShippedConfig(t *testing.T) {
	cfg, err := rules.Load("../gateway.yaml")
	if err != nil {
		t.Fatalf("rules.Load(gateway.yaml): %v", err)
	}
	snap, err := Compile(cfg, nil)
	if err != nil {
		t.Fatalf("Compile(gateway.yaml): %v", err)
	}
	if len(snap.Routes()) != len(cfg.Routes) || snap.Route("item") == nil {
		t.Errorf("compiled %d routes of %d; item route present: %v", len(snap.Routes()), len(cfg.Routes), snap.Route("item") != nil)
	}
}

// TestReloadFromFiles runs Reload on real rule files: a bad edit is
// rejected with its file:line:col, a good one is swapped in.
func TestReloadFromFiles(t *testing.T) {
	rec := &recorder{}
	addr := startOrigin(t, rec.handle)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	write := func(routePath, origin string) {
		t.Helper()
		y := "origins:\n  shop:\n    servers: [" + addr + "]\nroutes:\n  - name: item\n    path: " + routePath + "\n    origin: " + origin + "\n"
		if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("/item/{id}", "shop")
	cfg, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := newGateway(t, cfg, Options{ConfigPath: path})

	write("/item/{id}", "shpo")
	err = g.Reload()
	if err == nil || !strings.Contains(err.Error(), path+":7:") || !strings.Contains(err.Error(), `unknown origin "shpo"`) {
		t.Fatalf("Reload of a bad edit: %v; want the file:line:col and the unknown origin", err)
	}
	if !strings.Contains(g.logs.String(), "rejected "+path+":7:") || !strings.Contains(g.logs.String(), "still serving rules loaded at") {
		t.Errorf("log lacks the rejection line:\n%s", g.logs.String())
	}
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 200 {
		t.Errorf("after a bad edit: status %d, want 200", resp.StatusCode())
	}

	write("/product/{id}", "shop")
	if err := g.Reload(); err != nil {
		t.Fatalf("Reload of a good edit: %v", err)
	}
	if resp := g.do(t, "GET", "/product/1", nil); resp.StatusCode() != 200 {
		t.Errorf("new route after reload: status %d, want 200", resp.StatusCode())
	}
	if resp := g.do(t, "GET", "/item/1", nil); resp.StatusCode() != 404 {
		t.Errorf("old route after reload: status %d, want 404", resp.StatusCode())
	}
}
