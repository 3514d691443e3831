// Package hotspot finds hot keys (the one item everybody hammers, a heavy
// buyer, a noisy client) in fixed memory whatever the key cardinality.
//
// Recording a request (Detector.Observe) is a sampled, lock-free,
// allocation-free write into a ring of fixed slots; a separate goroutine
// (Detector.Run) drains the ring into a count-min sketch per short time
// bucket (conservative update) and keeps the heaviest keys in a small
// candidate table. The sliding window is the sum of the buckets. A key is
// hot when its estimated rate passes a configured rate or share of its
// kind's traffic; the hot set is published atomically (Detector.IsHot is a
// load and a map lookup) and every change is logged and counted.
//
// The sampler (ring.go), the sketch (sketch.go) and the top-K table
// (topk.go) are separate types that meet only through uint64 hashes.
package hotspot
