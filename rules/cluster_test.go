package rules

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const clusterBase = `
origins:
  shop: {servers: [127.0.0.1:9081]}
routes:
  - {name: home, path: /, origin: shop}
admission:
  keys: [{id: 1, secret: "0123456789abcdef0123456789abcdef"}]
`

func TestClusterValues(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "pw"), "s3cret-value\n")
	c, err := LoadBytes(filepath.Join(dir, "g.yaml"), []byte(clusterBase+`
cluster:
  addrs: [127.0.0.1:6379]
  password_file: `+filepath.Join(dir, "pw")+`
  on_failure: closed
  filters: {ratelimit: local}
  lease: 20
`))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if cl == nil || cl.Password != "s3cret-value" || cl.Timeout != DefaultClusterTimeout ||
		cl.BreakerFailures != 5 || cl.BreakerOpen != time.Second || cl.Lease != 20 {
		t.Fatalf("cluster = %+v", cl)
	}
	if cl.PolicyFor("stock") != "closed" || cl.PolicyFor("ratelimit") != "local" {
		t.Errorf("policies: stock %s ratelimit %s", cl.PolicyFor("stock"), cl.PolicyFor("ratelimit"))
	}
	if strings.Contains(cl.String(), "s3cret") {
		t.Errorf("String leaks the password: %s", cl)
	}
}

func TestClusterAbsentMeansMemory(t *testing.T) {
	c, err := LoadBytes(filepath.Join(t.TempDir(), "g.yaml"), []byte(clusterBase))
	if err != nil || c.Cluster != nil {
		t.Fatalf("cluster = %+v, %v; want nil", c.Cluster, err)
	}
}

func TestClusterPasswordNeverInErrors(t *testing.T) {
	t.Setenv("FG_TEST_REDIS_PW", "hunter2-secret")
	_, err := LoadBytes(filepath.Join(t.TempDir(), "g.yaml"), []byte(clusterBase+`
cluster:
  addrs: [127.0.0.1:6379]
  password_env: FG_TEST_REDIS_PW
  password_file: /nonexistent
`))
	if err == nil || !strings.Contains(err.Error(), "password_file or password_env, not both") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}
