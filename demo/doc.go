// Package demo is an embedded demo shop: a small origin that behaves like a
// real flash-sale backend, so that flashgate runs out of the box and its
// tests have a realistic origin to protect.
//
// The shop serves a cacheable catalogue, item pages written as ESI shells
// (static description plus <esi:include> holes for price, stock and the
// user's cart), cacheable price and stock fragments, a per-user cart
// fragment that must never be cached (the price is essential to the page;
// the stock box, the cart and the user box are included with
// onerror="continue", so a slow one leaves a hole instead of failing the
// page), a purchase endpoint whose inventory
// never oversells, and a few endpoints for demos (a slow page, a health
// check, a long-lived static stylesheet, a JSON item API).
//
// Every response carries the headers a real shop would send to a CDN
// (Cache-Control with s-maxage, Surrogate-Key tags, ETag and Last-Modified
// on pages), so that the gateway's cache and ESI stages can be exercised
// against it. The package imports no other flashgate package: only
// cmd/flashgate wires it in front of the gateway.
package demo
