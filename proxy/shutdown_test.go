package proxy

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestGracefulShutdown: requests in flight complete, new connections are
// refused, Shutdown returns nil.
func TestGracefulShutdown(t *testing.T) {
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	origin := startOrigin(t, func(ctx *fasthttp.RequestCtx) {
		arrived <- struct{}{}
		<-release
		ctx.SetBodyString("done")
	})
	s, err := New(Options{Config: testConfig(origin, testRoute(t, "item", "/item/{id}", "shop"))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	results := make(chan string, 2)
	for range 2 {
		go func() {
			status, body, err := fasthttp.GetTimeout(nil, "http://"+addr+"/item/1", 10*time.Second)
			if err != nil {
				results <- err.Error()
				return
			}
			results <- strconv.Itoa(status) + " " + string(body)
		}()
	}
	<-arrived
	<-arrived

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()

	// The listener closes at once; until it does a dial may still succeed,
	// so try until refused (bounded, no sleeping).
	refused := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Fatal("new connections still accepted during shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the requests in flight finished", err)
	default:
	}

	close(release)
	for range 2 {
		if got := <-results; got != "200 done" {
			t.Errorf("in-flight request ended with %q, want 200 done", got)
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

// TestShutdownBounded: Shutdown gives up at shutdown_timeout and says why.
func TestShutdownBounded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	arrived := make(chan struct{})
	origin := startOrigin(t, func(ctx *fasthttp.RequestCtx) { close(arrived); <-release })
	cfg := testConfig(origin, testRoute(t, "item", "/item/{id}", "shop"))
	cfg.Server.ShutdownTimeout = 200 * time.Millisecond
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(ln) //nolint:errcheck
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /item/1 HTTP/1.1\r\nHost: x\r\n\r\n"))
	<-arrived
	err = s.Shutdown(context.Background())
	if err == nil || err.Error() != "shutdown: requests still in flight after 200ms: context deadline exceeded" {
		t.Errorf("Shutdown = %v, want the in-flight timeout error", err)
	}
}
