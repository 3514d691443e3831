package rules

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Cluster is the top-level `cluster:` section: the Redis that several
// gateway instances share their admission state through. A Config without
// the section has Cluster == nil and keeps all state in process memory.
//
//	cluster:
//	  addrs: [10.0.0.5:6379]         # one address: a single node; several: Redis Cluster
//	  master_name: mymaster          # with addrs of Sentinels: the monitored master
//	  username: flashgate            # ACL user (optional)
//	  password_file: /run/secrets/redis   # or password_env: REDIS_PASSWORD; never inline
//	  db: 0                          # single node and Sentinel only
//	  tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem, server_name: redis.internal}
//	  pool_size: 64                  # connections per node (default: go-redis's, 10 per CPU)
//	  timeout: 5ms                   # per call, dial excluded (default 5ms)
//	  on_failure: local              # local (default) | open | closed, while Redis is unreachable
//	  filters: {stock: closed}       # per filter kind override of on_failure
//	  breaker: {failures: 5, open: 1s}  # consecutive failures that open it; how long it stays open
//	  lease: 0                       # rate limits: cells leased per Redis call (0 = exact)
//
// The client is made once at start: a reload that edits the section is
// reported and takes effect at the next restart.
type Cluster struct {
	Addrs      []string
	MasterName string
	Username   string
	// Password is the secret read from PasswordFile or PasswordEnv. It is
	// never part of an error message, a log line or a -check output.
	Password string
	DB       int
	TLS      *ClusterTLS // nil = plain TCP
	PoolSize int         // 0 = go-redis's default
	Timeout  time.Duration
	// OnFailure is the policy while Redis is unreachable: local, open or
	// closed; Filters overrides it per filter kind (e.g. "stock").
	OnFailure string
	Filters   map[string]string
	// BreakerFailures consecutive failed calls open the breaker, which
	// then lets one probe through every BreakerOpen.
	BreakerFailures int
	BreakerOpen     time.Duration
	// Lease is how many cells of a global rate limit one instance takes
	// per Redis call (batched mode); 0 checks every request in Redis.
	Lease int
	Pos   Pos
}

// ClusterTLS is the cluster's TLS settings; files are read at load, so a
// missing or bad file fails -check.
type ClusterTLS struct {
	CAFile, CertFile, KeyFile, ServerName string
	Config                                *tls.Config
}

// FailurePolicies are the allowed values of on_failure.
var FailurePolicies = []string{"local", "open", "closed"}

// DefaultClusterTimeout is the per-call timeout without `timeout:`: a
// Redis on the same network answers in well under a millisecond, and a
// request must never wait for a dead one.
const DefaultClusterTimeout = 5 * time.Millisecond

type clusterSpec struct {
	Addrs        []serverAddr      `yaml:"addrs"`
	MasterName   string            `yaml:"master_name"`
	Username     string            `yaml:"username"`
	PasswordFile string            `yaml:"password_file"`
	PasswordEnv  string            `yaml:"password_env"`
	DB           int               `yaml:"db"`
	TLS          *clusterTLSSpec   `yaml:"tls"`
	PoolSize     int               `yaml:"pool_size"`
	Timeout      Duration          `yaml:"timeout"`
	OnFailure    string            `yaml:"on_failure"`
	Filters      map[string]string `yaml:"filters"`
	Breaker      breakerSpec       `yaml:"breaker"`
	Lease        int               `yaml:"lease"`
}

type clusterTLSSpec struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

type breakerSpec struct {
	Failures int      `yaml:"failures"`
	Open     Duration `yaml:"open"`
}

// clusterFilterKinds are the filter kinds whose state lives in the store,
// the keys `cluster.filters` accepts.
var clusterFilterKinds = []string{"ratelimit", "quiz", "queue", "purchase_limit", "stock"}

// buildCluster validates the cluster section. It needs admission.keys:
// without shared keys each instance signs with its own random key and
// cannot verify another's quiz passes or queue tickets.
func (l *loader) buildCluster(root Node, s *clusterSpec) *Cluster {
	if s == nil {
		return nil
	}
	n := root.Get("cluster")
	c := &Cluster{MasterName: s.MasterName, Username: s.Username, DB: s.DB, PoolSize: s.PoolSize,
		Timeout: orDefault(s.Timeout, DefaultClusterTimeout), OnFailure: s.OnFailure, Filters: s.Filters,
		BreakerFailures: s.Breaker.Failures, BreakerOpen: orDefault(s.Breaker.Open, time.Second),
		Lease: s.Lease, Pos: n.Pos()}
	for _, a := range s.Addrs {
		c.Addrs = append(c.Addrs, string(a))
	}
	if len(c.Addrs) == 0 {
		l.errs.add(n.Errorf("addrs", "missing: want the Redis address(es), e.g. [127.0.0.1:6379]"))
	}
	if c.OnFailure == "" {
		c.OnFailure = "local"
	}
	l.oneOf(n, "on_failure", c.OnFailure, FailurePolicies)
	for _, kind := range sortedKeys(c.Filters) {
		if !slices.Contains(clusterFilterKinds, kind) {
			l.errs.add(n.Get("filters").Errorf(kind, "unknown filter kind %q (known: %s)", kind, list(clusterFilterKinds)))
		}
		l.oneOf(n.Get("filters"), kind, c.Filters[kind], FailurePolicies)
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = 5
	}
	l.positive(n.Get("breaker"), "failures", c.BreakerFailures)
	l.nonNegative(n, "pool_size", c.PoolSize)
	l.nonNegative(n, "lease", c.Lease)
	l.nonNegative(n, "db", c.DB)
	if c.Timeout <= 0 || c.Timeout > time.Second {
		l.errs.add(n.Errorf("timeout", "must be within 1ms..1s, got %v: a request waits this long for Redis", c.Timeout))
	}
	l.clusterPassword(n, s, c)
	c.TLS = l.clusterTLS(n, s.TLS)
	if root.Get("admission").Get("keys").IsZero() {
		l.errs.add(n.Errorf("", "needs admission.keys: instances must share the token keys, or a quiz pass "+
			"or queue ticket issued by one instance is refused by the others"))
	}
	return c
}

func (l *loader) positive(n Node, key string, v int) {
	if v < 1 {
		l.errs.add(n.Errorf(key, "must be at least 1, got %d", v))
	}
}

// clusterPassword reads the secret. Errors name the file or the variable,
// never the value.
func (l *loader) clusterPassword(n Node, s *clusterSpec, c *Cluster) {
	switch {
	case s.PasswordFile != "" && s.PasswordEnv != "":
		l.errs.add(n.Errorf("password_file", "give password_file or password_env, not both"))
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			l.errs.add(n.Errorf("password_file", "%v", err))
			return
		}
		c.Password = strings.TrimRight(string(b), "\r\n")
	case s.PasswordEnv != "":
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			l.errs.add(n.Errorf("password_env", "environment variable %s is not set", s.PasswordEnv))
			return
		}
		c.Password = v
	}
}

// clusterTLS loads the TLS files, so that -check reports a bad one.
func (l *loader) clusterTLS(n Node, s *clusterTLSSpec) *ClusterTLS {
	if s == nil {
		return nil
	}
	n = n.Get("tls")
	t := &ClusterTLS{CAFile: s.CAFile, CertFile: s.CertFile, KeyFile: s.KeyFile, ServerName: s.ServerName,
		Config: &tls.Config{ServerName: s.ServerName, MinVersion: tls.VersionTLS12}}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			l.errs.add(n.Errorf("ca_file", "%v", err))
		case !pool.AppendCertsFromPEM(pem):
			l.errs.add(n.Errorf("ca_file", "%s holds no PEM certificate", s.CAFile))
		}
		t.Config.RootCAs = pool
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		l.errs.add(n.Errorf("cert_file", "give both cert_file and key_file (a client certificate), or neither"))
	} else if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			l.errs.add(n.Errorf("cert_file", "%v", err))
		}
		t.Config.Certificates = []tls.Certificate{cert}
	}
	return t
}

// PolicyFor returns the on_failure policy of a filter kind.
func (c *Cluster) PolicyFor(kind string) string {
	if p, ok := c.Filters[kind]; ok {
		return p
	}
	return c.OnFailure
}

// String describes the cluster for logs without its password.
func (c *Cluster) String() string {
	s := fmt.Sprintf("redis %s timeout=%v on_failure=%s", strings.Join(c.Addrs, ","), c.Timeout, c.OnFailure)
	if c.MasterName != "" {
		s += " master=" + c.MasterName
	}
	if c.TLS != nil {
		s += " tls"
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
