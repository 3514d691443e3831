package rehearse

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// run is one rehearsal in progress.
type run struct {
	cfg      Config
	t        *target
	rec      *recorder
	leaked   chan map[string]string // cookies of shoppers who bought, for replay bots
	borrowed chan map[string]string // fresh passes, for borrowing bots
	live     liveCounts
}

// liveCounts are what the progress line shows while it runs.
type liveCounts struct {
	arrived, waiting, admitted, bought, errors atomic.Int64
	stockLeft                                  atomic.Int64 // -1 = unknown
}

// Run rehearses the sale described by cfg and returns its report. It ends
// when every arrival has finished, cfg.Duration has passed, the request
// budget is spent or ctx is cancelled (the report then says Partial).
// progress, when non-nil, gets a status line as it runs: rewritten in place
// when tty, else a plain line every two seconds.
func Run(ctx context.Context, cfg Config, progress io.Writer, tty bool) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := newTarget(&cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r := &run{cfg: cfg, t: t, rec: newRecorder(start),
		leaked: make(chan map[string]string, 256), borrowed: make(chan map[string]string, 256)}
	r.live.stockLeft.Store(-1)

	bounded, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	var sampling sync.WaitGroup
	sampling.Add(1)
	go func() { defer sampling.Done(); r.sampleEverySecond(bounded) }()
	var showing sync.WaitGroup
	if progress != nil {
		showing.Add(1)
		go func() { defer showing.Done(); r.showProgress(bounded, progress, tty) }()
	}

	var crowd sync.WaitGroup
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	bots := 0
	for i := 0; i < cfg.Shoppers; i++ {
		if !wait(bounded, start.Add(arrivalAt(cfg.Profile, i, cfg.Shoppers))) {
			break
		}
		isBot := rng.Float64() < cfg.Bots
		kind := ""
		if isBot {
			kind = botKinds[bots%len(botKinds)]
			bots++
		}
		r.rec.arrived()
		r.live.arrived.Add(1)
		crowd.Add(1)
		go func(id int) {
			defer crowd.Done()
			if isBot {
				o, through := r.bot(bounded, id, kind)
				r.rec.outcome(o, true, through)
				return
			}
			o := r.shopper(bounded, id)
			if o == outError {
				r.live.errors.Add(1)
			}
			r.rec.outcome(o, false, false)
		}(i)
	}
	crowd.Wait()
	stop()
	sampling.Wait()
	showing.Wait()
	rep := r.report(start, ctx.Err() != nil)
	if progress != nil && tty {
		io.WriteString(progress, "\n")
	}
	return rep, nil
}

// arrivalAt is when the i-th of n arrivals comes, after the start.
func arrivalAt(p Profile, i, n int) time.Duration {
	x := float64(i) / float64(n)
	switch p.Shape {
	case "ramp": // density grows linearly to its peak at the end
		x = math.Sqrt(x)
	case "spike": // half arrive in the first eighth
		x = x * x * x
	}
	return time.Duration(x * float64(p.Over))
}

// wait sleeps until at, or returns false when ctx ends first.
func wait(ctx context.Context, at time.Time) bool { return sleep(ctx, time.Until(at)) }

// sleep sleeps for d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sampleEverySecond reads the probe and the shop's inventory once a second
// for the timeline.
func (r *run) sampleEverySecond(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastReqs int64 = -1
	for {
		now := time.Now()
		origin, inFlight := int64(-1), int64(-1)
		if r.cfg.Probe != nil {
			if reqs, inf, ok := r.cfg.Probe.Sample(ctx); ok {
				if lastReqs >= 0 {
					origin = max(0, reqs-lastReqs)
				}
				lastReqs, inFlight = reqs, inf
			}
		}
		stock, _ := r.inventory(ctx)
		if stock >= 0 {
			r.live.stockLeft.Store(stock)
		}
		r.rec.sample(now, stock, origin, inFlight)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// inventory reads the shop's own count of the item: stock left and units
// sold, or -1s without Config.Shop.
func (r *run) inventory(ctx context.Context) (stock, sold int64) {
	if r.cfg.Shop == "" {
		return -1, -1
	}
	req, err := http.NewRequestWithContext(ctx, "GET", r.cfg.Shop+"/api/items/"+r.cfg.Item, nil)
	if err != nil {
		return -1, -1
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	var it struct {
		Stock *int64 `json:"stock"`
		Sold  *int64 `json:"sold"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&it) != nil || it.Stock == nil {
		return -1, -1
	}
	sold = -1
	if it.Sold != nil {
		sold = *it.Sold
	}
	return *it.Stock, sold
}
