// Package flashgate is the root of the flashgate module, an edge gateway
// for flash sales. It holds no code: the gateway is cmd/flashgate and the
// packages under it (see README.md and DESIGN.md). The tests in this
// directory guard properties of the whole module: the one-way import graph
// (deps_test.go), package documentation (docs_test.go) and the shipped
// gateway.yaml (gateway_test.go).
package flashgate
