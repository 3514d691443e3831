package flashgate_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"flashgate/internal/fgtest"
	"flashgate/proxy"
	"flashgate/rules"
)

// The deployment files (deploy/) are checked offline: they parse, hold
// what an operator relies on, agree with each other, and their rules load
// and answer the health checks that the orchestrators will send.

type obj = map[string]any

// get walks a decoded YAML value by keys (string) and list indexes (int).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(obj)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

func list(v any, path ...any) []any { l, _ := get(v, path...).([]any); return l }

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, name string) []obj {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var docs []obj
	for {
		var d obj
		err := dec.Load(&d)
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// labelsMatch reports whether every selector label is among labels.
func labelsMatch(selector, labels any) bool {
	s, _ := selector.(obj)
	l, _ := labels.(obj)
	if len(s) == 0 {
		return false
	}
	for k, v := range s {
		if l[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join("deploy", "kubernetes")
	byKind := map[string]obj{}
	for _, res := range list(yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0], "resources") {
		for _, d := range yamlDocs(t, filepath.Join(dir, res.(string))) {
			kind, name := str(d, "kind"), str(d, "metadata", "name")
			if str(d, "apiVersion") == "" || kind == "" || name == "" {
				t.Fatalf("%s: a document without apiVersion, kind or metadata.name", res)
			}
			if byKind[kind] != nil {
				t.Fatalf("two %s objects", kind)
			}
			byKind[kind] = d
		}
	}
	dep, cm, svc, pdb := byKind["Deployment"], byKind["ConfigMap"], byKind["Service"], byKind["PodDisruptionBudget"]
	if dep == nil || cm == nil || svc == nil || pdb == nil {
		t.Fatalf("kinds %v, want Deployment, ConfigMap, Service and PodDisruptionBudget", slices.Sorted(maps.Keys(byKind)))
	}
	replicas, _ := get(dep, "spec", "replicas").(int)
	if replicas < 2 {
		t.Errorf("Deployment replicas %d, want at least 2", replicas)
	}
	podLabels := get(dep, "spec", "template", "metadata", "labels")
	for what, sel := range map[string]any{
		"Deployment selector": get(dep, "spec", "selector", "matchLabels"),
		"Service selector":    get(svc, "spec", "selector"),
		"PDB selector":        get(pdb, "spec", "selector", "matchLabels"),
	} {
		if !labelsMatch(sel, podLabels) {
			t.Errorf("%s %v does not select the pods (labels %v)", what, sel, podLabels)
		}
	}
	if mu, _ := get(pdb, "spec", "maxUnavailable").(int); mu < 1 || mu >= replicas {
		t.Errorf("PDB maxUnavailable %v: want 1..replicas-1, so a drain can proceed and never empties the service", get(pdb, "spec", "maxUnavailable"))
	}

	c := get(dep, "spec", "template", "spec", "containers", 0)
	ports := map[string]int{}
	for _, p := range list(c, "ports") {
		n, _ := get(p, "containerPort").(int)
		ports[str(p, "name")] = n
	}
	for _, p := range list(svc, "spec", "ports") {
		if ports[str(p, "targetPort")] == 0 {
			t.Errorf("Service port %v targets %q, not a container port (%v)", get(p, "port"), str(p, "targetPort"), ports)
		}
	}

	// The rules: -config names a file of the ConfigMap, mounted as a
	// directory (a subPath mount never sees updates).
	args := list(c, "args")
	i := slices.Index(args, any("-config"))
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("container args %v: no -config FILE", args)
	}
	cfgPath := args[i+1].(string)
	mounts := map[string]string{} // mount path -> volume name
	for _, m := range list(c, "volumeMounts") {
		if str(m, "subPath") != "" {
			t.Errorf("volume mount %s uses subPath: the kubelet never updates it, so reloads would not happen", str(m, "mountPath"))
		}
		mounts[str(m, "mountPath")] = str(m, "name")
	}
	vol := mounts[filepath.Dir(cfgPath)]
	var cmName, tlsSecret string
	for _, v := range list(dep, "spec", "template", "spec", "volumes") {
		if str(v, "name") == vol {
			cmName = str(v, "configMap", "name")
		}
		if s := str(v, "secret", "secretName"); s != "" && mounts["/etc/flashgate/tls"] == str(v, "name") {
			tlsSecret = s
		}
	}
	if cmName != str(cm, "metadata", "name") {
		t.Fatalf("-config %s is not in a mount of ConfigMap %q (volume %q holds %q)", cfgPath, str(cm, "metadata", "name"), vol, cmName)
	}
	if tlsSecret == "" {
		t.Error("no Secret volume mounted at /etc/flashgate/tls, where the rules read the certificate")
	}
	data, _ := get(cm, "data").(obj)
	shared, err := os.ReadFile(filepath.Join("deploy", "compose", "rules", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if data["shop.yaml"] != string(shared) {
		t.Error("ConfigMap key shop.yaml differs from deploy/compose/rules/shop.yaml: copy the file into the ConfigMap")
	}

	// Load the ConfigMap's rules as the pod would see them, with a test
	// certificate in place of the Secret, and answer both probes.
	tmp := t.TempDir()
	for k, v := range data {
		text := strings.ReplaceAll(v.(string), "/etc/flashgate/tls/", tmp+"/tls/")
		writeFile(t, filepath.Join(tmp, "rules", k), text)
	}
	env := map[string]bool{}
	for _, e := range list(c, "env") {
		env[str(e, "name")] = get(e, "valueFrom", "secretKeyRef") != nil
	}
	main := filepath.Join(tmp, "rules", filepath.Base(cfgPath))
	cfg := loadDeployRules(t, main, env)
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		p := get(c, probe, "httpGet")
		if p == nil {
			t.Errorf("%s: no httpGet probe", probe)
			continue
		}
		port := ports[str(p, "port")]
		if _, want, _ := net.SplitHostPort(cfg.Server.Listen); strconv.Itoa(port) != want {
			t.Errorf("%s: port %v is %d, server.listen is %s", probe, get(p, "port"), port, cfg.Server.Listen)
		}
		if (str(p, "scheme") == "HTTPS") != (cfg.Server.TLS != nil) {
			t.Errorf("%s: scheme %q, but server.tls is set: %v", probe, str(p, "scheme"), cfg.Server.TLS != nil)
		}
		host := ""
		for _, h := range list(p, "httpHeaders") {
			if strings.EqualFold(str(h, "name"), "Host") {
				host = str(h, "value")
			}
		}
		askHealth(t, probe, cfg, main, str(p, "path"), host)
	}
}

// loadDeployRules loads a deployment's rules file with test certificates
// for server.tls and test values for every secret_env it names, which env
// (name -> from a Secret) must provide.
func loadDeployRules(t *testing.T, main string, env map[string]bool) *rules.Config {
	t.Helper()
	text, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`secret_env: (\w+)`).FindAllStringSubmatch(string(text), -1) {
		if !env[m[1]] {
			t.Errorf("%s reads secret_env %s, which the container does not get from a Secret", main, m[1])
		}
		t.Setenv(m[1], "test-key-test-key-test-key-test-key!")
	}
	// Certificates for server.hosts where the rules read them.
	for _, p := range tlsPaths(string(text)) {
		dir, base := filepath.Split(p)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(main), dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		fgtest.WriteCert(t, dir, strings.TrimSuffix(base, ".crt"), fgtest.CertOptions{}, hostsOf(string(text))...)
	}
	cfg, err := rules.Load(main)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", main, err)
	}
	if err := proxy.Check(cfg); err != nil {
		t.Fatalf("%s does not compile:\n%v", main, err)
	}
	return cfg
}

// tlsPaths returns the cert: files a rules text names.
func tlsPaths(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`cert: ([^,}\s]+)`).FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// hostsOf returns server.hosts of a rules text, for the test certificate.
func hostsOf(text string) []string {
	m := regexp.MustCompile(`hosts: \[([^\]]*)\]`).FindStringSubmatch(text)
	if m == nil {
		return []string{"localhost"}
	}
	return strings.Split(strings.ReplaceAll(m[1], " ", ""), ",")
}

// askHealth serves cfg on loopback and sends the probe's request, as the
// kubelet or the balancer would (TLS not verified, the probe's Host).
func askHealth(t *testing.T, what string, cfg *rules.Config, main, path, host string) {
	t.Helper()
	srv, err := proxy.New(proxy.Options{ConfigPath: main, Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln) //nolint:errcheck // returns on shutdown
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	scheme := "http"
	if cfg.Server.TLS != nil {
		scheme = "https"
	}
	req, _ := http.NewRequest("GET", scheme+"://"+ln.Addr().String()+path, nil)
	req.Host = host
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s: GET %s: %v", what, path, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("%s: GET %s (Host %q) answered %d %s, want 200", what, path, host, resp.StatusCode, body)
	}
}

func writeFile(t *testing.T, name, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestComposeFile(t *testing.T) {
	dir := filepath.Join("deploy", "compose")
	compose := yamlDocs(t, filepath.Join(dir, "compose.yaml"))[0]
	services, _ := get(compose, "services").(obj)
	for _, s := range []string{"balancer", "flashgate-1", "flashgate-2", "shop", "redis"} {
		if services[s] == nil {
			t.Fatalf("compose.yaml has no %s service (has %v)", s, slices.Sorted(maps.Keys(services)))
		}
	}
	// Copy the mounted directory (compose.yaml mounts ./ at /etc/flashgate)
	// and load every instance's rules from it.
	tmp := t.TempDir()
	for _, f := range []string{"gateway.yaml", "demo-shop.yaml", "rules/shop.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(tmp, f), string(b))
	}
	var gw *rules.Config
	for _, name := range []string{"flashgate-1", "flashgate-2", "shop"} {
		s := services[name]
		if !slices.Contains(list(s, "volumes"), any("./:/etc/flashgate:ro")) {
			t.Errorf("%s: volumes %v, want the directory ./ mounted at /etc/flashgate (a file mount misses renames)", name, list(s, "volumes"))
		}
		cmd := list(s, "command")
		i := slices.Index(cmd, any("-config"))
		if i < 0 || i+1 >= len(cmd) {
			t.Fatalf("%s: command %v has no -config", name, cmd)
		}
		rel, ok := strings.CutPrefix(cmd[i+1].(string), "/etc/flashgate/")
		if !ok {
			t.Fatalf("%s: -config %s is not under the mounted /etc/flashgate", name, cmd[i+1])
		}
		env := map[string]bool{}
		envs, _ := get(s, "environment").(obj)
		for k := range envs {
			env[k] = true
		}
		if name == "shop" {
			cfg := loadDeployRules(t, filepath.Join(tmp, rel), nil)
			if cfg.Demo == nil || !strings.HasSuffix(cfg.Demo.Listen, ":9081") {
				t.Errorf("shop: its rules start no demo shop on :9081")
			}
			continue
		}
		gw = loadDeployRules(t, filepath.Join(tmp, rel), env)
		if !slices.Contains(list(s, "depends_on"), any("shop")) {
			t.Errorf("%s does not depend on the shop", name)
		}
	}
	// Shared state: the instances' Redis is a service of the file.
	if gw.Cluster == nil || len(gw.Cluster.Addrs) == 0 {
		t.Error("gateway.yaml has no cluster: section: the instances would not share their state")
	} else if host, _, _ := net.SplitHostPort(gw.Cluster.Addrs[0]); services[host] == nil {
		t.Errorf("cluster.addrs %v: %q is not a service of compose.yaml", gw.Cluster.Addrs, host)
	}
	// The balancer: its address is the one trusted for the PROXY
	// protocol, and HAProxy's backends are the instances' listeners.
	addr := str(services["balancer"], "networks", "edge", "ipv4_address")
	if a, err := netip.ParseAddr(addr); err != nil || gw.Server.ProxyProtocol == nil || !slices.ContainsFunc(gw.Server.ProxyProtocol.Trusted, func(p netip.Prefix) bool { return p.Contains(a) }) {
		t.Errorf("balancer address %q is not in server.proxy_protocol.trusted", addr)
	}
	cfgText, err := os.ReadFile(filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	_, https, _ := net.SplitHostPort(gw.Server.Listen)
	_, redirect, _ := net.SplitHostPort(gw.Server.TLS.RedirectListen)
	for _, want := range []string{
		"server fg1 flashgate-1:" + https, "server fg2 flashgate-2:" + https,
		"server fg1 flashgate-1:" + redirect, "server fg2 flashgate-2:" + redirect,
		"send-proxy-v2", "check-send-proxy", "uri /_flashgate/health",
	} {
		if !bytes.Contains(cfgText, []byte(want)) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}
	m := regexp.MustCompile(`uri (\S+) ver HTTP/1.1 hdr Host (\S+)`).FindSubmatch(cfgText)
	if m == nil {
		t.Fatal("haproxy.cfg: no http-check with a Host")
	}
	askHealth(t, "haproxy check", gw, filepath.Join(tmp, "gateway.yaml"), string(m[1]), string(m[2]))
	if haproxy, err := exec.LookPath("haproxy"); err == nil {
		if out, err := exec.Command(haproxy, "-c", "-f", filepath.Join(dir, "haproxy.cfg")).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c haproxy.cfg: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("haproxy is needed to check haproxy.cfg (apt-get install haproxy)")
	}
}
