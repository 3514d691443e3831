package demo

import "github.com/valyala/fasthttp"

// Cache policies of the static pages: CDNs and the gateway keep them
// longer (s-maxage) than browsers (max-age), so a purge at the edge takes
// effect quickly for everyone.
const (
	catalogueCacheControl = "public, s-maxage=30, max-age=5"
	itemCacheControl      = "public, s-maxage=60, max-age=10"
	// The item shell is an ESI template: the surrogate (the gateway) must
	// assemble it, and may keep it for 60s. RFC-style list per the Edge
	// Architecture Specification 1.0.
	itemSurrogateControl = `content="ESI/1.0", max-age=60`
	cssCacheControl      = "public, max-age=31536000, immutable"
)

func (s *Shop) serveCatalogue(ctx *fasthttp.RequestCtx) {
	if !readOnly(ctx) {
		return
	}
	// An ESI shell: the header's user box is the /frag/user fragment.
	ctx.Response.Header.Set("Surrogate-Control", itemSurrogateControl)
	s.servePage(ctx, &s.pages.catalogue, "text/html; charset=utf-8", catalogueCacheControl, "catalogue")
}

func (s *Shop) serveItem(ctx *fasthttp.RequestCtx, id int) {
	if !readOnly(ctx) {
		return
	}
	ctx.Response.Header.Set("Surrogate-Control", itemSurrogateControl)
	s.servePage(ctx, &s.pages.items[id], "text/html; charset=utf-8", itemCacheControl, s.pages.keys[id].item)
}

func (s *Shop) serveCSS(ctx *fasthttp.RequestCtx) {
	if !readOnly(ctx) {
		return
	}
	s.servePage(ctx, &s.pages.css, "text/css; charset=utf-8", cssCacheControl, "static")
}
