// fsc-go-bench: what a Go caller gains from fstatcache, in one run.
//
// Starts its own fstatcached ($FSTATCACHED, or -writer; unique name,
// private temp dir), creates N files, caches them all (a watch request
// each, then the sync barrier) and times, side by side on the same files
// in the same run:
//
//	Lookup(p)         vs  os.Stat(p)        (and syscall.Stat(p))
//	LookupMany(paths) vs  os.Stat(p) for each p
//	Stat(p)           vs  os.Stat(p)
//	a change-feed poll (Changes from the cursor) vs a pass of os.Stat over
//	every file, when nothing changed (one poll after a stat pass, as an
//	agent polls now and then, and the same poll repeated 1000 times in a
//	row) and when K files changed (the writer's work is not timed: the
//	files change, then the sync barrier, then the timed poll)
//
// Each measurement is one pass over all N paths (or one poll); the methods
// compared alternate, in a different order every round, and the median
// over the rounds is reported, with the ratio to the baseline (above 1:
// faster than the baseline).  Every answer is checked against stat(2)
// once, every timed lookup must be a hit, and every poll must deliver the
// K files changed before it with their new sizes: the run fails
// otherwise.  It asserts nothing about times.
//
//	cd bench/go && FSTATCACHED=$PWD/../../build/fstatcached \
//	    go run . -files 10000 -rounds 15
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"fstatcache.example/go/fstatcache"
)

// atExit undoes what the run made (the writer, its objects, the files).
var atExit []func()

func cleanup() {
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	atExit = nil
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "fsc-go-bench: "+format+"\n", args...)
	cleanup()
	os.Exit(1)
}

type writer struct {
	name string
	dir  string
	cmd  *exec.Cmd
}

func startWriter(bin, dir string) *writer {
	var r [4]byte
	rand.Read(r[:])
	w := &writer{name: "gobench" + hex.EncodeToString(r[:]), dir: dir}
	pr, pw, err := os.Pipe()
	if err != nil {
		fail("%v", err)
	}
	w.cmd = exec.Command(bin, "--name", w.name, "--socket", filepath.Join(dir, "ctl.sock"),
		"--ready-fd", "3", "--quiet")
	w.cmd.ExtraFiles = []*os.File{pw}
	w.cmd.Stderr = os.Stderr
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		fail("%s: %v", bin, err)
	}
	atExit = append(atExit, w.kill)
	pw.Close()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	pr.Close()
	if line != "READY\n" {
		w.cmd.Process.Kill()
		w.cmd.Wait()
		fail("%s did not start", bin)
	}
	return w
}

// kill: a run that failed leaves no writer and no segment behind.
func (w *writer) kill() {
	if w.cmd.ProcessState == nil {
		w.cmd.Process.Kill()
		w.cmd.Wait()
	}
	left, _ := filepath.Glob("/dev/shm/fstatcache." + w.name + "*")
	for _, p := range left {
		os.Remove(p)
	}
}

func (w *writer) stop() {
	w.cmd.Process.Signal(syscall.SIGTERM)
	err := w.cmd.Wait()
	left, _ := filepath.Glob("/dev/shm/fstatcache." + w.name + "*")
	for _, p := range left {
		os.Remove(p)
	}
	if err != nil || len(left) != 0 {
		fail("writer: %v, left %v", err, left)
	}
}

// median of the rounds' ns per call.
func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func timed(n int, fn func()) float64 {
	t0 := time.Now()
	fn()
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

type row struct {
	name, base string
	ns, baseNs []float64
}

func main() {
	files := flag.Int("files", 10000, "files cached and looked up")
	rounds := flag.Int("rounds", 15, "rounds; the median is reported")
	changed := flag.Int("changed", 10, "files changed before each busy poll")
	bin := flag.String("writer", os.Getenv("FSTATCACHED"), "fstatcached to start")
	flag.Parse()
	if *bin == "" {
		fail("no writer: set FSTATCACHED or -writer")
	}
	if *changed > *files {
		*changed = *files
	}
	tmp, err := os.MkdirTemp("", "fsc-go-bench.")
	if err != nil {
		fail("%v", err)
	}
	atExit = append(atExit, func() { os.RemoveAll(tmp) })
	w := startWriter(*bin, tmp)
	if err := os.Mkdir(filepath.Join(tmp, "files"), 0755); err != nil {
		fail("%v", err)
	}
	paths := make([]string, *files)
	for i := range paths {
		paths[i] = filepath.Join(tmp, "files", fmt.Sprintf("file-%06d.log", i))
		if err := os.WriteFile(paths[i], []byte(strings.Repeat("x", i%997)), 0644); err != nil {
			fail("%v", err)
		}
	}
	h, err := fstatcache.Open(w.name, fstatcache.OpenAttached)
	if err != nil {
		fail("%v", err)
	}
	for _, p := range paths {
		if err := h.RequestWatch(p); err != nil {
			fail("%s: %v", p, err)
		}
	}
	if err := h.Sync(time.Minute); err != nil {
		fail("sync: %v", err)
	}
	check(h, paths)

	var s fstatcache.Stat
	out := make([]fstatcache.Stat, len(paths))
	res := make([]fstatcache.Result, len(paths))
	n := len(paths)
	passes := map[string]func(){
		"Lookup": func() {
			for _, p := range paths {
				if h.Lookup(p, &s) != fstatcache.Hit {
					fail("%s: not a hit", p)
				}
			}
		},
		"LookupMany": func() {
			h.LookupMany(paths, out, res)
		},
		"Stat": func() {
			for _, p := range paths {
				if _, err := h.Stat(p); err != nil {
					fail("%v", err)
				}
			}
		},
		"os.Stat": func() {
			for _, p := range paths {
				if _, err := os.Stat(p); err != nil {
					fail("%v", err)
				}
			}
		},
		"syscall.Stat": func() {
			var st syscall.Stat_t
			for _, p := range paths {
				if err := syscall.Stat(p, &st); err != nil {
					fail("%v", err)
				}
			}
		},
	}
	order := []string{"Lookup", "LookupMany", "Stat", "os.Stat", "syscall.Stat"}
	ns := map[string][]float64{}
	for r := 0; r < *rounds; r++ {
		for k := range order { // a different order every round
			name := order[(k+r)%len(order)]
			ns[name] = append(ns[name], timed(n, passes[name]))
		}
		for i, r := range res {
			if r != fstatcache.Hit {
				fail("%s: LookupMany %v", paths[i], r)
			}
		}
	}

	// The change feed: a poll from the cursor against a pass of os.Stat.
	var cur fstatcache.Cursor
	if resync, err := h.Changes(&cur, func(*fstatcache.Change) bool { return true }); err != nil || !resync {
		fail("first poll: %v %v", resync, err)
	}
	var idle, idleWarm, idleBase, busy, busyBase []float64
	seen := map[string]int64{}
	poll := func() {
		resync, err := h.Changes(&cur, func(c *fstatcache.Change) bool {
			if c.Status == fstatcache.Hit {
				seen[c.Path] = c.Stat.Size
			} else {
				seen[c.Path] = -1
			}
			return true
		})
		if err != nil || resync {
			fail("poll: resync %v, %v", resync, err)
		}
	}
	for r := 0; r < *rounds; r++ {
		// Idle: nothing changed since the cursor.
		for k := 0; k < 2; k++ {
			if (k+r)%2 == 0 {
				seen = map[string]int64{}
				idle = append(idle, timed(1, poll))
				// The same poll again and again: its cost with the
				// handle and the feed's header in the CPU's caches.
				idleWarm = append(idleWarm, timed(1000, func() {
					for i := 0; i < 1000; i++ {
						poll()
					}
				}))
				if len(seen) != 0 {
					fail("an idle poll delivered %d changes", len(seen))
				}
			} else {
				idleBase = append(idleBase, timed(1, passes["os.Stat"]))
			}
		}
		// Busy: K files grew, then the sync barrier (not timed).
		want := map[string]int64{}
		for k := 0; k < *changed; k++ {
			p := paths[(r*(*changed)+k)%n]
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				fail("%v", err)
			}
			f.Write([]byte("y"))
			f.Close()
			st, _ := os.Stat(p)
			want[p] = st.Size()
		}
		if err := h.Sync(time.Minute); err != nil {
			fail("sync: %v", err)
		}
		seen = map[string]int64{}
		busy = append(busy, timed(1, poll))
		for p, size := range want {
			if got, ok := seen[p]; !ok || (got != size && got != -1) {
				fail("poll after %d changes: %s has %d, want %d", *changed, p, got, size)
			}
		}
		busyBase = append(busyBase, timed(1, passes["os.Stat"]))
	}
	h.Close()
	w.stop()
	cleanup()

	fmt.Printf("fsc-go-bench: %d files, %d rounds, median; ratio = baseline / method (above 1: faster)\n", n, *rounds)
	fmt.Printf("%-34s %12s   %-22s %12s %8s\n", "method", "ns", "baseline", "ns", "ratio")
	rows := []row{
		{"Lookup (per path)", "os.Stat", ns["Lookup"], ns["os.Stat"]},
		{"Lookup (per path)", "syscall.Stat", ns["Lookup"], ns["syscall.Stat"]},
		{"LookupMany (per path)", "os.Stat", ns["LookupMany"], ns["os.Stat"]},
		{"Stat (per path, hits)", "os.Stat", ns["Stat"], ns["os.Stat"]},
		{"Changes, idle poll (per poll)", "os.Stat of every file", idle, idleBase},
		{"Changes, idle poll, repeated", "os.Stat of every file", idleWarm, idleBase},
		{fmt.Sprintf("Changes, %d changed (per poll)", *changed), "os.Stat of every file", busy, busyBase},
	}
	for _, r := range rows {
		m, b := median(r.ns), median(r.baseNs)
		fmt.Printf("%-34s %12.1f   %-22s %12.1f %7.1fx\n", r.name, m, r.base, b, b/m)
	}
}

// check: every cached answer equals stat(2), once.
func check(h *fstatcache.Handle, paths []string) {
	for _, p := range paths {
		var s fstatcache.Stat
		if r := h.Lookup(p, &s); r != fstatcache.Hit {
			fail("%s: %v after sync", p, r)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			fail("%v", err)
		}
		if s.Size != int64(st.Size) || s.Ino != uint64(st.Ino) || s.Dev != uint64(st.Dev) || s.Mode != uint32(st.Mode) ||
			s.MtimeSec != int64(st.Mtim.Sec) || int64(s.MtimeNsec) != int64(st.Mtim.Nsec) {
			fail("%s: cache %+v differs from stat(2)", p, s)
		}
	}
}
