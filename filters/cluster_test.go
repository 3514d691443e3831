package filters

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flashgate/cluster"
	"flashgate/internal/fgtest"
)

// redisEnvs returns n Envs, each with its own Redis client on one real
// redis-server: n gateway instances sharing their state.
func redisEnvs(t *testing.T, n int) []*Env {
	t.Helper()
	return redisEnvsOn(t, fgtest.StartRedis(t), n, cluster.Closed)
}

func redisEnvsOn(t *testing.T, srv *fgtest.RedisServer, n int, policy cluster.Policy) []*Env {
	t.Helper()
	envs := make([]*Env, n)
	for i := range envs {
		mem, err := cluster.NewMemory(cluster.MemoryOptions{Keys: 1024, Flags: 1024})
		if err != nil {
			t.Fatal(err)
		}
		r, err := cluster.NewRedis(cluster.RedisOptions{Addrs: []string{srv.Addr}, Timeout: time.Second,
			BreakerFailures: 1, Fallback: mem})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		env, err := NewEnv(r.View(policy), nil)
		if err != nil {
			t.Fatal(err)
		}
		env.Now = func() int64 { return t0 }
		env.HoldBooks = func(key uint64, store Store) HoldBook { return r.Holds(key, store) }
		envs[i] = env
	}
	return envs
}

// A quiz pass earned on A and spent there is refused on B; a fresh pass
// sent to three instances at once opens the route once.
func TestClusterQuizPassSpentOnce(t *testing.T) {
	envs := redisEnvs(t, 3)
	var qs []*quiz
	for _, env := range envs {
		qs = append(qs, mustQuiz(t, env, "- quiz: {pass_ttl: 1m, max_attempts: 1000}\n"))
	}
	spend := func(f *quiz, pass string) string {
		v, _ := verdictOf(&Chain{filters: []Filter{f}}, "/buy/42", at(t0+4*sec), withCookie(quizCookie, pass))
		return reason(v)
	}
	pass := earnPass(t, qs[0], t0)
	if got := spend(qs[0], pass); got != "pass" {
		t.Fatalf("first spend on A: %s", got)
	}
	if got := spend(qs[1], pass); got != "quiz_used" {
		t.Fatalf("replay on B: %s, want quiz_used", got)
	}
	for round := range 20 {
		pass := earnPass(t, qs[round%3], t0)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 9 {
			wg.Go(func() {
				if spend(qs[i%3], pass) == "pass" {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: a pass raced on three instances opened the route %d times", round, wins.Load())
		}
	}
}

// One user buying the one-per-user item on A and B at the same moment:
// one reservation goes through.
func TestClusterPurchaseLimitAcrossInstances(t *testing.T) {
	envs := redisEnvs(t, 2)
	a := mustCompile(t, envs[0], "- purchase_limit: {max: 1}\n")
	b := mustCompile(t, envs[1], "- purchase_limit: {max: 1}\n")
	for round := range 20 {
		ip := withIP(fmt.Sprintf("198.51.100.%d", round+1))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for _, c := range []*Chain{a, b, a, b} {
			wg.Go(func() {
				if v, _ := verdictOf(c, "/buy/7", ip); !v.Rejected() {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d of 4 simultaneous purchases reserved, want 1", round, wins.Load())
		}
	}
}

// Redis down, the waiting line answers by its policy: closed refuses
// (queue_full, Retry-After), open lets everyone in, local runs this
// instance's own line.
func TestClusterQueueRedisDown(t *testing.T) {
	for _, tt := range []struct {
		policy      cluster.Policy
		first, next string
	}{
		{cluster.Closed, "queue_full", "queue_full"},
		{cluster.Open, "pass", "pass"},
		{cluster.Local, "pass", "queued"},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			srv := fgtest.StartRedis(t)
			f := mustQueue(t, redisEnvsOn(t, srv, 1, tt.policy)[0], "- queue: {admit_rate: 1/s}\n")
			srv.Kill()
			if v, _ := newClient(1).visit(f, t0); reason(v) != tt.first {
				t.Errorf("first client: %s, want %s", reason(v), tt.first)
			}
			if v, _ := newClient(2).visit(f, t0+ms()); reason(v) != tt.next {
				t.Errorf("second client: %s, want %s", reason(v), tt.next)
			}
		})
	}
}
