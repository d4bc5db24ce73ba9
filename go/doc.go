// Package fstatcache reads the fstatcache stat(2) cache from Go, with no
// cgo: lock-free lookups in the shared-memory table that fstatcached
// keeps fresh from inotify/fanotify, the change feed, and requests to the
// writer (watch, sync).  It implements docs/FORMAT.md (format 2.0, and any
// newer minor of major 2) as the C reader in include/fstatcache does, and
// gives the same answers (tests/vectors).
//
//	h, err := fstatcache.Open("", 0) // "": $FSTATCACHE_NAME or "fstatcache"
//	if err != nil {
//		return err
//	}
//	defer h.Close()
//	st, err := h.Stat("/var/log/syslog") // the cache, else stat() + watch
//	if err == nil && st.Exists {
//		fmt.Println(st.Size, st.Source == fstatcache.SourceCache)
//	}
//
// Following many files, poll the change feed instead of looking every
// file up:
//
//	var cur fstatcache.Cursor
//	for {
//		resync, err := h.Changes(&cur, func(c *fstatcache.Change) bool {
//			handle(c) // c.Status Uncached: Stat(c.Path) it
//			return true
//		})
//		if err != nil || resync {
//			lookAtEveryFile() // h.Stat each
//		}
//		h.ChangesWait(cur, time.Second)
//	}
//
// A miss is never an error: Stat answers by stat() itself and asks the
// writer to watch the path.  Without a live writer every lookup answers
// Uncached and Stat calls stat(); the handle attaches when a writer
// appears, and re-attaches when the writer is restarted or replaces its
// segment.
//
// Thread safety: a Handle may be used by any number of goroutines; lookups
// never lock and make no system call on a hit.  Close must not run
// concurrently with other calls.  A Cursor belongs to one caller at a time.
//
// Memory ordering: every load of the shared memory goes through
// sync/atomic, whose operations are sequentially consistent in Go; that
// orders at least as much as the acquire loads and fences the format
// requires (docs/FORMAT.md, "Memory ordering").
package fstatcache
