package rehearse

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// showProgress writes the live status until ctx ends: on a terminal one
// line rewritten in place twice a second, with a bar of arrivals; elsewhere
// (a log, CI) a plain line every two seconds.
func (r *run) showProgress(ctx context.Context, w io.Writer, tty bool) {
	every := 2 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.printProgress(w, tty)
			return
		case <-tick.C:
			r.printProgress(w, tty)
		}
	}
}

func (r *run) printProgress(w io.Writer, tty bool) {
	l := &r.live
	stock := "?"
	if s := l.stockLeft.Load(); s >= 0 {
		stock = fmt.Sprint(s)
	}
	elapsed := time.Since(r.rec.start).Truncate(100 * time.Millisecond)
	line := fmt.Sprintf("arrived %d/%d  waiting %d  admitted %d  bought %d  stock %s  errors %d  %s",
		l.arrived.Load(), r.cfg.Shoppers, l.waiting.Load(), l.admitted.Load(), l.bought.Load(), stock, l.errors.Load(), elapsed)
	if !tty {
		fmt.Fprintln(w, "rehearse: "+line)
		return
	}
	const width = 24
	done := int(l.arrived.Load() * width / int64(max(1, r.cfg.Shoppers)))
	bar := strings.Repeat("█", done) + strings.Repeat("░", width-done)
	fmt.Fprintf(w, "\r\x1b[K%s %s", bar, line)
}
