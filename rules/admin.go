package rules

import (
	"net"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Admin is the admin listener (JSON API, metrics, dashboard) of the
// top-level "admin:" section; nil when the section is absent:
//
//	admin:
//	  listen: 127.0.0.1:9090        # never the public port; loopback by default
//	  token_file: .admin-token      # bearer token, relative to the main rule file;
//	                                # created with a random token when missing
//	  token_env: FLASHGATE_ADMIN_TOKEN  # or: the token from this variable
//
// Changing it takes effect at the next restart.
type Admin struct {
	Listen    string // default 127.0.0.1:9090
	TokenFile string // as written; see Config.AdminTokenPath
	TokenEnv  string
	Pos       Pos
}

type adminSpec struct {
	Listen    listenAddr `yaml:"listen"`
	TokenFile string     `yaml:"token_file"`
	TokenEnv  string     `yaml:"token_env"`
}

// DefaultAdminListen is admin.listen when the section leaves it out.
const DefaultAdminListen = "127.0.0.1:9090"

// buildAdmin validates the admin section: one token source at most, one
// required beyond loopback, and never the public listener's address.
func (l *loader) buildAdmin(n Node, s *adminSpec, public string) *Admin {
	if s == nil {
		return nil
	}
	a := &Admin{Listen: string(s.Listen), TokenFile: s.TokenFile, TokenEnv: s.TokenEnv, Pos: n.Pos()}
	if a.Listen == "" {
		a.Listen = DefaultAdminListen
	}
	if a.TokenFile != "" && a.TokenEnv != "" {
		l.errs.add(n.Errorf("token_env", "set token_file or token_env, not both"))
	}
	if !IsLoopback(a.Listen) && a.TokenFile == "" && a.TokenEnv == "" {
		l.errs.add(n.Errorf("listen", "%s is reachable beyond this machine: set token_file or token_env "+
			"(the admin API can purge, change stock and reload)", a.Listen))
	}
	if samePort(a.Listen, public) {
		l.errs.add(n.Errorf("listen", "%s is the public listener's (server.listen %s): the admin API never shares the public port",
			a.Listen, public))
	}
	return a
}

// IsLoopback reports whether a listen address (host:port) is reachable
// only from this machine: a loopback IP or "localhost". An empty host
// listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// samePort reports whether two listen addresses would take one port: the
// same port number (not 0) and either host empty (all interfaces) or the
// same host.
func samePort(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" {
		return false
	}
	return ha == "" || hb == "" || strings.EqualFold(ha, hb)
}

// AdminTokenPath is admin.token_file resolved against the main rule
// file's directory; "" when there is no admin section or no token file.
func (c *Config) AdminTokenPath() string {
	if c.Admin == nil || c.Admin.TokenFile == "" {
		return ""
	}
	if filepath.IsAbs(c.Admin.TokenFile) || len(c.Files) == 0 {
		return c.Admin.TokenFile
	}
	return filepath.Join(filepath.Dir(c.Files[0]), c.Admin.TokenFile)
}

type dumpAdmin struct {
	Listen    string `yaml:"listen"`
	TokenFile string `yaml:"token_file,omitempty"`
	TokenEnv  string `yaml:"token_env,omitempty"`
}

func dumpAdminOf(a *Admin) *dumpAdmin {
	if a == nil {
		return nil
	}
	return &dumpAdmin{Listen: a.Listen, TokenFile: a.TokenFile, TokenEnv: a.TokenEnv}
}

// secretKeys are the keys whose values DumpRedacted hides: token signing
// secrets (admission.keys[].secret) and anything named like a password.
var secretKeys = []string{"secret", "password", "token"}

// DumpRedacted is Dump with the values of secret keys replaced by
// "<redacted>", for showing the effective rules to operators. Names of
// files and variables holding secrets (secret_file, token_env) are kept:
// they are not secrets and say where to look.
func (c *Config) DumpRedacted() ([]byte, error) {
	out, err := c.Dump()
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Load(out, &doc); err != nil {
		return nil, err
	}
	redact(&doc)
	return yaml.Dump(&doc)
}

func redact(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			for _, s := range secretKeys {
				if strings.EqualFold(k.Value, s) && v.Kind == yaml.ScalarNode {
					v.Value, v.Tag, v.Style = "<redacted>", "!!str", 0
				}
			}
		}
	}
	for _, c := range n.Content {
		redact(c)
	}
}
