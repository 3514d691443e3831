package filters

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// matchSet is an immutable set of IPs, CIDRs and user ids. Safe for
// concurrent reads; a reload builds a new one.
type matchSet struct {
	prefixes map[netip.Prefix]struct{}
	v4, v6   []int // distinct prefix lengths present, longest first
	users    map[string]struct{}
}

// add parses one entry: an IP, a CIDR, or "user:<id>".
func (m *matchSet) add(entry string) error {
	if id, ok := strings.CutPrefix(entry, "user:"); ok {
		if id == "" {
			return fmt.Errorf("empty user id")
		}
		m.users[id] = struct{}{}
		return nil
	}
	p, err := netip.ParsePrefix(entry)
	if err != nil {
		a, aerr := netip.ParseAddr(entry)
		if aerr != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IP, a CIDR or user:<id>", entry)
		}
		p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
	}
	if p.Addr().Is4In6() {
		// Clients are matched unmapped, so ::ffff:a.b.c.d/n is a.b.c.d/(n-96).
		if p.Bits() < 96 {
			return fmt.Errorf("%q: an IPv4-mapped prefix needs at least /96", entry)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if !p.IsValid() {
		return fmt.Errorf("%q is not a valid prefix", entry)
	}
	m.prefixes[p.Masked()] = struct{}{}
	return nil
}

func newMatchSet() *matchSet {
	return &matchSet{prefixes: map[netip.Prefix]struct{}{}, users: map[string]struct{}{}}
}

// seal computes the prefix lengths to probe; call once after the last add.
func (m *matchSet) seal() *matchSet {
	seen4, seen6 := map[int]bool{}, map[int]bool{}
	for p := range m.prefixes {
		if p.Addr().Is4() {
			seen4[p.Bits()] = true
		} else {
			seen6[p.Bits()] = true
		}
	}
	m.v4, m.v6 = sortedDesc(seen4), sortedDesc(seen6)
	return m
}

func sortedDesc(s map[int]bool) []int {
	out := make([]int, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// hasIP probes one map lookup per distinct prefix length. 0 allocs.
func (m *matchSet) hasIP(a netip.Addr) bool {
	if !a.IsValid() || len(m.prefixes) == 0 {
		return false
	}
	a = a.Unmap()
	lens := m.v6
	if a.Is4() {
		lens = m.v4
	}
	for _, n := range lens {
		if p, err := a.Prefix(n); err == nil {
			if _, ok := m.prefixes[p]; ok {
				return true
			}
		}
	}
	return false
}

// hasUser reports whether id is listed. 0 allocs (map index by string(b)).
func (m *matchSet) hasUser(id []byte) bool {
	if len(m.users) == 0 || len(id) == 0 {
		return false
	}
	_, ok := m.users[string(id)]
	return ok
}

// hotList is a set loaded from files and re-read when a file's mtime or
// size changes. It is process-lifetime state (Env.State), so a rule reload
// keeps the loaded set, and a list edit needs no rule reload. Checks run
// at most once per interval, in a goroutine started by the request that
// notices the interval passed, so no goroutine outlives its use.
type hotList struct {
	files    []string
	log      *slog.Logger
	failures *metrics.Counter // re-reads that failed, the last good list kept
	interval atomic.Int64     // nanos between checks; set by each compile
	next     atomic.Int64     // unix nanos of the next check
	set      atomic.Pointer[matchSet]
	mu       sync.Mutex  // held while loading
	stamps   []fileStamp // guarded by mu
	// run starts a background check; nil means a new goroutine. Tests set
	// it to run checks inline.
	run func(func())
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// load reads every file; on error the current set is kept.
func (h *hotList) load() (bool, error) {
	stamps := make([]fileStamp, len(h.files))
	changed := h.set.Load() == nil
	for i, f := range h.files {
		st, err := os.Stat(f)
		if err != nil {
			return false, err
		}
		stamps[i] = fileStamp{st.ModTime(), st.Size()}
		if i >= len(h.stamps) || h.stamps[i] != stamps[i] {
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	m := newMatchSet()
	for _, f := range h.files {
		if err := readList(m, f); err != nil {
			return false, err
		}
	}
	h.set.Store(m.seal())
	h.stamps = stamps
	return true, nil
}

// readList adds each line of path; blank lines and "#" comments skipped.
func readList(m *matchSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		entry, _, _ := strings.Cut(sc.Text(), "#")
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		if err := m.add(entry); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	return sc.Err()
}

// current returns the loaded set, starting a background re-check when the
// interval has passed.
func (h *hotList) current(now int64) *matchSet {
	if next := h.next.Load(); now >= next && h.next.CompareAndSwap(next, now+h.interval.Load()) {
		if h.run != nil {
			h.run(h.refresh)
		} else {
			go h.refresh()
		}
	}
	return h.set.Load()
}

func (h *hotList) refresh() {
	if !h.mu.TryLock() {
		return // a check is already running
	}
	defer h.mu.Unlock()
	changed, err := h.load()
	switch {
	case err != nil:
		h.failures.Inc()
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "list file not reloaded; keeping the last good list",
			slog.Any("files", h.files), slog.String("error", err.Error()))
	case changed:
		h.log.LogAttrs(context.Background(), slog.LevelInfo, "list file reloaded", slog.Any("files", h.files))
	}
}

// hotList returns the shared, loaded list for files (nil when files is
// empty); errors name the key.
func (b *Build) hotList(files []string, every time.Duration, key string) (*hotList, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if every <= 0 {
		every = 2 * time.Second
	}
	for i, f := range files {
		files[i] = b.path(f)
	}
	id := b.StateID(append([]string{"list"}, files...)...)
	h := b.Env.State(id, func() any {
		return &hotList{files: files, log: b.Env.Log, failures: b.Env.Metrics.GetOrCreateCounter(
			`flashgate_filter_list_reload_errors_total{route=` + quoteLabel(b.Route) + `,filter=` + quoteLabel(b.Kind) + `}`)}
	}).(*hotList)
	h.interval.Store(int64(every))
	h.mu.Lock()
	_, err := h.load()
	h.mu.Unlock()
	if err != nil {
		return nil, b.Errorf(key, "%v", err)
	}
	return h, nil
}

// path resolves p relative to the rule file that holds the spec.
func (b *Build) path(p string) string {
	if filepath.IsAbs(p) || b.Node.Pos().File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(b.Node.Pos().File), p)
}
