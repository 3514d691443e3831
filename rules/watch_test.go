package rules

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
