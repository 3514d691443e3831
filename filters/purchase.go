package filters

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// purchaseSpec is the "purchase_limit" filter's spec:
//
//	purchase_limit:
//	  max: 1                 # successful purchases allowed
//	  per: item              # item (default; by route param) | sale (the whole route)
//	  param: id              # route parameter naming the item (default "id")
//	  key: cookie:uid        # who "the user" is (see IdentitySpec; default ip)
//	  success: [200, 201]    # origin statuses that mean "bought" (default any 2xx)
//	  period: 24h            # how long a purchase counts (default 24h)
//	  group: singles-day     # routes naming one group share the counts (web and app buy routes)
//	  quantity: {form: qty, max: 5}  # count units, not purchases (see quantitySpec)
//
// With quantity, max counts units: a purchase of n units takes n of them,
// and a quantity that is malformed or outside 1..quantity.max is rejected
// (403 bad_quantity) rather than guessed at.
type purchaseSpec struct {
	Max      int            `yaml:"max"`
	Per      string         `yaml:"per"`
	Param    string         `yaml:"param"`
	Success  []int          `yaml:"success"`
	Period   rules.Duration `yaml:"period"`
	Group    string         `yaml:"group"`
	Key      rules.Node     `yaml:"key"`
	Quantity quantitySpec   `yaml:"quantity"`
}

// purchaseLimit lets at most max purchases per user (per item or sale)
// reach the origin. An attempt reserves a slot in the Store before it is
// forwarded (so concurrent attempts cannot overshoot) and the slot is given
// back unless the origin answered with a success status. When the Store is
// too full to track the user's count, the attempt is refused (503
// state_full): an untracked count would let the user buy without limit.
// Immutable after compile; counts live in the Store and survive reloads
// that keep the identity, per and param.
type purchaseLimit struct {
	store   Store
	id      *Identity
	perItem bool
	param   string
	max     int64
	ttl     int64
	success [600]bool
	qty     quantity
	reject  *Rejection
	badQty  *Rejection
	full    *Rejection
	prefix  uint64
	hold    uint8
}

var (
	_ Observer = (*purchaseLimit)(nil)
	_ Canceler = (*purchaseLimit)(nil)
)

func newPurchaseLimit(b *Build) (Filter, error) {
	var spec purchaseSpec
	if err := b.Decode(&spec); err != nil {
		return nil, err
	}
	f := &purchaseLimit{store: b.Store(), param: spec.Param, max: int64(spec.Max), ttl: int64(24 * time.Hour)}
	if spec.Max < 1 {
		b.Problem("max", "must be at least 1, got %d", spec.Max)
	}
	switch spec.Per {
	case "", "item":
		f.perItem = true
	case "sale":
	default:
		b.Problem("per", "unknown %q (known: item, sale)", spec.Per)
	}
	if f.param == "" {
		f.param = "id"
	}
	if p := spec.Period.Duration(); p > 0 {
		f.ttl = int64(p)
	}
	if err := b.statusSet(&f.success, spec.Success, "success"); err != nil {
		return nil, err
	}
	var err error
	if f.hold, err = b.HoldBit(); err != nil {
		return nil, err
	}
	if f.id, err = b.Identity(spec.Key); err != nil {
		return nil, err
	}
	if f.qty, err = b.quantity(spec.Quantity, "quantity"); err != nil {
		return nil, err
	}
	if err := b.Problems(); err != nil {
		return nil, err
	}
	f.prefix = b.GroupStateID(spec.Group, f.id.String(), strconv.FormatBool(f.perItem), f.param).Key()
	return f, f.rejections(b)
}

func (f *purchaseLimit) rejections(b *Build) (err error) {
	if f.reject, err = b.Reject(RejectSpec{Reason: "purchase_limit", Status: 403, Title: "Purchase limit reached",
		Message: "That is more of this item than this sale allows per customer, counting what you have already bought."}); err != nil {
		return err
	}
	if f.qty.src != 0 {
		if f.badQty, err = b.Reject(badQuantitySpec(f.qty.max)); err != nil {
			return err
		}
	}
	f.full, err = b.Reject(stateFullSpec)
	return err
}

// statusSet fills set from list, or with every 2xx when list is empty.
func (b *Build) statusSet(set *[600]bool, list []int, key string) error {
	if len(list) == 0 {
		for s := 200; s < 300; s++ {
			set[s] = true
		}
		return nil
	}
	for _, s := range list {
		if s < 100 || s >= len(set) {
			return b.Errorf(key, "status %d is not an HTTP status", s)
		}
		set[s] = true
	}
	return nil
}

func (f *purchaseLimit) key(r *Request) uint64 {
	k, _ := r.Key(f.id)
	k = Mix(f.prefix, k)
	if f.perItem {
		k = Mix(k, HashBytes(r.Item(f.param)))
	}
	return k
}

// Check reserves the purchase's units for the user, or rejects when the
// user's purchases and attempts in flight would pass max, when the quantity
// is invalid, or when the store cannot track the user's count.
func (f *purchaseLimit) Check(r *Request) Verdict {
	n, ok := f.qty.units(r)
	if !ok {
		return f.badQty.Verdict()
	}
	k := f.key(r)
	v, tracked := f.store.AddTracked(k, n, f.ttl, r.Now)
	switch {
	case !tracked:
		return f.full.Verdict()
	case v > f.max:
		f.store.Add(k, -n, f.ttl, r.Now)
		return f.reject.Verdict()
	}
	r.Hold(f.hold)
	return Continue
}

// Observe keeps the reservation if the origin reported a success.
func (f *purchaseLimit) Observe(r *Request, resp *fasthttp.Response) {
	if s := resp.StatusCode(); s >= 0 && s < len(f.success) && f.success[s] {
		return
	}
	f.Cancel(r)
}

// Cancel gives back the reservation of a request that was not bought.
func (f *purchaseLimit) Cancel(r *Request) {
	if !r.Release(f.hold) {
		return
	}
	n, _ := f.qty.units(r) // valid: Check held it
	f.store.Add(f.key(r), -n, f.ttl, r.Now)
}

// stateFullSpec is the answer of a gate whose count the Store is too full to
// keep: refusing for a moment is safe, admitting uncounted is not.
var stateFullSpec = RejectSpec{Reason: "state_full", Status: 503, RetryAfter: 1, Title: "Very busy",
	Message: "The sale is too busy to take your order right now. Please try again in a moment."}

// badQuantitySpec is the answer to a quantity the gate cannot count.
func badQuantitySpec(max int64) RejectSpec {
	return RejectSpec{Reason: "bad_quantity", Status: 403, Title: "Invalid quantity",
		Message: "Choose a quantity from 1 to " + strconv.FormatInt(max, 10) + ", once."}
}
