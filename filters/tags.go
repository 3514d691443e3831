package filters

import (
	"sort"

	"flashgate/rules"
)

// tagsSpec is the "tags" filter's spec. It rejects nothing: it marks the
// request with tags that later filters (ratelimit when_tag) act on.
//
//	tags:
//	  header: X-Risk                  # set by the shop's risk system
//	  values: [high, medium]          # header values that are tags
//	  lists: {high: lists/risky.txt}  # tag clients listed in a file (IPs, CIDRs, user:<id>)
//	  key: cookie:uid                 # identity for user:<id> entries
//	  check_every: 2s
//
// A header is only as trustworthy as whoever sets it: have the CDN or the
// shop overwrite it, or clients will simply not send "high".
type tagsSpec struct {
	Header     string            `yaml:"header"`
	Values     []string          `yaml:"values"`
	Lists      map[string]string `yaml:"lists"`
	CheckEvery rules.Duration    `yaml:"check_every"`
	Key        rules.Node        `yaml:"key"`
}

// tags sets Request.Tags. Immutable after compile.
type tags struct {
	header string
	values map[string]uint8
	lists  []taggedList
	id     *Identity
}

type taggedList struct {
	bit  uint8
	list *hotList
}

var _ Filter = (*tags)(nil)

func newTags(b *Build) (Filter, error) {
	var spec tagsSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	f := &tags{header: spec.Header, values: map[string]uint8{}}
	if (spec.Header == "") != (len(spec.Values) == 0) {
		return nil, b.Errorf("values", "header and values go together: the header's value is a tag if it is listed")
	}
	if spec.Header == "" && len(spec.Lists) == 0 {
		return nil, b.Errorf("", "give a header with values, or lists")
	}
	for _, v := range spec.Values {
		bit, err := b.Env.TagBit(v)
		if err != nil {
			return nil, b.Errorf("values", "%v", err)
		}
		f.values[v] = bit
	}
	names := make([]string, 0, len(spec.Lists))
	for name := range spec.Lists {
		names = append(names, name)
	}
	sort.Strings(names) // state IDs must not depend on map order
	for _, name := range names {
		bit, err := b.Env.TagBit(name)
		if err != nil {
			return nil, b.Errorf("lists."+name, "%v", err)
		}
		l, err := b.hotList([]string{spec.Lists[name]}, spec.CheckEvery.Duration(), "lists."+name)
		if err != nil {
			return nil, err
		}
		f.lists = append(f.lists, taggedList{bit: bit, list: l})
	}
	var err error
	f.id, err = b.Identity(spec.Key)
	return f, err
}

// Check adds the client's tags to r.Tags and always continues.
func (f *tags) Check(r *Request) Verdict {
	if f.header != "" {
		if bit, ok := f.values[string(r.Ctx.Request.Header.Peek(f.header))]; ok {
			r.Tags = r.Tags.With(bit)
		}
	}
	for _, l := range f.lists {
		if matches(l.list.current(r.Now), r, f.id) {
			r.Tags = r.Tags.With(l.bit)
		}
	}
	return Continue
}
