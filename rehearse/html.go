package rehearse

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed templates/report.html
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":  func(d time.Duration) string { return ms(d) },
	"dur": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).Parse(reportHTML))

// WriteHTML writes the report as one self-contained HTML page: styles
// inline, charts as inline SVG drawn here, no script and nothing fetched,
// so it opens offline and can be mailed around after the rehearsal.
func (r *Report) WriteHTML(w io.Writer) error {
	return reportTmpl.Execute(w, struct {
		*Report
		Charts []chart
		Steps  []stepRow
	}{r, r.charts(), r.stepRows()})
}

type stepRow struct {
	Name string
	Latency
}

func (r *Report) stepRows() []stepRow {
	var rows []stepRow
	for _, s := range steps {
		rows = append(rows, stepRow{s, r.Steps[s]})
	}
	return rows
}

// chart is one small line chart of the timeline.
type chart struct {
	Title  string
	Max    int64
	Series []series
	Width  int
	Height int
	Ticks  []tick
}

type series struct {
	Name   string
	Colour string
	Points string // SVG polyline points
}

type tick struct {
	X     int
	Label string
}

const chartW, chartH = 560, 160

// Colours chosen to be told apart by people with the common colour
// blindnesses (Okabe-Ito).
var palette = map[string]string{
	classOK: "#009E73", classWaiting: "#0072B2", classRefused: "#E69F00", classError: "#D55E00",
	"queue": "#0072B2", "stock": "#009E73", "origin": "#CC79A7", "in flight": "#56B4E9",
}

func (r *Report) charts() []chart {
	tl := r.Timeline
	pick := func(f func(s *second) int64) []int64 {
		v := make([]int64, len(tl))
		for i := range tl {
			v[i] = f(&tl[i])
		}
		return v
	}
	var answers []namedValues
	for _, c := range classes {
		answers = append(answers, namedValues{c, pick(func(s *second) int64 { return s.Answers[c] })})
	}
	out := []chart{
		newChart("Answers per second by outcome", answers),
		newChart("Queue length", []namedValues{{"queue", pick(func(s *second) int64 { return s.Queue })}}),
	}
	if stock := pick(func(s *second) int64 { return s.Stock }); anyKnown(stock) {
		out = append(out, newChart("Stock left", []namedValues{{"stock", stock}}))
	}
	origin := pick(func(s *second) int64 { return s.Origin })
	inFlight := pick(func(s *second) int64 { return s.InFlight })
	if anyKnown(origin) || anyKnown(inFlight) {
		out = append(out, newChart("Shop: requests per second and in flight",
			[]namedValues{{"origin", origin}, {"in flight", inFlight}}))
	}
	return out
}

type namedValues struct {
	name string
	v    []int64
}

func anyKnown(v []int64) bool {
	for _, x := range v {
		if x >= 0 {
			return true
		}
	}
	return false
}

// newChart scales every series to one y axis (its largest value) and the
// timeline's seconds to the x axis; unknown readings (-1) are left out.
func newChart(title string, vs []namedValues) chart {
	c := chart{Title: title, Width: chartW, Height: chartH, Max: 1}
	n := 0
	for _, s := range vs {
		n = max(n, len(s.v))
		for _, x := range s.v {
			c.Max = max(c.Max, x)
		}
	}
	x := func(i int) float64 { return float64(i) * float64(chartW) / float64(max(1, n-1)) }
	for _, s := range vs {
		var pts strings.Builder
		for i, v := range s.v {
			if v < 0 {
				continue
			}
			y := float64(chartH) - float64(v)*float64(chartH-4)/float64(c.Max)
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y)
		}
		c.Series = append(c.Series, series{Name: s.name, Colour: palette[s.name], Points: strings.TrimSpace(pts.String())})
	}
	step := max(1, n/6)
	for i := 0; i < n; i += step {
		c.Ticks = append(c.Ticks, tick{X: int(x(i)), Label: fmt.Sprintf("%ds", i)})
	}
	return c
}
