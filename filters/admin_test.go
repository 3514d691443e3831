package filters

import (
	"errors"
	"strings"
	"testing"

	"flashgate/cluster"
	"flashgate/internal/fgtest"
)

func TestStockItemsSetAddReset(t *testing.T) {
	env := testEnv(t)
	c := mustCompile(t, env, "- stock: {stock: {\"7\": 2}, overbook: 1.5, sold_out: {status: 409}}\n")
	for range 2 {
		if v, _ := verdictOf(c, "/buy/7"); v.Rejected() {
			t.Fatal(reason(v))
		}
	}
	want := StockItem{Route: "buy", Item: "7", Stock: 2, Budget: 3, Mode: "total", Taken: 2, Left: 1}
	if got := env.StockItems(); len(got) != 1 || got[0] != want {
		t.Fatalf("StockItems = %+v, want [%+v]", got, want)
	}
	if err := env.AddStock("buy", "7", 2); err != nil {
		t.Fatal(err)
	}
	// Setting the stock forgets the attempts counted (SetStock's rule).
	if got, _ := env.StockItem("buy", "7"); got.Stock != 4 || got.Budget != 6 || got.Left != 6 {
		t.Fatalf("after adding 2: %+v", got)
	}
	if err := env.AddStock("buy", "7", -5); err == nil {
		t.Fatal("stock went negative")
	}
	verdictOf(c, "/buy/7")
	if err := env.ResetStock("buy", "7"); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.StockItem("buy", "7"); got.Stock != 2 || got.Taken != 0 || got.Left != 3 {
		t.Fatalf("after reset: %+v, want the rule's 2 and nothing taken", got)
	}
	for _, err := range []error{
		env.AddStock("nope", "7", 1), env.ResetStock("buy", "8"), env.SetStock("nope", "1", 1),
		func() error { _, err := env.StockItem("buy", "8"); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("error %v is not ErrNotFound", err)
		}
	}
}

func TestQueuePauseStopsAdmissionsWithoutBurst(t *testing.T) {
	env := testEnv(t)
	f := mustQueue(t, env, "- queue: {admit_rate: 1/s}\n")
	a, b := newClient(1), newClient(2)
	a.visit(f, t0) // admitted at once: the line was empty
	if err := env.PauseQueue("buy", true); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.visit(f, t0+sec); reason(v) != "queued" {
		t.Fatalf("arrival while paused: %s, want queued", reason(v))
	}
	if v, _ := b.visit(f, t0+10*sec); reason(v) != "queued" {
		t.Fatalf("10s into the pause: %s, want still queued", reason(v))
	}
	q := env.Queues()
	if len(q) != 1 || q[0].Name != "buy" || !q[0].Paused || q[0].Waiting != 1 || q[0].Admitted != 1 || q[0].AdmitRate != 1 {
		t.Fatalf("Queues = %+v", q)
	}
	if err := env.PauseQueue("buy", false); err != nil {
		t.Fatal(err)
	}
	c := newClient(3)
	if v, _ := b.visit(f, t0+11*sec); reason(v) != "pass" {
		t.Fatalf("after resume, one second later: %s, want pass", reason(v))
	}
	// The pause saved no credit: the next arrival waits for its second.
	if v, _ := c.visit(f, t0+11*sec); reason(v) != "queued" {
		t.Fatalf("a second admission right after resuming: %s, want queued", reason(v))
	}
	if err := env.PauseQueue("nope", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PauseQueue(nope) = %v", err)
	}
}

// A line shared through Redis reports the shared length and pause on every
// instance, and a pause from one instance stops admissions on all of them,
// without saving credit for a burst at the resume.
func TestSharedQueueStatsAndPause(t *testing.T) {
	srv := fgtest.StartRedis(t)
	envs := redisEnvsOn(t, srv, 2, cluster.Closed)
	a := mustQueue(t, envs[0], "- queue: {admit_rate: 1/s}\n")
	b := mustQueue(t, envs[1], "- queue: {admit_rate: 1/s}\n")
	newClient(1).visit(a, t0) // admitted: the line was empty
	c2, c3 := newClient(2), newClient(3)
	c2.visit(a, t0+ms())
	c3.visit(b, t0+2*ms())
	for i, env := range envs {
		q := env.Queues()
		if len(q) != 1 || !q[0].Shared || q[0].Waiting != 2 || q[0].Paused {
			t.Errorf("instance %d: Queues = %+v, want the shared line with 2 waiting", i, q)
		}
	}
	envs[0].Now = func() int64 { return t0 + 3*ms() }
	if err := envs[0].PauseQueue("buy", true); err != nil {
		t.Fatalf("PauseQueue of a shared line: %v", err)
	}
	for i, env := range envs {
		if q := env.Queues(); len(q) != 1 || !q[0].Paused {
			t.Errorf("instance %d after the pause: Queues = %+v, want paused", i, q)
		}
	}
	if v, _ := c2.visit(b, t0+10*sec); reason(v) != "queued" {
		t.Fatalf("10s into a pause made on the other instance: %s, want queued", reason(v))
	}
	envs[1].Now = func() int64 { return t0 + 20*sec }
	if err := envs[1].PauseQueue("buy", false); err != nil {
		t.Fatal(err)
	}
	if v, _ := c2.visit(a, t0+21*sec); reason(v) != "pass" {
		t.Fatalf("a second after the resume: %s, want pass", reason(v))
	}
	if v, _ := c3.visit(b, t0+21*sec); reason(v) != "queued" {
		t.Fatalf("a second admission right after the resume: %s, want queued (the pause saved no credit)", reason(v))
	}
	srv.Kill()
	err := envs[0].PauseQueue("buy", true)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "shared through Redis") {
		t.Fatalf("PauseQueue with Redis down: %v, want ErrUnavailable", err)
	}
}
