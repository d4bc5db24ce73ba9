// Command fscpoll is a small example agent: it follows files the way a log
// shipper does, through the fstatcache change feed, and prints a line when
// a file grows, shrinks (truncation), is replaced (rotation: another
// inode) or disappears.  Without a writer it still works, by stat().
//
//	fscpoll [-name NAME] [-interval 1s] [-once] FILE...
//
// At start, and whenever the feed says to (a resync), it stats every file
// (which also asks the writer to watch it); otherwise it looks only at
// the files the feed names, so an idle poll costs one memory load.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"fstatcache.example/go/fstatcache"
)

type file struct {
	seen      bool
	exists    bool
	dev, ino  uint64
	size      int64
	mtimeNsec int64
}

type agent struct {
	h     *fstatcache.Handle
	files map[string]*file
	out   io.Writer
}

// observe compares a file's new answer with what was seen, and says why
// a shipper would act.
func (a *agent) observe(path string, st fstatcache.Stat) {
	f := a.files[path]
	now := file{seen: true, exists: st.Exists, dev: st.Dev, ino: st.Ino, size: st.Size,
		mtimeNsec: st.MtimeSec*1e9 + int64(st.MtimeNsec)}
	switch {
	case !f.seen:
		fmt.Fprintf(a.out, "%s: %s\n", path, describe(now))
	case f.exists && !now.exists:
		fmt.Fprintf(a.out, "%s: gone\n", path)
	case !f.exists && now.exists:
		fmt.Fprintf(a.out, "%s: appeared, %d bytes\n", path, now.size)
	case !now.exists:
	case now.dev != f.dev || now.ino != f.ino:
		fmt.Fprintf(a.out, "%s: replaced (rotated), %d bytes\n", path, now.size)
	case now.size < f.size:
		fmt.Fprintf(a.out, "%s: truncated to %d bytes\n", path, now.size)
	case now.size > f.size:
		fmt.Fprintf(a.out, "%s: grew by %d bytes\n", path, now.size-f.size)
	case now.mtimeNsec != f.mtimeNsec:
		fmt.Fprintf(a.out, "%s: rewritten in place\n", path)
	}
	*f = now
}

func describe(f file) string {
	if !f.exists {
		return "does not exist"
	}
	return fmt.Sprintf("%d bytes", f.size)
}

// stat looks one file up (cache, else stat()).
func (a *agent) stat(path string) {
	st, err := a.h.Stat(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fscpoll: %v\n", err)
		return
	}
	a.observe(path, st)
}

// poll handles what changed since the cursor; a resync looks at all.
func (a *agent) poll(cur *fstatcache.Cursor) {
	resync, err := a.h.Changes(cur, func(c *fstatcache.Change) bool {
		if _, ok := a.files[c.Path]; !ok {
			return true
		}
		if c.Status == fstatcache.Hit {
			a.observe(c.Path, c.Stat)
		} else {
			a.stat(c.Path) // marked, evicted, removed: ask stat()
		}
		return true
	})
	if err != nil || resync {
		if err != nil {
			fmt.Fprintf(os.Stderr, "fscpoll: %v; polling every file\n", err)
		}
		for p := range a.files {
			a.stat(p)
		}
	}
}

func main() {
	name := flag.String("name", "", "instance name (default $FSTATCACHE_NAME or fstatcache)")
	interval := flag.Duration("interval", time.Second, "longest wait between polls")
	once := flag.Bool("once", false, "print each file's state once and exit")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: fscpoll [-name NAME] [-interval D] [-once] FILE...")
		os.Exit(2)
	}
	h, err := fstatcache.Open(*name, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fscpoll: %v\n", err)
		os.Exit(1)
	}
	defer h.Close()
	a := &agent{h: h, files: map[string]*file{}, out: os.Stdout}
	for _, p := range flag.Args() {
		abs, err := filepath.Abs(p) // keys are absolute, canonical paths
		if err != nil {
			fmt.Fprintf(os.Stderr, "fscpoll: %s: %v\n", p, err)
			os.Exit(1)
		}
		a.files[abs] = &file{}
	}
	var cur fstatcache.Cursor
	for {
		a.poll(&cur)
		if *once {
			return
		}
		if err := h.ChangesWait(cur, *interval); err != nil {
			time.Sleep(*interval)
		}
	}
}
