package admin

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"flashgate/filters"
	"flashgate/hotspot"
	"flashgate/proxy"
)

// overviewBody is GET /api/overview: everything the dashboard shows, in
// one answer. Counters are totals since the start; the dashboard turns
// the difference between two answers into rates.
type overviewBody struct {
	TimeMS     int64                `json:"time_ms"`
	Status     statusBody           `json:"status"`
	Requests   map[string]float64   `json:"requests"`   // by status class, every route
	Rejections map[string]float64   `json:"rejections"` // by reason
	Cache      map[string]float64   `json:"cache"`      // lookups by result, plus bytes and items
	Latency    histogram            `json:"origin_latency"`
	Origins    []proxy.OriginServer `json:"origins"`
	Queues     []filters.QueueStats `json:"queues"`
	Items      []filters.StockItem  `json:"items"`
	HotKeys    []hotspot.HotKey     `json:"hot_keys"`
	Switches   []proxy.Switch       `json:"switches"`
	Orders     []proxy.OrderQueue   `json:"orders"` // purchase queues (async routes)
	Routes     []string             `json:"routes"` // names, for the switch form
}

// histogram is a cumulative histogram: Counts[i] observations ≤ LE[i],
// Total of them all (those above the last bound included).
type histogram struct {
	LE     []float64 `json:"le"`
	Counts []float64 `json:"counts"`
	Total  float64   `json:"total"`
}

func (a *Admin) overview(w http.ResponseWriter, _ *http.Request) {
	var raw bytes.Buffer
	a.gw.WritePrometheus(&raw)
	o := overviewBody{
		TimeMS: a.now().UnixMilli(), Status: a.statusNow(),
		Requests: map[string]float64{}, Rejections: map[string]float64{}, Cache: map[string]float64{},
		Origins: nonNil(a.gw.OriginServers()), Queues: nonNil(a.gw.Queues()), Items: nonNil(a.gw.Items()),
		HotKeys: nonNil(a.gw.HotKeys()), Switches: nonNil(a.gw.Switches()), Routes: []string{},
		Orders: a.gw.OrderQueues(),
	}
	for _, rt := range a.gw.Snapshot().Routes() {
		o.Routes = append(o.Routes, rt.Name)
	}
	byLE := map[float64]float64{}
	eachSample(raw.Bytes(), func(name string, labels map[string]string, v float64) {
		switch name {
		case "flashgate_requests_total":
			o.Requests[labels["class"]] += v
		case "flashgate_filter_rejections_total":
			o.Rejections[labels["reason"]] += v
		case "flashgate_cache_requests_total":
			o.Cache[labels["result"]] += v
		case "flashgate_cache_bytes":
			o.Cache["bytes"] = v
		case "flashgate_cache_items":
			o.Cache["items"] = v
		case "flashgate_origin_duration_seconds_count":
			o.Latency.Total += v
		case "flashgate_origin_duration_seconds_bucket":
			if le, err := strconv.ParseFloat(labels["le"], 64); err == nil {
				byLE[le] += v
			}
		}
	})
	for _, le := range proxy.LatencyBuckets {
		o.Latency.LE = append(o.Latency.LE, le)
		o.Latency.Counts = append(o.Latency.Counts, byLE[le])
	}
	reply(w, http.StatusOK, o)
}

// eachSample calls f for every sample of a Prometheus text page. Label
// values are unescaped; lines it cannot read are skipped.
func eachSample(page []byte, f func(name string, labels map[string]string, v float64)) {
	for _, line := range strings.Split(string(page), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest := parseSample(line)
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if name == "" || err != nil {
			continue
		}
		f(name, labels, v)
	}
}

// parseSample splits `name{k="v",...} value` into its parts.
func parseSample(line string) (name string, labels map[string]string, rest string) {
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return "", nil, ""
	}
	name, rest = line[:i], line[i:]
	labels = map[string]string{}
	if rest[0] != '{' {
		return name, labels, rest
	}
	rest = rest[1:]
	for len(rest) > 0 && rest[0] != '}' {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
			return "", nil, ""
		}
		key := strings.TrimLeft(rest[:eq], ",")
		var val strings.Builder
		j := eq + 2
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
				if rest[j] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(rest[j])
		}
		if j >= len(rest) {
			return "", nil, ""
		}
		labels[key] = val.String()
		rest = rest[j+1:]
		rest = strings.TrimPrefix(rest, ",")
	}
	if len(rest) == 0 {
		return "", nil, ""
	}
	return name, labels, rest[1:]
}
