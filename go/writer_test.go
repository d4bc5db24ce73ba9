package fstatcache

// Tests against a real writer: each starts fstatcached ($FSTATCACHED, set
// by meson) on a unique instance name with a private directory, as
// tests/harness.c does for C; readiness comes from --ready-fd, changes
// are waited for with the sync barrier, never with sleeps; stopping
// checks that the writer exited 0 and left nothing in /dev/shm.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const guard = time.Minute // hang guard of every wait, never a timing assumption

type writer struct {
	t     *testing.T
	name  string
	dir   string
	sock  string
	extra []string
	cmd   *exec.Cmd
}

func writerBinary(t *testing.T) string {
	p := os.Getenv("FSTATCACHED")
	if p == "" {
		t.Skip("FSTATCACHED is not set: run through `meson test`, or set it to a built fstatcached")
	}
	return p
}

// startWriter starts a writer with extra arguments and waits until it serves.
func startWriter(t *testing.T, extra ...string) *writer {
	writerBinary(t) // skips without one
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	w := &writer{t: t, name: fmt.Sprintf("go%dx%s", os.Getpid(), hex.EncodeToString(r[:])),
		dir: t.TempDir(), extra: extra}
	w.sock = filepath.Join(w.dir, "ctl.sock")
	w.spawn()
	t.Cleanup(w.cleanup)
	return w
}

func (w *writer) path(rel string) string { return filepath.Join(w.dir, rel) }

func (w *writer) spawn() {
	t := w.t
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--name", w.name, "--socket", w.sock, "--ready-fd", "3", "--quiet"}, w.extra...)
	if ev := os.Getenv("FSCT_EVENTS"); ev != "" {
		args = append(args, "--events", ev)
	}
	w.cmd = exec.Command(writerBinary(t), args...)
	w.cmd.ExtraFiles = []*os.File{pw}
	w.cmd.Stderr = os.Stderr
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		pr.Close()
		if line != "READY\n" {
			err := w.cmd.Wait()
			w.cmd = nil
			t.Fatalf("writer %s ended before READY (%q): %v", w.name, line, err)
		}
	case <-time.After(guard):
		w.cmd.Process.Kill()
		w.cmd.Wait()
		w.cmd = nil
		t.Fatalf("writer %s not READY within %v (hang guard)", w.name, guard)
	}
}

// kill sends sig and reaps the writer.
func (w *writer) kill(sig syscall.Signal) error {
	if w.cmd == nil {
		return nil
	}
	_ = w.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(guard):
		w.cmd.Process.Kill()
		err = <-done
		w.t.Errorf("writer %s did not exit within %v; killed it", w.name, guard)
	}
	w.cmd = nil
	return err
}

// shmLeft lists the instance's objects still in /dev/shm.
func (w *writer) shmLeft() []string {
	m, _ := filepath.Glob("/dev/shm/fstatcache." + w.name + "*")
	return m
}

// stop: SIGTERM, exit 0, nothing left behind.
func (w *writer) stop() {
	if err := w.kill(syscall.SIGTERM); err != nil {
		w.t.Errorf("writer %s: %v, want exit 0", w.name, err)
	}
	if left := w.shmLeft(); len(left) != 0 {
		w.t.Errorf("writer %s left %v", w.name, left)
	}
	if _, err := os.Lstat(w.sock); err == nil {
		w.t.Errorf("writer %s left its socket", w.name)
	}
}

func (w *writer) cleanup() {
	if w.cmd != nil {
		w.kill(syscall.SIGKILL)
	}
	for _, p := range w.shmLeft() {
		os.Remove(p)
	}
}

func (w *writer) open(flags OpenFlags) *Handle {
	h, err := Open(w.name, flags)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { h.Close() })
	return h
}

func writeFile(t *testing.T, path, text string, app bool) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if app {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustSync(t *testing.T, h *Handle) {
	t.Helper()
	if err := h.Sync(guard); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// sameAsStat: a cached answer equals stat(2) of the path now.
func sameAsStat(t *testing.T, path string, s *Stat) {
	t.Helper()
	var st syscall.Stat_t
	var want Stat
	if err := syscall.Stat(path, &st); err != nil {
		want = Stat{Err: err.(syscall.Errno)}
	} else {
		fromStat(&st, &want)
	}
	got := *s
	got.Source, want.Source = 0, 0
	if got != want {
		t.Errorf("%s: cache %+v\n stat %+v", path, got, want)
	}
}

func TestWriterLookup(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	a, gone := w.path("a.log"), w.path("gone.log")
	writeFile(t, a, "hello\n", false)
	for _, p := range []string{a, gone} {
		s, err := h.Stat(p) // a miss: stat() answers and asks for a watch
		if err != nil || s.Source != SourceStat {
			t.Fatalf("%s: %+v %v, want an answer by stat()", p, s, err)
		}
	}
	mustSync(t, h)
	var s Stat
	if r := h.Lookup(a, &s); r != Hit || s.Size != 6 || s.Source != SourceCache {
		t.Fatalf("after sync: %v %+v", r, s)
	}
	sameAsStat(t, a, &s)
	if r := h.Lookup(gone, &s); r != Hit || s.Exists || s.Err != syscall.ENOENT {
		t.Fatalf("cached absence: %v %+v", r, s)
	}
	writeFile(t, a, "more\n", true)
	writeFile(t, gone, "now\n", false)
	mustSync(t, h)
	if r := h.Lookup(a, &s); r != Hit || s.Size != 11 {
		t.Fatalf("after append: %v %+v", r, s)
	}
	sameAsStat(t, a, &s)
	if r := h.Lookup(gone, &s); r != Hit || !s.Exists || s.Size != 4 {
		t.Fatalf("after create: %v %+v", r, s)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	mustSync(t, h)
	if r := h.Lookup(a, &s); r != Hit || s.Exists {
		t.Fatalf("after delete: %v %+v", r, s)
	}
	for _, p := range []string{w.dir + "/x/../a.log", w.dir + "/a.log/", "relative", w.dir + "//a.log", w.dir + "/./a.log"} {
		if r := h.Lookup(p, &s); r != Uncached {
			t.Errorf("%q: %v, want uncached (not a canonical key)", p, r)
		}
	}
	if r := h.Lookup(w.path("never.log"), &s); r != Miss {
		t.Errorf("never asked for: %v, want miss", r)
	}
	w.stop()
}

func TestWriterLookupMany(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	var paths []string
	for i := 0; i < 40; i++ {
		p := w.path(fmt.Sprintf("f%02d", i))
		if i%3 != 0 {
			writeFile(t, p, strings.Repeat("x", i), false)
		}
		paths = append(paths, p)
		if _, err := h.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, h)
	out, res := make([]Stat, len(paths)), make([]Result, len(paths))
	h.LookupMany(paths, out, res)
	for i, p := range paths {
		if res[i] != Hit {
			t.Errorf("%s: %v", p, res[i])
			continue
		}
		sameAsStat(t, p, &out[i])
		var one Stat
		if r := h.Lookup(p, &one); r != res[i] || one != out[i] {
			t.Errorf("%s: Lookup %v %+v, LookupMany %v %+v", p, r, one, res[i], out[i])
		}
	}
	w.stop()
}

func TestWriterWatchUnwatchErrors(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	p := w.path("w.log")
	writeFile(t, p, "1", false)
	if err := h.Watch(p, guard); err != nil {
		t.Fatal(err)
	}
	var s Stat
	if r := h.Lookup(p, &s); r != Hit || s.Size != 1 {
		t.Fatalf("after watch: %v %+v", r, s)
	}
	if err := h.Unwatch(p, guard); err != nil {
		t.Fatal(err)
	}
	if r := h.Lookup(p, &s); r != Miss {
		t.Fatalf("after unwatch: %v", r)
	}
	err := h.Watch("not/absolute", guard)
	if ce, ok := err.(*ControlError); !ok || ce.Errno != syscall.EINVAL || ce.Message == "" {
		t.Fatalf("watch of a relative path: %v, want the writer's EINVAL with a message", err)
	}
	if err := h.RequestWatch(w.dir + "/a/../b"); !IsErrno(err, syscall.EINVAL) {
		t.Fatalf("request of a non-canonical path: %v", err)
	}
	if err := h.Invalidate(guard); err != nil {
		t.Fatal(err)
	}
	w.stop()
}

func TestNoWriter(t *testing.T) {
	name := fmt.Sprintf("gonone%d", os.Getpid())
	if _, err := Open(name, OpenAttached); !IsErrno(err, syscall.ENOENT) {
		t.Fatalf("open attached without a writer: %v, want ENOENT", err)
	}
	if _, err := Open("bad.name", 0); !IsErrno(err, syscall.EINVAL) {
		t.Fatalf("bad name: %v", err)
	}
	h, err := Open(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Attached() || !IsErrno(h.AttachError(), syscall.ENOENT) {
		t.Fatalf("attached %v, error %v", h.Attached(), h.AttachError())
	}
	var s Stat
	if r := h.Lookup("/", &s); r != Uncached {
		t.Fatalf("lookup without a writer: %v", r)
	}
	s, err = h.Stat("/")
	if err != nil || !s.Exists || s.Source != SourceStat {
		t.Fatalf("stat without a writer: %+v %v", s, err)
	}
	if err := h.Sync(time.Second); !IsErrno(err, syscall.ENOTCONN) {
		t.Fatalf("sync without a writer: %v", err)
	}
	var cur Cursor
	if resync, err := h.Changes(&cur, func(*Change) bool { return true }); !resync || err != nil {
		t.Fatalf("changes without a writer: %v %v", resync, err)
	}
}

// A killed writer is noticed at the next lookup; a restarted one takes
// over the watch list, and the handle re-attaches by itself.
func TestWriterRestart(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	p := w.path("r.log")
	writeFile(t, p, "abc", false)
	if err := h.Watch(p, guard); err != nil {
		t.Fatal(err)
	}
	var s Stat
	if r := h.Lookup(p, &s); r != Hit {
		t.Fatalf("before kill: %v", r)
	}
	old := h.cur.Load()
	w.kill(syscall.SIGKILL)
	if old.flags&segPIDLiveness == 0 {
		if r := h.Lookup(p, &s); r != Uncached {
			t.Fatalf("after SIGKILL: %v, want uncached", r)
		}
	}
	writeFile(t, p, "abcdef", false)
	w.spawn()
	mustSync(t, h) // attaches at once (a control request does not wait)
	if r := h.Lookup(p, &s); r != Hit || s.Size != 6 {
		t.Fatalf("after restart: %v %+v", r, s)
	}
	if h.cur.Load() == old {
		t.Fatal("still on the old mapping")
	}
	// A clean stop retires the segment: lookups answer by stat().
	w.stop()
	if r := h.Lookup(p, &s); r != Uncached {
		t.Fatalf("after stop: %v", r)
	}
}

func TestWriterChanges(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	var cur Cursor
	resync, err := h.Changes(&cur, func(*Change) bool { t.Error("a change for a new cursor"); return true })
	if err != nil || !resync || cur.Epoch == 0 {
		t.Fatalf("new cursor: %v %v %v", resync, err, cur)
	}
	p := w.path("c.log")
	writeFile(t, p, "1", false)
	if err := h.Watch(p, guard); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, "12", false)
	mustSync(t, h)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	mustSync(t, h)
	var kinds []string
	var last Change
	resync, err = h.Changes(&cur, func(c *Change) bool {
		if c.Path == p {
			kinds = append(kinds, c.Kind.String())
			last = *c
		}
		return true
	})
	if err != nil || resync {
		t.Fatalf("changes: %v %v", resync, err)
	}
	got := strings.Join(kinds, " ")
	if !strings.HasPrefix(got, "added") || !strings.HasSuffix(got, "deleted") || last.Status != Hit || last.Stat.Exists {
		t.Fatalf("changes of %s: %q, last %+v", p, got, last)
	}
	text := cur.String()
	if c2, err := ParseCursor(text); err != nil || c2 != cur {
		t.Fatalf("cursor %s: %v %v", text, c2, err)
	}
	// Stopping early leaves the cursor just past the change delivered.
	before := cur
	writeFile(t, p, "back", false)
	mustSync(t, h)
	n := 0
	if _, err := h.Changes(&cur, func(*Change) bool { n++; return false }); err != nil || n != 1 || cur == before {
		t.Fatalf("stopped walk: %d changes, %v, cursor %v", n, err, cur)
	}
	w.stop()
}

// ChangesWait returns once the writer published something (or at its
// timeout, the hang guard); then Changes has it.
func TestWriterChangesWait(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	p := w.path("wait.log")
	writeFile(t, p, "1", false)
	if err := h.Watch(p, guard); err != nil {
		t.Fatal(err)
	}
	var cur Cursor
	h.Changes(&cur, func(*Change) bool { return true })
	done := make(chan error, 1)
	go func() { done <- h.ChangesWait(cur, guard) }()
	writeFile(t, p, "12", true)
	mustSync(t, h)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := false
	h.Changes(&cur, func(c *Change) bool { seen = seen || c.Path == p; return true })
	if !seen {
		t.Fatal("no change after the wait")
	}
	w.stop()
}

// Goroutines share a handle while the writer rewrites files: every answer
// is one the file really had (sizes only grow here), never torn.
func TestWriterConcurrentReaders(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	var paths []string
	for i := 0; i < 8; i++ {
		p := w.path(fmt.Sprintf("c%d", i))
		writeFile(t, p, "", false)
		if err := h.Watch(p, guard); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	const rounds = 200
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s Stat
			out, res := make([]Stat, len(paths)), make([]Result, len(paths))
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, p := range paths {
					if h.Lookup(p, &s) == Hit && (!s.Exists || s.Size < 0 || s.Size > rounds || s.Mode&syscall.S_IFMT != syscall.S_IFREG) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("%s: %+v", p, s))
						mu.Unlock()
					}
				}
				h.LookupMany(paths, out, res)
			}
		}()
	}
	for r := 0; r < rounds; r++ {
		writeFile(t, paths[r%len(paths)], "x", true)
		if r%20 == 0 {
			mustSync(t, h)
		}
	}
	mustSync(t, h)
	close(stop)
	wg.Wait()
	if len(bad) != 0 {
		t.Fatalf("%d impossible answers, first %s", len(bad), bad[0])
	}
	for _, p := range paths {
		var s Stat
		if r := h.Lookup(p, &s); r != Hit {
			t.Fatalf("%s: %v after sync", p, r)
		}
		sameAsStat(t, p, &s)
	}
	w.stop()
}
