package filters

import (
	"strings"
	"testing"
	"time"
)

// TestClusterReserveHolds: three instances on one Redis share the stock
// gate's holds: a unit held on A or B is busy on C, a confirmation on C
// releases a hold made on A, a replay on any instance changes nothing,
// and a hold's window ending is seen by whichever instance comes next.
func TestClusterReserveHolds(t *testing.T) {
	envs := redisEnvs(t, 3)
	chains := make([]*Chain, 3)
	for i, env := range envs {
		chains[i] = mustCompile(t, env, reserveYAML(2, "10m"))
	}
	a, b, c := chains[0], chains[1], chains[2]
	accept(t, a, "o1")
	accept(t, b, "o2")
	if v, _ := verdictOf(c, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("C with both units held on A and B: %s, want stock_busy", reason(v))
	}
	if got := lookup(t, envs[2], "o1"); got.State != "held" || got.ExpiresInMS != 600_000 {
		t.Fatalf("C looks up A's hold: %+v", got)
	}
	if code, body := confirm(envs[2], "o1", "cancelled", signed("cancelled", "o1")); code != 200 {
		t.Fatalf("cancel on C of A's hold: %d %s", code, body)
	}
	for i, env := range envs {
		if code, _ := confirm(env, "o1", "cancelled", signed("cancelled", "o1")); code != 409 {
			t.Errorf("replay on instance %d: %d, want 409", i, code)
		}
		if code, _ := confirm(env, "o2", "paid", strings.Repeat("0", 64)); code != 403 {
			t.Errorf("forged on instance %d: %d, want 403", i, code)
		}
	}
	accept(t, b, "o3") // the unit A's buyer gave back
	if v, _ := verdictOf(a, "/buy/1"); reason(v) != "stock_busy" {
		t.Fatalf("A after o3: %s, want stock_busy", reason(v))
	}
	// o2 and o3 end with their window; C is the next to look.
	later := at(t0 + int64(10*time.Minute) + int64(time.Second))
	accept(t, c, "o4", later)
	accept(t, c, "o5", later)
	if v, _ := verdictOf(a, "/buy/1", later); reason(v) != "stock_busy" {
		t.Fatalf("A after o4, o5: %s, want stock_busy", reason(v))
	}
	if code, _ := confirm(envs[0], "o2", "paid", signed("paid", "o2"), later); code != 409 {
		t.Fatalf("paying o2 after its window: %d, want 409", code)
	}
}
