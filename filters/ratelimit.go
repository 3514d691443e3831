package filters

import (
	"sort"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/cluster"
	"flashgate/rules"
)

// rateLimitSpec is the "ratelimit" filter's spec:
//
//	ratelimit:
//	  rate: 5/s                  # sustained rate
//	  burst: 10                  # requests that may arrive at once (default 1)
//	  scope: key                 # key (per client, default) | global | value
//	  key: cookie:uid            # identity for scope key (see IdentitySpec)
//	  param: id                  # route parameter for scope value
//	  values: {"42": 50/s}       # per-value rates for scope value
//	  when_tag: {high: {rate: 1/m}}  # stricter limits for tagged clients
//	  dry_run: true              # count would-be rejections, reject nothing
//	  group: buy                 # routes naming one group share the buckets
//
// In any span of the rate's period (one second for 5/s) at most
// rate + burst requests of one key are admitted: GCRA has no window edges
// (cluster.Limit).
type rateLimitSpec struct {
	Rate    rules.Rate            `yaml:"rate"`
	Burst   int                   `yaml:"burst"`
	Scope   string                `yaml:"scope"`
	Param   string                `yaml:"param"`
	Values  map[string]rules.Rate `yaml:"values"`
	WhenTag map[string]tagLimit   `yaml:"when_tag"`
	DryRun  bool                  `yaml:"dry_run"`
	Group   string                `yaml:"group"`
	Key     rules.Node            `yaml:"key"`
}

type tagLimit struct {
	Rate  rules.Rate `yaml:"rate"`
	Burst int        `yaml:"burst"`
}

// gcra is one compiled limit in the store's terms.
type gcra struct {
	emission, burst int64 // nanos: cluster.Limit Emission and Tolerance
}

// rateLimit is the GCRA limiter filter. Immutable after compile; its
// buckets live in the Store under StateID keys, so they survive reloads
// that keep scope, identity and param (retuning the rate keeps them too).
type rateLimit struct {
	store   Store
	scope   byte // 'g' global, 'k' key, 'v' value
	id      *Identity
	param   string
	prefix  uint64
	base    gcra
	values  map[string]gcra
	tags    []taggedLimit // strictest first
	dryRun  bool
	dryRuns *metrics.Counter
	// untracked counts requests admitted because the store was too full to
	// keep their bucket: a rate limit fails open (refusing would turn a
	// full store into an outage for every new client), visibly.
	untracked *metrics.Counter
	reject    *Rejection
}

type taggedLimit struct {
	bit uint8
	gcra
}

var _ Filter = (*rateLimit)(nil)

const maxBurst = 1 << 20

func newRateLimit(b *Build) (Filter, error) {
	var spec rateLimitSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	f := &rateLimit{store: b.Store(), param: spec.Param, dryRun: spec.DryRun}
	var err error
	if f.base, err = b.gcra(spec.Rate, spec.Burst, "rate"); err != nil {
		return nil, err
	}
	switch spec.Scope {
	case "", "key":
		f.scope = 'k'
		if f.id, err = b.Identity(spec.Key); err != nil {
			return nil, err
		}
	case "global":
		f.scope = 'g'
	case "value":
		f.scope = 'v'
		if f.param == "" {
			return nil, b.Errorf("param", "scope value needs the route parameter to limit per value, e.g. param: id")
		}
	default:
		return nil, b.Errorf("scope", "unknown scope %q (known: key, global, value)", spec.Scope)
	}
	if len(spec.Values) > 0 && f.scope != 'v' {
		return nil, b.Errorf("values", "per-value rates need scope: value")
	}
	f.values = make(map[string]gcra, len(spec.Values))
	for v, rate := range spec.Values {
		if f.values[itemName(v)], err = b.gcra(rate, spec.Burst, "values."+v); err != nil {
			return nil, err
		}
	}
	if f.tags, err = b.tagLimits(spec.WhenTag); err != nil {
		return nil, err
	}
	who := ""
	if f.id != nil {
		who = f.id.String()
	}
	f.prefix = b.GroupStateID(spec.Group, string(f.scope), who, spec.Param).Key()
	if f.reject, err = b.Reject(RejectSpec{Reason: "rate_limited", Status: 429, Title: "Too many requests",
		Message: "You are sending requests faster than this sale allows. Please wait a moment and try again.",
		Value:   "retry_after", RetryAfterValue: true}); err != nil {
		return nil, err
	}
	f.dryRuns = b.Env.Metrics.GetOrCreateCounter(`flashgate_filter_dry_run_rejections_total{route=` +
		quoteLabel(b.Route) + `,filter="ratelimit",reason="rate_limited"}`)
	f.untracked = b.Env.Metrics.GetOrCreateCounter(`flashgate_filter_untracked_total{route=` +
		quoteLabel(b.Route) + `,filter="ratelimit"}`)
	return f, nil
}

// gcra converts a rate and burst into the store's nanosecond terms.
func (b *Build) gcra(r rules.Rate, burst int, key string) (gcra, error) {
	if r.N <= 0 || r.Per <= 0 {
		return gcra{}, b.Errorf(key, "needs a rate like 10/s")
	}
	if burst == 0 {
		burst = 1
	}
	if burst < 1 || burst > maxBurst {
		return gcra{}, b.Errorf("burst", "must be within 1..%d, got %d", maxBurst, burst)
	}
	l := cluster.Limit{Rate: r.N, Per: r.Per, Burst: burst}
	if l.Emission() <= 0 {
		return gcra{}, b.Errorf(key, "rate %d per %s is above one per nanosecond", r.N, r.Per)
	}
	return gcra{emission: l.Emission(), burst: l.Tolerance()}, nil
}

func (b *Build) tagLimits(when map[string]tagLimit) ([]taggedLimit, error) {
	var out []taggedLimit
	for name, tl := range when {
		g, err := b.gcra(tl.Rate, tl.Burst, "when_tag."+name+".rate")
		if err != nil {
			return nil, err
		}
		bit, err := b.Env.TagBit(name)
		if err != nil {
			return nil, b.Errorf("when_tag."+name, "%v", err)
		}
		out = append(out, taggedLimit{bit: bit, gcra: g})
	}
	// A client with several tags gets the strictest of their limits.
	sort.Slice(out, func(i, j int) bool { return out[i].emission > out[j].emission })
	return out, nil
}

// Check takes one request from the key's bucket. A key the store cannot
// track is admitted as if idle and counted in untracked.
func (f *rateLimit) Check(r *Request) Verdict {
	key, lim := f.prefix, f.base
	switch f.scope {
	case 'k':
		k, _ := r.Key(f.id)
		key = Mix(key, k)
	case 'v':
		v := r.Item(f.param)
		key = Mix(key, HashBytes(v))
		if o, ok := f.values[string(v)]; ok {
			lim = o
		}
	}
	for _, t := range f.tags {
		if r.Tags.Has(t.bit) {
			lim = t.gcra
			break
		}
	}
	ok, wait, tracked := f.store.Allow(key, r.Now, lim.emission, lim.burst, 1)
	if !tracked {
		f.untracked.Inc()
	}
	if ok {
		return Continue
	}
	if f.dryRun {
		f.dryRuns.Inc()
		return Continue
	}
	return f.reject.With((wait + 1e9 - 1) / 1e9)
}
