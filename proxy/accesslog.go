package proxy

import (
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// accessLog writes one line per request from a background goroutine. The
// request path formats the line into a pooled buffer and hands it over a
// bounded channel; when the writer falls behind (slow disk, blocked
// stdout) lines are dropped and counted rather than slowing requests.
// Safe for concurrent use; close flushes what is queued.
type accessLog struct {
	w       io.Writer
	lines   chan *[]byte
	dropped *metrics.Counter
	done    chan struct{}
	once    sync.Once
}

// accessLogQueue bounds the lines waiting to be written (~1 s of a busy
// instance's traffic at 200 bytes a line: a few MiB at most).
const accessLogQueue = 16384

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func newAccessLog(w io.Writer, dropped *metrics.Counter) *accessLog {
	a := &accessLog{w: w, lines: make(chan *[]byte, accessLogQueue), dropped: dropped, done: make(chan struct{})}
	go a.run()
	return a
}

func (a *accessLog) run() {
	defer close(a.done)
	for b := range a.lines {
		_, _ = a.w.Write(*b) // a failing log sink must not stop the gateway
		*b = (*b)[:0]
		linePool.Put(b)
	}
}

// record formats one line: time, client, method, path, status, route,
// duration in µs, request id; space separated, path quoted.
func (a *accessLog) record(x *Exchange, status int, end int64) {
	bp := linePool.Get().(*[]byte)
	b := time.Unix(0, x.Now).UTC().AppendFormat((*bp)[:0], time.RFC3339Nano)
	b = append(b, ' ')
	if x.ClientIP.IsValid() {
		b = x.ClientIP.AppendTo(b)
	} else {
		b = append(b, '-')
	}
	b = append(append(append(b, ' '), x.Ctx.Method()...), ' ')
	b = appendQuoted(b, x.Path)
	b = append(strconv.AppendInt(append(b, ' '), int64(status), 10), ' ')
	if x.Route != nil {
		b = append(b, x.Route.Name...)
	} else {
		b = append(b, '-')
	}
	b = strconv.AppendInt(append(b, ' '), (end-x.Now)/1e3, 10)
	b = append(append(append(b, "us "...), x.RequestID...), '\n')
	*bp = b
	select {
	case a.lines <- bp:
	default:
		a.dropped.Inc()
		*bp = b[:0]
		linePool.Put(bp)
	}
}

// appendQuoted appends p in double quotes, escaping '"' and '\\'. Paths
// reach here normalised (no control bytes), so that is all that could
// break a line apart; strconv.AppendQuote would need a string copy.
func appendQuoted(b, p []byte) []byte {
	b = append(b, '"')
	for _, c := range p {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

func (a *accessLog) close() {
	a.once.Do(func() { close(a.lines) })
	<-a.done
}
