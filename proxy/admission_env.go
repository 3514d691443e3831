package proxy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"flashgate/cluster"
	"flashgate/filters"
	"flashgate/rules"
	"flashgate/token"
)

// Defaults of the admission store: 1Mi counters and buckets (32 MiB) and
// 256Ki spent-once flags, allocated once at start. A key is a client of a
// filter (one IP under one rate limit), so this tracks a million clients
// per limit set before the store starts refusing one-off keys.
const (
	defaultStoreKeys  = 1 << 20
	defaultStoreFlags = 1 << 18
)

// admissionSpec is what package proxy decodes from the top-level
// `admission:` section; filters.Env.Begin decodes the rest (pages).
type admissionSpec struct {
	// Keys sign and verify the gateway's tokens (quiz passes, queue
	// tickets and passes): the first signs, all verify.
	Keys []keySpec `yaml:"keys"`
	// Leeway is the clock skew tolerated on token times (default 5s).
	Leeway rules.Duration `yaml:"leeway"`
	// Store sizes the in-memory state store; read at start only.
	Store storeSpec  `yaml:"store"`
	Pages rules.Node `yaml:"pages"` // decoded by package filters
}

// keySpec is one token key. Exactly one of Secret, SecretFile and
// SecretEnv gives the secret: text of at least 32 bytes, or "base64:…".
type keySpec struct {
	ID         *int   `yaml:"id"`
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
}

type storeSpec struct {
	Keys  int `yaml:"keys"`
	Flags int `yaml:"flags"`
}

// admissionEnv is the process-lifetime admission state of an Env: the
// state store and filters.Env every snapshot's filter chains share, so
// buckets, counters and sold-out marks survive reloads. Created by the
// first non-passive Compile. Safe for concurrent use.
type admissionEnv struct {
	mu     sync.Mutex
	fenv   *filters.Env
	store  storeSpec // as created, for the restart-only warning
	random *token.Key
	// clock is EnvOptions.Now; nil means time.Now.
	clock func() time.Time
}

// admissionCompile is one Compile's view of admission: the filters.Env a
// reload compiles into (a throwaway one for a passive Env).
type admissionCompile struct {
	fenv    *filters.Env
	passive bool
}

// beginAdmission decodes the admission section, returns the filters.Env
// to compile routes in (creating the process one on first use) and starts
// its compile with the configured keyring.
func (e *Env) beginAdmission(n rules.Node) (*admissionCompile, error) {
	var spec admissionSpec
	if !n.IsZero() {
		if err := n.Decode(&spec); err != nil {
			return nil, err
		}
	}
	fenv, err := e.filtersEnv(n, spec.Store)
	if err != nil {
		return nil, err
	}
	keys, err := e.keyring(n, &spec)
	if err != nil {
		return nil, err
	}
	if err := fenv.Begin(n, keys); err != nil {
		return nil, err
	}
	return &admissionCompile{fenv: fenv, passive: e.passive}, nil
}

// filtersEnv returns the process filters.Env, creating it and its store
// sized by spec on first use. A passive Env gets a small private one that
// only validates.
func (e *Env) filtersEnv(n rules.Node, spec storeSpec) (*filters.Env, error) {
	if spec.Keys < 0 || spec.Flags < 0 {
		return nil, n.Errorf("store", "keys and flags must be positive")
	}
	if e.passive {
		return newFiltersEnv(storeSpec{Keys: 1024, Flags: 1024}, nil, e.log, time.Now)
	}
	a := &e.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fenv != nil {
		if spec != a.store {
			e.log.LogAttrs(context.Background(), slog.LevelWarn,
				"admission.store changed: it takes effect only at the next restart")
		}
		return a.fenv, nil
	}
	clock := a.clock
	if clock == nil {
		clock = time.Now
	}
	fenv, err := newFiltersEnv(spec, e.Metrics, e.log, clock)
	if err != nil {
		return nil, n.Errorf("store", "%v", err)
	}
	fenv.OnSoldOut = e.soldOut
	e.useCluster(fenv)
	a.fenv, a.store = fenv, spec
	return fenv, nil
}

func newFiltersEnv(spec storeSpec, m *Metrics, log *slog.Logger, clock func() time.Time) (*filters.Env, error) {
	opts := cluster.MemoryOptions{Keys: orInt(spec.Keys, defaultStoreKeys), Flags: orInt(spec.Flags, defaultStoreFlags)}
	if m != nil {
		opts.Metrics = m.set
	}
	store, err := cluster.NewMemory(opts)
	if err != nil {
		return nil, err
	}
	fenv, err := filters.NewEnv(store, log)
	if err != nil {
		return nil, err
	}
	if m != nil {
		fenv.Metrics = m.set
	}
	fenv.Now = func() int64 { return clock().UnixNano() }
	return fenv, nil
}

// soldOut is the stock gate's OnSoldOut: the item's cached pages (tagged
// "item:<id>" by the cache policies) are purged softly, so the next
// visitor sees "sold out" while stale_while_revalidate still shields the
// shop from the refetch stampede. It runs on the request goroutine; a
// purge only marks entries.
func (e *Env) soldOut(route, item string) {
	n := e.PurgeTag("item:"+item, true)
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "item sold out at the origin: answered at the edge from now on",
		slog.String("route", route), slog.String("item", item), slog.Int("purged", n))
}

// keyring builds the token keyring from admission.keys. Without keys the
// Env generates one random key at first use and keeps it for the life of
// the process (so reloads keep tokens valid), with a warning: tokens then
// die with the process and are not shared with other instances.
func (e *Env) keyring(n rules.Node, spec *admissionSpec) (*token.Keyring, error) {
	leeway := spec.Leeway.Duration()
	if leeway < 0 {
		return nil, n.Errorf("leeway", "must not be negative")
	}
	if len(spec.Keys) == 0 {
		k, err := e.randomKey()
		if err != nil {
			return nil, err
		}
		return token.NewKeyring([]token.Key{k}, leeway)
	}
	keys := make([]token.Key, 0, len(spec.Keys))
	var errs rules.Errors
	for i, ks := range spec.Keys {
		k, err := ks.key()
		if err != nil {
			errs = append(errs, n.Get("keys").Index(i).Errorf("", "%v", err))
			continue
		}
		keys = append(keys, k)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	kr, err := token.NewKeyring(keys, leeway)
	if err != nil {
		return nil, n.Errorf("keys", "%v", err)
	}
	return kr, nil
}

// key reads the secret and parses it with token.ParseKey, so the rules of
// a key (id 0..255, ≥ 32 bytes, base64: prefix) live in one place.
func (ks keySpec) key() (token.Key, error) {
	if ks.ID == nil {
		return token.Key{}, fmt.Errorf("id: missing (a number 0..255 that names the key inside tokens)")
	}
	set := 0
	for _, s := range []string{ks.Secret, ks.SecretFile, ks.SecretEnv} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return token.Key{}, fmt.Errorf("give exactly one of secret, secret_file, secret_env")
	}
	secret := ks.Secret
	switch {
	case ks.SecretFile != "":
		b, err := os.ReadFile(ks.SecretFile)
		if err != nil {
			return token.Key{}, fmt.Errorf("secret_file: %w", err)
		}
		secret = strings.TrimRight(string(b), "\r\n")
	case ks.SecretEnv != "":
		v, ok := os.LookupEnv(ks.SecretEnv)
		if !ok {
			return token.Key{}, fmt.Errorf("secret_env: environment variable %s is not set", ks.SecretEnv)
		}
		secret = v
	}
	return token.ParseKey(strconv.Itoa(*ks.ID) + ":" + secret)
}

// randomKey returns the process's generated key, creating it once.
func (e *Env) randomKey() (token.Key, error) {
	a := &e.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.random != nil {
		return *a.random, nil
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return token.Key{}, fmt.Errorf("admission.keys: generating a random key: %w", err)
	}
	k, err := token.ParseKey("0:base64:" + base64.StdEncoding.EncodeToString(secret[:]))
	if err != nil {
		return token.Key{}, err
	}
	if !e.passive {
		e.log.LogAttrs(context.Background(), slog.LevelWarn,
			"admission.keys not set: signing tokens with a random key; quiz passes and queue tickets "+
				"will not survive a restart and will not work across instances")
	}
	a.random = &k
	return k, nil
}
