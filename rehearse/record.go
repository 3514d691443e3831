package rehearse

import (
	"slices"
	"sync"
	"time"
)

// Steps of a shopper's path, the rows of the latency table.
const (
	stepPage  = "page"  // the item page's first answer
	stepQueue = "queue" // from the first page to being let in
	stepQuiz  = "quiz"  // from being asked to holding the pass (solving included)
	stepBuy   = "buy"   // one purchase request
	stepOrder = "order" // an accepted order (202, async routes) until its outcome
)

var steps = []string{stepPage, stepQueue, stepQuiz, stepBuy, stepOrder}

// Classes of an answer on the timeline.
const (
	classOK      = "ok"      // 2xx and 3xx
	classWaiting = "waiting" // in the waiting room (queued, or a status poll still waiting)
	classRefused = "refused" // a deliberate refusal with a reason (4xx, or 503 from a filter)
	classError   = "error"   // a transport error, a timeout, or a 5xx without a reason
)

var classes = []string{classOK, classWaiting, classRefused, classError}

// maxSamples bounds the latencies kept per step (a reservoir beyond it).
const maxSamples = 100_000

// recorder collects everything the report needs. Safe for concurrent use.
type recorder struct {
	mu          sync.Mutex
	start       time.Time
	samples     map[string][]time.Duration
	seen        map[string]int64 // samples offered per step, for the reservoir
	rng         uint64
	reasons     map[string]int64 // refusals by reason
	edge        map[string]int64 // of which answered by the gateway's filters
	unexplained int64            // 4xx/5xx answers with no reason at all
	errors      map[string]int64 // transport errors by kind
	outcomes    map[string]int64 // shoppers by final outcome
	botOutcomes map[string]int64 // bots by final outcome
	botsThrough int64
	admitted    int64
	units       map[string]int64 // units bought per user
	soldOutAt   time.Duration    // first "sold out" answer, since start; 0 = none
	timeline    []second
}

// second is one second of the timeline.
type second struct {
	Answers  map[string]int64 `json:"answers"`          // by class
	Queue    int64            `json:"queue_length"`     // longest line seen
	Stock    int64            `json:"stock_left"`       // -1 = unknown
	Origin   int64            `json:"origin_requests"`  // reached the shop; -1 = unknown
	InFlight int64            `json:"origin_in_flight"` // -1 = unknown
	Arrived  int64            `json:"arrived"`          // shoppers and bots that arrived
	Bought   int64            `json:"units_bought"`     // units sold this second
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, samples: map[string][]time.Duration{}, seen: map[string]int64{},
		rng: 0x9e3779b97f4a7c15, reasons: map[string]int64{}, edge: map[string]int64{}, errors: map[string]int64{},
		outcomes: map[string]int64{}, botOutcomes: map[string]int64{}, units: map[string]int64{}}
}

// sec returns the timeline entry for now, growing it. Caller holds mu.
func (r *recorder) sec(now time.Time) *second {
	i := int(now.Sub(r.start) / time.Second)
	if i < 0 {
		i = 0
	}
	for len(r.timeline) <= i {
		r.timeline = append(r.timeline, second{Answers: map[string]int64{}, Stock: -1, Origin: -1, InFlight: -1})
	}
	return &r.timeline[i]
}

func (r *recorder) latency(step string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[step]++
	s := r.samples[step]
	if len(s) < maxSamples {
		r.samples[step] = append(s, d)
		return
	}
	// Reservoir sampling keeps a uniform sample of every latency offered.
	r.rng ^= r.rng << 13
	r.rng ^= r.rng >> 7
	r.rng ^= r.rng << 17
	if j := r.rng % uint64(r.seen[step]); j < maxSamples {
		s[j] = d
	}
}

// answer files one answer on the timeline and in the refusal counts.
func (r *recorder) answer(a *answer, waiting bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sec(time.Now())
	switch {
	case a.err != nil:
		s.Answers[classError]++
		r.errors[errKind(a.err)]++
	case waiting || a.reason == "queued":
		s.Answers[classWaiting]++
	case a.status < 400:
		s.Answers[classOK]++
	case a.reason == "":
		s.Answers[classError]++
		r.unexplained++
	case a.status >= 500 && !a.edge:
		s.Answers[classError]++
		r.reasons[a.reason]++
	default:
		s.Answers[classRefused]++
		r.reasons[a.reason]++
		if a.edge {
			r.edge[a.reason]++
		}
	}
	if isSoldOut(a) && r.soldOutAt == 0 {
		r.soldOutAt = max(time.Since(r.start), time.Millisecond)
	}
}

func errKind(err error) string {
	if err == errBudget {
		return "budget"
	}
	s := err.Error()
	for _, k := range []string{"timeout", "refused", "reset", "closed"} {
		if containsFold(s, k) {
			return k
		}
	}
	return "other"
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

func (r *recorder) arrived() {
	r.mu.Lock()
	r.sec(time.Now()).Arrived++
	r.mu.Unlock()
}

func (r *recorder) wasAdmitted() {
	r.mu.Lock()
	r.admitted++
	r.mu.Unlock()
}

func (r *recorder) bought(user string, units int64) {
	r.mu.Lock()
	r.units[user] += units
	r.sec(time.Now()).Bought += units
	r.mu.Unlock()
}

func (r *recorder) outcome(o string, bot bool, through bool) {
	r.mu.Lock()
	if bot {
		r.botOutcomes[o]++
		if through {
			r.botsThrough++
		}
	} else {
		r.outcomes[o]++
	}
	r.mu.Unlock()
}

// sample files the once-a-second readings of the shop and the line.
func (r *recorder) sample(now time.Time, stock, origin, inFlight int64) {
	r.mu.Lock()
	s := r.sec(now)
	s.Stock, s.Origin, s.InFlight = stock, origin, inFlight
	r.mu.Unlock()
}

func (r *recorder) queueLength(n int64) {
	r.mu.Lock()
	s := r.sec(time.Now())
	s.Queue = max(s.Queue, n)
	r.mu.Unlock()
}

// percentiles returns p50, p95, p99 of a step's samples.
func percentiles(d []time.Duration) (p50, p95, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.95), at(0.99)
}

// isSoldOut reports an answer that says no unit is left: the shop's or
// the stock gate's sold out, or the gate's cap of attempts reached.
func isSoldOut(a *answer) bool { return a.reason == "sold_out" || a.reason == "stock_exhausted" }
