package esi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestReadyHoldsUntilThePageCannotFail: with Page.Ready, nothing of a
// page whose include can fail it leaves before that include is in (the
// assembler's flush before it waits sends nothing); a page whose
// remaining includes all have a fallback is ready before it waits, and
// streams. A failure before Ready writes nothing and never calls Ready.
func TestReadyHoldsUntilThePageCannotFail(t *testing.T) {
	tests := []struct {
		name, page  string
		release     bool   // let /slow answer
		beforeWait  string // written when the assembler first waits for /slow
		wantEvents  string
		wantFailure bool
	}{
		{"fatal include pending: head held", `HEAD<esi:include src="/fast"/><esi:include src="/slow"/>TAIL`, true,
			"", "<flush>|<ready>|HEAD[/fast]SLOW|TAIL", false},
		{"fatal include failed: nothing written", `HEAD<esi:include src="/fast"/><esi:include src="/slow"/>TAIL`, false,
			"", "<flush>", true},
		{"only fallbacks pending: streams", `HEAD<esi:include src="/fast"/><esi:include src="/slow" onerror="continue"/>TAIL`, true,
			"<ready>HEAD[/fast]", "<ready>|HEAD[/fast]|<flush>|SLOW|TAIL", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gateFetcher{started: make(chan struct{}), release: make(chan struct{})}
			a, err := NewAssembler(Config{Fetcher: g})
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := Parse([]byte(tt.page), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w := &eventWriter{flushed: make(chan string, 4)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			page := &Page{Host: []byte("h"), Path: []byte("/p"), Ready: func() { w.Write([]byte("<ready>")) }}
			done := make(chan error)
			go func() {
				_, err := a.Assemble(ctx, w, tpl, page)
				done <- err
			}()
			<-g.started
			if got := <-w.flushed; got != tt.beforeWait {
				t.Fatalf("written when the assembler waits for /slow: %q, want %q", got, tt.beforeWait)
			}
			if tt.release {
				close(g.release)
			} else {
				cancel()
			}
			err = <-done
			if tt.wantFailure != (err != nil) {
				t.Fatalf("Assemble error %v, want failure %v", err, tt.wantFailure)
			}
			if got := strings.Join(w.events, "|"); got != tt.wantEvents {
				t.Fatalf("events %q, want %q", got, tt.wantEvents)
			}
		})
	}
}

// TestReadyContinueOnError: with ContinueOnError no include can fail the
// page, so it is ready before its first byte; without, the failing page
// writes nothing.
func TestReadyContinueOnError(t *testing.T) {
	tpl, _ := Parse([]byte(`HEAD<esi:include src="/missing"/>TAIL`), ParseOptions{})
	f := &memFetcher{frags: map[string]*fixture{}}
	for _, cont := range []bool{false, true} {
		a, _ := NewAssembler(Config{Fetcher: f, ContinueOnError: cont})
		w := &eventWriter{flushed: make(chan string, 4)}
		_, err := a.Assemble(context.Background(), w, tpl, &Page{Path: []byte("/p"), Ready: func() { w.Write([]byte("<ready>")) }})
		var ie *IncludeError
		got := strings.Join(w.events, "|")
		switch {
		case !cont && (!errors.As(err, &ie) || got != ""):
			t.Errorf("failing page: %q, %v; want nothing written and an *IncludeError", got, err)
		case cont && (err != nil || got != "<ready>|HEAD|TAIL"):
			t.Errorf("ContinueOnError: %q, %v; want ready first, then HEAD and TAIL", got, err)
		}
	}
}

// TestReadyWithoutMarkup: a page without ESI markup is ready before its
// bytes too, so that a streaming caller waiting for Ready never waits on
// a writer nobody reads yet.
func TestReadyWithoutMarkup(t *testing.T) {
	tpl, _ := Parse([]byte("plain page"), ParseOptions{})
	a, _ := NewAssembler(Config{Fetcher: emptyFetcher{}})
	w := &eventWriter{flushed: make(chan string, 1)}
	if _, err := a.Assemble(context.Background(), w, tpl, &Page{Ready: func() { w.Write([]byte("<ready>")) }}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.events, "|"); got != "<ready>|plain page" {
		t.Fatalf("events %q, want ready before the page", got)
	}
}
