// Package filters is flashgate's admission stage: the small, named checks
// that answer most of a flash sale's traffic at the edge so that only what
// the shop can serve reaches it.
//
// A route's filters are compiled once per rule load into a Chain (Compile).
// Per request the proxy fills a Request and calls Chain.Check, which runs the
// filters in order; the first one that rejects ends the request with a
// Rejection that was rendered at compile time, so rejecting allocates
// nothing. Filters that must see the origin's answer (purchase limit, stock
// gate) implement Observer and are called through Chain.Observe.
//
// State that must outlive a reload (limiter buckets, purchase counts,
// sold-out flags) lives in a Store, under keys derived from the route, the
// filter kind and a fingerprint of only the settings that give the state its
// meaning (StateID), so that a reload which leaves a filter's meaning alone
// leaves its state alone. Process-local state (stock numbers, list files) is
// kept in the Env under the same StateID.
//
// The stage order (window → blocklist → limits → quiz → queue → purchase
// limit → stock gate) is one table in stages.go; a route that lists its
// filters out of that order is a compile error (see Compile). A refusal
// that asks the client to come back (a question, the line) gives way to a
// final one a later filter would give (Peeker, lookahead.go).
//
// Every page a person sees (the refusals, the waiting room, the question
// page) is an html/template of templates/ (PageData has the fields), which
// the rules' pages sections replace per gateway or per route
// (page_templates.go); refusals are executed at compile time and cut where
// the request's numbers go (page_render.go).
package filters
