package filters

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strconv"

	"github.com/valyala/fasthttp"
)

// A refusal is rendered at compile time with a marker at each live field
// (PageData.Position, ...) and cut at the markers; Verdict.Write appends
// the request's numbers between the parts. Markers are letters and digits
// only, so html/template leaves them intact in text, attributes, URLs, CSS
// and script strings alike.
type slotKind byte

const (
	slotValue    slotKind = 'A' // the verdict's value
	slotWait     slotKind = 'B' // estimated seconds
	slotWaitText slotKind = 'C' // the seconds in words
	slotProgress slotKind = 'D' // percent
	slotRepost   slotKind = 'E' // hidden form of a refused POST (HTML only)
	slotNumber   slotKind = 'N' // the number inside a wait phrase
)

const markerPrefix, markerSuffix = "zqFGslot", "qz"

func marker(k slotKind) string { return markerPrefix + string(rune(k)) + markerSuffix }

// cut splits b at every marker into parts and the kinds between them.
func cut(b []byte) (parts [][]byte, kinds []slotKind) {
	pre := []byte(markerPrefix)
	for {
		i := bytes.Index(b, pre)
		if i < 0 || len(b) < i+len(pre)+1+len(markerSuffix) {
			return append(parts, b), kinds
		}
		end := i + len(pre) + 1
		if string(b[end:end+len(markerSuffix)]) != markerSuffix {
			// Not ours (a shop's text that happens to start alike).
			parts, kinds = appendLiteral(parts, kinds, b[:end])
			b = b[end:]
			continue
		}
		parts = append(parts, b[:i])
		kinds = append(kinds, slotKind(b[end-1]))
		b = b[end+len(markerSuffix):]
	}
}

// appendLiteral extends the last part with lit (no slot between).
func appendLiteral(parts [][]byte, kinds []slotKind, lit []byte) ([][]byte, []slotKind) {
	if len(parts) == len(kinds) {
		return append(parts, lit), kinds
	}
	parts[len(parts)-1] = append(parts[len(parts)-1], lit...)
	return parts, kinds
}

// waitPhrases name the layout's templates that say an estimated wait in
// words: under a minute, 1 minute, N minutes, 1 hour, N hours.
var waitPhrases = [...]string{"wait_under_minute", "wait_minute", "wait_minutes", "wait_hour", "wait_hours"}

// phrases are a page's wait phrases, each cut at its number, as HTML and
// as the text of a JSON string.
type phrases struct {
	html, json [len(waitPhrases)][][]byte
}

func renderPhrases(t *template.Template) (*phrases, error) {
	ph := &phrases{}
	for i, name := range waitPhrases {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, marker(slotNumber)); err != nil {
			return nil, cleanTemplateErr(err)
		}
		ph.html[i], _ = cut(buf.Bytes())
		txt := appendJSONString(nil, html.UnescapeString(buf.String()))
		ph.json[i], _ = cut(txt[1 : len(txt)-1])
	}
	return ph, nil
}

// pick returns the phrase for secs and the number it shows: minutes up to
// an hour (rounded up, so "about 1 minute" never means 90 seconds), then
// hours (rounded to the nearest).
func pickPhrase(secs int64) (idx int, n int64) {
	switch m := (secs + 59) / 60; {
	case secs < 60:
		return 0, 0
	case m == 1:
		return 1, 1
	case m < 60:
		return 2, m
	case (secs+1800)/3600 <= 1:
		return 3, 1
	default:
		return 4, (secs + 1800) / 3600
	}
}

// appendWait appends secs in words using the phrase parts.
func (ph *phrases) appendWait(dst []byte, secs int64, json bool) []byte {
	idx, n := pickPhrase(secs)
	parts := ph.html[idx]
	if json {
		parts = ph.json[idx]
	}
	dst = append(dst, parts[0]...)
	for _, p := range parts[1:] {
		dst = append(strconv.AppendInt(dst, n, 10), p...)
	}
	return dst
}

// WaitText returns secs in words as the built-in pages say it ("about 3
// minutes"); for logs and tests.
func WaitText(secs int64) string {
	return string(builtinPages.phrasesOf("queued").appendWait(nil, secs, true))
}

func (ps *pageSet) phrasesOf(page string) *phrases {
	ph, err := renderPhrases(ps.pages[page])
	if err != nil {
		panic("BUG: filters: phrases checked at load: " + err.Error())
	}
	return ph
}

// render executes page with d (whose live fields hold markers) and cuts the
// result for Verdict.Write.
func (ps *pageSet) render(page string, d *PageData) (renderedPage, error) {
	t := ps.pages[page]
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return renderedPage{}, cleanTemplateErr(err)
	}
	rp := renderedPage{contentType: []byte("text/html; charset=utf-8")}
	rp.parts, rp.slots = cut(buf.Bytes())
	if slices.Contains(rp.slots, slotWaitText) {
		rp.phrases = ps.phrasesOf(page)
	}
	return rp, nil
}

// liveData sets the live fields of d to their markers.
func liveData(d *PageData) {
	d.Value, d.Position, d.Wait = marker(slotValue), marker(slotValue), marker(slotWait)
	d.WaitText, d.Progress = marker(slotWaitText), marker(slotProgress)
	d.Repost = template.HTML(marker(slotRepost))
}

// appendSlot appends the request's text for one slot of page.
func (page *renderedPage) appendSlot(dst []byte, k slotKind, v *Verdict, ctx *fasthttp.RequestCtx) []byte {
	switch k {
	case slotValue:
		return strconv.AppendInt(dst, v.val, 10)
	case slotWait:
		return strconv.AppendInt(dst, int64(v.wait), 10)
	case slotWaitText:
		return page.phrases.appendWait(dst, int64(v.wait), page.json)
	case slotProgress:
		return strconv.AppendInt(dst, int64(v.progress), 10)
	case slotRepost:
		return appendRepost(dst, ctx)
	}
	panic(fmt.Sprintf("BUG: filters: slot %q", k))
}

// appendRepost appends, for a refused form POST, a hidden form that posts
// the same fields to the same address (the quiz page submits it once the
// check is passed). Values are escaped for an attribute. 0 allocs.
func appendRepost(dst []byte, ctx *fasthttp.RequestCtx) []byte {
	if !ctx.IsPost() {
		return dst
	}
	dst = append(dst, `<form id="fg-repost" method="post" hidden>`...)
	for k, v := range ctx.PostArgs().All() {
		dst = append(dst, `<input type="hidden" name="`...)
		dst = appendEscaped(dst, k)
		dst = append(dst, `" value="`...)
		dst = appendEscaped(dst, v)
		dst = append(dst, `">`...)
	}
	return append(dst, `</form>`...)
}

// appendEscaped appends b escaped for HTML text and quoted attributes.
func appendEscaped(dst, b []byte) []byte {
	for _, c := range b {
		switch c {
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '&':
			dst = append(dst, "&amp;"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		case 0:
			dst = append(dst, "\uFFFD"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// GatewayPage renders the built-in page of one of the gateway's own
// answers (the shop down for a 5xx status, else a bad request), for
// package proxy to build its answers once at start.
func GatewayPage(status int, title, message string) []byte {
	page := "gateway_error"
	if status >= 500 {
		page = "origin_down"
	}
	d := &PageData{Shop: builtinPages.shop, Page: page, Status: status, Title: title, Message: message, TimeURL: TimePath}
	var buf bytes.Buffer
	if err := builtinPages.pages[page].Execute(&buf, d); err != nil {
		panic("BUG: filters: built-in page " + page + ": " + err.Error())
	}
	return buf.Bytes()
}
