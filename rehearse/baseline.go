package rehearse

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BaselineConfig describes a capacity search: the offered load on one path
// grows step by step until the error or latency budget breaks.
type BaselineConfig struct {
	Target    string
	OwnTarget bool
	// Paths to measure: the page (GET) and checkout (POST with qty=1, each
	// request as a new user, so per-user limits do not cap the search).
	// Either may be empty to skip it.
	Page, Buy  string
	UserCookie string // "uid"

	Start  float64       // first step's rate, requests per second; 50
	Factor float64       // each step's rate over the last's; 1.5
	Step   time.Duration // length of a step; 3s
	Max    float64       // highest rate tried; 20,000

	ErrorBudget float64       // share of errors a step may have; 0.01
	PageP99     time.Duration // latency budget of the page; 250ms
	BuyP99      time.Duration // latency budget of checkout; 1s
	Timeout     time.Duration // per request; 5s
	// InFlight bounds requests outstanding; past it the step fails (the
	// target is not keeping up). 4096.
	InFlight int
}

func (c BaselineConfig) defaults() BaselineConfig {
	if c.UserCookie == "" {
		c.UserCookie = "uid"
	}
	if c.Start <= 0 {
		c.Start = 50
	}
	if c.Factor <= 1 {
		c.Factor = 1.5
	}
	if c.Step <= 0 {
		c.Step = 3 * time.Second
	}
	if c.Max <= 0 {
		c.Max = 20000
	}
	if c.ErrorBudget <= 0 {
		c.ErrorBudget = 0.01
	}
	if c.PageP99 <= 0 {
		c.PageP99 = 250 * time.Millisecond
	}
	if c.BuyP99 <= 0 {
		c.BuyP99 = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.InFlight <= 0 {
		c.InFlight = 4096
	}
	return c
}

// Baseline is the capacity search's result.
type Baseline struct {
	Steps []BaselineStep `json:"steps"`
	// Page and Buy are the highest rates (requests per second) that kept
	// within the budgets; 0 when even the first step broke them.
	Page float64 `json:"page_rps"`
	Buy  float64 `json:"buy_rps"`
}

// BaselineStep is one rate tried on one path.
type BaselineStep struct {
	Path      string           `json:"path"`
	Method    string           `json:"method"`
	Rate      float64          `json:"rate"`
	Sent      int              `json:"sent"`
	OK        int              `json:"ok"`
	Refused   map[string]int64 `json:"refused"` // by reason: the rules, not the capacity
	Errors    int              `json:"errors"`  // transport errors, 5xx without a reason, dropped
	P99       time.Duration    `json:"p99_ns"`
	Sustained bool             `json:"sustained"`
	Why       string           `json:"why,omitempty"` // why not
}

// RunBaseline searches the capacity of the page and of checkout.
func RunBaseline(ctx context.Context, cfg BaselineConfig, progress io.Writer) (*Baseline, error) {
	cfg = cfg.defaults()
	check := Config{Target: cfg.Target, OwnTarget: cfg.OwnTarget}.Defaults()
	if err := check.Validate(); err != nil {
		return nil, err
	}
	check.Timeout = cfg.Timeout
	t, err := newTarget(&check)
	if err != nil {
		return nil, err
	}
	t.budget = 1 << 62
	b := &Baseline{}
	for _, p := range []struct {
		path, method string
		p99          time.Duration
		best         *float64
	}{{cfg.Page, "GET", cfg.PageP99, &b.Page}, {cfg.Buy, "POST", cfg.BuyP99, &b.Buy}} {
		if p.path == "" {
			continue
		}
		for rate := cfg.Start; rate <= cfg.Max && ctx.Err() == nil; rate *= cfg.Factor {
			st := step(ctx, t, &cfg, p.method, p.path, rate)
			st.judge(cfg.ErrorBudget, p.p99)
			b.Steps = append(b.Steps, st)
			if progress != nil {
				fmt.Fprintf(progress, "baseline: %s %s at %.0f/s: %d sent, %d ok, %d errors, p99 %s: %s\n",
					p.method, p.path, rate, st.Sent, st.OK, st.Errors, ms(st.P99), st.verdict())
			}
			if !st.Sustained {
				break
			}
			*p.best = rate
		}
	}
	return b, ctx.Err()
}

func (s *BaselineStep) judge(budget float64, p99 time.Duration) {
	switch {
	case s.Sent == 0:
		s.Why = "nothing sent"
	case float64(s.Errors) > budget*float64(s.Sent):
		s.Why = fmt.Sprintf("%.1f%% errors, budget %.1f%%", 100*float64(s.Errors)/float64(s.Sent), 100*budget)
	case s.P99 > p99:
		s.Why = fmt.Sprintf("p99 %s over the budget of %s", ms(s.P99), ms(p99))
	default:
		s.Sustained = true
	}
}

func (s *BaselineStep) verdict() string {
	if s.Sustained {
		return "sustained"
	}
	return "broke: " + s.Why
}

// step offers rate requests per second for cfg.Step, open loop: a request
// is sent on schedule whether or not earlier ones have been answered, as a
// crowd does. Each request comes from one of 4096 addresses as a new user.
func step(ctx context.Context, t *target, cfg *BaselineConfig, method, path string, rate float64) BaselineStep {
	st := BaselineStep{Path: path, Method: method, Rate: rate, Refused: map[string]int64{}}
	var mu sync.Mutex
	var lat []time.Duration
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	pool := make(chan *client, 4096)
	for i := 0; i < cap(pool); i++ {
		pool <- t.newClient(sourceAddr(i))
	}
	defer func() {
		for len(pool) > 0 {
			(<-pool).close()
		}
	}()
	n := int(rate * cfg.Step.Seconds())
	start := time.Now()
	seq := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if !wait(ctx, start.Add(time.Duration(float64(i)/rate*float64(time.Second)))) {
			break
		}
		st.Sent++
		if inFlight.Load() >= int64(cfg.InFlight) {
			st.Errors++ // dropped: the target is not keeping up
			continue
		}
		var c *client
		select {
		case c = <-pool:
		default:
			st.Errors++ // every client busy: as dropped
			continue
		}
		seq++
		user := "baseline-" + strconv.FormatFloat(rate, 'f', 0, 64) + "-" + strconv.Itoa(seq)
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			clear(c.jar)
			c.jar[cfg.UserCookie] = user
			var form url.Values
			if method == "POST" {
				form = url.Values{"qty": {"1"}}
			}
			a := c.do(method, path, form)
			pool <- c
			mu.Lock()
			defer mu.Unlock()
			switch {
			case a.err != nil || a.status >= 500 && !a.edge:
				st.Errors++
			case a.status >= 400:
				st.Refused[orStatus(a.reason, a.status)]++
			default:
				st.OK++
			}
			if a.err == nil {
				lat = append(lat, a.latency)
			}
		}()
	}
	wg.Wait()
	_, _, st.P99 = percentiles(lat)
	return st
}

func orStatus(reason string, status int) string {
	if reason != "" {
		return reason
	}
	return "status_" + strconv.Itoa(status)
}

// WriteText writes the search for a terminal.
func (b *Baseline) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%-6s %-16s %8s %7s %7s %7s %9s  %s\n", "method", "path", "rate/s", "sent", "ok", "errors", "p99", "verdict")
	for _, s := range b.Steps {
		fmt.Fprintf(w, "%-6s %-16s %8.0f %7d %7d %7d %9s  %s\n", s.Method, s.Path, s.Rate, s.Sent, s.OK, s.Errors, ms(s.P99), s.verdict())
		for r, n := range s.Refused {
			fmt.Fprintf(w, "%42s refused %d: %s (the rules, not the capacity)\n", "", n, r)
		}
	}
	fmt.Fprintf(w, "\nHighest sustained rate: page %.0f/s, checkout %.0f/s\n", b.Page, b.Buy)
}
