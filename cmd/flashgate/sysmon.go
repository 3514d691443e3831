package main

import (
	"os"
	"slices"
	"strings"
	"syscall"
)

// awakeSysmon is the runtime setting the gateway serves under: a scheduler
// trace period of 2^31−1 ms (24.8 days), whose one effect that matters is
// that the runtime's sysmon thread no longer parks while every P is idle.
//
// Why: a gateway waits on its origins all the time, so its one P keeps
// going idle. Each time sysmon finds it idle it parks on a note, and the
// next system call of any goroutine wakes it (a futex wake) and resets its
// poll interval to 20 µs, so it spins through nanosleep wake-ups until it
// sees the P idle again: three in five of the gateway's context switches in
// the pass-through benchmark. With a trace period set, sysmon never parks
// and backs off to one wake-up per 10 ms instead. Measured in one paired
// run (bench/RESULTS.md, "Pass-through"): CPU per forwarded GET 23.2 →
// 21.4 µs, per purchase POST 20.6 → 19.6 µs; requests per second 0.98× →
// 1.04× HAProxy's on the GET. The price: an idle gateway's sysmon wakes
// 100 times a second, and the runtime prints one "SCHED" line to standard
// error every 24.8 days (at start too, on a machine up longer than that)
// and a scheduler dump before a fatal panic's trace.
//
// GODEBUG is read by the runtime before main runs, so the gateway sets it
// by executing itself again (same PID, same arguments). An operator's own
// schedtrace (GODEBUG=schedtrace=0 turns this off) is left alone.
const awakeSysmon = "schedtrace=2147483647"

// awakeSysmonEnv returns the environment to execute the gateway again with,
// and false when args do not serve (ctl, rehearse, -check, -h) or env's
// GODEBUG already says schedtrace.
func awakeSysmonEnv(args, env []string) ([]string, bool) {
	if len(args) > 0 && (args[0] == "ctl" || args[0] == "rehearse") {
		return nil, false
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "check" || name == "h" || name == "help") {
			return nil, false
		}
	}
	out := slices.Clone(env)
	for i, kv := range out {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			continue
		}
		for _, s := range strings.Split(v, ",") {
			if strings.HasPrefix(s, "schedtrace=") {
				return nil, false
			}
		}
		if v != "" {
			v += ","
		}
		out[i] = "GODEBUG=" + v + awakeSysmon
		return out, true
	}
	return append(out, "GODEBUG="+awakeSysmon), true
}

// execAwakeSysmon executes the gateway again under awakeSysmon when it
// should; it returns only when it did not (then the gateway serves as it
// is, which is correct, only dearer).
func execAwakeSysmon() {
	env, ok := awakeSysmonEnv(os.Args[1:], os.Environ())
	if !ok {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
