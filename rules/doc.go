// Package rules loads flashgate's YAML rule files into a validated Config.
//
// Loading is strict and reports every problem at once: unknown keys, wrong
// types, bad units, references to missing origins, duplicate or clashing
// routes, each as "file:line:col: key.path: message" naming the allowed
// values. The main file may include further files by glob (one file per
// sale, say); those hold only origins and routes.
//
// Sections owned by other packages (the cache, admission, a route's cache
// policy, ESI settings and filters) are kept as Nodes, which those packages
// decode with the same strictness and positions.
//
// Watcher tells when any rule file may have changed, so the caller can
// reload; Config.Digest tells whether anything actually did.
package rules
