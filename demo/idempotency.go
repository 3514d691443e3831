package demo

import (
	"sync"

	"github.com/valyala/fasthttp"
)

// maxIdempotencyKeys bounds the answers the shop remembers by
// Idempotency-Key; the oldest is forgotten first.
const maxIdempotencyKeys = 1 << 17

// maxIdempotencyKeyLen bounds a key; a longer one is refused (400).
const maxIdempotencyKeyLen = 128

// idempotency remembers the first answer to each (user, Idempotency-Key)
// of a purchase or payment, so a retried request (the gateway redelivering
// after a timeout, a client resending) gets that answer again and buys
// nothing more. A retry that arrives while the first is still being served
// waits for it. Safe for concurrent use; bounded by max keys (FIFO).
type idempotency struct {
	mu    sync.Mutex
	byKey map[string]*idemEntry
	order []string // keys in insertion order, a ring of len max
	head  int
	max   int
}

type idemEntry struct {
	done chan struct{} // closed when resp is set
	resp fasthttp.Response
}

func newIdempotency(max int) *idempotency {
	return &idempotency{byKey: map[string]*idemEntry{}, order: make([]string, 0, 64), max: max}
}

// serve runs h for ctx unless this user's Idempotency-Key was seen, in
// which case the first answer is written again (with Idempotent-Replayed:
// true). Requests without the header are served as they are.
func (m *idempotency) serve(ctx *fasthttp.RequestCtx, user []byte, h func()) {
	key := ctx.Request.Header.Peek("Idempotency-Key")
	if len(key) == 0 {
		h()
		return
	}
	if len(key) > maxIdempotencyKeyLen {
		ctx.Response.Header.Set("Cache-Control", "no-store")
		writeError(ctx, fasthttp.StatusBadRequest, "bad_idempotency_key")
		return
	}
	k := string(user) + "\x00" + string(ctx.Path()) + "\x00" + string(key)
	e, first := m.claim(k)
	if !first {
		<-e.done
		e.resp.CopyTo(&ctx.Response)
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
		return
	}
	h()
	ctx.Response.CopyTo(&e.resp)
	close(e.done)
}

// claim returns the entry of k and whether this call created it.
func (m *idempotency) claim(k string) (*idemEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[k]; ok {
		return e, false
	}
	e := &idemEntry{done: make(chan struct{})}
	m.byKey[k] = e
	if len(m.order) < m.max {
		m.order = append(m.order, k)
	} else {
		delete(m.byKey, m.order[m.head])
		m.order[m.head] = k
		m.head = (m.head + 1) % m.max
	}
	return e, true
}
