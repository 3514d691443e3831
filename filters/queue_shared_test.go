package filters

import (
	"math/rand/v2"
	"testing"
	"time"

	"flashgate/cluster"
	"flashgate/internal/fgtest"
)

// The shared line answers every visit exactly as the in-memory line does:
// the same random walk of arrivals, polls, abandoned places, unclaimed
// turns and purchases, step by step (max_active, hold and claim; times on
// whole microseconds, the shared line's unit).
func TestSharedLineMatchesMemory(t *testing.T) {
	srv := fgtest.StartRedis(t)
	mem, _ := cluster.NewMemory(cluster.MemoryOptions{Keys: 1024, Flags: 1024})
	r, err := cluster.NewRedis(cluster.RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second, Fallback: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg := roomConfig{maxActive: 3, maxLength: 20, maxSessions: 12, hold: int64(5 * time.Minute),
		claim: int64(20 * time.Second), session: int64(time.Minute)}
	ref := newWaitingRoom(cfg, [32]byte{})
	shared := newWaitingRoom(cfg, [32]byte{})
	shared.shared = r.View(cluster.Closed).Line(99)
	rnd := rand.New(rand.NewPCG(1, 2))
	now := t0
	seqs := map[uint64]uint64{}
	kinds := map[string]int{}
	defer func() { t.Logf("answers compared: %v", kinds) }()
	for step := range 3000 {
		now += int64(rnd.IntN(4000)) * int64(time.Millisecond)
		subject := uint64(rnd.IntN(40) + 1)
		if rnd.IntN(10) == 0 {
			ref.revoke(seqs[subject], subject)
			shared.revoke(seqs[subject], subject)
			continue
		}
		want, got := ref.visit(subject, now), shared.visit(subject, now)
		if got != want {
			t.Fatalf("step %d, subject %d at +%v: shared line %+v, in memory %+v",
				step, subject, time.Duration(now-t0), got, want)
		}
		if want.admitted {
			seqs[subject] = want.seq
			kinds["admitted"]++
		} else if want.full {
			kinds["full"]++
		} else {
			kinds["waiting"]++
		}
		if ref.length() != shared.length() {
			t.Fatalf("step %d: length %d, in memory %d", step, shared.length(), ref.length())
		}
	}
}

// One line over three instances: a client who joined on A before a client
// on B is admitted first, wherever each polls.
func TestClusterQueueOneOrder(t *testing.T) {
	envs := redisEnvs(t, 3)
	var qs []*queue
	for _, env := range envs {
		qs = append(qs, mustQueue(t, env, "- queue: {admit_rate: 1/s}\n"))
	}
	x, y, z := newClient(1), newClient(2), newClient(3)
	if v, _ := x.visit(qs[0], t0); reason(v) != "pass" {
		t.Fatalf("x on A in an empty line: %s", reason(v))
	}
	if v, _ := y.visit(qs[1], t0+ms()); reason(v) != "queued" || v.Value() != 1 {
		t.Fatalf("y on B: %s %d, want queued 1", reason(v), v.Value())
	}
	if v, _ := z.visit(qs[2], t0+2*ms()); reason(v) != "queued" || v.Value() != 2 {
		t.Fatalf("z on C: %s %d, want queued 2", reason(v), v.Value())
	}
	// One admission is due: z polls first, on A, and stays behind y.
	if v, _ := z.visit(qs[0], t0+sec+3*ms()); reason(v) != "queued" || v.Value() != 1 {
		t.Fatalf("z on A after 1s: %s %d, want queued 1 (y joined first)", reason(v), v.Value())
	}
	if v, _ := y.visit(qs[2], t0+sec+4*ms()); reason(v) != "pass" {
		t.Fatalf("y on C after 1s: %s, want admitted", reason(v))
	}
	if v, _ := z.visit(qs[1], t0+2*sec+5*ms()); reason(v) != "pass" {
		t.Fatalf("z on B after 2s: %s, want admitted", reason(v))
	}
}

// The lobby is shuffled once for all instances: clients who arrived on
// different instances before the start get places 1..n, each once.
func TestClusterQueueLobbyShuffledOnce(t *testing.T) {
	envs := redisEnvs(t, 3)
	start := time.Unix(0, t0+10*sec).UTC().Format(time.RFC3339Nano)
	var qs []*queue
	for _, env := range envs {
		qs = append(qs, mustQueue(t, env, "- queue: {max_active: 1, start: "+start+"}\n"))
	}
	const n = 30
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(i + 1)
		clients[i].visit(qs[i%3], t0+int64(i)*ms())
	}
	seen := map[int64]bool{}
	admitted := 0
	for i, c := range clients {
		v, _ := c.visit(qs[(i+1)%3], t0+11*sec)
		switch reason(v) {
		case "pass":
			admitted++
		case "queued":
			if seen[v.Value()] {
				t.Fatalf("two clients at position %d", v.Value())
			}
			seen[v.Value()] = true
		default:
			t.Fatalf("client %d after the start: %s", i, reason(v))
		}
	}
	if admitted != 1 || len(seen) != n-1 {
		t.Fatalf("admitted %d, distinct places %d; want 1 and %d", admitted, len(seen), n-1)
	}
}
