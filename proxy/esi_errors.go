package proxy

// ansESIInclude answers a page that an include failed (ESI 1.0 §3.1: no
// alt, no onerror="continue", no esi:try) before any of it was sent.
var ansESIInclude = newAnswer(502, "esi_include_failed", "Page unavailable",
	"A part of this page could not be loaded (ESI include failed). Please try again in a moment.", "")
