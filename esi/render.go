package esi

import (
	"bytes"
	"errors"
	"io"
)

// render writes nodes to w, consuming this level's slots from *cur in
// schedule order. Include failures are recorded in f (the first one wins
// and silences the rest of the list); the error return is for write
// errors and the page deadline only.
func (s *assembly) render(w io.Writer, nodes []node, cur *int, depth int, f *frame) error {
	for i := range nodes {
		n := &nodes[i]
		var err error
		switch n.kind {
		case kLiteral:
			if f.fail == nil {
				_, err = w.Write(n.lit)
			}
		case kText:
			if f.fail == nil {
				err = s.writeText(w, n.text)
			}
		case kInclude:
			sl := s.slots[*cur]
			*cur++
			if f.fail == nil {
				err = s.renderInclude(w, n.inc, sl, depth, f)
			}
		case kTry:
			err = s.renderTry(w, n.try, cur, depth, f)
		case kChoose:
			err = s.render(w, s.choose(n.choose), cur, depth, f)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *assembly) writeText(w io.Writer, parts []part) error {
	var personal bool
	s.tmp, personal = expand(s.tmp[:0], parts, s.page.Vars, escHTML)
	s.res.Personal = s.res.Personal || personal
	_, err := w.Write(s.tmp)
	return err
}

// choose returns the branch of the first true esi:when, else esi:otherwise.
// It is evaluated identically by schedule and render (same Vars).
func (s *assembly) choose(c *chooseBlock) []node {
	branch, personal := chooseBranch(c, s.page.Vars)
	s.res.Personal = s.res.Personal || personal
	return branch
}

func chooseBranch(c *chooseBlock, vars Vars) (branch []node, personal bool) {
	for i := range c.whens {
		ok, p := c.whens[i].test.eval(vars)
		personal = personal || p
		if ok {
			return c.whens[i].body, personal
		}
	}
	return c.otherwise, personal
}

// renderTry renders the attempt into a buffer and writes it if no include
// failed inside; otherwise it renders the except branch (fetched only now,
// as the note says) and a failure there belongs to the enclosing frame.
func (s *assembly) renderTry(w io.Writer, b *tryBlock, cur *int, depth int, f *frame) error {
	var attempt frame
	if f.fail != nil {
		return s.render(io.Discard, b.attempt, cur, depth, &frame{fail: f.fail}) // consume its slots
	}
	buf := s.a.getBuf()
	defer s.a.putBuf(buf)
	if err := s.render(buf, b.attempt, cur, depth, &attempt); err != nil {
		return err
	}
	if attempt.fail == nil {
		_, err := w.Write(buf.Bytes())
		return err
	}
	return s.renderLevel(w, b.except, depth, f)
}

// renderLevel schedules and renders nodes whose includes were not fetched
// with their parent level: esi:except branches and nested templates.
func (s *assembly) renderLevel(w io.Writer, nodes []node, depth int, f *frame) error {
	cur := len(s.slots)
	s.schedule(nodes, depth)
	return s.render(w, nodes, &cur, depth, f)
}

// renderInclude writes the slot's fragment, or its alt, or nothing when
// onerror="continue"; otherwise it records the failure in f.
func (s *assembly) renderInclude(w io.Writer, inc *include, sl *slot, depth int, f *frame) error {
	frag, err := s.wait(sl)
	if err == nil {
		if err = s.emit(w, sl, frag, depth); err == nil {
			return nil
		}
		if _, isWrite := err.(writeError); isWrite {
			return err
		}
	}
	if s.ctx != nil && s.ctx.Err() != nil {
		return s.ctx.Err() // the client is gone: stop, there is no one to write to
	}
	s.res.Failed++
	if inc.alt != nil {
		alt := s.prepare(inc.alt, nil, depth, true, false)
		s.slots = append(s.slots, alt)
		if !alt.done.Load() {
			s.startWorkers()
		}
		var altErr error
		if frag, altErr = s.wait(alt); altErr == nil {
			if altErr = s.emit(w, alt, frag, depth); altErr == nil {
				return nil
			}
		}
		if _, isWrite := altErr.(writeError); isWrite {
			return altErr
		}
	}
	if inc.onErrorContinue || s.a.cfg.ContinueOnError || errors.Is(err, ErrDepth) {
		return nil // ErrDepth: only the include past MaxDepth is dropped, not the levels within it
	}
	s.tmp, _ = expand(s.tmp[:0], inc.src, s.page.Vars, escURL)
	f.fail = &IncludeError{Src: string(s.tmp), Offset: inc.off, Depth: depth, Err: err}
	return nil
}

// writeError marks an error of the output writer, which no fallback absorbs.
type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

// emit checks the fragment and writes it: its template assembled one level
// deeper, or its body (inflated if gzip'd).
func (s *assembly) emit(w io.Writer, sl *slot, frag *Fragment, depth int) error {
	if frag.Status < 200 || frag.Status > 299 {
		return ErrStatus
	}
	if frag.Template != nil && frag.Template.esi {
		if err := s.emitTemplate(w, sl, frag, depth); err != nil {
			return err
		}
		s.res.Included++
		s.res.add(frag)
		return nil
	}
	body := frag.Body
	if frag.Template != nil {
		body = frag.Template.src
	}
	var gz *bytes.Buffer
	if frag.Gzip && frag.Template == nil { // a Template holds the inflated page
		gz = s.a.getBuf()
		defer s.a.putBuf(gz)
		if err := gunzip(gz, body, s.a.cfg.MaxFragmentBytes); err != nil {
			return err
		}
		body = gz.Bytes()
	}
	if len(body) > s.a.cfg.MaxFragmentBytes {
		return ErrFragmentTooLarge
	}
	if _, err := w.Write(body); err != nil {
		return writeError{err}
	}
	s.res.Included++
	s.res.add(frag)
	return nil
}

// emitTemplate renders a nested template. When it can fail as a whole
// (an include without fallback) it is buffered, so that a failure leaves
// no partial fragment in the output; otherwise it streams.
func (s *assembly) emitTemplate(w io.Writer, sl *slot, frag *Fragment, depth int) error {
	t := frag.Template
	s.anc = append(s.anc, sl)
	host, path := s.baseHost, s.basePath
	s.baseHost, s.basePath = sl.req.Host, sl.req.Path // its relative src resolve against the fragment
	defer func() {
		s.anc = s.anc[:len(s.anc)-1]
		s.baseHost, s.basePath = host, path
	}()
	var f frame
	if !t.mayFail || s.a.cfg.ContinueOnError {
		if err := s.renderLevel(w, t.nodes, depth+1, &f); err != nil {
			return writeError{err}
		}
		return nil
	}
	buf := s.a.getBuf()
	defer s.a.putBuf(buf)
	if err := s.renderLevel(buf, t.nodes, depth+1, &f); err != nil {
		return writeError{err}
	}
	if f.fail != nil {
		return f.fail
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return writeError{err}
	}
	return nil
}
