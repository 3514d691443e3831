package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// Every answer carries X-Request-Id, and so does the request sent to the
// origin: the same id on both, so an operator can follow one request from
// the client's report to the origin's log. A gateway rejection carries one
// too, for the support desk.

// idGenerator makes request ids of the form "<16 hex random>-<counter in
// base 32>": unique within the process (the counter) and across processes
// and restarts (the random prefix), without a syscall or lock per request.
// The zero value is not usable; use newIDGenerator. Safe for concurrent use.
type idGenerator struct {
	prefix [17]byte // 16 hex chars + '-'
	n      atomic.Uint64
}

func newIDGenerator() *idGenerator {
	var raw [8]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms (Go 1.24+)
	g := &idGenerator{}
	hex.Encode(g.prefix[:16], raw[:])
	g.prefix[16] = '-'
	return g
}

// Append appends a new id to dst and returns the extended slice. It
// allocates only if dst lacks capacity (ids are at most 30 bytes).
func (g *idGenerator) Append(dst []byte) []byte {
	dst = append(dst, g.prefix[:]...)
	return appendBase32(dst, g.n.Add(1))
}

// appendBase32 appends n in base 32 with strconv's digits ("0"-"9",
// "a"-"v"), as strconv.AppendUint(dst, n, 32) does but in a third of its
// instructions: every request makes an id.
func appendBase32(dst []byte, n uint64) []byte {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	var buf [13]byte // 64 bits in 5-bit digits
	i := len(buf)
	for {
		i--
		buf[i] = digits[n&31]
		n >>= 5
		if n == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// keyRequestID is X-Request-Id in fasthttp's canonical form, for
// PeekCanonical and SetCanonical: the string-keyed Peek and SetBytesV copy
// and re-normalise the name on every call, which measured as a sixth of
// an edge rejection's instructions.
var keyRequestID = []byte(hdrRequestID)

// resolveRequestID sets x.RequestID: the incoming X-Request-Id when the peer
// is trusted and the value is well-formed (so one id follows a request from
// the CDN to the origin), else a freshly generated one. The header is only
// looked up for a trusted peer: anyone else's is replaced anyway.
func resolveRequestID(x *Exchange, gen *idGenerator) {
	if x.peerTrusted {
		if v := x.Ctx.Request.Header.PeekCanonical(keyRequestID); validRequestID(v) {
			x.RequestID = append(x.RequestID[:0], v...)
			return
		}
	}
	x.RequestID = gen.Append(x.RequestID[:0])
}

// validRequestID accepts 1..128 bytes of [A-Za-z0-9._:-], which covers
// UUIDs, W3C trace ids and CDN ray ids, and keeps log lines and headers
// injection-free.
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
