// Package orders is the asynchronous purchase queue: purchases admitted at
// the edge are accepted at once with a ticket, kept in a bounded Queue, and
// delivered to the origin by a Dispatcher at a configured rate and
// concurrency, each with an Idempotency-Key that stays the same across
// redeliveries, so a retried delivery never buys twice at a shop that
// honours the key. The outcome (the origin's status and body, or sold out,
// expired, failed) is kept for a while under the ticket.
//
// Queue is cut to what a shared store does atomically (submit with the
// one-pending-ticket-per-user-and-item rule, take the next job, finish a
// ticket, look one up, drain an item), so the in-memory Memory queue and a
// Redis queue (streams with a consumer group) are interchangeable. Memory
// loses pending orders when the process dies: it says so in its Durable
// method and in the flashgate_orders_durable metric.
//
// The package knows nothing of the proxy's pipeline: it sends jobs through
// a Deliverer the caller implements (the proxy's origin call and admission
// settlement).
package orders
