package rehearse

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSolvePow(t *testing.T) {
	for _, d := range []int{8, 12} {
		ans, ok := solvePow("chal-"+fmt.Sprint(d), d)
		if !ok {
			t.Fatalf("difficulty %d: no answer", d)
		}
		sum := sha256.Sum256([]byte("chal-" + fmt.Sprint(d) + ":" + ans))
		if z := leadingZeros(sum[:]); z < d {
			t.Fatalf("difficulty %d: answer %s has %d zero bits", d, ans, z)
		}
	}
}

func TestSolveText(t *testing.T) {
	for q, want := range map[string]string{
		"What is 7 + 5?": "12", "What is 9 - 4?": "5", "What is 3 × 4?": "12", "Who won in 1998?": "",
	} {
		got, ok := solveText(q)
		if got != want || ok != (want != "") {
			t.Errorf("solveText(%q) = %q, %v; want %q", q, got, ok, want)
		}
	}
}

func TestValidateRefusesRemoteTargets(t *testing.T) {
	for target, wantErr := range map[string]bool{
		"http://127.0.0.1:8080": false, "http://localhost:8080": false, "http://[::1]:8080": false,
		"http://127.9.9.9": false, "http://10.0.0.5:8080": true, "https://shop.example.com": true,
		"ftp://127.0.0.1": true, "127.0.0.1:8080": true,
	} {
		err := Config{Target: target}.Defaults().Validate()
		if (err != nil) != wantErr {
			t.Errorf("Validate(%s) = %v, want error %v", target, err, wantErr)
		}
	}
	err := Config{Target: "http://10.0.0.5:8080"}.Defaults().Validate()
	if !errors.Is(err, ErrNotLoopback) {
		t.Errorf("a remote target: %v, want ErrNotLoopback", err)
	}
	if err := (Config{Target: "http://10.0.0.5:8080", OwnTarget: true}).Defaults().Validate(); err != nil {
		t.Errorf("a remote target its owner vouches for: %v", err)
	}
}

func TestArrivalProfiles(t *testing.T) {
	over := 10 * time.Second
	for _, shape := range []string{"spike", "ramp", "steady"} {
		p := Profile{Shape: shape, Over: over}
		prev := time.Duration(-1)
		for i := 0; i < 1000; i++ {
			at := arrivalAt(p, i, 1000)
			if at < prev || at > over {
				t.Fatalf("%s: arrival %d at %v after %v (over %v)", shape, i, at, prev, over)
			}
			prev = at
		}
	}
	// Half of a spike arrives in its first eighth; half of a ramp in its
	// last three tenths; a steady rate splits evenly.
	for shape, want := range map[string]time.Duration{"spike": over / 8, "ramp": over * 7 / 10, "steady": over / 2} {
		got := arrivalAt(Profile{Shape: shape, Over: over}, 500, 1000)
		if d := got - want; d < -over/100 || d > over/100 {
			t.Errorf("%s: the median arrival at %v, want about %v", shape, got, want)
		}
	}
}

func TestMetricsProbeSumsSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP fg_origin_requests_total Requests.
# TYPE fg_origin_requests_total counter
fg_origin_requests_total{origin="shop",server="a"} 10
fg_origin_requests_total{origin="shop",server="b",path="a b}"} 5
fg_origin_requests_total_other 99
fg_in_flight 3
fg_in_flight{x="y"} 4.0
`)
	}))
	defer srv.Close()
	p := &MetricsProbe{URL: srv.URL, Requests: "fg_origin_requests_total", InFlight: "fg_in_flight"}
	reqs, inflight, ok := p.Sample(context.Background())
	if !ok || reqs != 15 || inflight != 7 {
		t.Fatalf("Sample = %d, %d, %v; want 15, 7, true", reqs, inflight, ok)
	}
}

// The checks catch what a broken sale does: oversell, a user over the
// limit, a bot through, a refusal without a reason, a lost arrival.
func TestChecksCatchBrokenSales(t *testing.T) {
	good := func() *Report {
		return &Report{Arrived: 10, Shoppers: 9, Bots: 1, UnitsBought: 5,
			Inventory: Inventory{Source: "shop", Stock: 5, Sold: 5, Limit: 1, MaxUser: 1}}
	}
	if r := good(); !allOK(r.checks()) {
		t.Fatalf("a good sale fails: %+v", r.checks())
	}
	for name, breakIt := range map[string]func(r *Report){
		"no oversell":                   func(r *Report) { r.Inventory.Sold = 6 },
		"gateway and shop agree":        func(r *Report) { r.UnitsBought = 7 },
		"every user within the limit":   func(r *Report) { r.Inventory.Overuser, r.Inventory.MaxUser = 1, 2 },
		"no bot got through":            func(r *Report) { r.BotsThrough = 1 },
		"every refusal has a reason":    func(r *Report) { r.Unexplained = 3 },
		"every arrival has one outcome": func(r *Report) { r.Shoppers = 8 },
	} {
		r := good()
		breakIt(r)
		failed := ""
		for _, c := range r.checks() {
			if !c.OK {
				failed += c.Name + ";"
			}
		}
		if !strings.Contains(failed, name) {
			t.Errorf("breaking %q: failed checks %q", name, failed)
		}
	}
}

func allOK(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return true
}
