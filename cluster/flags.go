package cluster

import (
	"strconv"
	"strings"
	"sync"
)

// maxCachedFlags bounds the flag cache: sold-out marks are per item, and a
// sale has far fewer items. Beyond it flags are read from Redis each time.
const maxCachedFlags = 1 << 16

// flagCache holds the flags this instance knows are set, each until its
// expiry, so that reading a set flag (an item sold out) costs no round
// trip. It is filled by reads that found a flag set and by pub/sub
// announcements, emptied on every (re)subscription (announcements may have
// been missed, so the keys are read again) and by Forget announcements.
// Safe for concurrent use; reads take a read lock only.
type flagCache struct {
	mu sync.RWMutex
	m  map[uint64]int64 // key → expiry, unix nanos
}

func (c *flagCache) init() { c.m = map[uint64]int64{} }

func (c *flagCache) has(key uint64, now int64) bool {
	c.mu.RLock()
	exp, ok := c.m[key]
	c.mu.RUnlock()
	return ok && exp > now
}

func (c *flagCache) set(key uint64, expires int64) {
	c.mu.Lock()
	if _, ok := c.m[key]; ok || len(c.m) < maxCachedFlags {
		c.m[key] = expires
	}
	c.mu.Unlock()
}

func (c *flagCache) forget(key uint64) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *flagCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// announcement applies a message of the flags channel: "+hex:ttlms" (set)
// or "-hex" (forgotten). now is the receiver's clock: the ttl is relative.
func (c *flagCache) announcement(msg string, now int64) {
	if len(msg) < 2 {
		return
	}
	body := msg[1:]
	hexKey, ttl, _ := strings.Cut(body, ":")
	key, err := strconv.ParseUint(hexKey, 16, 64)
	if err != nil {
		return
	}
	if msg[0] == '-' {
		c.forget(key)
		return
	}
	ms, err := strconv.ParseInt(ttl, 10, 64)
	if msg[0] == '+' && err == nil && ms > 0 {
		c.set(key, now+ms*1e6)
	}
}
