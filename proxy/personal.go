package proxy

import "flashgate/cache"

// markPersonal marks x's answer so that no shared cache (a CDN in front)
// stores it when it is one person's: it sets a cookie (the origin's, or a
// filter's such as a queue pass), or it answers a request the cache
// passed by as personal (a session cookie, Authorization). The origin's
// Cache-Control may say public, max-age=60 for the page in general; the
// gateway knows this copy is personal. How is top-level cache.personal
// (cache.PersonalMode); it allocates nothing once x.scratch has grown.
func markPersonal(x *Exchange) {
	h := &x.Ctx.Response.Header
	if x.personal || cache.HasSetCookie(h) {
		x.scratch = cache.MarkPersonal(h, x.Snap.personal, x.scratch)
	}
}
