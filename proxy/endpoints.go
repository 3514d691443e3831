package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"flashgate/cluster"
)

// GatewayHandler answers a request under /_flashgate/. It writes the whole
// response into x.Ctx.Response; x.Route is nil.
type GatewayHandler func(x *Exchange)

// HandleGateway registers h for the path /_flashgate/<name> (name without
// a leading slash, e.g. "quiz" or "queue/status"). It must be called
// before Serve or Handler is used; registering the same name twice panics
// (a wiring bug, not a runtime condition). Unregistered names get a 404.
func (s *Server) HandleGateway(name string, h GatewayHandler) {
	if _, dup := s.endpoints[name]; dup {
		panic("BUG: gateway endpoint /_flashgate/" + name + " registered twice")
	}
	s.endpoints[name] = h
}

func (s *Server) registerBuiltinEndpoints() {
	s.HandleGateway("health", s.serveHealth)
	s.HandleGateway("time", s.serveTime)
}

// serveGateway dispatches /_flashgate/<name>; the map lookup with a
// string(bytes) key does not allocate.
func (s *Server) serveGateway(x *Exchange) {
	if ticket, ok := bytes.CutPrefix(x.Path, ordersPrefix); ok {
		s.serveOrder(x, ticket)
		return
	}
	if h := s.endpoints[string(x.Path[len(gatewayPrefix):])]; h != nil {
		h(x)
		return
	}
	ansNotFound.write(x.Ctx)
}

// healthBody is the JSON of /_flashgate/health.
type healthBody struct {
	Status string       `json:"status"`
	Reload ReloadStatus `json:"last_reload"`
	// Cluster is the shared store's state; absent without cluster:.
	Cluster       *cluster.Status `json:"cluster,omitempty"`
	healthProtect                 // origins down, breakers open, switches on: health.go
}

// serveHealth answers with the state of the last reload (a rejected
// reload is not unhealthy: the last good rules still serve, but an
// operator should see it) and of the origins and switches: 200 "ok", 200
// "degraded" while the gateway still answers with something missing, 503
// "down" when no route can reach a server (health.go).
func (s *Server) serveHealth(x *Exchange) {
	hb := healthBody{Reload: s.LastReload(), Cluster: s.env.clusterStatus(), healthProtect: s.healthProtect()}
	hb.Status = hb.healthProtect.Status
	body, _ := json.Marshal(hb)
	r := &x.Ctx.Response
	if hb.Status == "down" {
		r.SetStatusCode(503)
	}
	r.Header.Set("Cache-Control", "no-store")
	r.Header.SetContentType("application/json")
	r.SetBody(append(body, '\n'))
}

// serveTime answers the server clock for sale-countdown pages, which keep
// the cacheable page apart from this small uncacheable API. It allocates
// nothing beyond the response buffer.
func (s *Server) serveTime(x *Exchange) {
	now := time.Unix(0, x.Now).UTC()
	b := append(x.scratch[:0], `{"now_ms":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"iso":"`...)
	b = now.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, "\"}\n"...)
	x.scratch = b
	r := &x.Ctx.Response
	r.Header.Set("Cache-Control", "no-store")
	r.Header.SetContentType("application/json")
	r.SetBody(b)
}
