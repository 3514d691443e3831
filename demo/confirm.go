package demo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Confirm tells a gateway that holds an order's units (the stock gate's
// mode reserve) that the order was paid or cancelled: a form POST of
// order, outcome (paid|cancelled) and sig to URL, where sig is hex
// HMAC-SHA-256 under Secret of "<outcome> <order>" — the shop's side of
// the protocol docs/admission.md describes.
type Confirm struct {
	URL    string // e.g. http://127.0.0.1:8080/_flashgate/hold/buy
	Secret []byte
}

// confirmer sends Confirm posts. A nil confirmer sends nothing.
type confirmer struct {
	c      Confirm
	client *fasthttp.Client
}

func newConfirmer(c *Confirm) *confirmer {
	if c == nil || c.URL == "" {
		return nil
	}
	return &confirmer{c: *c, client: &fasthttp.Client{ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		MaxIdemponentCallAttempts: 1}}
}

// send posts one confirmation and reports whether the gateway took it.
// It is called before the buyer is answered, so the unit of a cancelled
// order is back on sale by the time the buyer sees "cancelled". A gateway
// that does not answer is not retried: its hold ends with its window.
func (c *confirmer) send(order int64, paid bool) bool {
	if c == nil {
		return false
	}
	outcome := "cancelled"
	if paid {
		outcome = "paid"
	}
	id := strconv.FormatInt(order, 10)
	m := hmac.New(sha256.New, c.c.Secret)
	m.Write([]byte(outcome + " " + id))
	form := url.Values{"order": {id}, "outcome": {outcome}, "sig": {hex.EncodeToString(m.Sum(nil))}}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(c.c.URL)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString(form.Encode())
	return c.client.DoTimeout(req, resp, 2*time.Second) == nil && resp.StatusCode() == 200
}
