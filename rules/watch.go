package rules

import (
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is the quiet period after the last file event before a
// change is signalled: long enough to cover an editor's write-rename-chmod
// or a ConfigMap's symlink swap, short enough that an edit is live within
// a second.
const DefaultDebounce = 250 * time.Millisecond

// pollInterval is how often directories that inotify cannot watch (missing,
// or out of inotify watches) are scanned.
const pollInterval = time.Second

// Watcher signals when files in a set of directories may have changed.
//
// It watches directories, not files: editors save by writing a temp file
// and renaming it over the original, and Kubernetes updates a ConfigMap by
// swapping a "..data" symlink, and both break a watch on the file itself
// (FIELD-NOTES "Reload"). Every event restarts a debounce period; when it
// ends, one value is sent on Changes. A directory that is removed is
// polled until it exists again, then watched again; if inotify is
// unavailable at all, every directory is polled.
//
// A Watcher is safe for concurrent use. Signals say "look again", not
// "something changed": the reader compares Config.Digest to skip reloads
// of identical bytes.
type Watcher struct {
	log  *slog.Logger
	deb  *debouncer
	fs   *fsnotify.Watcher // nil: inotify unavailable, everything polled
	wg   sync.WaitGroup
	once sync.Once

	mu      sync.Mutex
	watched map[string]bool   // dirs added to fs
	polled  map[string]uint64 // dirs being polled → last fingerprint
	closed  bool
}

// NewWatcher starts a watcher with no directories; call SetDirs. debounce
// <= 0 means DefaultDebounce; log nil means slog.Default(). It does not
// fail when inotify is unavailable (no instances left, unsupported file
// system): it logs a warning and polls instead, since a gateway that
// cannot hot-reload should still serve. Call Close to stop it.
func NewWatcher(debounce time.Duration, log *slog.Logger) (*Watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		if log == nil {
			log = slog.Default()
		}
		log.Warn("rule watcher: inotify unavailable, polling rule directories", "every", pollInterval, "err", err)
		fs = nil
	}
	return newWatcher(debounce, log, fs, pollInterval), nil
}

func newWatcher(debounce time.Duration, log *slog.Logger, fs *fsnotify.Watcher, poll time.Duration) *Watcher {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if log == nil {
		log = slog.Default()
	}
	w := &Watcher{log: log, deb: newDebouncer(debounce), fs: fs,
		watched: map[string]bool{}, polled: map[string]uint64{}}
	w.wg.Add(2)
	go func() { defer w.wg.Done(); w.deb.run() }()
	go func() { defer w.wg.Done(); w.pollLoop(poll) }()
	if fs != nil {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); w.eventLoop() }()
	}
	return w
}

// Changes returns the channel that receives one value after each burst of
// file events. It has capacity one: signals that arrive while one is
// pending merge into it. It is never closed.
func (w *Watcher) Changes() <-chan struct{} { return w.deb.out }

// SetDirs replaces the set of watched directories, e.g. with
// Config.WatchDirs after a reload that added an include directory.
// Directories that do not exist yet are polled until they do.
func (w *Watcher) SetDirs(dirs []string) error {
	want := map[string]bool{}
	for _, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		want[filepath.Clean(d)] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("rule watcher: closed")
	}
	for d := range w.watched {
		if !want[d] {
			_ = w.fs.Remove(d) // already gone if the directory was removed
			delete(w.watched, d)
		}
	}
	for d := range w.polled {
		if !want[d] {
			delete(w.polled, d)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(want)) {
		if !w.watched[d] {
			if _, ok := w.polled[d]; !ok {
				w.addLocked(d)
			}
		}
	}
	return nil
}

// addLocked watches d with inotify, or polls it when that fails.
func (w *Watcher) addLocked(d string) bool {
	if w.fs != nil {
		err := w.fs.Add(d)
		if err == nil {
			delete(w.polled, d)
			w.watched[d] = true
			return true
		}
		if !errors.Is(err, os.ErrNotExist) {
			w.log.Warn("rule watcher: cannot watch directory, polling it", "dir", d, "every", pollInterval, "err", err)
		}
	}
	w.polled[d] = fingerprint(d)
	return false
}

// eventLoop turns inotify events into kicks, and hands directories that
// were removed or renamed away to the poller.
func (w *Watcher) eventLoop() {
	for {
		select {
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.lostDir(filepath.Clean(ev.Name))
			}
			w.deb.kick()
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			// On overflow events were lost: look again rather than miss an edit.
			w.log.Warn("rule watcher: event error", "err", err)
			w.deb.kick()
		}
	}
}

func (w *Watcher) lostDir(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watched[name] {
		delete(w.watched, name)
		_ = w.fs.Remove(name)
		w.polled[name] = fingerprint(name)
	}
}

// Close stops the watcher. Changes is not closed; a pending signal may
// still be read.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.deb.done)
		if w.fs != nil {
			err = w.fs.Close()
		}
		w.wg.Wait()
	})
	return err
}
