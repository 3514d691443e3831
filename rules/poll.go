package rules

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// pollLoop scans the polled directories every interval: a directory whose
// listing changed is signalled, and one that exists again is handed back
// to inotify (and signalled, since its files may have changed meanwhile).
func (w *Watcher) pollLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.deb.done:
			return
		case <-t.C:
			if w.pollOnce() {
				w.deb.kick()
			}
		}
	}
}

func (w *Watcher) pollOnce() (changed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	for d, last := range w.polled {
		fp := fingerprint(d)
		if fp != last {
			changed = true
			w.polled[d] = fp
		}
		if fp != missing && w.fs != nil && w.addLocked(d) {
			changed = true
		}
	}
	return changed
}

// missing is the fingerprint of a directory that cannot be listed.
const missing = 0

// fingerprint hashes a directory listing: names, and through symlinks
// (ConfigMap files point into "..data"), sizes, modes and modification
// times. Scanning a rules directory of a few files costs microseconds.
func fingerprint(dir string) uint64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return missing
	}
	h := fnv.New64a()
	h.Write([]byte{1}) // an empty directory differs from a missing one
	for _, e := range entries {
		h.Write([]byte(e.Name()))
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			h.Write([]byte(strconv.FormatInt(st.Size(), 10) + st.Mode().String() + strconv.FormatInt(st.ModTime().UnixNano(), 10)))
		}
		h.Write([]byte{0})
	}
	return h.Sum64()
}
