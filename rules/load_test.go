package rules

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestLoadErrors loads each testdata/errors/NAME.yaml and compares every
// error it reports, one per line, with NAME.golden.
func TestLoadErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.yaml")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want errors; config: %+v", f, c)
			}
			es, ok := err.(Errors)
			if !ok {
				t.Fatalf("Load error is %T, want Errors", err)
			}
			for _, e := range es {
				if e.Pos.Line <= 0 || e.Pos.Col <= 0 {
					t.Errorf("error without position: %v", e)
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// TestLoadValid loads the full example and compares the effective config
// (defaults filled in, includes merged) with a golden dump.
func TestLoadValid(t *testing.T) {
	c, err := Load("testdata/valid/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Dump()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("# files:\n")
	for _, f := range c.Files {
		rel, _ := filepath.Rel(mustAbs(t, "testdata/valid"), f)
		fmt.Fprintf(&b, "#   %s\n", rel)
	}
	b.WriteString("# watch dirs:\n")
	for _, d := range c.WatchDirs {
		rel, _ := filepath.Rel(mustAbs(t, "testdata/valid"), d)
		fmt.Fprintf(&b, "#   %s\n", rel)
	}
	b.Write(out)
	golden(t, "testdata/valid/gateway.golden", b.Bytes())

	// The dump is itself a valid config that dumps to the same bytes.
	again, err := LoadBytes(filepath.Join(t.TempDir(), "dump.yaml"), out)
	if err != nil {
		t.Fatalf("dump does not load: %v\n%s", err, out)
	}
	out2, _ := again.Dump()
	if !bytes.Equal(out, out2) {
		t.Fatalf("dump does not round-trip:\n%s\n---\n%s", out, out2)
	}
}

func mustAbs(t *testing.T, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestLoadValues(t *testing.T) {
	c, err := Load("testdata/valid/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Routes); got != 5 {
		t.Fatalf("%d routes, want 5 (3 main + 2 included)", got)
	}
	buy := c.Routes[3]
	if buy.Name != "buy" || buy.Pos.File != filepath.Join("testdata/valid/sales/singles-day.yaml") || buy.Pos.Line != 3 {
		t.Errorf("buy route at %v, want sales/singles-day.yaml:3", buy.Pos)
	}
	kind, spec, err := buy.Filters[1].Kind()
	if err != nil || kind != "ratelimit" || spec.Path() != "routes[0].filters[1].ratelimit" {
		t.Fatalf("filter kind = %q %q %v", kind, spec.Path(), err)
	}
	var rl struct {
		Rate  Rate `yaml:"rate"`
		Burst int  `yaml:"burst"`
	}
	if err := spec.Decode(&rl); err != nil || rl.Rate != (Rate{500, time.Second}) || rl.Burst != 100 {
		t.Fatalf("decode ratelimit = %+v, %v", rl, err)
	}
	if c.Server.CaseInsensitive != true || c.Server.MaxBodyBytes != 1e6 || c.Server.ShutdownTimeout != 15*time.Second {
		t.Errorf("server = %+v", c.Server)
	}
	if len(c.Origins) != 3 || c.Origins[0].Name != "fragments" || c.Origins[1].Hosts[0] != "shop.example.com" {
		t.Errorf("origins not sorted or hosts not lowercased: %+v", c.Origins)
	}
	c2, _ := Load("testdata/valid/gateway.yaml")
	if c2.Digest != c.Digest || c.Digest == [32]byte{} {
		t.Error("digest not stable")
	}
}

func TestLoadIncludeUnreadable(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	write(t, main, "include: [sales/*]\n")
	if err := os.MkdirAll(filepath.Join(dir, "sales", "..data"), 0o755); err != nil {
		t.Fatal(err) // Kubernetes' hidden directory matching the glob is skipped, not an error
	}
	if err := os.Symlink(filepath.Join(dir, "gone.yaml"), filepath.Join(dir, "sales", "dangling.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	want := main + ":1:11: include[0]: cannot read " + filepath.Join(dir, "sales", "dangling.yaml") + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	_, err = Load(filepath.Join(dir, "absent.yaml"))
	if want := filepath.Join(dir, "absent.yaml") + ": cannot read rule file: no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestLoadEmptyAndDefaults(t *testing.T) {
	c, err := LoadBytes("empty.yaml", []byte("# nothing yet\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if s.Listen != "127.0.0.1:8080" || s.ReadTimeout != 10*time.Second || s.WriteTimeout != 30*time.Second ||
		s.IdleTimeout != time.Minute || s.MaxHeaderBytes != 16<<10 || s.MaxBodyBytes != 1<<20 ||
		s.Concurrency != 262144 || s.Unmatched != "deny" || c.Logging.Level != "info" || c.Logging.Format != "text" {
		t.Fatalf("defaults not filled: %+v %+v", s, c.Logging)
	}
	c, err = LoadBytes("o.yaml", []byte("origins: {o: {servers: [h:1]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := c.Origins[0]
	if o.Balance != "round_robin" || o.MaxConns != 512 || o.MaxConnWait != 100*time.Millisecond ||
		o.MaxIdleConn != 30*time.Second || o.ReadTimeout != 10*time.Second || o.Health.Interval != 2*time.Second ||
		o.Health.Fails != 2 || o.Health.Passes != 2 || o.Health.Status != 200 {
		t.Fatalf("origin defaults not filled: %+v", o)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
