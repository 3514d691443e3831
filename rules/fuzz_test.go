package rules

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary main files to the loader. Properties: it never
// panics; every error is an *Error with a positive line and column; a
// config that loads dumps to YAML that loads again and dumps to the same
// bytes. Inputs mentioning include are skipped so that the fuzzer cannot
// wander the file system through absolute globs.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{"", "server: {listen: 127.0.0.1:1}", "routes: [{name: a, path: /a, origin: o}]\norigins: {o: {servers: [h:1]}}",
		"a: &x [*x]", "cache: &a {b: [*a]}"} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "gateway.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte("include")) {
			t.Skip()
		}
		c, err := LoadBytes(path, data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			for _, e := range es {
				if e.Pos.Line <= 0 || e.Pos.Col <= 0 || e.Pos.File != path {
					t.Fatalf("error without a position in the file: %q", e)
				}
			}
			return
		}
		out, err := c.Dump()
		if err != nil {
			return // a section too large after alias expansion to dump
		}
		again, err := LoadBytes(path, out)
		if err != nil {
			t.Fatalf("dump of a valid config does not load: %v\n%s", err, out)
		}
		out2, err := again.Dump()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("dump not stable (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
