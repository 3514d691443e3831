package filters

// The stage order: a request is dropped at the first stage that can drop
// it, cheapest and broadest first. Sale windows need no state; blocklists
// and tags need only the request; limits are one store call; quiz and queue
// verify tokens; the purchase limit and the stock gate reserve state that
// the origin's answer settles, so they come last, when nothing after them
// can reject and strand a reservation.
const (
	stageWindow = iota
	stageBlocklist
	stageLimits
	stageQuiz
	stageQueue
	stagePurchase
	stageStock
)

// stageNames is indexed by stage; used in error messages.
var stageNames = []string{"window", "blocklist", "limits", "quiz", "queue", "purchase limit", "stock gate"}

// Constructor compiles one filter from its spec. It runs at rule load, not
// per request: parse, validate and prebuild everything here.
type Constructor func(b *Build) (Filter, error)

type kind struct {
	stage int
	build Constructor
}

// kinds is the registry: a new filter kind is one file plus one line here.
var kinds = map[string]kind{
	"window":         {stageWindow, newWindow},
	"blocklist":      {stageBlocklist, newBlocklist},
	"tags":           {stageBlocklist, newTags},
	"ratelimit":      {stageLimits, newRateLimit},
	"quiz":           {stageQuiz, newQuiz},
	"queue":          {stageQueue, newQueue},
	"purchase_limit": {stagePurchase, newPurchaseLimit},
	"stock":          {stageStock, newStock},
}

// reasons lists every rejection reason, by stage: the names operators use
// in admission.pages (a page for another name is a typo, and an error) and
// the reason label of flashgate_filter_rejections_total.
var reasons = []string{
	"not_started", "sale_ended",
	"blocked",
	"rate_limited",
	"quiz_required", "quiz_invalid", "quiz_expired", "quiz_used",
	"queued", "queue_full", "queue_required", "queue_turn_busy",
	"purchase_limit",
	"sold_out", "stock_exhausted", "stock_busy",
	"bad_quantity", "state_full", // purchase_limit and stock
}
