package filters

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"flashgate/rules"
	"flashgate/token"
)

// Env is the process-lifetime context filters are compiled in: the state
// store, clock, metrics and logger, plus the state that must survive
// reloads, looked up by StateID.
//
// Use one Env for the life of the process. A reload is
//
//	env.Begin(cfg.Admission, keyring)   // starts a compile
//	chain, err := filters.Compile(...)  // per route
//	pages := env.Commit()               // only if every route compiled
//
// Begin, Compile and Commit must not run concurrently with each other (the
// proxy reloads from one goroutine); everything else is safe for concurrent
// use, including from requests served by the previous snapshot.
type Env struct {
	// Store holds counters and buckets shared by instances. Required.
	Store Store
	// HoldBooks, when set, makes the hold book of a stock gate in mode
	// reserve (key: the gate's state key; store: the gate's Store), e.g. a
	// cluster.RedisHolds shared by every instance. nil: held in memory.
	HoldBooks func(key uint64, store Store) HoldBook
	// KindStores overrides Store for the filters of a kind ("stock"): the
	// views of one shared store under different failure policies.
	KindStores map[string]Store
	// Now returns the current time in unix nanoseconds. Default time.Now.
	Now func() int64
	// Metrics receives the rejection counters. Default: a private set.
	Metrics *metrics.Set
	// Log is for rare events (list reloads, sold-out). Default slog.Default().
	Log *slog.Logger
	// OnSoldOut is called once per item when the stock gate learns from the
	// origin that it is sold out, e.g. to purge its cached pages by tag. It
	// runs on the request goroutine: it must not block.
	OnSoldOut func(route, item string)

	mu      sync.Mutex
	gen     uint64
	tokens  *token.Keyring
	pages   map[string]fasthttp.RequestHandler
	pageSet *pageSet // admission.pages: the gateway's page templates
	// page template files read by the committed and the running compile
	pageFiles, pendingPages map[string][32]byte
	states                  map[StateID]*stateEntry
	tagBits                 map[string]uint8
	stocks                  map[string]*stockGate // route → its serving stock gate, for SetStock
	pending                 map[string]*stockGate // stock gates of the compile in progress
	commits                 []func()              // run by Commit, in registration order
	seen                    map[string]map[uint64]int
}

type stateEntry struct {
	v   any
	gen uint64
}

// NewEnv returns an Env over store with defaults for the optional fields.
func NewEnv(store Store, log *slog.Logger) (*Env, error) {
	if store == nil {
		return nil, errors.New("filters: NewEnv needs a Store")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Env{
		Store:   store,
		Now:     func() int64 { return time.Now().UnixNano() },
		Metrics: metrics.NewSet(),
		Log:     log,
		states:  map[StateID]*stateEntry{},
		tagBits: map[string]uint8{},
		stocks:  map[string]*stockGate{},
		pending: map[string]*stockGate{},
		pages:   map[string]fasthttp.RequestHandler{},
		seen:    map[string]map[uint64]int{},
	}, nil
}

// Begin starts a compile: it decodes the top-level admission section (page
// templates) and records the token keyring filters sign and verify with
// (nil when no filter needs tokens).
func (e *Env) Begin(admission rules.Node, keys *token.Keyring) error {
	pages, err := loadAdmission(admission)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen++
	e.tokens = keys
	e.pageSet = pages
	e.pendingPages = maps.Clone(pages.read)
	e.pages = map[string]fasthttp.RequestHandler{}
	e.seen = map[string]map[uint64]int{}
	e.pending = map[string]*stockGate{}
	e.commits = nil
	return nil
}

// Tokens returns the keyring of the compile in progress (nil if none).
func (e *Env) Tokens() *token.Keyring { return e.tokens }

// Commit ends a successful compile: state not claimed by it is dropped
// (the filters that used it are gone or changed meaning) and the gateway
// pages it registered are returned for the proxy to mount.
func (e *Env) Commit() map[string]fasthttp.RequestHandler {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, s := range e.states {
		if s.gen != e.gen {
			delete(e.states, id)
		}
	}
	e.stocks, e.pending = e.pending, map[string]*stockGate{}
	e.pageFiles, e.pendingPages = e.pendingPages, nil
	for _, f := range e.commits {
		f()
	}
	e.commits = nil
	return e.pages
}

// onCommit registers f to run when the compile in progress is committed:
// changes to shared state that must not happen if the compile fails.
func (e *Env) onCommit(f func()) {
	e.mu.Lock()
	e.commits = append(e.commits, f)
	e.mu.Unlock()
}

// StateID names state that outlives a reload: a route, a filter kind and a
// fingerprint of the settings that give the state its meaning (the identity
// source, the scope; not the rate or positions).
type StateID struct {
	Route       string
	Kind        string
	Fingerprint uint64
}

// Key is the store key prefix of id: stable across processes.
func (id StateID) Key() uint64 {
	return Mix(Mix(HashString(id.Route), HashString(id.Kind)), id.Fingerprint)
}

// State returns the process-local state under id, creating it with create
// when absent (or when it holds another type, after a code change). The
// state is kept while each compile claims it.
func (e *Env) State(id StateID, create func() any) any {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.states[id]
	if !ok {
		s = &stateEntry{v: create()}
		e.states[id] = s
	}
	s.gen = e.gen
	return s.v
}

// TagBit returns the bit of the named tag, allocating one on first use.
// At most 64 tag names exist per process.
func (e *Env) TagBit(name string) (uint8, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.tagBits[name]; ok {
		return b, nil
	}
	if len(e.tagBits) == 64 {
		return 0, fmt.Errorf("too many tag names (at most 64); %q is one too many", name)
	}
	b := uint8(len(e.tagBits))
	e.tagBits[name] = b
	return b, nil
}

// counter returns the rejection counter of (route, filter, reason). The
// metrics set dedups by name, so a recompile reuses the same counter.
func (e *Env) counter(route, filter, reason string) *metrics.Counter {
	return e.Metrics.GetOrCreateCounter(`flashgate_filter_rejections_total{route=` + quoteLabel(route) +
		`,filter=` + quoteLabel(filter) + `,reason=` + quoteLabel(reason) + `}`)
}

func quoteLabel(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `"`, `\"`)
	return `"` + strings.ReplaceAll(v, "\n", `\n`) + `"`
}
