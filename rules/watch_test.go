package rules

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
)

// The debounce logic runs on fake time: exactness is asserted here, while
// the file-system tests below (real inotify events cannot be faked) only
// assert that a signal arrives within a generous timeout.
func TestDebouncerBurstIsOneSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newDebouncer(250 * time.Millisecond)
		go b.run()
		defer close(b.done)
		for i := range 50 {
			if i > 0 {
				time.Sleep(10 * time.Millisecond) // a burst spread over 490ms, each gap shorter than the debounce
			}
			b.kick()
		}
		synctest.Wait()
		if len(b.out) != 0 {
			t.Fatal("signalled during the burst")
		}
		time.Sleep(249 * time.Millisecond)
		synctest.Wait()
		if len(b.out) != 0 {
			t.Fatal("signalled before the quiet period ended")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if len(b.out) != 1 {
			t.Fatal("no signal after the quiet period")
		}
		<-b.out
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(b.out) != 0 {
			t.Fatal("a burst gave more than one signal")
		}
		// Two separate bursts while nobody reads merge into one pending signal.
		b.kick()
		time.Sleep(time.Second)
		b.kick()
		time.Sleep(time.Second)
		synctest.Wait()
		if len(b.out) != 1 {
			t.Fatalf("pending signals = %d, want 1 (latest wins)", len(b.out))
		}
	})
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startWatcher(t *testing.T, inotify bool, dirs ...string) *Watcher {
	t.Helper()
	var fs *fsnotify.Watcher
	if inotify {
		var err error
		if fs, err = fsnotify.NewWatcher(); err != nil {
			t.Fatal(err)
		}
	}
	w := newWatcher(50*time.Millisecond, quietLog(), fs, 50*time.Millisecond)
	t.Cleanup(func() { w.Close() })
	if err := w.SetDirs(dirs); err != nil {
		t.Fatal(err)
	}
	return w
}

func waitSignal(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.Changes():
	case <-time.After(5 * time.Second):
		t.Fatalf("no change signalled within 5s after %s", what)
	}
}

func drain(w *Watcher) {
	for len(w.Changes()) > 0 {
		<-w.Changes()
	}
}

func TestWatcherRenameSave(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	write(t, main, "server: {listen: 127.0.0.1:1}\n")
	w := startWatcher(t, true, dir)
	// An editor's save: write a temp file, rename it over the original.
	write(t, main+".tmp", "server: {listen: 127.0.0.1:2}\n")
	if err := os.Rename(main+".tmp", main); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, w, "rename-save")
	c, err := Load(main)
	if err != nil || c.Server.Listen != "127.0.0.1:2" {
		t.Fatalf("after rename-save: %v %v", c, err)
	}
	// The directory watch survives the rename: a second save is seen too.
	drain(w)
	write(t, main+".tmp", "server: {listen: 127.0.0.1:3}\n")
	if err := os.Rename(main+".tmp", main); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, w, "second rename-save")
}

// TestWatcherSymlinkSwap mimics a Kubernetes ConfigMap volume: files are
// symlinks into "..data", itself a symlink swapped atomically on update.
func TestWatcherSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "..v1", "gateway.yaml"), "server: {listen: 127.0.0.1:1}\n")
	mustSymlink(t, "..v1", filepath.Join(dir, "..data"))
	mustSymlink(t, filepath.Join("..data", "gateway.yaml"), filepath.Join(dir, "gateway.yaml"))
	before, err := Load(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := startWatcher(t, true, before.WatchDirs...)

	write(t, filepath.Join(dir, "..v2", "gateway.yaml"), "server: {listen: 127.0.0.1:2}\n")
	mustSymlink(t, "..v2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, w, "symlink swap")
	after, err := Load(filepath.Join(dir, "gateway.yaml"))
	if err != nil || after.Server.Listen != "127.0.0.1:2" || after.Digest == before.Digest {
		t.Fatalf("after swap: %+v %v", after, err)
	}
}

func TestWatcherBurst(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	write(t, main, "")
	w := startWatcher(t, true, dir)
	for i := range 50 {
		write(t, main, "server: {listen: 127.0.0.1:"+itoa(i+1)+"}\n")
	}
	waitSignal(t, w, "a burst of 50 writes")
	c, err := Load(main)
	if err != nil || c.Server.Listen != "127.0.0.1:50" {
		t.Fatalf("after burst: %v %v", c, err)
	}
}

func TestWatcherNewIncludedFile(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	write(t, main, "include: [sales/*.yaml]\norigins: {shop: {servers: [127.0.0.1:1]}}\n")
	if err := os.Mkdir(filepath.Join(dir, "sales"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	w := startWatcher(t, true, c.WatchDirs...)
	write(t, filepath.Join(dir, "sales", "singles-day.yaml"), "routes: [{name: buy, path: \"/buy/{id}\", origin: shop}]\n")
	waitSignal(t, w, "a new file in an include directory")
	c, err = Load(main)
	if err != nil || len(c.Routes) != 1 {
		t.Fatalf("after new include: %v %v", c, err)
	}
}

func TestWatcherDirRemovedAndRecreated(t *testing.T) {
	dir := t.TempDir()
	sales := filepath.Join(dir, "sales")
	write(t, filepath.Join(sales, "a.yaml"), "")
	w := startWatcher(t, true, sales)
	if err := os.RemoveAll(sales); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, w, "removing the directory")
	drain(w)
	write(t, filepath.Join(sales, "b.yaml"), "routes: []\n")
	waitSignal(t, w, "recreating the directory")
	drain(w)
	waitWatched(t, w, sales)
	write(t, filepath.Join(sales, "c.yaml"), "routes: []\n")
	waitSignal(t, w, "writing into the recreated directory")
}

func TestWatcherMissingDirAndSetDirs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write(t, filepath.Join(a, "x.yaml"), "")
	w := startWatcher(t, true, a)
	if err := w.SetDirs([]string{a, b}); err != nil { // b does not exist yet: polled
		t.Fatal(err)
	}
	write(t, filepath.Join(b, "y.yaml"), "")
	waitSignal(t, w, "creating a watched directory")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.SetDirs([]string{a}); err == nil {
		t.Fatal("SetDirs after Close succeeded")
	}
}

func TestWatcherPollingFallback(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	write(t, main, "a")
	w := startWatcher(t, false, dir)
	write(t, main+".tmp", "bb")
	if err := os.Rename(main+".tmp", main); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, w, "a rename-save while polling")
}

// waitWatched waits until the poller has handed dir back to inotify.
func waitWatched(t *testing.T, w *Watcher, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		ok := w.watched[dir]
		w.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not watched again within 5s", dir)
		}
		select {
		case <-w.Changes():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestWatcherSetDirsReplacesSet(t *testing.T) {
	dir := t.TempDir()
	a, b, missingDir := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "later")
	write(t, filepath.Join(a, "x.yaml"), "")
	write(t, filepath.Join(b, "x.yaml"), "")
	w := startWatcher(t, true, a, missingDir)
	if err := w.SetDirs([]string{b}); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	watched, polled := len(w.watched), len(w.polled)
	onlyB := w.watched[b]
	w.mu.Unlock()
	if watched != 1 || polled != 0 || !onlyB {
		t.Fatalf("after SetDirs([b]): watched=%d polled=%d b=%v, want only b watched", watched, polled, onlyB)
	}
	if list := w.fs.WatchList(); len(list) != 1 || list[0] != b {
		t.Fatalf("inotify watch list = %v, want [%s]", list, b)
	}
	write(t, filepath.Join(b, "y.yaml"), "")
	waitSignal(t, w, "writing into the new directory")
}

// kubeletUpdate writes files into a volume directory the way the kubelet's
// atomic writer updates a ConfigMap or Secret volume: a new timestamped
// directory, a "..data_tmp" symlink to it renamed over "..data", the old
// directory removed. The first update also makes the user-visible
// symlinks (name -> ..data/name) for the top-level names.
func kubeletUpdate(t *testing.T, dir string, gen int, files map[string]string) {
	t.Helper()
	ts := "..2026_12_07_06_00_0" + itoa(gen)
	for name, text := range files {
		write(t, filepath.Join(dir, ts, name), text)
	}
	mustSymlink(t, ts, filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if gen == 1 {
		for name := range files {
			top, _, _ := strings.Cut(name, "/")
			if _, err := os.Lstat(filepath.Join(dir, top)); os.IsNotExist(err) {
				mustSymlink(t, filepath.Join("..data", top), filepath.Join(dir, top))
			}
		}
		return
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_12_07_06_00_0"+itoa(gen-1))); err != nil {
		t.Fatal(err)
	}
}

// TestWatcherConfigMapAndSecretUpdates: the rules in a ConfigMap volume
// (main file plus an included sale file in a subdirectory) and the TLS
// certificate in a Secret volume, each updated several times as the
// kubelet does: every update signals, and the next Load reads the new
// bytes (a certificate's bytes are part of the Digest, so a renewal is a
// real reload even though no rule changed).
func TestWatcherConfigMapAndSecretUpdates(t *testing.T) {
	rulesDir, tlsDir := filepath.Join(t.TempDir(), "rules"), filepath.Join(t.TempDir(), "tls")
	main := func(listen string) string {
		return "server:\n  listen: " + listen + "\n  tls: {certificates: [{cert: " + tlsDir + "/tls.crt, key: " + tlsDir + "/tls.key}]}\n" +
			"include: [\"sales/*.yaml\"]\n"
	}
	sale := func(name string) string {
		return "origins: {shop: {servers: [\"127.0.0.1:9\"]}}\nroutes: [{name: " + name + ", path: /, origin: shop}]\n"
	}
	kubeletUpdate(t, rulesDir, 1, map[string]string{"gateway.yaml": main("127.0.0.1:1"), "sales/x.yaml": sale("r1")})
	kubeletUpdate(t, tlsDir, 1, map[string]string{"tls.crt": "cert 1", "tls.key": "key 1"})
	path := filepath.Join(rulesDir, "gateway.yaml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := startWatcher(t, true, cfg.WatchDirs...)

	check := func(what, listen, route, cert string) {
		t.Helper()
		waitSignal(t, w, what)
		got, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.Digest == cfg.Digest || got.Server.Listen != listen || got.Routes[0].Name != route ||
			string(got.Server.TLS.Certificates[0].CertPEM) != cert {
			t.Fatalf("%s: read listen %s, route %s, cert %q (digest changed: %v)", what, got.Server.Listen, got.Routes[0].Name, got.Server.TLS.Certificates[0].CertPEM, got.Digest != cfg.Digest)
		}
		cfg = got
		if err := w.SetDirs(got.WatchDirs); err != nil { // as cmd/flashgate does after a reload
			t.Fatal(err)
		}
		drain(w)
	}
	kubeletUpdate(t, rulesDir, 2, map[string]string{"gateway.yaml": main("127.0.0.1:2"), "sales/x.yaml": sale("r1")})
	check("ConfigMap update of the main file", "127.0.0.1:2", "r1", "cert 1")
	kubeletUpdate(t, rulesDir, 3, map[string]string{"gateway.yaml": main("127.0.0.1:2"), "sales/x.yaml": sale("r2")})
	check("ConfigMap update of the included file", "127.0.0.1:2", "r2", "cert 1")
	kubeletUpdate(t, tlsDir, 2, map[string]string{"tls.crt": "cert 2", "tls.key": "key 2"})
	check("Secret update of the certificate", "127.0.0.1:2", "r2", "cert 2")
	kubeletUpdate(t, tlsDir, 3, map[string]string{"tls.crt": "cert 3", "tls.key": "key 3"})
	check("second Secret update", "127.0.0.1:2", "r2", "cert 3")
}
