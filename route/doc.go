// Package route is flashgate's one path-pattern parser and matcher. The same
// code runs in `flashgate -check` (through package rules) and on every
// request, so a pattern that validates is exactly a pattern that matches.
//
// A request path goes through two steps:
//
//  1. Normalize turns the raw request path into the canonical form an origin
//     reads, so that spellings such as "/buy//1", "/buy/%31" or "/x/../buy/1"
//     cannot dodge the filters configured for "/buy/1". Paths that have no
//     safe canonical form (encoded slashes, NUL, ".." above the root) are
//     rejected and should be answered with 400.
//  2. Table.Match finds the most specific route for (host, method, path)
//     and captures its path parameters into a fixed-size Params, without
//     allocating.
//
// Patterns are slash-separated segments: a literal ("item"), a parameter
// that matches one non-empty segment ("{id}"), a parameter with a fixed
// value that matches as the literal does and captures it ("{id=7}"), or, as
// the last segment only, a catch-all that matches zero or more remaining
// segments ("*", or "{rest...}" to capture them). A trailing slash is
// insignificant: the pattern "/a/" is "/a", and the path "/buy/1/" matches
// "/buy/{id}". Decimal literals and fixed values match their number however
// many leading zeros the request adds ("/buy/{id=7}" takes "/buy/007" and
// binds id = "7"), as origins that parse ids as numbers read them.
package route
