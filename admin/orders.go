package admin

import "net/http"

// orders is GET /api/orders: the purchase queue of every async route
// (docs/orders.md), as proxy.Server.OrderQueues reports it.
func (a *Admin) orders(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, a.gw.OrderQueues())
}
