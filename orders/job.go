package orders

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/valyala/fasthttp"
)

// Job is one queued purchase. The Queue owns it from Submit until it is
// finished; Req and Meta are the caller's, untouched by the queue.
type Job struct {
	Ticket   string
	Item     string
	Dedupe   uint64 // one pending ticket per Dedupe value (user and item); 0 = none
	Accepted int64  // unix nanos
	// Req is the request for the origin, Idempotency-Key included.
	Req *fasthttp.Request
	// State is what the caller needs to settle the job (its admission
	// state), as bytes: a shared queue carries it to whichever instance
	// delivers the job.
	State []byte

	stream string // the Redis queue's stream entry id
}

// Outcome is how a ticket ended.
type Outcome string

const (
	// Delivered: the origin answered; Result holds its status and body.
	Delivered Outcome = "delivered"
	// SoldOut: the item was known sold out at the edge, so the job was
	// answered without reaching the origin.
	SoldOut Outcome = "sold_out"
	// Expired: the ticket waited longer than its ttl.
	Expired Outcome = "expired"
	// Failed: no delivery attempt got an answer (timeouts, connection
	// errors, 502/503/504 on every attempt).
	Failed Outcome = "failed"
)

// Result is a finished ticket's answer.
type Result struct {
	Outcome     Outcome
	Status      int    // the origin's status (Delivered), else the gateway's
	ContentType string // of Body
	Body        []byte
	Attempts    int // deliveries tried
}

// State is where a ticket is.
type State uint8

const (
	Pending    State = iota // waiting in the queue
	Delivering              // taken by the dispatcher
	Done                    // finished: Status.Result holds the outcome
)

func (s State) String() string { return [...]string{"pending", "delivering", "done"}[s] }

// Status is a ticket as its owner sees it.
type Status struct {
	Ticket   string
	State    State
	Place    int // Pending: 1 = next to be delivered
	Accepted int64
	Finished int64 // Done
	Result   Result
}

// NewTicket returns a fresh ticket id: 128 random bits in hex. A ticket
// is the capability to read its outcome, so it must not be guessable.
func NewTicket() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ValidTicket reports whether s has the form NewTicket returns.
func ValidTicket(s []byte) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
