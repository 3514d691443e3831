package orders

import (
	"context"
	"errors"
	"testing"
	"time"
)

const sec = int64(time.Second)

func TestMemorySubmitAndDedupe(t *testing.T) {
	q := NewMemory(3, 60*sec)
	t1, place, dup, err := q.Submit(&Job{Item: "7", Dedupe: 1}, 0)
	if err != nil || dup || place != 1 || !ValidTicket([]byte(t1)) {
		t.Fatalf("first: %q place %d dup %v err %v", t1, place, dup, err)
	}
	// The same user and item again: the same ticket, nothing queued.
	again, place, dup, err := q.Submit(&Job{Item: "7", Dedupe: 1}, 0)
	if err != nil || !dup || again != t1 || place != 1 || q.Len() != 1 {
		t.Fatalf("again: %q place %d dup %v err %v len %d, want %q place 1 dup", again, place, dup, err, q.Len(), t1)
	}
	_, place, _, _ = q.Submit(&Job{Item: "7", Dedupe: 2}, 0)
	_, _, _, _ = q.Submit(&Job{Item: "8", Dedupe: 3}, 0)
	if place != 2 {
		t.Errorf("second user's place %d, want 2", place)
	}
	if _, _, _, err := q.Submit(&Job{Item: "9", Dedupe: 4}, 0); !errors.Is(err, ErrFull) {
		t.Fatalf("fourth into a queue of 3: %v, want ErrFull", err)
	}
	j, err := q.Next(context.Background())
	if err != nil || j.Ticket != t1 {
		t.Fatalf("Next = %v, %v; want the oldest", j, err)
	}
	if st, _ := q.Status(t1, 0); st.State != Delivering {
		t.Fatalf("taken ticket state %v", st.State)
	}
	// Delivering still counts as pending for the user: no second ticket.
	if tk, _, dup, _ := q.Submit(&Job{Item: "7", Dedupe: 1}, 0); !dup || tk != t1 {
		t.Fatal("a second ticket while the first is being delivered")
	}
	q.Finish(j, Result{Outcome: Delivered, Status: 200, Body: []byte("ok")}, 10*sec)
	st, ok := q.Status(t1, 10*sec)
	if !ok || st.State != Done || st.Result.Status != 200 || string(st.Result.Body) != "ok" {
		t.Fatalf("finished: %+v", st)
	}
	if _, _, dup, _ := q.Submit(&Job{Item: "7", Dedupe: 1}, 11*sec); dup {
		t.Fatal("after the outcome, the user cannot order again")
	}
	// The outcome is kept for keep, then forgotten.
	if _, ok := q.Status(t1, 69*sec); !ok {
		t.Fatal("outcome forgotten before keep")
	}
	if _, ok := q.Status(t1, 70*sec); ok {
		t.Fatal("outcome kept past keep")
	}
}

func TestMemoryDrainItem(t *testing.T) {
	q := NewMemory(10, 60*sec)
	var tickets []string
	for i, item := range []string{"7", "8", "7", "7"} {
		tk, _, _, _ := q.Submit(&Job{Item: item, Dedupe: uint64(i + 1)}, 0)
		tickets = append(tickets, tk)
	}
	drained := q.DrainItem("7")
	if len(drained) != 3 {
		t.Fatalf("drained %d jobs of item 7, want 3", len(drained))
	}
	for _, j := range drained {
		q.Finish(j, soldOutResult, 0)
	}
	j, _ := q.Next(context.Background())
	if j.Ticket != tickets[1] {
		t.Fatalf("Next after drain = %s, want item 8's %s", j.Ticket, tickets[1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Next(ctx); err == nil {
		t.Fatal("Next returned a drained job")
	}
	if st, _ := q.Status(tickets[3], 0); st.Result.Outcome != SoldOut {
		t.Fatalf("drained ticket: %+v", st)
	}
}
