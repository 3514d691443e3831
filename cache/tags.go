package cache

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// maxTagLen bounds one tag; longer ones are ignored (an origin bug, or an
// attempt to grow the index).
const maxTagLen = 256

// ruleTags renders the policy's tag templates with the route parameters
// and hashes them. Called in the request goroutine, where params are valid.
func ruleTags(c *Cache, p *Policy, params Params) []uint64 {
	if len(p.tags) == 0 {
		return nil
	}
	out := make([]uint64, 0, len(p.tags))
	var buf []byte
	for _, t := range p.tags {
		buf = t.appendTag(buf[:0], params)
		if len(buf) > 0 && len(buf) <= maxTagLen {
			out = append(out, c.hash(buf))
		}
	}
	return out
}

// entryTags is the set of tag hashes an entry is indexed under: the
// internal URL tag, the rule's tags and the origin's Surrogate-Key
// (space-separated), Cache-Tag and Edge-Cache-Tag (comma-separated), at
// most maxTagsPerEntry. The tag headers themselves are passed downstream.
func (c *Cache) entryTags(h *fasthttp.ResponseHeader, rtags []uint64, url []byte) []uint64 {
	tags := append(make([]uint64, 0, 1+len(rtags)), c.urlTag(url))
	tags = append(tags, rtags...)
	add := func(t []byte) {
		t = bytes.TrimSpace(t)
		if len(t) > 0 && len(t) <= maxTagLen && len(tags) < maxTagsPerEntry {
			tags = append(tags, c.hash(t))
		}
	}
	for _, v := range h.PeekAll("Surrogate-Key") {
		for _, t := range bytes.Fields(v) {
			add(t)
		}
	}
	for _, name := range []string{"Cache-Tag", "Edge-Cache-Tag"} {
		for _, v := range h.PeekAll(name) {
			for _, t := range bytes.Split(v, []byte(",")) {
				add(t)
			}
		}
	}
	return dedupe(tags)
}

func dedupe(tags []uint64) []uint64 {
	out := tags[:0]
	for _, t := range tags {
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup {
			out = append(out, t)
		}
	}
	return out
}
