package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestAwakeSysmonEnv(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root"}
	for _, tc := range []struct {
		args []string
		env  []string
		want string // the GODEBUG the gateway is executed again with; "" = not again
	}{
		{nil, base, awakeSysmon},
		{[]string{"-config", "x.yaml", "-listen", ":8080"}, base, awakeSysmon},
		{nil, append(slices.Clone(base), "GODEBUG=http2client=0"), "http2client=0," + awakeSysmon},
		{nil, append(slices.Clone(base), "GODEBUG="), awakeSysmon},
		{nil, append(slices.Clone(base), "GODEBUG=schedtrace=0"), ""}, // the operator's opt-out
		{nil, append(slices.Clone(base), "GODEBUG=gctrace=1,schedtrace=1000"), ""},
		{[]string{"-check", "-config", "x.yaml"}, base, ""},
		{[]string{"--check=true"}, base, ""},
		{[]string{"-h"}, base, ""},
		{[]string{"ctl", "status"}, base, ""},
		{[]string{"rehearse", "-h"}, base, ""},
	} {
		env, again := awakeSysmonEnv(tc.args, tc.env)
		if again != (tc.want != "") {
			t.Errorf("%q %q: executed again = %v, want %v", tc.args, tc.env, again, tc.want != "")
			continue
		}
		if !again {
			continue
		}
		var godebug []string
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
				godebug = append(godebug, v)
			}
		}
		if len(godebug) != 1 || godebug[0] != tc.want || len(env) != len(tc.env)+btoi(!slices.ContainsFunc(tc.env, func(s string) bool { return strings.HasPrefix(s, "GODEBUG=") })) {
			t.Errorf("%q %q: env %q, want one GODEBUG=%s and the rest unchanged", tc.args, tc.env, env, tc.want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The built gateway serves under the setting: its environment, read from
// /proc by its PID, has it.
func TestGatewayServesWithAwakeSysmon(t *testing.T) {
	t.Setenv("GODEBUG", "")
	bin := buildFlashgate(t)
	g := startGateway(t, bin, `
server:
  listen: 127.0.0.1:0
origins:
  shop:
    servers: [127.0.0.1:9]
routes:
  - name: all
    path: /*
    origin: shop
`)
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", g.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(environ), "\x00"), "GODEBUG="+awakeSysmon) {
		t.Fatalf("the gateway (pid %d) serves without GODEBUG=%s; its environment: %q", g.cmd.Process.Pid, awakeSysmon, environ)
	}
}
