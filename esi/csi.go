package esi

import (
	"bytes"
	"io"
)

// csiScript replaces every placeholder by its fragment, fetched by the
// browser with the user's cookies (same-origin only); on failure it tries
// data-fg-alt, then removes the placeholder. Scripts inside fragments run
// (createContextualFragment), as they would in an edge-assembled page.
const csiScript = `(function(){function g(u){return fetch(u,{credentials:"same-origin"}).then(function(r){if(!r.ok)throw Error(r.status);return r.text()})}` +
	`document.querySelectorAll("span[data-fg-csi]").forEach(function(e){var a=e.getAttribute("data-fg-alt");` +
	`g(e.getAttribute("data-fg-csi")).catch(function(x){if(a)return g(a);throw x}).then(function(t){e.replaceWith(document.createRange().createContextualFragment(t))},function(){e.remove()})})})();`

var bodyEnd = []byte("</body>")

// RenderCSI renders t for client-side includes: each esi:include becomes
// <span data-fg-csi="URL" [data-fg-alt="URL"]></span> and one script
// (before the last </body>, else at the end; with nonce="..." when nonce is
// not empty, for a CSP) fetches them in the browser. Nothing is fetched
// here. Variables, esi:choose, esi:remove, esi:comment and <!--esi are
// handled as in Assemble; of esi:try only the attempt is rendered (the
// browser drops a failed include: esi:except and the page-fails rule of the
// ESI note do not apply client-side). Src URLs are checked as in Assemble
// (HostAllowed for absolute ones; a refused include is dropped and counted
// in Result.Failed). Result.Included counts placeholders.
func (a *Assembler) RenderCSI(w io.Writer, t *Template, page *Page, nonce string) (Result, error) {
	if !t.esi {
		_, err := w.Write(t.src)
		return Result{MaxAge: NoMaxAge}, err
	}
	c, _ := a.csis.Get().(*csi)
	if c == nil {
		c = new(csi)
	}
	*c = csi{a: a, page: page, nonce: nonce, res: Result{MaxAge: NoMaxAge},
		bodyEnd: bytes.LastIndex(t.src, bodyEnd), tmp: c.tmp[:0], out: c.out[:0], req: FragmentRequest{buf: c.req.buf[:0]}}
	err := c.render(w, t.nodes)
	if err == nil && c.res.Included > 0 && !c.scripted {
		err = c.writeScript(w)
	}
	res := c.res
	c.a, c.page = nil, nil
	a.csis.Put(c)
	return res, err
}

// csi is the per-call state of RenderCSI, pooled with its scratch buffers.
type csi struct {
	a        *Assembler
	page     *Page
	nonce    string
	res      Result
	req      FragmentRequest
	tmp, out []byte
	bodyEnd  int
	scripted bool
}

func (c *csi) render(w io.Writer, nodes []node) error {
	for i := range nodes {
		n := &nodes[i]
		var err error
		switch n.kind {
		case kLiteral:
			err = c.writeLiteral(w, n)
		case kText:
			var personal bool
			c.tmp, personal = expand(c.tmp[:0], n.text, c.page.Vars, escHTML)
			c.res.Personal = c.res.Personal || personal
			_, err = w.Write(c.tmp)
		case kInclude:
			err = c.placeholder(w, n.inc)
		case kTry:
			err = c.render(w, n.try.attempt)
		case kChoose:
			branch, personal := chooseBranch(n.choose, c.page.Vars)
			c.res.Personal = c.res.Personal || personal
			err = c.render(w, branch)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeLiteral writes the literal, inserting the script before the page's
// last </body> when placeholders precede it.
func (c *csi) writeLiteral(w io.Writer, n *node) error {
	at := c.bodyEnd - n.off
	if c.scripted || c.res.Included == 0 || at < 0 || at >= len(n.lit) {
		_, err := w.Write(n.lit)
		return err
	}
	if _, err := w.Write(n.lit[:at]); err != nil {
		return err
	}
	if err := c.writeScript(w); err != nil {
		return err
	}
	_, err := w.Write(n.lit[at:])
	return err
}

func (c *csi) writeScript(w io.Writer) error {
	c.scripted = true
	c.out = append(c.out[:0], "<script"...)
	if c.nonce != "" {
		c.out = append(c.out, ` nonce="`...)
		c.out = appendHTMLEscaped(c.out, []byte(c.nonce))
		c.out = append(c.out, '"')
	}
	c.out = append(c.out, '>')
	c.out = append(c.out, csiScript...)
	c.out = append(c.out, "</script>"...)
	_, err := w.Write(c.out)
	return err
}

func (c *csi) placeholder(w io.Writer, inc *include) error {
	c.out = append(c.out[:0], `<span data-fg-csi="`...)
	var ok bool
	if c.a.overBound(inc) {
		ok = false
	} else {
		c.out, ok = c.appendURL(c.out, inc.src)
	}
	if !ok {
		c.res.Failed++
		if inc.alt == nil {
			return nil
		}
		c.out = append(c.out[:0], `<span data-fg-csi="`...)
		if c.out, ok = c.appendURL(c.out, inc.alt); !ok {
			return nil
		}
	} else if inc.alt != nil {
		mark := len(c.out)
		c.out = append(c.out, `" data-fg-alt="`...)
		if c.out, ok = c.appendURL(c.out, inc.alt); !ok {
			c.out = c.out[:mark]
		}
	}
	c.out = append(c.out, `"></span>`...)
	c.res.Included++
	_, err := w.Write(c.out)
	return err
}

// appendURL appends the resolved, HTML-escaped URL of src: a path for the
// page's host, "//host/path" for an allowed absolute src.
func (c *csi) appendURL(dst []byte, src []part) ([]byte, bool) {
	var personal bool
	c.tmp, personal = expand(c.tmp[:0], src, c.page.Vars, escURL)
	c.res.Personal = c.res.Personal || personal
	if resolve(&c.req, c.page.Host, c.page.Path, c.tmp, c.a.cfg.HostAllowed) != nil {
		return dst, false
	}
	if c.req.Absolute {
		dst = append(dst, "//"...)
		dst = appendHTMLEscaped(dst, c.req.Host)
	}
	return appendHTMLEscaped(dst, c.req.Path), true
}
