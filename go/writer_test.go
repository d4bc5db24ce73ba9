package fstatcache

// Tests against a real writer (internal/writertest starts one per test on
// a unique name, as tests/harness.c does); changes are waited for with
// the sync barrier, never with sleeps.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fstatcache.example/go/fstatcache/internal/writertest"
)

const guard = writertest.Guard

type writer struct{ *writertest.Writer }

func startWriter(t *testing.T, extra ...string) writer {
	return writer{writertest.Start(t, extra...)}
}

func (w writer) open(flags OpenFlags) *Handle {
	h, err := Open(w.Name, flags)
	if err != nil {
		w.T.Fatal(err)
	}
	w.T.Cleanup(func() { h.Close() })
	return h
}

func writeFile(t *testing.T, path, text string, app bool) { writertest.WriteFile(t, path, text, app) }

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
	a, gone := w.Path("a.log"), w.Path("gone.log")
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
	for _, p := range []string{w.Dir + "/x/../a.log", w.Dir + "/a.log/", "relative", w.Dir + "//a.log", w.Dir + "/./a.log"} {
		if r := h.Lookup(p, &s); r != Uncached {
			t.Errorf("%q: %v, want uncached (not a canonical key)", p, r)
		}
	}
	if r := h.Lookup(w.Path("never.log"), &s); r != Miss {
		t.Errorf("never asked for: %v, want miss", r)
	}
	w.Stop()
}

func TestWriterLookupMany(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	var paths []string
	for i := 0; i < 40; i++ {
		p := w.Path(fmt.Sprintf("f%02d", i))
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
	w.Stop()
}

func TestWriterWatchUnwatchErrors(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	p := w.Path("w.log")
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
	if err := h.RequestWatch(w.Dir + "/a/../b"); !IsErrno(err, syscall.EINVAL) {
		t.Fatalf("request of a non-canonical path: %v", err)
	}
	if err := h.Invalidate(guard); err != nil {
		t.Fatal(err)
	}
	w.Stop()
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
	p := w.Path("r.log")
	writeFile(t, p, "abc", false)
	if err := h.Watch(p, guard); err != nil {
		t.Fatal(err)
	}
	var s Stat
	if r := h.Lookup(p, &s); r != Hit {
		t.Fatalf("before kill: %v", r)
	}
	old := h.cur.Load()
	w.Kill(syscall.SIGKILL)
	if old.flags&segPIDLiveness == 0 {
		if r := h.Lookup(p, &s); r != Uncached {
			t.Fatalf("after SIGKILL: %v, want uncached", r)
		}
	}
	writeFile(t, p, "abcdef", false)
	w.Spawn()
	mustSync(t, h) // attaches at once (a control request does not wait)
	if r := h.Lookup(p, &s); r != Hit || s.Size != 6 {
		t.Fatalf("after restart: %v %+v", r, s)
	}
	if h.cur.Load() == old {
		t.Fatal("still on the old mapping")
	}
	// A clean stop retires the segment: lookups answer by stat().
	w.Stop()
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
	p := w.Path("c.log")
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
	w.Stop()
}

// ChangesWait returns once the writer published something (or at its
// timeout, the hang guard); then Changes has it.
func TestWriterChangesWait(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	p := w.Path("wait.log")
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
	w.Stop()
}

// Goroutines share a handle while the writer rewrites files: every answer
// is one the file really had (sizes only grow here), never torn.
func TestWriterConcurrentReaders(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	var paths []string
	for i := 0; i < 8; i++ {
		p := w.Path(fmt.Sprintf("c%d", i))
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
	w.Stop()
}

// Watch requests sent faster than the writer takes them wait for room in
// its queue, and none is dropped: Go's runtime interrupts blocking system
// calls with signals (EINTR), which once gave requests up.
func TestWriterManyRequests(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	paths := make([]string, 1500)
	for i := range paths {
		paths[i] = w.Path(fmt.Sprintf("r%04d", i))
		writeFile(t, paths[i], "", false)
	}
	for _, p := range paths {
		if err := h.RequestWatch(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if d := h.RequestsDropped(); d != 0 {
		t.Fatalf("%d requests dropped", d)
	}
	mustSync(t, h)
	out, res := make([]Stat, len(paths)), make([]Result, len(paths))
	h.LookupMany(paths, out, res)
	for i, r := range res {
		if r != Hit {
			t.Fatalf("%s: %v after sync", paths[i], r)
		}
	}
	w.Stop()
}

// A reader in another mount namespace is not served unless it opts in:
// the paths it would ask about may name other files there.  The test
// binary runs itself again under unshare(1) -m (root only), as the child
// below, which reports what Open said.
func TestMountNamespace(t *testing.T) {
	if os.Getenv("FSCT_GO_MNTNS_CHILD") != "" {
		t.Skip("the parent's test")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) for a mount namespace")
	}
	w := startWriter(t)
	h := w.open(OpenAttached) // our own namespace is served
	mustSync(t, h)
	for _, c := range []struct{ any, want string }{{"", "EXDEV"}, {"1", "served"}} {
		cmd := exec.Command(unshare, "-m", os.Args[0], "-test.run", "^TestMountNamespaceChild$")
		cmd.Env = append(os.Environ(), "FSCT_GO_MNTNS_CHILD="+w.Name, "FSTATCACHE_ANY_MOUNT_NS="+c.any)
		out, err := cmd.CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "unshare failed") {
				t.Skipf("unshare -m: %s", out)
			}
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "open: "+c.want+"\n") {
			t.Errorf("FSTATCACHE_ANY_MOUNT_NS=%q: want %s, child said\n%s", c.any, c.want, out)
		}
	}
}

func TestMountNamespaceChild(t *testing.T) {
	name := os.Getenv("FSCT_GO_MNTNS_CHILD")
	if name == "" {
		t.Skip("run by TestMountNamespace")
	}
	h, err := Open(name, OpenAttached)
	switch {
	case err == nil:
		h.Close()
		fmt.Println("open: served")
	case IsErrno(err, syscall.EXDEV):
		fmt.Println("open: EXDEV")
	default:
		fmt.Printf("open: %v\n", err)
	}
}
