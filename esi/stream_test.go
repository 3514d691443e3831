package esi

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// gateFetcher blocks Fetch of "/slow" until release is closed.
type gateFetcher struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gateFetcher) Fetch(ctx context.Context, req *FragmentRequest) (*Fragment, error) {
	if string(req.Path) != "/slow" {
		return &Fragment{Status: 200, Body: []byte("[" + string(req.Path) + "]")}, nil
	}
	g.once.Do(func() { close(g.started) })
	select {
	case <-g.release:
		return &Fragment{Status: 200, Body: []byte("SLOW")}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// FetchNow serves every path but "/slow" at once, as a cache hit would.
func (g *gateFetcher) FetchNow(req *FragmentRequest) (*Fragment, bool) {
	if string(req.Path) == "/slow" {
		return nil, false
	}
	return &Fragment{Status: 200, Body: []byte("[" + string(req.Path) + "]")}, true
}

// eventWriter records writes and flushes in order; flushed is signalled on
// every Flush.
type eventWriter struct {
	mu      sync.Mutex
	events  []string
	flushed chan string
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, string(p))
	return len(p), nil
}

func (w *eventWriter) Flush() error {
	w.mu.Lock()
	got := strings.Join(w.events, "")
	w.events = append(w.events, "<flush>")
	w.mu.Unlock()
	w.flushed <- got
	return nil
}

func TestSlowFragmentDoesNotDelayHead(t *testing.T) {
	g := &gateFetcher{started: make(chan struct{}), release: make(chan struct{})}
	a, err := NewAssembler(Config{Fetcher: g})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := Parse([]byte(`<head>HEAD</head><esi:include src="/fast"/><esi:include src="/slow"/>TAIL`), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := &eventWriter{flushed: make(chan string, 4)}
	done := make(chan error)
	go func() {
		_, err := a.Assemble(context.Background(), w, tpl, &Page{Host: []byte("h"), Path: []byte("/p")})
		done <- err
	}()
	<-g.started
	// The assembler flushes before it blocks on /slow: at that moment the
	// head and the fast fragment have been written, the slow one has not.
	if got := <-w.flushed; got != "<head>HEAD</head>[/fast]" {
		t.Fatalf("written before the slow fragment arrived = %q, want the head and the fast fragment", got)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{"<head>HEAD</head>", "[/fast]", "<flush>", "SLOW", "TAIL"}
	if strings.Join(w.events, "|") != strings.Join(want, "|") {
		t.Fatalf("events = %q, want %q", w.events, want)
	}
}

// stuckFetcher ignores its context and never returns until the test ends.
type stuckFetcher struct{ unblock chan struct{} }

func (s stuckFetcher) Fetch(context.Context, *FragmentRequest) (*Fragment, error) {
	<-s.unblock
	return &Fragment{Status: 200, Body: []byte("late")}, nil
}

func TestSlowFragmentBoundedByTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		fetcher func() Fetcher // channels must be made inside the synctest bubble
		want    time.Duration
	}{
		{"fetcher honours ctx: FragmentTimeout", func() Fetcher {
			return &gateFetcher{started: make(chan struct{}), release: make(chan struct{})}
		}, 200 * time.Millisecond},
		{"fetcher ignores ctx: PageTimeout", func() Fetcher { return stuckFetcher{make(chan struct{})} }, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fetcher := tt.fetcher()
				a, err := NewAssembler(Config{Fetcher: fetcher, FragmentTimeout: 200 * time.Millisecond, PageTimeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				tpl, _ := Parse([]byte(`a<esi:include src="/slow" onerror="continue"/>b`), ParseOptions{})
				var out bytes.Buffer
				start := time.Now()
				res, err := a.Assemble(context.Background(), &out, tpl, &Page{Path: []byte("/")})
				if took := time.Since(start); took != tt.want {
					t.Errorf("assembly took %v, want %v", took, tt.want)
				}
				if err != nil || out.String() != "ab" || res.Failed != 1 {
					t.Errorf("got %q, %+v, %v; want \"ab\", one failure, no error", out.String(), res, err)
				}
				if s, ok := fetcher.(stuckFetcher); ok {
					close(s.unblock)
				}
			})
		})
	}
}

// userFetcher answers /cart with the cookie the proxy would forward.
type userFetcher struct{}

func (userFetcher) FetchNow(req *FragmentRequest) (*Fragment, bool) {
	return nil, false
}

func (userFetcher) Fetch(_ context.Context, req *FragmentRequest) (*Fragment, error) {
	if string(req.Path) == "/cart" {
		return &Fragment{Status: 200, Body: []byte("cart of " + string(req.Vars.Cookie("uid"))), Personal: true}, nil
	}
	return &Fragment{Status: 200, Body: []byte("price"), MaxAge: time.Minute}, nil
}

func TestPersonalFragmentStaysWithItsUser(t *testing.T) {
	a, err := NewAssembler(Config{Fetcher: userFetcher{}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := Parse([]byte(`<esi:include src="/price"/>|<esi:include src="/cart"/>`), ParseOptions{})
	shared, _ := Parse([]byte(`<esi:include src="/price"/>`), ParseOptions{})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			uid := string(rune('A' + i%26))
			vars := &testVars{cookies: map[string]string{"uid": uid}}
			var out bytes.Buffer
			res, err := a.Assemble(context.Background(), &out, page, &Page{Path: []byte("/item"), Vars: vars})
			if want := "price|cart of " + uid; err != nil || out.String() != want {
				t.Errorf("user %s got %q, %v; want %q", uid, out.String(), err, want)
			}
			if !res.Personal {
				t.Errorf("user %s: page with a per-user fragment not marked Personal", uid)
			}
			out.Reset()
			if res, _ := a.Assemble(context.Background(), &out, shared, &Page{Path: []byte("/item"), Vars: vars}); res.Personal || res.MaxAge != time.Minute {
				t.Errorf("shared page result = %+v, want not personal, MaxAge 1m", res)
			}
		})
	}
	wg.Wait()
}

func TestNewAssemblerErrors(t *testing.T) {
	if _, err := NewAssembler(Config{}); err == nil || err.Error() != "esi: Config.Fetcher is required" {
		t.Errorf("no fetcher: %v", err)
	}
	if _, err := NewAssembler(Config{Fetcher: userFetcher{}, MaxDepth: -1}); err == nil || err.Error() != "esi: Config limits must not be negative" {
		t.Errorf("negative limit: %v", err)
	}
}
