package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The commands of `flashgate ctl`: each parses its arguments, makes one
// call (two for a stock change naming no route) and prints the answer as
// text, or as the API's JSON with -json.

// ctlCommands maps each command to its runner.
var ctlCommands = map[string]func(c *ctlClient, args []string) error{
	"status":  ctlStatus,
	"reload":  ctlReload,
	"rules":   ctlRules,
	"purge":   ctlPurge,
	"items":   ctlItems,
	"stock":   ctlStock,
	"queues":  ctlQueues,
	"queue":   ctlQueue,
	"origins": ctlOrigins,
	"orders":  ctlOrders,
	"hotkeys": ctlHotKeys,
	"switch":  ctlSwitch,
}

type ctlStatusBody struct {
	Version       string    `json:"version"`
	Uptime        float64   `json:"uptime_seconds"`
	RulesLoadedAt time.Time `json:"rules_loaded_at"`
	LastReload    struct {
		OK    bool      `json:"ok"`
		At    time.Time `json:"at"`
		Error string    `json:"error"`
	} `json:"last_reload"`
	Files   []string `json:"files"`
	Routes  int      `json:"routes"`
	Origins int      `json:"origins"`
}

func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Sprintf("%s takes no arguments (got %s)", cmd, strings.Join(args, " ")))
	}
	return nil
}

func ctlStatus(c *ctlClient, args []string) error {
	if err := noArgs("status", args); err != nil {
		return err
	}
	var s ctlStatusBody
	if printed, err := c.call("GET", "/api/status", nil, &s); printed || err != nil {
		return err
	}
	fmt.Fprintf(c.out, "flashgate %s, up %s\n", s.Version, (time.Duration(s.Uptime) * time.Second).Round(time.Second))
	fmt.Fprintf(c.out, "rules loaded at %s: %d routes, %d origins, from %s\n",
		s.RulesLoadedAt.Local().Format("15:04:05"), s.Routes, s.Origins, strings.Join(s.Files, ", "))
	printReload(c.out, s.LastReload.OK, s.LastReload.At, s.LastReload.Error)
	return nil
}

func printReload(w io.Writer, ok bool, at time.Time, msg string) {
	if ok {
		fmt.Fprintf(w, "last reload: ok at %s\n", at.Local().Format("15:04:05"))
		return
	}
	fmt.Fprintf(w, "last reload: REJECTED at %s (the rules loaded before keep serving):\n  %s\n",
		at.Local().Format("15:04:05"), strings.ReplaceAll(msg, "\n", "\n  "))
}

func ctlReload(c *ctlClient, args []string) error {
	if err := noArgs("reload", args); err != nil {
		return err
	}
	var s ctlStatusBody
	if printed, err := c.call("POST", "/api/reload", nil, &s); printed || err != nil {
		return err
	}
	fmt.Fprintf(c.out, "reloaded: rules loaded at %s, %d routes\n", s.RulesLoadedAt.Local().Format("15:04:05"), s.Routes)
	return nil
}

func ctlRules(c *ctlClient, args []string) error {
	if err := noArgs("rules", args); err != nil {
		return err
	}
	var r struct{ YAML string }
	if printed, err := c.call("GET", "/api/rules", nil, &r); printed || err != nil {
		return err
	}
	_, err := io.WriteString(c.out, r.YAML)
	return err
}

// subFlags parses a command's flags wherever they stand among its
// positional arguments (`stock 7 --set 50`).
func subFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(fs.Name() + ": " + err.Error())
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func ctlPurge(c *ctlClient, args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	var req struct {
		URL    string `json:"url,omitempty"`
		Prefix string `json:"prefix,omitempty"`
		Tag    string `json:"tag,omitempty"`
		All    bool   `json:"all,omitempty"`
		Soft   bool   `json:"soft,omitempty"`
	}
	fs.StringVar(&req.Tag, "tag", "", "")
	fs.StringVar(&req.URL, "url", "", "")
	fs.StringVar(&req.Prefix, "prefix", "", "")
	fs.BoolVar(&req.All, "all", false, "")
	fs.BoolVar(&req.Soft, "soft", false, "")
	pos, err := subFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("purge takes --tag, --url, --prefix or --all, not " + strings.Join(pos, " "))
	}
	var r struct {
		Purged int  `json:"purged"`
		Lazy   bool `json:"lazy"`
	}
	if printed, err := c.call("POST", "/api/purge", req, &r); printed || err != nil {
		return err
	}
	how := "removed"
	if req.Soft {
		how = "marked stale"
	}
	if r.Lazy {
		fmt.Fprintf(c.out, "purge applied: entries stored before now are %s as they are looked up\n", how)
	} else {
		fmt.Fprintf(c.out, "purged: %d entries %s\n", r.Purged, how)
	}
	return nil
}

type ctlItem struct {
	Route   string `json:"route"`
	Item    string `json:"item"`
	Stock   int64  `json:"stock"`
	Budget  int64  `json:"budget"`
	Mode    string `json:"mode"`
	Taken   int64  `json:"taken"`
	Left    int64  `json:"left"`
	SoldOut bool   `json:"sold_out"`
}

func printItems(w io.Writer, items []ctlItem) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROUTE\tITEM\tSTOCK\tBUDGET\tTAKEN\tLEFT\tSTATE\t")
	for _, it := range items {
		state := "on sale"
		switch {
		case it.SoldOut:
			state = "SOLD OUT"
		case it.Left == 0:
			state = "all claimed"
		}
		taken := strconv.FormatInt(it.Taken, 10)
		if it.Mode == "in_flight" {
			taken += " in flight"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\t\n", it.Route, it.Item, it.Stock, it.Budget, taken, it.Left, state)
	}
	tw.Flush()
}

func ctlItems(c *ctlClient, args []string) error {
	if err := noArgs("items", args); err != nil {
		return err
	}
	var items []ctlItem
	if printed, err := c.call("GET", "/api/items", nil, &items); printed || err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintln(c.out, "no item has a stock number")
		return nil
	}
	printItems(c.out, items)
	return nil
}

func ctlStock(c *ctlClient, args []string) error {
	fs := flag.NewFlagSet("stock", flag.ContinueOnError)
	set := fs.String("set", "", "")
	add := fs.String("add", "", "")
	reset := fs.Bool("reset", false, "")
	pos, err := subFlags(fs, args)
	if err != nil {
		return err
	}
	var route, item string
	switch len(pos) {
	case 1:
		item = pos[0]
		if route, err = c.stockRoute(item); err != nil {
			return err
		}
	case 2:
		route, item = pos[0], pos[1]
	default:
		return usageError("stock [ROUTE] ITEM [--set N | --add N | --reset]")
	}
	path := "/api/items/" + url.PathEscape(route) + "/" + url.PathEscape(item)
	body := map[string]any{}
	for key, v := range map[string]string{"set": *set, "add": *add} {
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return usageError(fmt.Sprintf("--%s %q: want a whole number", key, v))
		}
		body[key] = n
	}
	if *reset {
		body["reset"] = true
	}
	method, send := "GET", any(nil)
	switch len(body) {
	case 0:
	case 1:
		method, send = "POST", body
	default:
		return usageError("give one of --set, --add or --reset")
	}
	var it ctlItem
	if printed, err := c.call(method, path, send, &it); printed || err != nil {
		return err
	}
	printItems(c.out, []ctlItem{it})
	return nil
}

// stockRoute finds the one route whose stock gate has a number for item.
func (c *ctlClient) stockRoute(item string) (string, error) {
	var items []ctlItem
	if _, err := (&ctlClient{base: c.base, token: c.token, http: c.http}).call("GET", "/api/items", nil, &items); err != nil {
		return "", err
	}
	var routes []string
	for _, it := range items {
		if it.Item == item {
			routes = append(routes, it.Route)
		}
	}
	if len(routes) != 1 {
		return "", usageError(fmt.Sprintf("item %q is on %d stock routes (%s): name the route: flashgate ctl stock ROUTE %s ...",
			item, len(routes), strings.Join(routes, ", "), item))
	}
	return routes[0], nil
}

type ctlQueueBody struct {
	Name      string  `json:"name"`
	Waiting   int     `json:"waiting"`
	Active    int     `json:"active"`
	Admitted  uint64  `json:"admitted"`
	AdmitRate float64 `json:"admit_rate_per_second"`
	MaxActive int     `json:"max_active"`
	Paused    bool    `json:"paused"`
}

func printQueues(w io.Writer, qs []ctlQueueBody) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "QUEUE\tWAITING\tACTIVE\tMAX ACTIVE\tADMITTED\tRATE/S\tADMISSIONS\t")
	for _, q := range qs {
		state := "open"
		if q.Paused {
			state = "PAUSED"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%g\t%s\t\n", q.Name, q.Waiting, q.Active, q.MaxActive, q.Admitted, q.AdmitRate, state)
	}
	tw.Flush()
}

func ctlQueues(c *ctlClient, args []string) error {
	if err := noArgs("queues", args); err != nil {
		return err
	}
	var qs []ctlQueueBody
	if printed, err := c.call("GET", "/api/queues", nil, &qs); printed || err != nil {
		return err
	}
	if len(qs) == 0 {
		fmt.Fprintln(c.out, "no waiting room in the rules")
		return nil
	}
	printQueues(c.out, qs)
	return nil
}

func ctlQueue(c *ctlClient, args []string) error {
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	pause := fs.Bool("pause", false, "")
	resume := fs.Bool("resume", false, "")
	pos, err := subFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *pause == *resume {
		return usageError("queue NAME --pause | --resume")
	}
	action := "resume"
	if *pause {
		action = "pause"
	}
	var q ctlQueueBody
	if printed, err := c.call("POST", "/api/queues/"+url.PathEscape(pos[0])+"/"+action, nil, &q); printed || err != nil {
		return err
	}
	printQueues(c.out, []ctlQueueBody{q})
	return nil
}

func ctlOrigins(c *ctlClient, args []string) error {
	if err := noArgs("origins", args); err != nil {
		return err
	}
	var list []struct {
		Origin         string `json:"origin"`
		Server         string `json:"server"`
		Healthy        bool   `json:"healthy"`
		Forced         string `json:"forced"`
		Breaker        string `json:"breaker"`
		Up             bool   `json:"up"`
		InFlight       int64  `json:"in_flight"`
		Limit          int    `json:"limit"`
		OriginInFlight int64  `json:"origin_in_flight"`
		MaxConns       int    `json:"max_conns"`
	}
	if printed, err := c.call("GET", "/api/origins", nil, &list); printed || err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ORIGIN\tSERVER\tSTATE\tBREAKER\tIN FLIGHT\tMAX CONNS\tORIGIN LIMIT\t")
	for _, o := range list {
		state := "up"
		switch {
		case o.Forced != "":
			state = strings.ToUpper(o.Forced) + " (operator)"
		case !o.Up && !o.Healthy:
			state = "DOWN (health)"
		case !o.Up:
			state = "DOWN"
		}
		limit := "none"
		if o.Limit > 0 {
			limit = fmt.Sprintf("%d/%d", o.OriginInFlight, o.Limit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", o.Origin, o.Server, state, firstOf(o.Breaker, "-"), o.InFlight, o.MaxConns, limit)
	}
	return tw.Flush()
}

func ctlHotKeys(c *ctlClient, args []string) error {
	if err := noArgs("hotkeys", args); err != nil {
		return err
	}
	var list []struct {
		Kind   string    `json:"kind"`
		Key    string    `json:"key"`
		Rate   float64   `json:"rate"`
		Share  float64   `json:"share"`
		Since  time.Time `json:"since"`
		Static bool      `json:"static"`
	}
	if printed, err := c.call("GET", "/api/hotkeys", nil, &list); printed || err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(c.out, "nothing hot")
		return nil
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "KIND\tKEY\tRATE/S\tSHARE\tSINCE\t")
	for _, h := range list {
		rate, share := fmt.Sprintf("%.0f", h.Rate), fmt.Sprintf("%.1f%%", h.Share*100)
		if h.Static {
			rate, share = "static", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", h.Kind, h.Key, rate, share, h.Since.Local().Format("15:04:05"))
	}
	return tw.Flush()
}

// ctlSwitchBody is a Plan B switch as the API takes and lists it.
type ctlSwitchBody struct {
	Kind    string    `json:"kind"`
	Route   string    `json:"route,omitempty"`
	Origin  string    `json:"origin,omitempty"`
	Server  string    `json:"server,omitempty"`
	Message string    `json:"message,omitempty"`
	Factor  float64   `json:"factor,omitempty"`
	Since   time.Time `json:"since,omitzero"`
}

func (w ctlSwitchBody) name() string {
	if w.Kind == "down" || w.Kind == "up" {
		return "server:" + w.Origin + "/" + w.Server
	}
	return w.Kind + ":" + w.Route
}

func printSwitches(out io.Writer, list []ctlSwitchBody) {
	if len(list) == 0 {
		fmt.Fprintln(out, "no switch on")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SWITCH\tSINCE\tDETAIL")
	for _, w := range list {
		detail := w.Message
		if w.Factor != 0 {
			detail = fmt.Sprintf("factor %g", w.Factor)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", w.name(), w.Since.Local().Format("15:04:05"), detail)
	}
	tw.Flush()
}

const switchUsage = "usage: switch [list] | switch close|degrade|stale_only ROUTE [--message M] | switch scale ROUTE --factor F | " +
	"switch down|up ORIGIN SERVER | switch off NAME"

// ctlSwitch lists, turns on or turns off Plan B switches.
func ctlSwitch(c *ctlClient, args []string) error {
	fs := flag.NewFlagSet("switch", flag.ContinueOnError)
	message := fs.String("message", "", "")
	factor := fs.Float64("factor", 0, "")
	pos, err := subFlags(fs, args)
	if err != nil {
		return err
	}
	var list []ctlSwitchBody
	switch {
	case len(pos) == 0 || (len(pos) == 1 && pos[0] == "list"):
		if printed, err := c.call("GET", "/api/switches", nil, &list); printed || err != nil {
			return err
		}
	case pos[0] == "off" && len(pos) == 2:
		if printed, err := c.call("DELETE", "/api/switches/"+pos[1], nil, &list); printed || err != nil {
			return err
		}
	case (pos[0] == "down" || pos[0] == "up") && len(pos) == 3:
		var on ctlSwitchBody
		if printed, err := c.call("POST", "/api/switches", ctlSwitchBody{Kind: pos[0], Origin: pos[1], Server: pos[2]}, &on); printed || err != nil {
			return err
		}
		list = []ctlSwitchBody{on}
	case len(pos) == 2 && pos[0] != "off" && pos[0] != "down" && pos[0] != "up":
		var on ctlSwitchBody
		body := ctlSwitchBody{Kind: pos[0], Route: pos[1], Message: *message, Factor: *factor}
		if printed, err := c.call("POST", "/api/switches", body, &on); printed || err != nil {
			return err
		}
		list = []ctlSwitchBody{on}
	default:
		return usageError(switchUsage)
	}
	printSwitches(c.out, list)
	return nil
}
