package rehearse

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is a rehearsal's outcome. It marshals to the JSON the command's
// -json flag prints.
type Report struct {
	Target   string        `json:"target"`
	Item     string        `json:"item"`
	Started  time.Time     `json:"started"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Partial  bool          `json:"partial"` // cancelled before the end
	Requests int64         `json:"requests"`

	Arrived  int64            `json:"arrived"`  // shoppers and bots
	Shoppers int64            `json:"shoppers"` // of which shoppers
	Bots     int64            `json:"bots"`
	Admitted int64            `json:"admitted"` // shoppers let past the waiting room
	Outcomes map[string]int64 `json:"outcomes"` // shoppers by outcome
	BotKinds map[string]int64 `json:"bot_outcomes"`
	// Refusals counts answers by the reason the gateway or the shop gave
	// (its JSON "error" code); EdgeRefusals those the gateway's filters gave.
	Refusals     map[string]int64 `json:"refusals"`
	EdgeRefusals map[string]int64 `json:"edge_refusals"`
	Unexplained  int64            `json:"unexplained"` // refusals with no reason at all
	Errors       map[string]int64 `json:"errors"`      // transport errors by kind

	Steps map[string]Latency `json:"steps"`

	Origin      *OriginLoad   `json:"origin,omitempty"`  // nil without a probe
	SoldOutAt   time.Duration `json:"sold_out_after_ns"` // 0 = not sold out
	UnitsBought int64         `json:"units_bought"`      // successes the gateway let through
	BotsThrough int64         `json:"bots_through"`
	Inventory   Inventory     `json:"inventory"`
	Checks      []Check       `json:"checks"`
	Timeline    []second      `json:"timeline"`
}

// Latency is one step's distribution.
type Latency struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P95   time.Duration `json:"p95_ns"`
	P99   time.Duration `json:"p99_ns"`
}

// OriginLoad is what reached the shop, per second.
type OriginLoad struct {
	PeakRPS     int64   `json:"peak_rps"`
	MeanRPS     float64 `json:"mean_rps"`
	MaxInFlight int64   `json:"max_in_flight"`
}

// Inventory is the oversell check's input: the units on sale and sold,
// from the shop itself when it could be read, else from the purchases the
// gateway let succeed.
type Inventory struct {
	Source   string `json:"source"` // "shop" or "gateway"
	Stock    int64  `json:"stock"`  // on sale at the start; -1 = unknown
	Sold     int64  `json:"sold"`
	MaxUser  int64  `json:"max_units_one_user"`
	Limit    int    `json:"limit_per_user"`
	Overuser int    `json:"users_over_limit"`
}

// Check is one invariant a sale must keep.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// OK reports whether every check held.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

func (r *run) report(start time.Time, partial bool) *Report {
	rec := r.rec
	shopStock, shopSold := r.inventory(context.Background())
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rep := &Report{
		Target: r.cfg.Target, Item: r.cfg.Item, Started: start, Elapsed: time.Since(start), Partial: partial,
		Requests: min(r.t.sent.Load(), r.t.budget),
		Admitted: rec.admitted, Outcomes: maps.Clone(rec.outcomes), BotKinds: maps.Clone(rec.botOutcomes),
		Refusals: maps.Clone(rec.reasons), EdgeRefusals: maps.Clone(rec.edge), Unexplained: rec.unexplained,
		Errors: maps.Clone(rec.errors), Steps: map[string]Latency{}, SoldOutAt: rec.soldOutAt,
		BotsThrough: rec.botsThrough, Timeline: slices.Clone(rec.timeline),
	}
	for _, n := range rec.outcomes {
		rep.Shoppers += n
	}
	for _, n := range rec.botOutcomes {
		rep.Bots += n
	}
	for _, s := range rec.timeline {
		rep.Arrived += s.Arrived
	}
	for _, st := range steps {
		p50, p95, p99 := percentiles(rec.samples[st])
		rep.Steps[st] = Latency{Count: int(rec.seen[st]), P50: p50, P95: p95, P99: p99}
	}
	rep.Origin = originLoad(rec.timeline)
	inv := Inventory{Source: "gateway", Stock: int64(r.cfg.Stock), Limit: r.cfg.Limit}
	if r.cfg.Stock <= 0 {
		inv.Stock = -1
	}
	for _, u := range rec.units {
		rep.UnitsBought += u
		inv.MaxUser = max(inv.MaxUser, u)
		if u > int64(r.cfg.Limit) {
			inv.Overuser++
		}
	}
	inv.Sold = rep.UnitsBought
	if shopSold >= 0 {
		inv.Source, inv.Sold = "shop", shopSold
		if inv.Stock < 0 {
			inv.Stock = shopSold + shopStock // what was on sale: sold plus left
		}
	}
	rep.Inventory = inv
	rep.Checks = rep.checks()
	return rep
}

func originLoad(tl []second) *OriginLoad {
	var o OriginLoad
	n, sum := 0, int64(0)
	for _, s := range tl {
		if s.Origin >= 0 {
			n++
			sum += s.Origin
			o.PeakRPS = max(o.PeakRPS, s.Origin)
		}
		o.MaxInFlight = max(o.MaxInFlight, s.InFlight)
	}
	if n == 0 {
		return nil
	}
	o.MeanRPS = float64(sum) / float64(n)
	return &o
}

// checks are the invariants of a sale that went right.
func (r *Report) checks() []Check {
	inv := r.Inventory
	var out []Check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if inv.Stock >= 0 {
		add("no oversell", inv.Sold <= inv.Stock, "%d sold of %d on sale (%s's count)", inv.Sold, inv.Stock, inv.Source)
	}
	if inv.Source == "shop" {
		add("gateway and shop agree", r.UnitsBought <= inv.Sold,
			"%d units bought through the gateway, %d sold by the shop", r.UnitsBought, inv.Sold)
	}
	add("every user within the limit", inv.Overuser == 0, "%d users above %d unit(s); the most one user bought: %d",
		inv.Overuser, inv.Limit, inv.MaxUser)
	add("no bot got through", r.BotsThrough == 0, "%d of %d bots bought", r.BotsThrough, r.Bots)
	add("every refusal has a reason", r.Unexplained == 0, "%d refusals without a reason code", r.Unexplained)
	add("every arrival has one outcome", r.Shoppers+r.Bots == r.Arrived,
		"%d arrived; %d shoppers and %d bots ended", r.Arrived, r.Shoppers, r.Bots)
	return out
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	state := "complete"
	if r.Partial {
		state = "PARTIAL (cancelled)"
	}
	p("Rehearsal of item %s at %s: %s, %s, %d requests", r.Item, r.Target, state, r.Elapsed.Round(time.Millisecond), r.Requests)
	p("")
	p("Arrived     %d (%d shoppers, %d bots)", r.Arrived, r.Shoppers, r.Bots)
	p("Admitted    %d shoppers past the waiting room", r.Admitted)
	p("Bought      %d units", r.UnitsBought)
	if r.SoldOutAt > 0 {
		p("Sold out    after %s", r.SoldOutAt.Round(time.Millisecond))
	} else {
		p("Sold out    no")
	}
	if o := r.Origin; o != nil {
		p("Shop load   peak %d req/s, mean %.1f req/s, at most %d in flight", o.PeakRPS, o.MeanRPS, o.MaxInFlight)
	}
	p("")
	p("Shoppers by outcome:")
	writeCounts(w, r.Outcomes)
	if len(r.BotKinds) > 0 {
		p("Bots by kind and outcome:")
		writeCounts(w, r.BotKinds)
	}
	p("Refusals by reason (answers; at the edge in brackets):")
	reasons := map[string]int64{}
	for k, v := range r.Refusals {
		reasons[fmt.Sprintf("%s [%d]", k, r.EdgeRefusals[k])] = v
	}
	writeCounts(w, reasons)
	if len(r.Errors) > 0 {
		p("Transport errors:")
		writeCounts(w, r.Errors)
	}
	p("")
	p("%-8s %8s %10s %10s %10s", "step", "count", "p50", "p95", "p99")
	for _, st := range steps {
		l := r.Steps[st]
		if st == stepOrder && l.Count == 0 {
			continue // the route does not queue purchases
		}
		p("%-8s %8d %10s %10s %10s", st, l.Count, ms(l.P50), ms(l.P95), ms(l.P99))
	}
	p("")
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		p("%s %-32s %s", mark, c.Name, c.Detail)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }

func writeCounts(w io.Writer, m map[string]int64) {
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %-40s %d\n", strings.TrimSpace(k), m[k])
	}
}
