package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"flashgate/cache"
	"flashgate/proxy"
)

// routes is the API table: path, method, whether it changes something.
// docs/admin.md documents each row (a test holds them to each other).
func (a *Admin) routes() []route {
	get := func(h http.HandlerFunc) endpoint { return endpoint{h: a.guard(false, h)} }
	post := func(h http.HandlerFunc) endpoint { return endpoint{mutating: true, h: a.guard(true, h)} }
	return []route{
		{"/metrics", map[string]endpoint{"GET": get(a.metrics)}},
		{"/api/status", map[string]endpoint{"GET": get(a.status)}},
		{"/api/overview", map[string]endpoint{"GET": get(a.overview)}},
		{"/api/reload", map[string]endpoint{"POST": post(a.reload)}},
		{"/api/rules", map[string]endpoint{"GET": get(a.rules)}},
		{"/api/purge", map[string]endpoint{"POST": post(a.purge)}},
		{"/api/items", map[string]endpoint{"GET": get(a.items)}},
		{"/api/items/{route}/{item}", map[string]endpoint{"GET": get(a.item), "POST": post(a.setItem)}},
		{"/api/queues", map[string]endpoint{"GET": get(a.queues)}},
		{"/api/origins", map[string]endpoint{"GET": get(a.origins)}},
		{"/api/orders", map[string]endpoint{"GET": get(a.orders)}},
		{"/api/hotkeys", map[string]endpoint{"GET": get(a.hotKeys)}},
		{"/api/switches", map[string]endpoint{"GET": get(a.switches), "POST": post(a.setSwitch)}},
		{"/api/switches/{name...}", map[string]endpoint{"DELETE": post(a.clearSwitch)}},
		{"/api/queues/{name}/pause", map[string]endpoint{"POST": post(a.pauseQueue(true))}},
		{"/api/queues/{name}/resume", map[string]endpoint{"POST": post(a.pauseQueue(false))}},
	}
}

// statusBody is GET /api/status.
type statusBody struct {
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Uptime    float64   `json:"uptime_seconds"`
	proxy.Status
}

func (a *Admin) statusNow() statusBody {
	now := a.now()
	return statusBody{Version: a.version, StartedAt: a.started, Uptime: now.Sub(a.started).Seconds(), Status: a.gw.Status()}
}

func (a *Admin) status(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, a.statusNow())
}

// reload reads the rule files again, as SIGHUP does. A rejected edit is
// 422 with every error; the last good rules keep serving either way.
func (a *Admin) reload(w http.ResponseWriter, r *http.Request) {
	err := a.gw.Reload()
	a.change(r, "reload", slog.Bool("ok", err == nil))
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, "rules_rejected", err.Error())
		return
	}
	reply(w, http.StatusOK, a.gw.Status())
}

func (a *Admin) rules(w http.ResponseWriter, _ *http.Request) {
	y, err := a.gw.EffectiveRules()
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	reply(w, http.StatusOK, struct {
		Files []string `json:"files"`
		YAML  string   `json:"yaml"`
	}{a.gw.Config().Files, string(y)})
}

// purgeRequest names exactly one of url, prefix, tag or all.
type purgeRequest struct {
	URL    string `json:"url"`
	Prefix string `json:"prefix"`
	Tag    string `json:"tag"`
	All    bool   `json:"all"`
	Soft   bool   `json:"soft"`
}

func (p purgeRequest) toPurge() (cache.Purge, error) {
	if count(p.URL != "", p.Prefix != "", p.Tag != "", p.All) != 1 {
		return cache.Purge{}, errors.New(`name exactly one of "url", "prefix", "tag" or "all": true`)
	}
	c := cache.Purge{Soft: p.Soft, Tag: p.Tag}
	switch {
	case p.Tag != "":
		c.Kind = cache.PurgeTag
	case p.All:
		c.Kind = cache.PurgeAll
	default:
		c.Kind = cache.PurgeURL
		raw := p.URL
		if p.Prefix != "" {
			c.Kind, raw = cache.PurgePrefix, p.Prefix
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return c, fmt.Errorf("%q: want an absolute URL such as http://shop.example/item/7 (the host the origin sees)", raw)
		}
		c.Host, c.Path = u.Host, u.EscapedPath()
		if c.Path == "" {
			c.Path = "/"
		}
	}
	return c, nil
}

func (a *Admin) purge(w http.ResponseWriter, r *http.Request) {
	var req purgeRequest
	if !decode(w, r, &req) {
		return
	}
	p, err := req.toPurge()
	if err != nil {
		fail(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	n := a.gw.Purge(p)
	what := slog.Bool("all", true)
	switch {
	case req.URL != "":
		what = slog.String("url", req.URL)
	case req.Prefix != "":
		what = slog.String("prefix", req.Prefix)
	case req.Tag != "":
		what = slog.String("tag", req.Tag)
	}
	a.change(r, "purge", what, slog.Bool("soft", req.Soft), slog.Int("entries", n))
	reply(w, http.StatusOK, struct {
		Purged int  `json:"purged"`
		Lazy   bool `json:"lazy"` // prefix and all purges apply on lookup: no count
	}{n, p.Kind == cache.PurgePrefix || p.Kind == cache.PurgeAll})
}

func (a *Admin) items(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, nonNil(a.gw.Items()))
}

func (a *Admin) item(w http.ResponseWriter, r *http.Request) {
	it, err := a.gw.Item(r.PathValue("route"), r.PathValue("item"))
	if err != nil {
		failErr(w, err)
		return
	}
	reply(w, http.StatusOK, it)
}

// stockChange names exactly one of set, add or reset.
type stockChange struct {
	Set   *int `json:"set"`
	Add   *int `json:"add"`
	Reset bool `json:"reset"`
}

func (a *Admin) setItem(w http.ResponseWriter, r *http.Request) {
	var c stockChange
	if !decode(w, r, &c) {
		return
	}
	route, item := r.PathValue("route"), r.PathValue("item")
	var err error
	if count(c.Set != nil, c.Add != nil, c.Reset) != 1 {
		fail(w, http.StatusBadRequest, "bad_request", `name exactly one of "set": N, "add": N or "reset": true`)
		return
	}
	switch {
	case c.Set != nil:
		err = a.gw.SetStock(route, item, *c.Set)
	case c.Add != nil:
		err = a.gw.AddStock(route, item, *c.Add)
	default:
		err = a.gw.ResetStock(route, item)
	}
	if err != nil {
		failErr(w, err)
		return
	}
	it, err := a.gw.Item(route, item)
	if err != nil {
		failErr(w, err)
		return
	}
	what := slog.Bool("reset", true)
	if c.Set != nil {
		what = slog.Int("set", *c.Set)
	} else if c.Add != nil {
		what = slog.Int("add", *c.Add)
	}
	a.change(r, "stock", slog.String("route", route), slog.String("item", item), what, slog.Int64("stock", it.Stock))
	reply(w, http.StatusOK, it)
}

func (a *Admin) origins(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, nonNil(a.gw.OriginServers()))
}

func (a *Admin) queues(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, nonNil(a.gw.Queues()))
}

func (a *Admin) pauseQueue(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := a.gw.PauseQueue(name, paused); err != nil {
			failErr(w, err)
			return
		}
		a.change(r, "queue", slog.String("queue", name), slog.Bool("paused", paused))
		for _, q := range a.gw.Queues() {
			if q.Name == name {
				reply(w, http.StatusOK, q)
				return
			}
		}
		fail(w, http.StatusNotFound, "not_found", "the waiting room "+name+" went away with a reload")
	}
}

// change logs one change: what, with which values, asked by whom.
func (a *Admin) change(r *http.Request, what string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("by", who(r)))
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "admin: "+what, attrs...)
}

// count is how many of the conditions hold.
func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
