package filters

import (
	"fmt"

	"github.com/valyala/fasthttp"

	"flashgate/rules"
)

// TimePath is the gateway page that tells countdown scripts the server's
// clock, so a page's countdown does not trust the visitor's clock. The
// proxy serves it (it is not one of the pages filters register).
const TimePath = "/_flashgate/time"

// admissionSpec is the top-level "admission:" section.
type admissionSpec struct {
	// Pages are the gateway's page templates and the shop's name and
	// colours on them (pagesSpec, docs/pages.md).
	Pages rules.Node `yaml:"pages"`
	// Keys, Leeway and Store are process settings decoded by package proxy
	// (the token keyring and the state store); named here so that strict
	// decoding accepts them.
	Keys   rules.Node `yaml:"keys"`
	Leeway rules.Node `yaml:"leeway"`
	Store  rules.Node `yaml:"store"`
}

// loadAdmission decodes the admission section and compiles its pages.
func loadAdmission(n rules.Node) (*pageSet, error) {
	var spec admissionSpec
	if n.IsZero() {
		return builtinPages, nil
	}
	if err := n.Decode(&spec); err != nil {
		return nil, err
	}
	return loadPages(spec.Pages, nil)
}

// AddPage registers a gateway page at path (under /_flashgate/) for the
// compile in progress; the proxy mounts the set Commit returns. Registering
// one path twice in one compile is an error.
func (e *Env) AddPage(path string, h fasthttp.RequestHandler) error {
	if len(path) < len("/_flashgate/") || path[:len("/_flashgate/")] != "/_flashgate/" {
		return fmt.Errorf("page path %q is not under /_flashgate/", path)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.pages[path]; dup {
		return fmt.Errorf("page %s registered twice", path)
	}
	e.pages[path] = h
	return nil
}
