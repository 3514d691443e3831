// Command tlsload opens TLS connections as fast as it can, one full
// handshake each (no session resumption, which wrk always attempts), sends
// one GET with "Connection: close" on each and reads the answer. It prints
// the two lines of wrk's report that bench/paired.sh reads, so a TLS row
// can be loaded by either tool.
//
//	tlsload -c 64 -d 2s https://127.0.0.1:8443/item/1
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	conns := flag.Int("c", 64, "connections open at once")
	d := flag.Duration("d", 2*time.Second, "how long to run")
	mlkem := flag.Bool("mlkem", false, "offer X25519MLKEM768 first, as browsers and Go clients do (default: X25519 only)")
	flag.Parse()
	u, err := url.Parse(flag.Arg(0))
	if err != nil || u.Scheme != "https" {
		fmt.Fprintln(os.Stderr, "usage: tlsload [-c N] [-d DURATION] https://HOST:PORT/PATH")
		os.Exit(2)
	}
	// No ClientSessionCache: every connection is a full handshake.
	// InsecureSkipVerify: the client does not spend CPU verifying the
	// certificate (the server's cost is what is measured).
	// X25519 only by default: nginx with OpenSSL 3.0 has no post-quantum
	// key exchange, so both servers then do the same work; -mlkem measures
	// what a Go server does for today's browsers.
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", CurvePreferences: []tls.CurveID{tls.X25519}}
	if *mlkem {
		cfg.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.X25519}
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")
	var ok, failed atomic.Int64
	stop := time.Now().Add(*d)
	start := time.Now()
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if one(u.Host, cfg, req) {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	fmt.Printf("  %d requests in %.2fs, %d failed\n", ok.Load(), took.Seconds(), failed.Load())
	fmt.Printf("Requests/sec: %.2f\n", float64(ok.Load())/took.Seconds())
}

// one does a handshake and one request on a new connection.
func one(addr string, cfg *tls.Config, req []byte) bool {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == 200
}
