package rules

import "time"

// debouncer turns bursts of kicks into one signal: every kick restarts a
// quiet period of length d, and when it ends one value is offered on out
// (size one: if a signal is already pending, the new one merges into it,
// since a signal carries no data and the reader reloads the latest files).
type debouncer struct {
	d    time.Duration
	in   chan struct{} // size one; kick never blocks
	out  chan struct{} // size one
	done chan struct{}
}

func newDebouncer(d time.Duration) *debouncer {
	return &debouncer{d: d, in: make(chan struct{}, 1), out: make(chan struct{}, 1), done: make(chan struct{})}
}

// kick records that something happened; safe from any goroutine.
func (b *debouncer) kick() {
	select {
	case b.in <- struct{}{}:
	default: // a kick is pending; the timer restarts when it is read
	}
}

// run delivers signals until done is closed.
func (b *debouncer) run() {
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-b.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-b.in:
			if timer == nil {
				timer = time.NewTimer(b.d)
			} else {
				timer.Reset(b.d) // Go ≥1.23 timers: Reset needs no drain
			}
			fire = timer.C
		case <-fire:
			fire = nil
			select {
			case b.out <- struct{}{}:
			default: // one is pending already
			}
		}
	}
}
