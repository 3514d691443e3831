package orders

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/cluster"
	"flashgate/internal/fgtest"
)

// redisQueues returns n queues named alike on one real redis-server, each
// with its own client: n instances sharing one route's queue.
func redisQueues(t *testing.T, n, limit int, claimAfter time.Duration) []*Redis {
	t.Helper()
	srv := fgtest.StartRedis(t)
	qs := make([]*Redis, n)
	for i := range qs {
		mem, err := cluster.NewMemory(cluster.MemoryOptions{Keys: 1024, Flags: 1024})
		if err != nil {
			t.Fatal(err)
		}
		r, err := cluster.NewRedis(cluster.RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second, Fallback: mem})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		qs[i] = NewRedis(r, 42, limit, time.Minute, claimAfter)
	}
	return qs
}

func redisJob(dedupe uint64, body string) *Job {
	req := &fasthttp.Request{}
	req.Header.SetMethod("POST")
	req.SetRequestURI("/buy/7")
	req.Header.SetHost("shop.example")
	req.SetBodyString(body)
	return &Job{Item: "7", Dedupe: dedupe, Req: req, State: []byte{1, 2, 3}, Accepted: 5}
}

// TestRedisQueueShared: a ticket taken on A is read on B; the one pending
// ticket per buyer holds across instances; the limit is the queue's, not
// an instance's; the job crosses instances whole.
func TestRedisQueueShared(t *testing.T) {
	qs := redisQueues(t, 2, 2, time.Minute)
	a, b := qs[0], qs[1]
	t1, place, dup, err := a.Submit(redisJob(1, "qty=1"), 0)
	if err != nil || dup || place != 1 || !ValidTicket([]byte(t1)) {
		t.Fatalf("submit on A: %q %d %v %v", t1, place, dup, err)
	}
	if again, _, dup, _ := b.Submit(redisJob(1, "qty=1"), 0); !dup || again != t1 {
		t.Fatalf("the same buyer on B: %q dup %v, want %q", again, dup, t1)
	}
	if _, place, _, _ := b.Submit(redisJob(2, ""), 0); place != 2 {
		t.Fatalf("second buyer's place %d, want 2", place)
	}
	if _, _, _, err := a.Submit(redisJob(3, ""), 0); !errors.Is(err, ErrFull) {
		t.Fatalf("third into a shared queue of 2: %v, want ErrFull", err)
	}
	if st, ok := b.Status(t1, 0); !ok || st.State != Pending || st.Place != 1 {
		t.Fatalf("B reads A's ticket: %+v %v", st, ok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := b.Next(ctx)
	if err != nil || j.Ticket != t1 || string(j.Req.Body()) != "qty=1" || string(j.State) != "\x01\x02\x03" || j.Accepted != 5 {
		t.Fatalf("B takes: %+v %v", j, err)
	}
	if st, _ := a.Status(t1, 0); st.State != Delivering {
		t.Fatalf("state after take: %v", st.State)
	}
	b.Finish(j, Result{Outcome: Delivered, Status: 200, Body: []byte(`{"ok":true}`)}, 9)
	st, ok := a.Status(t1, 0)
	if !ok || st.State != Done || st.Result.Status != 200 || string(st.Result.Body) != `{"ok":true}` {
		t.Fatalf("A reads the outcome: %+v %v", st, ok)
	}
	if _, _, dup, _ := a.Submit(redisJob(1, ""), 0); dup {
		t.Fatal("after the outcome the buyer cannot order again")
	}
}

// TestRedisQueueClaimsDeadInstance: A takes a job and dies before
// finishing it; B takes it over once it has been idle for claimAfter,
// with the same ticket (so the same Idempotency-Key).
func TestRedisQueueClaimsDeadInstance(t *testing.T) {
	qs := redisQueues(t, 2, 10, 300*time.Millisecond)
	a, b := qs[0], qs[1]
	tk, _, _, _ := a.Submit(redisJob(1, ""), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if j, err := a.Next(ctx); err != nil || j.Ticket != tk {
		t.Fatalf("A takes: %v %v", j, err)
	}
	// A is gone. B finds no new job, then claims A's.
	j, err := b.Next(ctx)
	if err != nil || j.Ticket != tk {
		t.Fatalf("B takes over: %v %v, want ticket %s", j, err, tk)
	}
	b.Finish(j, Result{Outcome: Delivered, Status: 200}, 1)
	if st, _ := a.Status(tk, 0); st.State != Done {
		t.Fatalf("ticket after B finished it: %v", st.State)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel2()
	if j, err := a.Next(short); err == nil {
		t.Fatalf("a finished job was taken again: %s", j.Ticket)
	}
}
