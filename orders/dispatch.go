package orders

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Deliverer is the dispatcher's view of the gateway: how a job reaches
// the origin and how its outcome is settled. Methods are called from the
// dispatcher's workers, concurrently.
type Deliverer interface {
	// Deliver sends j.Req to the origin once, within timeout, and stores
	// the answer in resp. An error means no answer (the attempt may be
	// retried with the same Idempotency-Key).
	Deliver(j *Job, resp *fasthttp.Response, timeout time.Duration) error
	// SoldOut reports whether j's item is known sold out at the edge, so
	// the job is answered without reaching the origin.
	SoldOut(j *Job) bool
	// Settle is called once per job with its final answer (resp is nil
	// when the origin was not reached): the admission filters settle
	// what they reserved and learn sold out from it. It reports whether
	// the answer says the item is sold out; pending jobs of the item are
	// then drained.
	Settle(j *Job, resp *fasthttp.Response) (soldOut bool)
}

// Config is a dispatcher's tunables; a reload may change them (SetConfig).
type Config struct {
	Interval    time.Duration // between delivery starts: 1/rate
	Concurrency int           // deliveries in flight at most
	Timeout     time.Duration // one delivery attempt
	Retries     int           // redeliveries after no answer or 502/503/504
	TTL         time.Duration // a job older than this when taken ends Expired
}

// Dispatcher takes jobs off a Queue and delivers them: at most
// Concurrency at once, starting at most one every Interval (attempts and
// retries alike), so the origin never sees more than the configured rate
// and concurrency. Create with NewDispatcher; Start runs it until Stop.
type Dispatcher struct {
	q       Queue
	d       Deliverer
	m       *Metrics
	cfg     atomic.Pointer[Config]
	now     func() time.Time
	pace    sync.Mutex
	next    time.Time // the next delivery slot
	ctx     context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	running int          // workers started and not told to exit
	busy    atomic.Int64 // jobs taken and not finished (InFlight)
}

// NewDispatcher returns a dispatcher of q through d. now is the clock of
// pacing and ttl (nil: time.Now); m may be nil.
func NewDispatcher(q Queue, d Deliverer, cfg Config, m *Metrics, now func() time.Time) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	ctx, stop := context.WithCancel(context.Background())
	ds := &Dispatcher{q: q, d: d, m: m, now: now, ctx: ctx, stop: stop}
	ds.cfg.Store(&cfg)
	return ds
}

// Start starts the workers.
func (ds *Dispatcher) Start() { ds.SetConfig(*ds.cfg.Load()) }

// SetConfig applies new tunables; more concurrency starts workers at once,
// less lets the extra ones finish their delivery and exit.
func (ds *Dispatcher) SetConfig(cfg Config) {
	ds.cfg.Store(&cfg)
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for ds.running < cfg.Concurrency {
		i := ds.running
		ds.running++
		ds.wg.Add(1)
		go ds.work(i)
	}
	ds.running = min(ds.running, cfg.Concurrency)
}

// Stop stops taking jobs and waits for deliveries in flight to finish.
// Jobs still queued stay queued (in a Memory queue they are then lost
// with the process).
func (ds *Dispatcher) Stop() {
	ds.stop()
	ds.wg.Wait()
}

func (ds *Dispatcher) work(i int) {
	defer ds.wg.Done()
	for {
		if i >= ds.cfg.Load().Concurrency {
			return
		}
		j, err := ds.q.Next(ds.ctx)
		if err != nil {
			return
		}
		ds.handle(j)
	}
}

// handle brings one job to its outcome.
func (ds *Dispatcher) handle(j *Job) {
	ds.busy.Add(1)
	defer ds.busy.Add(-1)
	cfg := ds.cfg.Load()
	now := ds.now()
	waited := time.Duration(now.UnixNano() - j.Accepted)
	switch {
	case waited > cfg.TTL:
		ds.finish(j, nil, Result{Outcome: Expired, Status: fasthttp.StatusGatewayTimeout,
			ContentType: "application/json", Body: expiredBody})
		return
	case ds.d.SoldOut(j):
		ds.finish(j, nil, soldOutResult)
		return
	}
	ds.m.observeWait(waited)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	attempts, answered := 0, false
	for attempts <= cfg.Retries {
		if !ds.waitSlot(cfg.Interval, cfg.Concurrency) {
			break // stopping: the job is settled as failed below
		}
		attempts++
		resp.Reset()
		err := ds.d.Deliver(j, resp, cfg.Timeout)
		if err == nil && !retryable(resp.StatusCode()) {
			answered = true
			break
		}
		if attempts <= cfg.Retries {
			ds.m.retried()
		}
	}
	if !answered {
		ds.finish(j, nil, Result{Outcome: Failed, Status: fasthttp.StatusBadGateway, ContentType: "application/json",
			Body: failedBody, Attempts: attempts})
		return
	}
	r := Result{Outcome: Delivered, Status: resp.StatusCode(), ContentType: string(resp.Header.ContentType()),
		Body: append([]byte(nil), resp.Body()...), Attempts: attempts}
	ds.finish(j, resp, r)
}

// finish settles j, records its outcome, and drains its item when the
// answer says sold out.
func (ds *Dispatcher) finish(j *Job, resp *fasthttp.Response, r Result) {
	soldOut := ds.d.Settle(j, resp)
	ds.q.Finish(j, r, ds.now().UnixNano())
	ds.m.finished(r)
	if soldOut || r.Outcome == SoldOut {
		for _, dj := range ds.q.DrainItem(j.Item) {
			ds.d.Settle(dj, nil)
			ds.q.Finish(dj, soldOutResult, ds.now().UnixNano())
			ds.m.finished(soldOutResult)
		}
	}
}

// waitSlot waits for the next delivery slot: slots are interval apart,
// whichever worker takes them, so deliveries start at most at the rate.
// Each worker holds at most one slot ahead, so a next slot further than
// concurrency intervals away was set under a slower rate (a reload raised
// it): it starts again from now.
func (ds *Dispatcher) waitSlot(interval time.Duration, concurrency int) bool {
	ds.pace.Lock()
	now := ds.now()
	slot := ds.next
	if slot.Before(now) || slot.Sub(now) > time.Duration(concurrency)*interval {
		slot = now
	}
	ds.next = slot.Add(interval)
	ds.pace.Unlock()
	if d := slot.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ds.ctx.Done():
			return false
		}
	}
	return true
}

// retryable statuses mean the origin (or a proxy before it) did not take
// the order in: the delivery is tried again, with the same key.
func retryable(status int) bool {
	return status == fasthttp.StatusBadGateway || status == fasthttp.StatusServiceUnavailable ||
		status == fasthttp.StatusGatewayTimeout
}

var (
	expiredBody   = []byte(`{"error":"expired","message":"Your order waited too long and was not placed. Nothing was bought."}`)
	failedBody    = []byte(`{"error":"not_delivered","message":"The shop did not answer. If your order went through, the shop will show it; if not, nothing was bought."}`)
	soldOutResult = Result{Outcome: SoldOut, Status: fasthttp.StatusGone, ContentType: "application/json",
		Body: []byte(`{"error":"sold_out","message":"This item is sold out."}`)}
)
