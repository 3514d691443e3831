package proxy

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// fakeAdmission rejects requests carrying X-Reject and observes the rest.
type fakeAdmission struct{ observed []int }

func (f *fakeAdmission) Admit(x *Exchange) bool {
	if len(x.Ctx.Request.Header.Peek("X-Reject")) > 0 {
		x.Ctx.Response.SetStatusCode(429)
		x.Ctx.Response.SetBodyString("slow down")
		return false
	}
	x.Observe = true
	return true
}

func (f *fakeAdmission) Observe(x *Exchange) {
	f.observed = append(f.observed, x.Ctx.Response.StatusCode())
}

// fakeCache serves "cached" for /item/hit and otherwise fetches the
// outbound request on another goroutine, as a coalescing leader would.
type fakeCache struct{ keys []string }

// ServeFresh never answers: every request takes Serve, which records it.
func (c *fakeCache) ServeFresh(*Exchange, []byte) bool { return false }

func (c *fakeCache) Serve(x *Exchange, fetch FetchFunc) error {
	out := x.Outbound()
	c.keys = append(c.keys, string(out.Header.Host())+string(out.Header.RequestURI()))
	if bytes.Equal(x.Path, []byte("/item/hit")) {
		x.Ctx.Response.SetBodyString("cached")
		return nil
	}
	var resp fasthttp.Response
	req := &fasthttp.Request{}
	out.CopyTo(req)
	done := make(chan error)
	go func() { done <- fetch(req, &resp) }()
	if err := <-done; err != nil {
		return err
	}
	resp.CopyTo(&x.Ctx.Response)
	return nil
}

// fakeESI upper-cases "esi" in bodies.
type fakeESI struct{}

func (fakeESI) Assemble(x *Exchange) error {
	b := bytes.ReplaceAll(x.Ctx.Response.Body(), []byte("esi"), []byte("ESI"))
	x.Ctx.Response.SetBody(b)
	if bytes.Contains(b, []byte("broken")) {
		return errors.New("fragment failed")
	}
	return nil
}

func TestStageSeams(t *testing.T) {
	rec := &recorder{}
	cfg := testConfig(startOrigin(t, rec.handle), testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Origins = append(cfg.Origins, cfgOrigin("down", deadAddr(t)))
	cfg.Routes = append(cfg.Routes, testRoute(t, "down", "/down/{id}", "down"))
	cfg.Origins[0].HostRewrite = "origin.internal"
	g := newGateway(t, cfg, Options{})
	adm, cache := &fakeAdmission{}, &fakeCache{}
	for _, rt := range g.Snapshot().Routes() {
		rt.Admission, rt.Cache, rt.ESI = adm, cache, fakeESI{}
	}

	if resp := g.do(t, "GET", "/item/1", nil, "X-Reject", "1"); resp.StatusCode() != 429 || rec.count() != 0 {
		t.Fatalf("rejected request: %d %q, origin calls %d; want 429 at the edge", resp.StatusCode(), resp.Body(), rec.count())
	}
	if resp := g.do(t, "GET", "/item/hit", nil); string(resp.Body()) != "cached" || rec.count() != 0 {
		t.Errorf("cache hit: %q, origin calls %d", resp.Body(), rec.count())
	}
	if resp := g.do(t, "POST", "/item/.//esi", []byte("esi page")); string(resp.Body()) != "ESI page" || rec.count() != 1 {
		t.Errorf("miss through the cache and ESI: %q, origin calls %d", resp.Body(), rec.count())
	}
	if resp := g.do(t, "POST", "/item/x", []byte("broken esi")); string(resp.Body()) != "broken ESI" {
		t.Errorf("failed assembly: %q, want the assembler's fallback body", resp.Body())
	}
	if resp := g.do(t, "GET", "/down/1", nil); resp.StatusCode() != 502 {
		t.Errorf("origin down behind the cache: %d, want 502", resp.StatusCode())
	}
	if want := []int{200, 200, 200, 502}; !slices.Equal(adm.observed, want) {
		t.Errorf("observed statuses %v, want %v: Observe runs once per admitted request, failures included", adm.observed, want)
	}
	if want := "origin.internal/item/esi"; len(cache.keys) < 2 || cache.keys[1] != want {
		t.Errorf("cache keys %q; want the outbound host and normalised path %q", cache.keys, want)
	}
	if m := g.metricsText(); !bytes.Contains([]byte(m), []byte("flashgate_esi_errors_total 1")) {
		t.Errorf("ESI error not counted:\n%s", grep(m, "esi"))
	}
}

func cfgOrigin(name, addr string) *rules.Origin {
	return &rules.Origin{Name: name, Servers: []string{addr}}
}
