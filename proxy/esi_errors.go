package proxy

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"flashgate/esi"
)

// ansESIInclude answers a page that an include failed (ESI 1.0 §3.1: no
// alt, no onerror="continue", no esi:try) before any of it was sent.
var ansESIInclude = newAnswer(502, "esi_include_failed", "Page unavailable",
	"A part of this page could not be loaded (ESI include failed). Please try again in a moment.", "")

// esiTemplateAnswers answer a page whose template the origin sent cannot
// be parsed, one per kind of ESI error, so that the answer names it
// without an error's detail reaching the client (the detail, with the
// byte offset, is logged).
var esiTemplateAnswers = []struct {
	err error
	ans *answer
}{
	{esi.ErrUnclosed, newESITemplateAnswer("an ESI element, tag or comment is not closed")},
	{esi.ErrSyntax, newESITemplateAnswer("an ESI tag, attribute, variable or test is malformed")},
	{esi.ErrUnsupported, newESITemplateAnswer("it uses an ESI element the gateway does not support")},
	{esi.ErrNesting, newESITemplateAnswer("its ESI blocks are nested too deeply")},
	{esi.ErrPageTooLarge, newESITemplateAnswer("it is larger than the gateway assembles")},
}

// ansESITemplate is for a template that could not be read at all (a body
// in a coding the gateway cannot decode).
var ansESITemplate = newESITemplateAnswer("it could not be read")

func newESITemplateAnswer(reason string) *answer {
	return newAnswer(502, "esi_template_error", "Page unavailable",
		"The page template sent by the shop is not valid ESI: "+reason+". Please try again later.", "")
}

// templateAnswer returns the answer naming err's kind of ESI error.
func templateAnswer(err error) *answer {
	for _, a := range esiTemplateAnswers {
		if errors.Is(err, a.err) {
			return a.ans
		}
	}
	return ansESITemplate
}

// esiTemplateErrors counts the templates that cannot be parsed
// (flashgate_esi_template_errors_total, every answer that met one) and
// logs each once per page URL (host and path, query left out so that a
// client cannot make new log lines by adding parameters) and reason, not
// per request. The "already logged" set is a fixed table of hashes,
// 32 KiB whatever the traffic: a slot holds the last (URL, reason) whose
// hash fell on it, so two that collide may each be logged again, rarely.
// Safe for concurrent use; lives as long as the Metrics, across reloads.
type esiTemplateErrors struct {
	count *metrics.Counter
	seed  maphash.Seed
	seen  [esiLoggedSlots]atomic.Uint64
}

const esiLoggedSlots = 4096

func newESITemplateErrors(s *metrics.Set) *esiTemplateErrors {
	return &esiTemplateErrors{count: s.NewCounter("flashgate_esi_template_errors_total"), seed: maphash.MakeSeed()}
}

// report counts err, a template error of the page route's answer for
// host and path, and logs it unless this URL and reason were logged
// already. It builds no log attribute unless it logs.
func (e *esiTemplateErrors) report(log *slog.Logger, route string, host, path []byte, err error) {
	e.count.Inc()
	var h maphash.Hash
	h.SetSeed(e.seed)
	h.Write(host)
	h.WriteByte(0)
	h.Write(path)
	h.WriteByte(0)
	hashReason(&h, err)
	key := h.Sum64() | 1 // never 0, the empty slot
	slot := &e.seen[key%esiLoggedSlots]
	if slot.Load() == key || slot.Swap(key) == key {
		return
	}
	log.LogAttrs(context.Background(), slog.LevelWarn, "ESI template cannot be parsed: a page answers 502, a fragment fails as an include, until the origin fixes it (logged once per URL and reason)",
		slog.String("route", route), slog.String("host", string(host)), slog.String("path", string(path)),
		slog.String("error", err.Error()))
}

// hashReason hashes what makes err's reason without formatting it: a
// *esi.ParseError's offset, construct, kind and detail.
func hashReason(h *maphash.Hash, err error) {
	pe, ok := err.(*esi.ParseError) // as Parse returns it; errors.As would allocate
	if !ok {
		h.WriteString(err.Error())
		return
	}
	var n [20]byte
	h.Write(strconv.AppendInt(n[:0], int64(pe.Offset), 10))
	h.WriteString(pe.What)
	h.WriteString(pe.Err.Error())
	h.WriteString(pe.Detail)
}
