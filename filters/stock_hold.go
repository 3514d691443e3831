package filters

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// reserveSpec is the stock gate's "reserve:" section, used with mode
// reserve (pre-reservation):
//
//	stock:
//	  mode: reserve
//	  stock: {"7": 100}
//	  sold_out: {status: 409, header: X-Sold-Out}
//	  reserve:
//	    window: 10m                 # how long an accepted order holds its units (default 10m)
//	    order_header: X-Order-Id    # the shop's accept answer names its order here (default)
//	    success: [200]              # statuses that mean "order accepted" (default any 2xx)
//	    secret_env: FLASHGATE_HOLD_SECRET  # or secret: the key the shop signs confirmations with
//
// An attempt counts one unit (or its quantity) while it awaits the shop,
// as in mode in_flight. When the shop accepts it (a success status and an
// order id in order_header), the units stay counted as a hold of that
// order for window. The shop ends the hold with a signed confirmation,
// POST /_flashgate/hold/{route} (order, outcome=paid|cancelled, sig): paid
// keeps the units counted for good, cancelled gives them back; so does the
// end of the window. A unit given back is at once available to the next
// attempt. A confirmation with a wrong signature, or for an order that
// holds nothing (a replay, an expired hold), changes nothing.
type reserveSpec struct {
	Window      rules.Duration `yaml:"window"`
	OrderHeader string         `yaml:"order_header"`
	Success     []int          `yaml:"success"`
	Secret      string         `yaml:"secret"`
	SecretEnv   string         `yaml:"secret_env"`
}

// maxOrderID bounds the order ids the gate records (bytes); longer ids,
// or ids with other than [A-Za-z0-9._-], are not held (units given back).
const maxOrderID = 64

// minHoldSecret is the shortest confirmation key accepted (HMAC-SHA-256).
const minHoldSecret = 32

// reserveGate is the reserve mode of one stock gate. Immutable after
// compile; its holds live in a HoldBook kept in the Env across reloads.
type reserveGate struct {
	book    HoldBook
	window  int64
	header  []byte
	success [600]bool
	secret  []byte
	page    string
	held    *metrics.Counter
	settled [2]*metrics.Counter // cancelled, paid
	refused *metrics.Counter    // bad signature or nothing held
}

func (g *stockGate) buildReserve(b *Build, spec reserveSpec, stateID StateID) error {
	if g.overbook != 1 {
		return b.Errorf("overbook", "mode reserve holds exactly the stock: overbook must be 1, got %v", g.overbook)
	}
	rg := &reserveGate{window: int64(10 * time.Minute), header: []byte("X-Order-Id")}
	if w := spec.Window.Duration(); w > 0 {
		rg.window = int64(w)
	} else if w < 0 {
		return b.Errorf("reserve.window", "must be positive, got %v", w)
	}
	if spec.OrderHeader != "" {
		rg.header = []byte(spec.OrderHeader)
	}
	if err := b.statusSet(&rg.success, spec.Success, "reserve.success"); err != nil {
		return err
	}
	secret, err := holdSecret(b, spec)
	if err != nil {
		return err
	}
	rg.secret = secret
	id := stateID
	id.Kind += ":holds"
	rg.book = b.Env.State(id, func() any {
		if b.Env.HoldBooks != nil {
			return b.Env.HoldBooks(id.Key(), g.store)
		}
		return HoldBook(newMemHolds(g.store))
	}).(HoldBook)
	rg.page = HoldPath(b.Route)
	label := `{route=` + quoteLabel(b.Route)
	m := b.Env.Metrics
	rg.held = m.GetOrCreateCounter(`flashgate_stock_holds_total` + label + `}`)
	rg.settled[0] = m.GetOrCreateCounter(`flashgate_stock_holds_released_total` + label + `,outcome="cancelled"}`)
	rg.settled[1] = m.GetOrCreateCounter(`flashgate_stock_holds_released_total` + label + `,outcome="paid"}`)
	rg.refused = m.GetOrCreateCounter(`flashgate_stock_hold_confirmations_refused_total` + label + `}`)
	m.GetOrCreateGauge(`flashgate_stock_holds`+label+`}`, func() float64 { return float64(rg.book.Len()) })
	g.reserve = rg
	return b.Env.AddPage(rg.page, rg.servePage(g, b.Env))
}

func holdSecret(b *Build, spec reserveSpec) ([]byte, error) {
	var s string
	switch {
	case spec.Secret != "" && spec.SecretEnv != "":
		return nil, b.Errorf("reserve", "give one of secret, secret_env, not both")
	case spec.Secret != "":
		s = spec.Secret
	case spec.SecretEnv != "":
		v, ok := os.LookupEnv(spec.SecretEnv)
		if !ok {
			return nil, b.Errorf("reserve.secret_env", "environment variable %s is not set", spec.SecretEnv)
		}
		s = v
	default:
		return nil, b.Errorf("reserve", "mode reserve needs the key the shop signs confirmations with: secret or secret_env")
	}
	if len(s) < minHoldSecret {
		return nil, b.Errorf("reserve", "the confirmation secret has %d bytes, need at least %d", len(s), minHoldSecret)
	}
	return []byte(s), nil
}

// HoldPath is where the stock gate of route answers hold lookups and
// takes the shop's confirmations.
func HoldPath(route string) string { return "/_flashgate/hold/" + route }

// HoldSignature is the sig of a confirmation: hex HMAC-SHA-256 under the
// gate's secret of outcome ("paid" or "cancelled"), a space and the order
// id. Shops compute the same (see docs/admission.md).
func HoldSignature(secret []byte, outcome, order string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(outcome))
	m.Write([]byte{' '})
	m.Write([]byte(order))
	return hex.EncodeToString(m.Sum(nil))
}

// expire gives back the units of holds whose window ended. nil-safe.
func (rg *reserveGate) expire(now int64) {
	if rg != nil {
		rg.book.Expire(now)
	}
}

// keep turns the counted units of an attempt the shop accepted into a hold
// of the order the answer names, and reports whether it did; when it did
// not (not an acceptance, no usable order id) the caller gives them back.
// It tells the buyer the time left in X-Hold-Expires-In (seconds).
func (rg *reserveGate) keep(g *stockGate, r *Request, resp *fasthttp.Response) bool {
	if rg == nil {
		return false
	}
	if s := resp.StatusCode(); s < 0 || s >= len(rg.success) || !rg.success[s] {
		return false
	}
	order := resp.Header.PeekBytes(rg.header)
	if !validOrderID(order) {
		return false
	}
	item := r.Item(g.param)
	h := Hold{Order: string(order), Item: string(item), Count: g.countKey(item), Units: g.units(r),
		TTL: g.ttl, Expires: r.Now + rg.window}
	if !rg.book.Put(h) {
		return false
	}
	rg.held.Inc()
	resp.Header.Set("X-Hold-Expires-In", strconv.FormatInt(rg.window/1e9, 10))
	resp.Header.Set("X-Hold-Status", rg.page+"?order="+h.Order) // where the buyer sees the time left
	return true
}

func validOrderID(b []byte) bool {
	if len(b) == 0 || len(b) > maxOrderID {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// confirm checks a confirmation's signature and settles the hold. It
// reports the hold and "" on success, or the error code the shop gets.
func (rg *reserveGate) confirm(order, outcome, sig string, now int64) (Hold, string) {
	paid := outcome == "paid"
	if !paid && outcome != "cancelled" {
		return Hold{}, "bad_outcome"
	}
	want := HoldSignature(rg.secret, outcome, order)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		rg.refused.Inc()
		return Hold{}, "bad_signature"
	}
	h, ok := rg.book.Settle(order, paid, now)
	if !ok {
		rg.refused.Inc()
		return Hold{}, "not_held"
	}
	if paid {
		rg.settled[1].Inc()
	} else {
		rg.settled[0].Inc()
	}
	return h, ""
}
