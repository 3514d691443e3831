package hotspot

import (
	"context"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Options configures a Detector. Zero fields get the defaults below.
type Options struct {
	Window  time.Duration // sliding window the rates are measured over; 1s
	Buckets int           // buckets the window is cut into; 10
	// SampleEvery records one request in this many (at random); 1 records
	// all. Rates are scaled back up.
	SampleEvery int
	// Rate: a key is hot at this many requests per second or more (0: no
	// rate threshold).
	Rate float64
	// Share: a key is hot when it has this fraction of its kind's traffic
	// or more (0: no share threshold), once the kind has MinSamples
	// samples in the window.
	Share      float64
	MinSamples int // 20
	// TopK is how many candidate keys are tracked (and so the most that
	// can be hot at once); 64.
	TopK  int
	Width int // sketch counters per row; 4096
	Ring  int // sample slots between two drains; 8192
	// Static keys are hot from the start and never cool.
	Static []StaticKey
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics receives flashgate_hotspot_* metrics; nil keeps them private.
	Metrics *metrics.Set
}

// StaticKey is a key an operator declared hot.
type StaticKey struct {
	Kind Kind
	Key  string
}

// HotKey is a key in the hot set.
type HotKey struct {
	Kind   Kind      `json:"kind"`
	Key    string    `json:"key"`
	Rate   float64   `json:"rate"`  // requests per second over the window (estimated)
	Share  float64   `json:"share"` // fraction of its kind's requests over the window
	Since  time.Time `json:"since"` // when it turned hot
	Static bool      `json:"static"`
}

// hotSet is one published hot set: immutable.
type hotSet struct {
	byHash map[uint64]struct{}
	keys   []HotKey
}

// Detector finds hot keys. Observe, IsHot and HotKeys are safe for
// concurrent use; Step (or the Run loop calling it) runs on one goroutine.
type Detector struct {
	o      Options
	seed   maphash.Seed
	sample uint32
	ring   *ring
	sk     *sketch
	top    *topK
	totals [][kinds]uint64 // per bucket, samples per kind
	static map[uint64]HotKey
	bucket time.Duration
	start  time.Time // when the current bucket began
	pub    atomic.Pointer[hotSet]
	log    *slog.Logger

	mHot     [kinds]*metrics.Counter // flashgate_hotspot_turned_hot_total{kind}
	mCool    [kinds]*metrics.Counter // flashgate_hotspot_cooled_total{kind}
	mLost    *metrics.Counter        // flashgate_hotspot_samples_lost_total
	mHotNow  *metrics.Gauge          // flashgate_hotspot_hot_keys
	mSampled *metrics.Counter        // flashgate_hotspot_samples_total
}

// New returns a Detector; start its analysis with Run.
func New(o Options) *Detector {
	o.Window = orDur(o.Window, time.Second)
	o.Buckets = orInt(o.Buckets, 10)
	o.SampleEvery = orInt(o.SampleEvery, 1)
	o.MinSamples = orInt(o.MinSamples, 20)
	o.TopK = orInt(o.TopK, 64)
	o.Width = orInt(o.Width, 4096)
	o.Ring = orInt(o.Ring, 8192)
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Detector{
		o: o, seed: maphash.MakeSeed(), sample: uint32(o.SampleEvery),
		ring: newRing(o.Ring), sk: newSketch(o.Buckets, o.Width), top: newTopK(o.TopK),
		totals: make([][kinds]uint64, o.Buckets), bucket: o.Window / time.Duration(o.Buckets),
		start: o.Now(), log: o.Logger, static: map[uint64]HotKey{},
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	set := o.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	for k := range kinds {
		d.mHot[k] = set.GetOrCreateCounter(`flashgate_hotspot_turned_hot_total{kind="` + k.String() + `"}`)
		d.mCool[k] = set.GetOrCreateCounter(`flashgate_hotspot_cooled_total{kind="` + k.String() + `"}`)
	}
	d.mLost = set.GetOrCreateCounter("flashgate_hotspot_samples_lost_total")
	d.mSampled = set.GetOrCreateCounter("flashgate_hotspot_samples_total")
	// A plain gauge set on publish, not a callback: a detector that
	// replaces this one (changed settings) registers the same name and
	// must take it over.
	d.mHotNow = set.GetOrCreateGauge("flashgate_hotspot_hot_keys", nil)
	for _, s := range o.Static {
		k := HotKey{Kind: s.Kind, Key: s.Key, Static: true, Since: d.start}
		d.static[d.Hash(s.Kind, []byte(s.Key))] = k
	}
	d.publish(d.start)
	return d
}

// Hash returns the key's identity, as Observe and IsHot compute it.
func (d *Detector) Hash(k Kind, key []byte) uint64 {
	return maphash.Bytes(d.seed, key) ^ (uint64(k)+1)*0x9e3779b97f4a7c15
}

// Observe records one request for key (sampled). Lock-free,
// allocation-free; key is copied (at most its first 64 bytes).
func (d *Detector) Observe(k Kind, key []byte) {
	if d.sample > 1 && rand.Uint32N(d.sample) != 0 {
		return
	}
	d.ring.put(k, d.Hash(k, key), key)
}

// ObserveHash is Observe for a key whose Hash the caller already has.
func (d *Detector) ObserveHash(k Kind, h uint64, key []byte) {
	if d.sample > 1 && rand.Uint32N(d.sample) != 0 {
		return
	}
	d.ring.put(k, h, key)
}

// IsHot reports whether the key with hash h is in the hot set.
func (d *Detector) IsHot(h uint64) bool {
	_, ok := d.pub.Load().byHash[h]
	return ok
}

// Any reports whether anything is hot (a cheap test before hashing).
func (d *Detector) Any() bool { return len(d.pub.Load().byHash) > 0 }

// HotKeys returns the hot set, hottest first. The slice must not be
// modified.
func (d *Detector) HotKeys() []HotKey { return d.pub.Load().keys }

// MemoryBytes is the detector's fixed memory: sketch, candidates, ring.
func (d *Detector) MemoryBytes() int {
	return d.sk.bytes() + d.top.bytes() + len(d.ring.slots)*int(unsafeSizeofSlot)
}

// Run drains samples and updates the hot set every tick (a tenth of a
// bucket, at least a millisecond) until ctx ends.
func (d *Detector) Run(ctx context.Context) {
	t := time.NewTicker(max(d.bucket/10, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.Step()
		}
	}
}

// Step drains the samples recorded since the last step, rotates buckets
// whose time has passed, and republishes the hot set when it changed.
func (d *Detector) Step() {
	now := d.o.Now()
	rotated := false
	for now.Sub(d.start) >= d.bucket {
		d.start = d.start.Add(d.bucket)
		d.sk.rotate()
		d.totals[d.sk.cur] = [kinds]uint64{}
		rotated = true
		if now.Sub(d.start) >= d.o.Window { // idle for a whole window: skip ahead
			d.start = now
		}
	}
	var n uint64
	evicted := false // a hot key left the table: it must leave the hot set now
	lost := d.ring.drain(func(sm *sample) {
		n++
		d.sk.add(sm.hash)
		d.totals[d.sk.cur][sm.kind]++
		if ev := d.top.offer(sm, d.sk.estimate(sm.hash)); ev != nil {
			d.cooled(ev, now)
			evicted = true
		}
	})
	d.mSampled.Add(int(n))
	d.mLost.Add(int(lost))
	if n > 0 || rotated {
		d.evaluate(now, rotated || evicted)
	}
}

// evaluate decides hot and cold for every candidate and publishes when
// the set changed (or when refresh is set: at a bucket boundary, to
// refresh the rates, or after a hot key was evicted).
func (d *Detector) evaluate(now time.Time, refresh bool) {
	var total [kinds]uint64
	for _, b := range d.totals {
		for k, c := range b {
			total[k] += uint64(c)
		}
	}
	changed := false
	for i := range d.top.c {
		c := &d.top.c[i]
		if refresh {
			c.count = d.sk.estimate(c.hash)
		}
		rate, share := d.rates(c.count, total[c.kind], now)
		hot := !c.hotSince.IsZero()
		switch {
		case !hot && d.over(rate, share, total[c.kind], 1):
			c.hotSince = now
			changed = true
			d.mHot[c.kind].Inc()
			d.log.LogAttrs(context.Background(), slog.LevelWarn, "hot key", slog.String("kind", c.kind.String()),
				slog.String("key", string(c.key[:c.n])), slog.Float64("rate", rate), slog.Float64("share", share))
		case hot && !d.over(rate, share, total[c.kind], 0.8): // hysteresis: cool below 80%
			d.cooled(c, now)
			c.hotSince = time.Time{}
			changed = true
		}
	}
	if changed || refresh {
		d.publish(now)
	}
}

func (d *Detector) cooled(c *candidate, now time.Time) {
	d.mCool[c.kind].Inc()
	d.log.LogAttrs(context.Background(), slog.LevelInfo, "hot key cooled", slog.String("kind", c.kind.String()),
		slog.String("key", string(c.key[:c.n])), slog.Duration("hot_for", now.Sub(c.hotSince)))
}

// rates turns a window count of samples into requests per second and a
// share of the kind's traffic.
func (d *Detector) rates(count, kindTotal uint64, now time.Time) (rate, share float64) {
	span := d.o.Window - d.bucket + now.Sub(d.start) // the current bucket is partial
	if span > 0 {
		rate = float64(count) * float64(d.o.SampleEvery) / span.Seconds()
	}
	if kindTotal > 0 {
		share = float64(count) / float64(kindTotal)
	}
	return rate, share
}

// over reports whether rate or share passes its threshold scaled by f.
func (d *Detector) over(rate, share float64, kindTotal uint64, f float64) bool {
	if d.o.Rate > 0 && rate >= d.o.Rate*f {
		return true
	}
	return d.o.Share > 0 && kindTotal >= uint64(d.o.MinSamples) && share >= d.o.Share*f
}

// publish builds the immutable hot set: static keys, then hot candidates.
func (d *Detector) publish(now time.Time) {
	var total [kinds]uint64
	for _, b := range d.totals {
		for k, c := range b {
			total[k] += c
		}
	}
	s := &hotSet{byHash: make(map[uint64]struct{}, len(d.static)+len(d.top.c))}
	for h, k := range d.static {
		s.byHash[h] = struct{}{}
		s.keys = append(s.keys, k)
	}
	for i := range d.top.c {
		c := &d.top.c[i]
		if c.hotSince.IsZero() {
			continue
		}
		if _, dup := s.byHash[c.hash]; dup {
			continue
		}
		rate, share := d.rates(c.count, total[c.kind], now)
		s.byHash[c.hash] = struct{}{}
		s.keys = append(s.keys, HotKey{Kind: c.kind, Key: string(c.key[:c.n]), Rate: rate, Share: share, Since: c.hotSince})
	}
	slices.SortStableFunc(s.keys, func(a, b HotKey) int {
		switch {
		case a.Static != b.Static:
			if a.Static {
				return -1
			}
			return 1
		case a.Rate > b.Rate:
			return -1
		case a.Rate < b.Rate:
			return 1
		}
		return 0
	})
	d.mHotNow.Set(float64(len(s.keys)))
	d.pub.Store(s)
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
