package filters

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// PageData is what every gateway page template is executed with: the
// refusals (one per reason), the question page and the origin's error
// pages. docs/pages.md lists the fields per page; a template naming a field
// that is not here is a load error.
//
// The fields marked live differ per request: a refusal is rendered once,
// when the rules are compiled, with a placeholder at each live field, and
// the request's number is written there when it is answered (so refusing
// allocates nothing). Use them as text or attribute values, not in
// comparisons or arithmetic.
type PageData struct {
	Shop Shop

	Page       string // the page's name: the refusal reason ("queued"), "quiz" or "origin_down"
	Status     int    // the HTTP status it is sent with
	Title      string // plain text
	Message    string // plain text, one or two sentences
	Route      string // the rule's route name
	Filter     string // the filter kind that refused ("queue"); "" for other pages
	RetryAfter int64  // a fixed Retry-After in seconds, 0 for none

	Value    string // live: the refusal's number (place in line, seconds to the start, ...)
	Position string // live, waiting room: place in line, 1 = next
	Wait     string // live, waiting room and countdown: estimated seconds to go
	WaitText string // live: Wait in words from the wait_* phrases ("about 3 minutes")
	Progress string // live, waiting room: percent of the wait behind the visitor, 0..100, never falls

	// Repost is live HTML: on a refused POST, a hidden form (id fg-repost)
	// holding the request's form fields, which the quiz page submits again
	// once the check is passed; empty for other requests.
	Repost template.HTML

	StartsAt       string // sale window start, RFC 3339
	StartsAtText   string // the start for people ("Wed 25 Nov 2026, 12:00 UTC")
	StartsAtUnixMS int64  // the start in unix milliseconds, for countdown scripts
	EndsAt         string // sale window end, RFC 3339
	EndsAtText     string

	QuizURL        string // the question page (with ?return= when the rule names one)
	WaitURL        string // the page where the line is (a purchase refused without a queue pass)
	StatusURL      string // the waiting room's JSON status, polled by its page
	TimeURL        string // the server's clock, for countdowns (/_flashgate/time)
	RefreshSeconds int    // the meta refresh of pages that update themselves
	PollSeconds    int    // how often the waiting room's script polls StatusURL

	Quiz QuizData // the question page only
}

// QuizData is the question page's challenge.
type QuizData struct {
	Mode       string // "pow" (the page solves a puzzle) or "text" (a question)
	Question   string // text mode; in pow mode the question asked without JavaScript ("" if none)
	Challenge  string // the signed challenge, posted back
	Action     string // where the form posts
	Return     string // where the visitor goes after answering
	Difficulty int    // pow: leading zero bits
	MinSolveMS int64  // answers sooner than this after the challenge are refused
	Problem    string // why the last answer was refused, "" the first time
}

// Shop is the shop's name and colours on every page, from pages.shop.
type Shop struct {
	Name string // default "Shop"
	Home string // the shop's front page, default "/"
	Logo string // an image URL shown beside the name, optional
	Lang string // the pages' language (the html lang attribute), default "en"
	// Color is the accent (top bar, buttons, progress), "#rrggbb".
	// OnColor (text on the accent) and LinkColor (links and focus rings on
	// white) are derived from it so that both keep a 4.5:1 contrast.
	Color, OnColor, LinkColor template.CSS
}

// shopSpec is pages.shop in the rules.
type shopSpec struct {
	Name  string `yaml:"name"`
	Home  string `yaml:"home"`
	Logo  string `yaml:"logo"`
	Lang  string `yaml:"lang"`
	Color string `yaml:"color"`
}

var defaultShop = mustShop(shopSpec{})

func mustShop(s shopSpec) Shop {
	sh, err := s.compile(Shop{Name: "Shop", Home: "/", Lang: "en", Color: "#1f5fbf"})
	if err != nil {
		panic("BUG: filters: default shop: " + err.Error())
	}
	return sh
}

// compile fills the set fields of s over inherit (the gateway's shop for a
// route's pages) and derives the contrast colours.
func (s shopSpec) compile(inherit Shop) (Shop, error) {
	sh := inherit
	for _, f := range []struct {
		dst *string
		v   string
	}{{&sh.Name, s.Name}, {&sh.Home, s.Home}, {&sh.Logo, s.Logo}, {&sh.Lang, s.Lang}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	color := string(sh.Color)
	if s.Color != "" {
		color = s.Color
	}
	rgb, err := parseColor(color)
	if err != nil {
		return sh, err
	}
	sh.Color = template.CSS(fmt.Sprintf("#%06x", rgb))
	sh.OnColor, sh.LinkColor = "#ffffff", sh.Color
	if contrast(rgb, 0xffffff) < 4.5 {
		// A light accent: dark text on it, and links a dark shade of it.
		sh.OnColor = "#1c1e21"
		sh.LinkColor = template.CSS(fmt.Sprintf("#%06x", darken(rgb)))
	}
	return sh, nil
}

// parseColor reads "#rgb" or "#rrggbb".
func parseColor(s string) (uint32, error) {
	h, ok := strings.CutPrefix(s, "#")
	if ok && len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if !ok || len(h) != 6 || err != nil {
		return 0, fmt.Errorf("color %q: want #rrggbb or #rgb, e.g. #b4471f", s)
	}
	return uint32(v), nil
}

// luminance is the WCAG 2 relative luminance of 0xrrggbb.
func luminance(rgb uint32) float64 {
	ch := func(v uint32) float64 {
		c := float64(v&0xff) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(rgb>>16) + 0.7152*ch(rgb>>8) + 0.0722*ch(rgb)
}

// contrast is the WCAG 2 contrast ratio of two colours (1..21).
func contrast(a, b uint32) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// darken scales rgb toward black until it reads on white at 4.5:1.
func darken(rgb uint32) uint32 {
	for f := 0.9; f > 0; f -= 0.05 {
		var d uint32
		for shift := 16; shift >= 0; shift -= 8 {
			d |= uint32(float64(rgb>>shift&0xff)*f) << shift
		}
		if contrast(d, 0xffffff) >= 4.5 {
			return d
		}
	}
	return 0x1c1e21
}
