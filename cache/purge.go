package cache

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// PurgeKind selects what a Purge removes.
type PurgeKind uint8

const (
	// PurgeURL removes every entry of one host+path: all query strings,
	// variants and personal copies.
	PurgeURL PurgeKind = iota + 1
	// PurgePrefix removes entries whose host+path starts with a prefix.
	PurgePrefix
	// PurgeTag removes entries carrying a tag (Surrogate-Key, Cache-Tag,
	// Edge-Cache-Tag or a rule tag).
	PurgeTag
	// PurgeAll removes everything.
	PurgeAll
)

// Purge describes one purge. Host and Path form the URL or prefix
// ("shop.example/item/"); Host is matched case-insensitively.
type Purge struct {
	Kind PurgeKind
	Host string
	Path string
	Tag  string
	// Soft marks entries stale instead of removing them, so that
	// stale_while_revalidate keeps shielding the origin while they refresh.
	Soft bool
}

// Purge applies p and returns how many entries it touched; prefix and all
// purges are lazy (checked on lookup) and return 0.
func (c *Cache) Purge(p Purge) int {
	c.m.purges.Inc()
	now := c.nowNanos()
	var n int
	switch p.Kind {
	case PurgeURL:
		n = c.purgeTag(c.urlTag(urlOf(p.Host, p.Path)), p.Soft, now)
	case PurgeTag:
		n = c.purgeTag(c.hash([]byte(p.Tag)), p.Soft, now)
	case PurgePrefix:
		c.bans.add(ban{prefix: urlOf(p.Host, p.Path), at: now, soft: p.Soft}, now)
	case PurgeAll:
		c.bans.add(ban{at: now, soft: p.Soft}, now)
	}
	bumpGeneration() // after the purge took effect: see Generation
	c.m.purged.Add(n)
	return n
}

func urlOf(host, path string) []byte {
	return append(appendHost(nil, []byte(host), nil), path...)
}

func (c *Cache) purgeTag(tag uint64, soft bool, now int64) int {
	es := c.tags.entries(tag)
	for _, e := range es {
		if soft {
			e.markStale(now)
		} else {
			c.store.del(e.hash)
		}
	}
	return len(es)
}

// markStale ends freshness at now (never extends it).
func (e *Entry) markStale(now int64) {
	for {
		fu := e.freshUntil.Load()
		if fu <= now || e.freshUntil.CompareAndSwap(fu, now) {
			return
		}
	}
}

// urlTag is the internal tag every entry carries for exact-URL purges; the
// NUL prefix keeps it apart from any tag an origin can send.
func (c *Cache) urlTag(url []byte) uint64 {
	return c.hash(append([]byte("\x00url\x00"), url...))
}

// maxTagsPerEntry bounds the tags one response can add to the index.
const maxTagsPerEntry = 32

// tagIndex maps tag hashes to the entries carrying them. Entries are added
// before they are offered to the store and removed in the store's OnExit
// (eviction, rejection, deletion, replacement), so the index holds at most
// what the store holds; maxRefs is a hard guard on top (each reference is
// also charged in the entry's cost).
type tagIndex struct {
	mu      sync.Mutex
	m       map[uint64]map[uint64]*Entry // tag → key hash → entry
	refs    int
	maxRefs int
}

func (t *tagIndex) init(maxBytes int64) {
	t.m = make(map[uint64]map[uint64]*Entry)
	t.maxRefs = int(maxBytes/tagRefCost) + 1024
}

// add indexes e under its tags; false if the index is full.
func (t *tagIndex) add(e *Entry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refs+len(e.tags) > t.maxRefs {
		return false
	}
	for _, tag := range e.tags {
		byKey := t.m[tag]
		if byKey == nil {
			byKey = make(map[uint64]*Entry, 1)
			t.m[tag] = byKey
		}
		if _, ok := byKey[e.hash]; !ok {
			t.refs++
		}
		byKey[e.hash] = e
	}
	return true
}

// remove drops e's references unless a newer entry of the same key took them.
func (t *tagIndex) remove(e *Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tag := range e.tags {
		byKey := t.m[tag]
		if byKey[e.hash] != e {
			continue
		}
		delete(byKey, e.hash)
		t.refs--
		if len(byKey) == 0 {
			delete(t.m, tag)
		}
	}
}

func (t *tagIndex) entries(tag uint64) []*Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Entry, 0, len(t.m[tag]))
	for _, e := range t.m[tag] {
		out = append(out, e)
	}
	return out
}

// onExit is the store's OnExit: called when an entry leaves the store.
func (c *Cache) onExit(e *Entry) {
	if e != nil && e.kind == kindObject {
		c.objects.Add(-1)
		c.tags.remove(e)
	}
}

// ban is a lazy purge of everything under a prefix stored before at.
type ban struct {
	prefix []byte
	at     int64
	soft   bool
}

// maxBans bounds the ban list; a purge that would exceed it becomes a
// purge of everything (one ban), which is always correct, only wider.
const maxBans = 1024

// banList is copy-on-write: lookups load it without locking. Bans older
// than the longest physical lifetime of any stored entry match nothing and
// are dropped.
type banList struct {
	mu          sync.Mutex
	list        atomic.Pointer[[]ban]
	maxLifetime atomic.Int64 // longest physical lifetime stored, nanos
}

func (b *banList) add(n ban, now int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next []ban
	if cur := b.list.Load(); cur != nil {
		horizon := now - b.maxLifetime.Load()
		for _, x := range *cur {
			if x.at >= horizon {
				next = append(next, x)
			}
		}
	}
	if len(next) >= maxBans {
		next = next[:0]
		n.prefix = nil
	}
	next = append(next, n)
	b.list.Store(&next)
}

func (b *banList) noteLifetime(physical int64) {
	for {
		cur := b.maxLifetime.Load()
		if physical <= cur || b.maxLifetime.CompareAndSwap(cur, physical) {
			return
		}
	}
}

// banned reports whether a hard ban removes e; a matching soft ban marks
// e stale as of the ban instead.
func (b *banList) banned(e *Entry) bool {
	p := b.list.Load()
	if p == nil {
		return false
	}
	for i := range *p {
		x := &(*p)[i]
		if e.insertedAt < x.at && bytes.HasPrefix(e.url, x.prefix) {
			if !x.soft {
				return true
			}
			e.markStale(x.at)
		}
	}
	return false
}
