package proxy

import "flashgate/orders"

// OrderQueue is one async route's purchase queue now (docs/orders.md),
// for the admin API and dashboard.
type OrderQueue struct {
	Route string `json:"route"`
	// Durable: the queue is in Redis and survives the process; in memory
	// pending orders are lost if it dies.
	Durable bool `json:"durable"`
	// Waiting: tickets queued and not yet taken (with cluster: across
	// every instance). InDelivery: taken by this instance and not
	// finished. The outcome counts are this instance's since it started.
	Waiting    int `json:"waiting"`
	InDelivery int `json:"in_delivery"`
	orders.Counts
	// What the serving rules configure: the queue's limit (a restart
	// applies a new one), the delivery rate and concurrency (per instance).
	Limit       int    `json:"limit"`
	Rate        string `json:"rate"`
	Concurrency int    `json:"concurrency"`
}

// OrderQueues lists the purchase queues of the serving rules' async
// routes, in route table order; empty without one.
func (s *Server) OrderQueues() []OrderQueue {
	out := []OrderQueue{}
	for _, rt := range s.current.Load().routes {
		aq := rt.Async
		if aq == nil {
			continue
		}
		spec := aq.live.Load().spec
		out = append(out, OrderQueue{Route: aq.name, Durable: aq.q.Durable(), Waiting: aq.q.Len(),
			InDelivery: aq.ds.InFlight(), Counts: aq.m.Counts(), Limit: aq.queue,
			Rate: spec.Rate.String(), Concurrency: spec.Concurrency})
	}
	return out
}
