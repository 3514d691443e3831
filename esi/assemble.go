package esi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// Assembler assembles parsed templates. It is immutable after NewAssembler
// and safe for concurrent use; build one per rules snapshot.
type Assembler struct {
	cfg  Config
	now  NowFetcher // cfg.Fetcher's fast path, or nil
	pool sync.Pool  // *assembly
	bufs sync.Pool  // *bytes.Buffer for esi:try attempts, buffered pages, gzip
	csis sync.Pool  // *csi
}

// NewAssembler validates cfg and applies its defaults.
func NewAssembler(cfg Config) (*Assembler, error) {
	if cfg.Fetcher == nil {
		return nil, errors.New("esi: Config.Fetcher is required")
	}
	if cfg.MaxDepth < 0 || cfg.MaxParallel < 0 || cfg.MaxFetches < 0 || cfg.MaxFragmentBytes < 0 || cfg.MaxIncludes < 0 ||
		cfg.FragmentTimeout < 0 || cfg.PageTimeout < 0 {
		return nil, errors.New("esi: Config limits must not be negative")
	}
	setDefault(&cfg.MaxDepth, DefaultMaxDepth)
	setDefault(&cfg.MaxParallel, DefaultMaxParallel)
	setDefault(&cfg.MaxFetches, DefaultMaxFetches)
	setDefault(&cfg.MaxFragmentBytes, DefaultMaxFragmentBytes)
	setDefault(&cfg.FragmentTimeout, DefaultFragmentTimeout)
	setDefault(&cfg.PageTimeout, DefaultPageTimeout)
	a := &Assembler{cfg: cfg}
	a.now, _ = cfg.Fetcher.(NowFetcher)
	return a, nil
}

func setDefault[T ~int | ~int64](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

// Assemble writes t assembled for page to w and summarises it in Result.
// t and page must not be nil; page and its slices must stay unchanged
// until Assemble returns.
//
// Fragments are fetched in template order, at most Config.MaxParallel at a
// time; ready ones (NowFetcher) are used inline. Output is written in order
// as soon as it is known: everything before the first unfinished include
// leaves at once, and w is flushed (Flush() error, or Flush()) before
// waiting, so a slow fragment does not hold back the page's head. With
// page.Buffered nothing is written unless the assembly succeeds.
//
// The error is a write error, ctx's error, or an *IncludeError for an
// include that failed without alt, onerror="continue" or esi:except (the
// ESI 1.0 note fails the page; Config.ContinueOnError does not). With
// page.Ready, output is held until no include can fail the page any more,
// so such a failure has written nothing (see Page.Ready). Unbuffered
// without Ready, output up to the failed include has been written: the
// caller must abort the response (close the connection) rather than end
// it normally.
// Assemble never waits past Config.PageTimeout for fragments, whatever the
// Fetcher does.
func (a *Assembler) Assemble(ctx context.Context, w io.Writer, t *Template, page *Page) (Result, error) {
	if !t.esi {
		if page.Ready != nil && !page.Buffered {
			page.Ready() // a page without markup cannot fail
		}
		_, err := w.Write(t.src)
		return Result{MaxAge: NoMaxAge}, err
	}
	s := a.get(ctx, page)
	out := w
	var buf *bytes.Buffer
	if page.Buffered {
		buf = a.getBuf()
		out = buf
	} else {
		s.flusher = w
	}
	err := s.run(out, t)
	if buf != nil {
		if err == nil {
			_, err = w.Write(buf.Bytes())
		}
		a.putBuf(buf)
	}
	res := s.res
	if s.cancel != nil {
		s.cancel() // stop fetches nobody will read
	}
	s.release()
	return res, err
}

// run assembles the page's nodes at depth 0.
func (s *assembly) run(w io.Writer, t *Template) error {
	var f frame
	cur := len(s.slots)
	s.schedule(t.nodes, 1)
	nodes := t.nodes
	if s.page.Ready != nil && !s.page.Buffered {
		held := 0
		if !s.a.cfg.ContinueOnError {
			held = t.lastFail + 1
		}
		if err := s.hold(w, nodes[:held], &cur, &f); err != nil {
			return err
		}
		if f.fail != nil {
			return f.fail
		}
		nodes = nodes[held:]
	}
	if err := s.render(w, nodes, &cur, 1, &f); err != nil {
		return err
	}
	if f.fail != nil {
		return f.fail
	}
	return nil
}

// hold renders the page's first nodes, up to the last one that can fail
// the page, into a buffer; if none failed it calls Page.Ready and writes
// them. The assembly still flushes the caller's writer before it waits,
// which sends nothing while the output is held.
func (s *assembly) hold(w io.Writer, nodes []node, cur *int, f *frame) error {
	if len(nodes) == 0 {
		s.page.Ready()
		return nil
	}
	buf := s.a.getBuf()
	defer s.a.putBuf(buf)
	if err := s.render(buf, nodes, cur, 1, f); err != nil || f.fail != nil {
		return err
	}
	s.page.Ready()
	_, err := w.Write(buf.Bytes())
	return err
}

// assembly is the per-page state, pooled. Workers hold references; it goes
// back to the pool when the renderer and the last worker are done with it.
type assembly struct {
	a       *Assembler
	ctx     context.Context
	pageCtx context.Context    // ctx with PageTimeout, created at the first async fetch
	cancel  context.CancelFunc // of pageCtx
	page    *Page
	flusher io.Writer // the caller's writer when streaming, flushed before waiting

	// baseHost and basePath are the URL relative src resolve against: the
	// page's, or while a nested template renders, its fragment's.
	baseHost, basePath []byte
	res                Result
	fetches            int

	slots []*slot // scheduled includes, in template order per level
	free  []*slot // recycled slots
	anc   []*slot // the chain of fragments being rendered (loop detection)
	tmp   []byte  // src expansion scratch

	mu     sync.Mutex
	queue  []*slot // slots waiting for a worker (mu)
	next   int     // queue index of the next one (mu)
	active int     // running workers (mu)

	refs atomic.Int32
	wake chan struct{} // cap 1: a worker finished a slot
}

// frame tracks the first unabsorbed include failure of a node list.
type frame struct{ fail *IncludeError }

func (a *Assembler) get(ctx context.Context, page *Page) *assembly {
	s, _ := a.pool.Get().(*assembly)
	if s == nil {
		s = &assembly{a: a, wake: make(chan struct{}, 1)}
	}
	s.ctx, s.page = ctx, page
	s.baseHost, s.basePath = page.Host, page.Path
	s.res = Result{MaxAge: NoMaxAge}
	s.refs.Store(1)
	return s
}

// release drops one reference; the last one resets and pools the state.
func (s *assembly) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	for _, sl := range s.slots {
		sl.reset()
		s.free = append(s.free, sl)
	}
	clear(s.slots)
	clear(s.queue)
	clear(s.anc)
	s.slots, s.queue, s.anc = s.slots[:0], s.queue[:0], s.anc[:0]
	s.next, s.active, s.fetches = 0, 0, 0
	s.ctx, s.pageCtx, s.cancel, s.page, s.flusher = nil, nil, nil, nil, nil
	s.baseHost, s.basePath = nil, nil
	s.a.pool.Put(s)
}

func (a *Assembler) getBuf() *bytes.Buffer {
	if b, _ := a.bufs.Get().(*bytes.Buffer); b != nil {
		return b
	}
	return new(bytes.Buffer)
}

// maxPooledBuf keeps one huge page from pinning its buffer in the pool.
const maxPooledBuf = 4 << 20

func (a *Assembler) putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		b.Reset()
		a.bufs.Put(b)
	}
}

// flush pushes streamed output to the client before the renderer blocks.
func (s *assembly) flush() {
	switch f := s.flusher.(type) {
	case interface{ Flush() error }:
		_ = f.Flush() // a failed flush fails the next Write, which is reported
	case interface{ Flush() }:
		f.Flush()
	}
}
