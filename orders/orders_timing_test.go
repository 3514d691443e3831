package orders

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkMemorySubmit: queuing one purchase (ticket, ring, indexes),
// the queue emptied every 10,000 with the timer stopped.
func BenchmarkMemorySubmit(b *testing.B) {
	q := NewMemory(10000, int64(time.Minute))
	req := &fasthttp.Request{}
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		if q.Len() == 10000 {
			b.StopTimer()
			for q.Len() > 0 {
				j, _ := q.Next(context.Background())
				q.Finish(j, Result{Outcome: Delivered}, int64(i))
			}
			b.StartTimer()
		}
		if _, _, _, err := q.Submit(&Job{Item: "7", Dedupe: i, Req: req}, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// nopDeliverer answers every delivery 200 at once.
type nopDeliverer struct{}

func (nopDeliverer) Deliver(_ *Job, resp *fasthttp.Response, _ time.Duration) error {
	resp.SetStatusCode(200)
	return nil
}
func (nopDeliverer) SoldOut(*Job) bool                    { return false }
func (nopDeliverer) Settle(*Job, *fasthttp.Response) bool { return false }

// BenchmarkDispatcherRate delivers 2,000 queued jobs at a configured
// 4,000/s to an origin that answers at once, in real time, and reports
// the rate achieved and its ratio to the configured one (at most 1: the
// pacing never goes over; below 1 is the dispatcher's own overhead and
// the machine's timer slack).
func BenchmarkDispatcherRate(b *testing.B) {
	const jobs, rate = 2000, 4000
	for b.Loop() {
		q := NewMemory(jobs, int64(time.Minute))
		req := &fasthttp.Request{}
		for i := range jobs {
			if _, _, _, err := q.Submit(&Job{Item: "7", Dedupe: uint64(i + 1), Req: req, Accepted: time.Now().UnixNano()}, 0); err != nil {
				b.Fatal(err)
			}
		}
		ds := NewDispatcher(q, nopDeliverer{}, Config{Interval: time.Second / rate, Concurrency: 8, Timeout: time.Second, TTL: time.Hour}, nil, nil)
		start := time.Now()
		ds.Start()
		for q.Len() > 0 {
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		ds.Stop()
		got := float64(jobs) / elapsed.Seconds()
		b.ReportMetric(got, "deliveries/s")
		b.ReportMetric(got/rate, "of-configured")
	}
}
