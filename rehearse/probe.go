package rehearse

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Probe reads the shop's side of the timeline once a second: the requests
// that have reached the origin so far (a running total) and the requests
// in flight there now. ok false means no reading this second.
type Probe interface {
	Sample(ctx context.Context) (originRequests, inFlight int64, ok bool)
}

// ProbeFunc adapts a function to Probe.
type ProbeFunc func(ctx context.Context) (originRequests, inFlight int64, ok bool)

// Sample calls f.
func (f ProbeFunc) Sample(ctx context.Context) (int64, int64, bool) { return f(ctx) }

// MetricsProbe reads a Prometheus text endpoint (the gateway's /metrics):
// Requests is summed over every series of that metric name (all origins,
// servers and statuses), InFlight likewise; a name left empty reads as 0.
type MetricsProbe struct {
	URL      string
	Requests string
	InFlight string
	Client   *http.Client
}

// Sample scrapes the endpoint once.
func (p *MetricsProbe) Sample(ctx context.Context) (int64, int64, bool) {
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, "GET", p.URL, nil)
	if err != nil {
		return 0, 0, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, false
	}
	var reqs, inflight float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, v, ok := promSample(sc.Text())
		switch {
		case !ok:
		case p.Requests != "" && name == p.Requests:
			reqs += v
		case p.InFlight != "" && name == p.InFlight:
			inflight += v
		}
	}
	return int64(reqs), int64(inflight), sc.Err() == nil
}

// promSample parses one line of the Prometheus text format into the
// metric's name (labels dropped) and value.
func promSample(line string) (name string, v float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", 0, false
	}
	name = line[:end]
	rest := line[end:]
	if rest[0] == '{' {
		close := strings.LastIndexByte(rest, '}')
		if close < 0 {
			return "", 0, false
		}
		rest = rest[close+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return name, v, err == nil
}
