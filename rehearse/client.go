package rehearse

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// errBudget is returned once the rehearsal's request budget is spent.
var errBudget = errors.New("request budget spent")

// target is what every client of one rehearsal shares: where the gateway
// is, and the budget of requests.
type target struct {
	addr     string // host:port
	host     string // Host header
	tls      bool
	loopback bool
	timeout  time.Duration
	sent     atomic.Int64
	budget   int64
}

func newTarget(c *Config) (*target, error) {
	u, err := url.Parse(c.Target)
	if err != nil {
		return nil, err
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return &target{addr: addr, host: u.Host, tls: u.Scheme == "https", loopback: isLoopback(u.Hostname()),
		timeout: c.Timeout, budget: c.MaxRequests}, nil
}

// sourceAddr is the n-th client's own loopback address: 127.1.0.1 onwards,
// so per-address limits and queue places see one client per shopper.
func sourceAddr(n int) net.IP {
	n++ // 127.1.0.0 is a fine address, but skip it to keep .0 out of logs
	return net.IPv4(127, byte(1+n>>16), byte(n>>8), byte(n))
}

// client is one simulated browser or app: its own connection from its own
// address, and a cookie jar.
type client struct {
	t    *target
	hc   *fasthttp.HostClient
	ip   net.IP
	jar  map[string]string
	json bool // sends Accept: application/json (an app, or a page's script)
}

func (t *target) newClient(src net.IP) *client {
	c := &client{t: t, ip: src, jar: map[string]string{}, json: true}
	dialer := &net.Dialer{Timeout: t.timeout}
	if t.loopback && src != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: src}
	}
	c.hc = &fasthttp.HostClient{
		Addr:                      t.addr,
		IsTLS:                     t.tls,
		TLSConfig:                 &tls.Config{ServerName: hostOnly(t.host), InsecureSkipVerify: t.loopback},
		Dial:                      func(addr string) (net.Conn, error) { return dialer.Dial("tcp", addr) },
		MaxConns:                  1,
		MaxIdemponentCallAttempts: 1, // people retry; the transport must not do it for them
		ReadTimeout:               t.timeout,
		WriteTimeout:              t.timeout,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
	}
	return c
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// close drops the client's idle connection.
func (c *client) close() { c.hc.CloseIdleConnections() }

// answer is what one request got back, with what the crowd reads from it.
type answer struct {
	status  int
	edge    bool   // answered by the gateway's admission (X-Flashgate-Filter), not the shop
	reason  string // the JSON body's "error", or "" (a success, or a body without one)
	body    map[string]any
	retry   time.Duration // Retry-After
	latency time.Duration
	err     error // transport error or timeout: status is 0
}

// do sends one request and reads the answer into a. form, when non-nil,
// is sent as an urlencoded body.
func (c *client) do(method, path string, form url.Values) answer {
	if c.t.sent.Add(1) > c.t.budget {
		return answer{err: errBudget}
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(path)
	req.Header.SetHost(c.t.host)
	req.Header.SetMethod(method)
	if c.json {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
	}
	req.Header.Set("User-Agent", "flashgate-rehearse/1")
	for k, v := range c.jar {
		req.Header.SetCookie(k, v)
	}
	if form != nil {
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(form.Encode())
	}
	start := time.Now()
	err := c.hc.DoTimeout(req, resp, c.t.timeout)
	a := answer{latency: time.Since(start)}
	if err != nil {
		a.err = err
		return a
	}
	a.status = resp.StatusCode()
	a.edge = len(resp.Header.Peek("X-Flashgate-Filter")) > 0
	if s, err := strconv.Atoi(string(resp.Header.Peek("Retry-After"))); err == nil && s >= 0 {
		a.retry = time.Duration(s) * time.Second
	}
	resp.Header.VisitAllCookie(func(key, value []byte) {
		var ck fasthttp.Cookie
		if ck.ParseBytes(value) != nil {
			return
		}
		if ck.MaxAge() < 0 || len(ck.Value()) == 0 {
			delete(c.jar, string(key))
			return
		}
		c.jar[string(key)] = string(ck.Value())
	})
	if body := resp.Body(); len(body) > 0 && body[0] == '{' {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			a.body = m
			a.reason, _ = m["error"].(string)
		}
	}
	return a
}

// str and num read a field of a JSON answer.
func (a *answer) str(k string) string { s, _ := a.body[k].(string); return s }

func (a *answer) num(k string) (float64, bool) { f, ok := a.body[k].(float64); return f, ok }
