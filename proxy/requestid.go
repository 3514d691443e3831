package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// idGenerator makes request ids of the form "<16 hex random>-<counter in
// base 36>": unique within the process (the counter) and across processes
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
	return strconv.AppendUint(dst, g.n.Add(1), 36)
}
