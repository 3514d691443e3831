package proxy

import (
	"testing"
	"time"

	"flashgate/rules"
)

// FuzzHotspotSection: any `hotspot:` text is either refused with an error
// or yields a config the detector can run with: a threshold set, shares
// within (0, 1], bounded micro-cache and top-K, and a key bucket only with
// a positive interval.
func FuzzHotspotSection(f *testing.F) {
	for _, s := range []string{
		"{rate: 200/s}", "{share: 5%, keys: [param, url, user, client], user: {cookie: sid}}",
		"{share: 0.5, sample: 4, static: [{kind: url, key: /sale}], micro_cache: 0s}",
		"{rate: 1/h, key_limit: 10/s, key_burst: 3, bulkhead: 2, top: 1024}", "{share: 101%}", "[]", "{rate: 0/s}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, section string) {
		cfg, err := rules.LoadBytes("gateway.yaml", []byte("hotspot: "+section+"\n"))
		if err != nil {
			return
		}
		c, err := decodeHot(cfg.Hotspot)
		if err != nil || c == nil {
			return
		}
		o := c.opts
		switch {
		case o.Rate <= 0 && o.Share <= 0:
			t.Fatalf("accepted %q with no threshold", section)
		case o.Share < 0 || o.Share > 1:
			t.Fatalf("accepted share %g", o.Share)
		case c.micro < 0 || c.micro > time.Minute:
			t.Fatalf("accepted micro_cache %s", c.micro)
		case o.TopK > 1024 || o.TopK < 0 || o.SampleEvery < 0 || o.Buckets < 0:
			t.Fatalf("accepted %+v", o)
		case c.keyInterval < 0 || c.keyTolerance < 0:
			t.Fatalf("key bucket interval %d tolerance %d", c.keyInterval, c.keyTolerance)
		}
	})
}
