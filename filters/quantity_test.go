package filters

import (
	"strconv"
	"strings"
	"testing"
)

func withForm(contentType, body string) reqOpt {
	return func(r *Request) {
		r.Ctx.Request.Header.SetMethod("POST")
		r.Ctx.Request.Header.SetContentType(contentType)
		r.Ctx.Request.SetBodyString(body)
	}
}

const urlencoded = "application/x-www-form-urlencoded"

func TestQuantityUnits(t *testing.T) {
	form := quantity{src: 'f', name: []byte("qty"), max: 5}
	query := quantity{src: 'q', name: []byte("qty"), max: 5}
	header := quantity{src: 'h', name: []byte("X-Quantity"), max: 5}
	tests := []struct {
		name string
		q    quantity
		path string
		opts []reqOpt
		n    int64
		ok   bool
	}{
		{"no source counts 1", quantity{}, "/buy/2?qty=5", nil, 1, true},
		{"absent means 1", form, "/buy/2", nil, 1, true},
		{"empty means 1", form, "/buy/2?qty=", nil, 1, true},
		{"query", form, "/buy/2?qty=3", nil, 3, true},
		{"url-encoded body", form, "/buy/2", []reqOpt{withForm(urlencoded, "qty=5")}, 5, true},
		{"encoded name", form, "/buy/2", []reqOpt{withForm(urlencoded, "q%74y=4")}, 4, true},
		{"the max", query, "/buy/2?qty=5", nil, 5, true},
		{"leading zeros read as a number", query, "/buy/2?qty=02", nil, 2, true},
		{"zero", query, "/buy/2?qty=0", nil, 0, false},
		{"above max", query, "/buy/2?qty=6", nil, 6, false},
		{"negative", query, "/buy/2?qty=-1", nil, 0, false},
		{"not a number", query, "/buy/2?qty=two", nil, 0, false},
		{"trailing space", query, "/buy/2?qty=1%20", nil, 0, false},
		{"huge", query, "/buy/2?qty=99999999999999999999", nil, 0, false},
		{"twice in the query", query, "/buy/2?qty=1&qty=5", nil, 0, false},
		{"empty in the query, set in the body", form, "/buy/2?qty=", []reqOpt{withForm(urlencoded, "qty=5")}, 0, false},
		{"query and body", form, "/buy/2?qty=1", []reqOpt{withForm(urlencoded, "qty=5")}, 0, false},
		{"query source ignores the body", query, "/buy/2?qty=1", []reqOpt{withForm(urlencoded, "qty=5")}, 1, true},
		{"multipart body", form, "/buy/2", []reqOpt{withForm("Multipart/Form-Data; boundary=x", "")}, 0, false},
		{"header", header, "/buy/2", []reqOpt{withHeader("x-quantity", "4")}, 4, true},
		{"header absent", header, "/buy/2?qty=5", nil, 1, true},
		{"header twice", header, "/buy/2", []reqOpt{withHeader("X-Quantity", "1"), func(r *Request) {
			r.Ctx.Request.Header.Add("X-Quantity", "5")
		}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := tt.q.units(newReq(tt.path, tt.opts...))
			if ok != tt.ok || (ok && n != tt.n) {
				t.Fatalf("units = %d, %v; want %d, %v", n, ok, tt.n, tt.ok)
			}
		})
	}
}

func TestPurchaseLimitCountsUnits(t *testing.T) {
	alice := withCookie("uid", "alice")
	type step struct {
		path   string
		status int // origin's answer; 0 = not forwarded
		want   string
	}
	tests := []struct {
		name, yaml string
		steps      []step
	}{
		{"one unit per user: a purchase of five is refused", `- purchase_limit: {max: 1, key: "cookie:uid", quantity: {query: qty, max: 5}}`, []step{
			{"/buy/2?qty=5", 0, "purchase_limit"},
			{"/buy/2?qty=1", 200, "pass"},
			{"/buy/2?qty=1", 0, "purchase_limit"},
		}},
		{"five units in several purchases", `- purchase_limit: {max: 5, key: "cookie:uid", quantity: {query: qty, max: 5}}`, []step{
			{"/buy/2?qty=2", 200, "pass"},
			{"/buy/2?qty=3", 409, "pass"}, // failed: its 3 units come back
			{"/buy/2?qty=3", 200, "pass"},
			{"/buy/2?qty=1", 0, "purchase_limit"},
		}},
		{"a bad quantity is refused, not guessed", `- purchase_limit: {max: 5, key: "cookie:uid", quantity: {query: qty, max: 5}}`, []step{
			{"/buy/2?qty=6", 0, "bad_quantity"},
			{"/buy/2?qty=1&qty=5", 0, "bad_quantity"},
			{"/buy/2?qty=5", 200, "pass"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, testEnv(t), tt.yaml+"\n")
			for i, s := range tt.steps {
				v, r := verdictOf(c, s.path, alice)
				if reason(v) != s.want {
					t.Fatalf("step %d %s: %s, want %s", i, s.path, reason(v), s.want)
				}
				if !v.Rejected() {
					c.Observe(r, respond(s.status, ""))
				}
			}
		})
	}
}

func TestBadQuantityAnswer(t *testing.T) {
	c := mustCompile(t, testEnv(t), "- purchase_limit: {max: 1, quantity: {form: qty, max: 5}}\n")
	v, r := verdictOf(c, "/buy/2?qty=9", withHeader("Accept", "application/json"))
	body := string(r.Ctx.Response.Body())
	if reason(v) != "bad_quantity" || r.Ctx.Response.StatusCode() != 403 || !strings.Contains(body, "Choose a quantity from 1 to 5, once.") {
		t.Fatalf("%s %d %s", reason(v), r.Ctx.Response.StatusCode(), body)
	}
}

func TestStockCountsUnits(t *testing.T) {
	for _, tt := range []struct {
		mode  string
		steps []struct {
			qty    int
			status int
			want   string
		}
	}{
		{"total", []struct {
			qty    int
			status int
			want   string
		}{{2, 200, "pass"}, {2, 0, "stock_exhausted"}, {1, 200, "pass"}, {1, 0, "stock_exhausted"}}},
		{"in_flight", []struct {
			qty    int
			status int
			want   string
		}{{3, -1, "pass"}, {1, 0, "stock_busy"}}}, // -1: still awaiting the origin
	} {
		t.Run(tt.mode, func(t *testing.T) {
			c := mustCompile(t, testEnv(t), `- stock: {stock: {"2": 3}, mode: `+tt.mode+`, sold_out: {status: 409}, quantity: {form: qty, max: 5}}`+"\n")
			for i, s := range tt.steps {
				v, r := verdictOf(c, "/buy/2", withForm(urlencoded, "qty="+strconv.Itoa(s.qty)))
				if reason(v) != s.want {
					t.Fatalf("step %d (qty %d): %s, want %s", i, s.qty, reason(v), s.want)
				}
				if !v.Rejected() && s.status > 0 {
					c.Observe(r, respond(s.status, ""))
				}
			}
		})
	}
}

// TestStockInFlightGivesBackUnits: an in-flight attempt of 3 units frees
// all 3 when the origin answers.
func TestStockInFlightGivesBackUnits(t *testing.T) {
	c := mustCompile(t, testEnv(t), `- stock: {stock: {"2": 3}, mode: in_flight, sold_out: {status: 409}, quantity: {query: qty, max: 3}}`+"\n")
	v, r := verdictOf(c, "/buy/2?qty=3")
	if v.Rejected() {
		t.Fatalf("first attempt: %s", reason(v))
	}
	if v, _ := verdictOf(c, "/buy/2?qty=1"); reason(v) != "stock_busy" {
		t.Fatalf("while 3 units are in flight: %s, want stock_busy", reason(v))
	}
	c.Observe(r, respond(502, ""))
	if v, _ := verdictOf(c, "/buy/2?qty=3"); v.Rejected() {
		t.Fatalf("after the origin answered: %s, want the 3 units free again", reason(v))
	}
}

func TestQuantityConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"two sources", `- purchase_limit: {max: 1, quantity: {query: qty, header: X-Qty, max: 5}}`, "purchase_limit.quantity: name exactly one of query, form or header"},
		{"no source", `- stock: {stock: {"1": 1}, sold_out: {status: 409}, quantity: {max: 5}}`, "stock.quantity: name exactly one of query, form or header"},
		{"no max", `- purchase_limit: {max: 1, quantity: {form: qty}}`, "purchase_limit.quantity.max: must be within 1..1000000 (the most units one purchase may take), got 0"},
		{"unknown key", `- purchase_limit: {max: 1, quantity: {form: qty, max: 5, min: 1}}`, "quantity.min: unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileErr(t, testEnv(t), tt.yaml+"\n", "", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParseUnits: whatever the bytes, an accepted quantity is within
// 1..max and is exactly the decimal number written.
func FuzzParseUnits(f *testing.F) {
	for _, s := range []string{"1", "5", "05", "0", "6", "", "-1", "+1", "1 ", "999999999", "9999999999", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseUnits([]byte(s), 5)
		if !ok {
			return
		}
		if n < 1 || n > 5 {
			t.Fatalf("%q accepted as %d, outside 1..5", s, n)
		}
		if got := strings.TrimLeft(s, "0"); got != strconv.FormatInt(n, 10) {
			t.Fatalf("%q accepted as %d", s, n)
		}
	})
}
