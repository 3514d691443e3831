package rules

import (
	"strings"
	"testing"
)

func routeNode(t *testing.T, yamlText string) Node {
	t.Helper()
	c, err := LoadBytes("n.yaml", []byte("origins: {o: {servers: [h:1]}}\nroutes:\n"+yamlText))
	if err != nil {
		t.Fatal(err)
	}
	return c.Routes[0].Cache
}

func TestNodeDecodeStrict(t *testing.T) {
	n := routeNode(t, `  - name: r
    path: /r
    origin: o
    cache:
      ttl: 5x
      vary: {a: 1}
      tags: [a, {b: 1}]
      colour: red
      limit: 500/s
`)
	if n.Path() != "routes[0].cache" || n.Pos().Line != 7 || n.IsZero() {
		t.Fatalf("node %q at %v", n.Path(), n.Pos())
	}
	var spec struct {
		TTL   Duration          `yaml:"ttl"`
		Vary  map[string]string `yaml:"vary"`
		Tags  []string          `yaml:"tags"`
		Limit Rate              `yaml:"limit"`
	}
	err := n.Decode(&spec)
	want := strings.Join([]string{
		`n.yaml:7:12: routes[0].cache.ttl: bad duration "5x": want e.g. 250ms, 10s, 5m, 1h`,
		`n.yaml:9:17: routes[0].cache.tags[1]: want a string, got a mapping`,
		`n.yaml:10:7: routes[0].cache.colour: unknown key "colour" (allowed: ttl, vary, tags, limit)`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("Decode error:\n%v\nwant:\n%s", err, want)
	}
	if spec.Limit.N != 500 || spec.Vary["a"] != "1" {
		t.Errorf("valid fields not decoded: %+v", spec)
	}
}

func TestNodeErrorfAndKind(t *testing.T) {
	n := routeNode(t, `  - name: r
    path: /r
    origin: o
    cache: {ttl: 1s, by: [x]}
`)
	if got := n.Errorf("by", "unknown selector %q", "x").Error(); got != `n.yaml:6:22: routes[0].cache.by: unknown selector "x"` {
		t.Errorf("Errorf(by) = %s", got)
	}
	if got := n.Errorf("absent", "missing").Error(); got != `n.yaml:6:12: routes[0].cache.absent: missing` {
		t.Errorf("Errorf(absent) = %s", got)
	}
	if got := n.Errorf("", "bad").Error(); got != `n.yaml:6:12: routes[0].cache: bad` {
		t.Errorf("Errorf('') = %s", got)
	}
	if got := n.Get("by").Index(0).Path(); got != "routes[0].cache.by[0]" {
		t.Errorf("Get/Index path = %s", got)
	}
	var zero Node
	if !zero.IsZero() || zero.Decode(&struct{}{}) != nil {
		t.Error("zero Node must be absent and decode to nothing")
	}
	if _, _, err := n.Kind(); err == nil || !strings.Contains(err.Error(), "one item holds 2 kinds (ttl, by)") {
		t.Errorf("Kind of a two-key map: %v", err)
	}
	kind, spec, err := n.Get("by").Index(0).Kind()
	if err == nil || kind != "" || !spec.IsZero() {
		t.Errorf("Kind of a scalar = %q, %v", kind, err)
	}
}
