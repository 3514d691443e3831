package esi

import (
	"context"
	"sync/atomic"
)

// slot is one include to fetch and, once done, its outcome. The renderer
// reads frag and err only after done is set (by itself or by a worker).
type slot struct {
	req  FragmentRequest
	frag *Fragment
	err  error
	done atomic.Bool
}

func (sl *slot) reset() {
	buf := sl.req.buf[:0]
	sl.req = FragmentRequest{buf: buf}
	sl.frag, sl.err = nil, nil
	sl.done.Store(false)
}

func (s *assembly) newSlot() *slot {
	if n := len(s.free); n > 0 {
		sl := s.free[n-1]
		s.free = s.free[:n-1]
		return sl
	}
	return new(slot)
}

// schedule adds a slot for every include the nodes will render at this
// level (esi:attempt bodies and the chosen esi:when branch included,
// esi:except and nested templates later, when needed), in order, and starts
// fetching them. render consumes the slots in the same order.
func (s *assembly) schedule(nodes []node, depth int) {
	start := len(s.queue)
	s.scheduleNodes(nodes, depth)
	if len(s.queue) > start {
		s.startWorkers()
	}
}

func (s *assembly) scheduleNodes(nodes []node, depth int) {
	for i := range nodes {
		n := &nodes[i]
		switch n.kind {
		case kInclude:
			s.slots = append(s.slots, s.prepare(n.inc.src, n.inc.static, depth, false, s.a.overBound(n.inc)))
		case kTry:
			s.scheduleNodes(n.try.attempt, depth)
		case kChoose:
			s.scheduleNodes(s.choose(n.choose), depth)
		}
	}
}

// prepare resolves src into a new slot and starts it: done at once when it
// is refused or the Fetcher has it ready, queued for a worker otherwise.
// static, when not nil, is src already resolved by Parse; over refuses
// the include as past the template's bound on includes.
func (s *assembly) prepare(src []part, static []byte, depth int, alt, over bool) *slot {
	sl := s.newSlot()
	sl.req.Vars, sl.req.Depth, sl.req.Alt = s.page.Vars, depth, alt
	if over {
		sl.err = ErrTooManyIncludes
		sl.done.Store(true)
		return sl
	}
	if err := s.check(sl, src, static, depth); err != nil {
		sl.err = err
		sl.done.Store(true)
		return sl
	}
	if s.a.now != nil {
		if f, ok := s.a.now.FetchNow(&sl.req); ok {
			sl.frag = f
			if f == nil {
				sl.err = ErrNoFragment
			}
			sl.done.Store(true)
			return sl
		}
	}
	s.mu.Lock()
	s.queue = append(s.queue, sl)
	s.mu.Unlock()
	return sl
}

// check expands and resolves src and applies the depth, loop and budget limits.
func (s *assembly) check(sl *slot, src []part, static []byte, depth int) error {
	if static != nil {
		r := &sl.req
		r.buf = append(append(r.buf[:0], s.baseHost...), static...)
		r.Host, r.Path = r.buf[:len(s.baseHost)], r.buf[len(s.baseHost):]
	} else {
		var personal bool
		s.tmp, personal = expand(s.tmp[:0], src, s.page.Vars, escURL)
		s.res.Personal = s.res.Personal || personal
		if err := resolve(&sl.req, s.baseHost, s.basePath, s.tmp, s.a.cfg.HostAllowed); err != nil {
			return err
		}
	}
	if depth > s.a.cfg.MaxDepth {
		return ErrDepth
	}
	if s.isAncestor(&sl.req) {
		return ErrLoop
	}
	if s.fetches >= s.a.cfg.MaxFetches {
		return ErrBudget
	}
	s.fetches++
	return nil
}

// isAncestor reports whether req names the page or a fragment being rendered.
func (s *assembly) isAncestor(req *FragmentRequest) bool {
	if sameURL(req.Host, req.Path, s.page.Host, s.page.Path) {
		return true
	}
	for _, a := range s.anc {
		if sameURL(req.Host, req.Path, a.req.Host, a.req.Path) {
			return true
		}
	}
	return false
}

func sameURL(h1, p1, h2, p2 []byte) bool {
	return string(p1) == string(p2) && equalFoldASCII(h1, h2)
}

func equalFoldASCII(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// startWorkers starts workers for queued slots, up to MaxParallel running.
func (s *assembly) startWorkers() {
	if s.pageCtx == nil {
		ctx := s.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		s.pageCtx, s.cancel = context.WithTimeout(ctx, s.a.cfg.PageTimeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.active < s.a.cfg.MaxParallel && s.next+s.active < len(s.queue) {
		s.active++
		s.refs.Add(1)
		go s.worker()
	}
}

// worker fetches queued slots in template order until the queue is empty.
func (s *assembly) worker() {
	defer s.release()
	for {
		s.mu.Lock()
		if s.next >= len(s.queue) {
			s.active--
			s.mu.Unlock()
			return
		}
		sl := s.queue[s.next]
		s.next++
		s.mu.Unlock()
		sl.frag, sl.err = s.fetch(s.pageCtx, &sl.req)
		sl.done.Store(true)
		select {
		case s.wake <- struct{}{}:
		default: // a wake-up is already pending; the renderer re-checks every slot it waits for
		}
	}
}

func (s *assembly) fetch(ctx context.Context, req *FragmentRequest) (*Fragment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.a.cfg.FragmentTimeout)
	defer cancel()
	f, err := s.a.cfg.Fetcher.Fetch(ctx, req)
	if err == nil && f == nil {
		err = ErrNoFragment
	}
	return f, err
}

// wait returns the slot's outcome, flushing streamed output first if it
// must block. It gives up when the page deadline passes.
func (s *assembly) wait(sl *slot) (*Fragment, error) {
	if sl.done.Load() {
		return sl.frag, sl.err
	}
	s.flush()
	for !sl.done.Load() {
		select {
		case <-s.wake:
		case <-s.pageCtx.Done():
			if sl.done.Load() {
				return sl.frag, sl.err
			}
			return nil, s.pageCtx.Err()
		}
	}
	return sl.frag, sl.err
}

// overBound reports whether inc is past its template's bound on includes:
// ParseOptions.MaxIncludes, or Config.MaxIncludes when lower.
func (a *Assembler) overBound(inc *include) bool {
	return inc.over || a.cfg.MaxIncludes > 0 && inc.ord > a.cfg.MaxIncludes
}
