// Package fgtest holds helpers shared by flashgate's tests. Production code
// never imports it (deps_test.go says so): it imports testing.
package fgtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Chromium returns the path of Debian's headless Chromium. Without one the
// test is skipped, except under CI=true, where a missing browser must fail
// the run rather than pass it unnoticed.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is needed for the browser tests (apt-get install chromium)")
	}
	t.Skip("chromium not installed")
	return ""
}

// chromiumFlags run Chromium headless with a quiet network: without the
// background-networking flags it keeps dialling Google's hosts, which this
// machine's closed network refuses many at a time.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
}

// StartChromium opens url in headless Chromium with a fresh profile and any
// extra flags. It returns stop, which ends Chromium's whole process group
// (renderers and helpers included; after a form POST it may not exit on its
// own); stop is also registered with t.Cleanup and may be called twice.
func StartChromium(t testing.TB, url string, flags ...string) (stop func()) {
	t.Helper()
	return startChromium(t, url, nil, flags)
}

// StartChromiumLogged is StartChromium with Chromium's own log (its
// console messages among it) written to log.
func StartChromiumLogged(t testing.TB, url string, log *Buffer, flags ...string) (stop func()) {
	t.Helper()
	return startChromium(t, url, log, append([]string{"--enable-logging=stderr", "--v=0"}, flags...))
}

func startChromium(t testing.TB, url string, log *Buffer, flags []string) (stop func()) {
	t.Helper()
	args := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+t.TempDir()), flags...)
	cmd := exec.Command(Chromium(t), append(args, url)...)
	if log != nil {
		cmd.Stdout, cmd.Stderr = log, log
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Headless runs headless Chromium on url until it exits (--dump-dom,
// --screenshot, with a --virtual-time-budget of 8 s unless flags set one)
// and returns its standard output and the page's console messages (a
// script error is one). It fails the test if Chromium runs over 60 s.
func Headless(t testing.TB, url string, flags ...string) (stdout string, console []string) {
	t.Helper()
	args := append(append([]string{}, chromiumFlags...), "--hide-scrollbars", "--disable-extensions",
		"--enable-logging=stderr", "--v=0", "--user-data-dir="+t.TempDir())
	budget := false
	for _, f := range flags {
		budget = budget || strings.HasPrefix(f, "--virtual-time-budget=")
	}
	if !budget {
		args = append(args, "--virtual-time-budget=8000")
	}
	cmd := exec.Command(Chromium(t), append(append(args, flags...), url)...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("chromium did not finish %s within 60s", url)
	}
	for _, line := range strings.Split(errs.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			console = append(console, line)
		}
	}
	return out.String(), console
}

// Screenshot has headless Chromium load url in a fresh profile, with
// Chromium's log on (its console messages among it), and save a PNG of the
// window to path; extra flags follow (a window size, a virtual-time
// budget). It returns what Chromium printed, for the caller to search for
// console messages, and fails the test when Chromium fails or takes over
// a minute.
func Screenshot(t testing.TB, url, path string, flags ...string) (log string) {
	t.Helper()
	args := append(append([]string{}, chromiumFlags...), "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--screenshot="+path)
	cmd := exec.Command(Chromium(t), append(append(args, flags...), url)...)
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("chromium --screenshot of %s did not finish within a minute", url)
	}
	return out.String()
}
