package orders

import (
	"context"
	"errors"
	"sync"
)

// ErrFull is Submit's answer when the queue holds its limit of pending
// tickets: the caller answers 503 with Retry-After.
var ErrFull = errors.New("orders: queue full")

// Queue holds tickets from Submit to their outcome. Implementations are
// safe for concurrent use and bounded.
type Queue interface {
	// Submit queues j, setting j.Ticket, unless a ticket with the same
	// j.Dedupe is pending or being delivered: then it returns that ticket
	// and dup = true, queuing nothing. place is the ticket's place (1 =
	// next). It returns ErrFull when the queue is at its limit.
	Submit(j *Job, now int64) (ticket string, place int, dup bool, err error)
	// Next waits for the oldest pending job and marks it Delivering; it
	// returns ctx's error when ctx ends first.
	Next(ctx context.Context) (*Job, error)
	// Finish records the outcome of a job Next returned (or of one
	// DrainItem answered) and frees its Dedupe value.
	Finish(j *Job, r Result, now int64)
	// Status looks a ticket up; false when unknown or forgotten (its
	// outcome is kept for the queue's keep span). It keeps no reference
	// to ticket (callers pass request bytes viewed as a string).
	Status(ticket string, now int64) (Status, bool)
	// DrainItem takes every pending job of item out of the queue and
	// returns them; the caller answers and Finishes each.
	DrainItem(item string) []*Job
	// Len returns the pending jobs.
	Len() int
	// Durable reports whether accepted jobs survive the process.
	Durable() bool
}

// Memory is the in-process Queue: pending jobs in a ring of at most limit,
// finished outcomes kept for keep (at most 4 × limit of them). Accepted
// orders are lost when the process dies. Create with NewMemory.
type Memory struct {
	mu      sync.Mutex
	ring    []*entry // pending FIFO: ring[(head+i)%len]
	head, n int
	seq     uint64 // entries ever queued
	taken   uint64 // entries ever taken off the ring
	avail   chan struct{}
	tickets map[string]*entry
	dedupe  map[uint64]*entry
	done    []*entry // finished, oldest first (a FIFO: done[doneHead:])
	keep    int64
}

type entry struct {
	job      *Job
	state    State
	seq      uint64
	finished int64
	result   Result
}

var _ Queue = (*Memory)(nil)

// NewMemory returns a queue of at most limit pending jobs whose outcomes
// are readable for keepNanos after they finish.
func NewMemory(limit int, keepNanos int64) *Memory {
	if limit < 1 {
		panic("BUG: orders.NewMemory: limit must be at least 1")
	}
	return &Memory{ring: make([]*entry, limit), avail: make(chan struct{}, limit),
		tickets: map[string]*entry{}, dedupe: map[uint64]*entry{}, keep: keepNanos}
}

// SetKeep changes how long outcomes are kept (a reload retuning keep).
func (m *Memory) SetKeep(keepNanos int64) {
	m.mu.Lock()
	m.keep = keepNanos
	m.mu.Unlock()
}

func (m *Memory) Submit(j *Job, now int64) (string, int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetLocked(now)
	if j.Dedupe != 0 {
		if e := m.dedupe[j.Dedupe]; e != nil {
			return e.job.Ticket, m.placeLocked(e), true, nil
		}
	}
	if m.n == len(m.ring) {
		return "", 0, false, ErrFull
	}
	if j.Ticket == "" {
		j.Ticket = NewTicket()
	}
	m.seq++
	e := &entry{job: j, seq: m.seq}
	m.ring[(m.head+m.n)%len(m.ring)] = e
	m.n++
	m.tickets[j.Ticket] = e
	if j.Dedupe != 0 {
		m.dedupe[j.Dedupe] = e
	}
	m.avail <- struct{}{} // never blocks: one token per ring slot in use
	return j.Ticket, m.placeLocked(e), false, nil
}

// placeLocked is e's place: entries queued before it and not yet taken,
// plus one. Drained entries still in the ring count, so a place is an
// upper bound that only goes down.
func (m *Memory) placeLocked(e *entry) int {
	if e.state != Pending {
		return 0
	}
	return int(e.seq - m.taken)
}

func (m *Memory) Next(ctx context.Context) (*Job, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.avail:
		}
		m.mu.Lock()
		e := m.ring[m.head]
		m.ring[m.head] = nil
		m.head = (m.head + 1) % len(m.ring)
		m.n--
		m.taken++
		if e.state == Pending { // else drained meanwhile
			e.state = Delivering
			m.mu.Unlock()
			return e.job, nil
		}
		m.mu.Unlock()
	}
}

func (m *Memory) Finish(j *Job, r Result, now int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.tickets[j.Ticket]
	if e == nil || e.state == Done {
		return
	}
	e.state, e.result, e.finished = Done, r, now
	if j.Dedupe != 0 && m.dedupe[j.Dedupe] == e {
		delete(m.dedupe, j.Dedupe)
	}
	m.done = append(m.done, e)
	if len(m.done) > 4*len(m.ring) { // bound outcomes kept, keep or not
		m.dropOldestLocked()
	}
}

func (m *Memory) Status(ticket string, now int64) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetLocked(now)
	e := m.tickets[ticket]
	if e == nil {
		return Status{}, false
	}
	return Status{Ticket: e.job.Ticket, State: e.state, Place: m.placeLocked(e), Accepted: e.job.Accepted,
		Finished: e.finished, Result: e.result}, true
}

func (m *Memory) DrainItem(item string) []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Job
	for i := 0; i < m.n; i++ {
		e := m.ring[(m.head+i)%len(m.ring)]
		if e.state == Pending && e.job.Item == item {
			e.state = Delivering // taken: Next skips it, Finish ends it
			out = append(out, e.job)
		}
	}
	return out
}

func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Durable is false: pending orders live in this process only.
func (m *Memory) Durable() bool { return false }

// forgetLocked drops outcomes older than keep.
func (m *Memory) forgetLocked(now int64) {
	for len(m.done) > 0 && m.done[0].finished+m.keep <= now {
		m.dropOldestLocked()
	}
}

func (m *Memory) dropOldestLocked() {
	delete(m.tickets, m.done[0].job.Ticket)
	m.done[0] = nil
	m.done = m.done[1:]
}
