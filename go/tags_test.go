package fstatcache

// The tag array (format 1.5, docs/FORMAT.md "Tag array object") against
// a real writer: the reader maps the writer's .tags and follows it (a key
// whose tag is changed is no longer found, its slot never read), and
// ignores a .tags object that fails any check (every key is found again,
// from the slots alone).  The test runs as the writer's user, so it can
// map the writer's objects read-write to change them.

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"
)

// mapShmRW maps size bytes of /dev/shm/fstatcache.NAME<suffix> read-write.
func mapShmRW(t *testing.T, path string, size int) []byte {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer syscall.Close(fd)
	mem, err := syscall.Mmap(fd, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap %s: %v", path, err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	return mem
}

// slotOf is the slot holding path, found by reading the slots alone.
func slotOf(t *testing.T, m *mapping, path string) uint32 {
	t.Helper()
	hash := XXH3String(path, m.seed)
	i := uint32(hash) & m.mask
	for n := uint32(0); n < m.probeLim; n++ {
		var s Stat
		var flags uint32
		empty := false
		if probeSlot(m.slot(i), path, hash, &s, &flags, &empty) == probeFound {
			if got := m.tag(i); got != tagOf(hash) {
				t.Fatalf("%s: tag %#x in slot %d, want %#x", path, got, i, tagOf(hash))
			}
			return i
		}
		i = (i + 1) & m.mask
	}
	t.Fatalf("%s: in no slot of its probe window", path)
	return 0
}

// expectHits: every path hits, but paths[victim] (-1: none), which
// misses; by Lookup and by LookupMany.
func expectHits(t *testing.T, what string, h *Handle, paths []string, victim int) {
	t.Helper()
	out, res := make([]Stat, len(paths)), make([]Result, len(paths))
	h.LookupMany(paths, out, res)
	for i, p := range paths {
		want := Hit
		if i == victim {
			want = Miss
		}
		var s Stat
		if r := h.Lookup(p, &s); r != want {
			t.Errorf("%s: Lookup(%s) %v, want %v", what, p, r, want)
		} else if r == Hit {
			sameAsStat(t, p, &s)
		}
		if res[i] != want {
			t.Errorf("%s: LookupMany(%s) %v, want %v", what, p, res[i], want)
		}
	}
}

// xorTableFlags flips bits of the table header's flags word (offset 36).
func xorTableFlags(hdr []byte, bits uint32) {
	w := (*uint32)(unsafe.Pointer(&hdr[hFlags]))
	for {
		old := atomic.LoadUint32(w)
		if atomic.CompareAndSwapUint32(w, old, old^bits) {
			return
		}
	}
}

func TestWriterTags(t *testing.T) {
	w := startWriter(t)
	h := w.open(OpenAttached)
	paths := make([]string, 12)
	for i := range paths {
		paths[i] = w.Path(fmt.Sprintf("t%02d.log", i))
		writeFile(t, paths[i], "tag", false)
		if err := h.RequestWatch(paths[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, h)
	m := h.cur.Load()
	if m.flags&segTags == 0 || m.tags == nil {
		t.Fatalf("the writer's tag array is not mapped (header flags %#x)", m.flags)
	}
	expectHits(t, "sound tags", h, paths, -1)

	const victim = 5
	slot := slotOf(t, m, paths[victim])
	tagsPath := "/dev/shm/fstatcache." + w.Name + ".tags"
	size := tagsHeaderSize + 2*int(m.slots)
	tags := mapShmRW(t, tagsPath, size)
	hdr := mapShmRW(t, "/dev/shm/fstatcache."+w.Name, headerSize)
	// Another nonzero tag (bit 0 stays set): only the victim's probe
	// skips its slot.
	off := tagsHeaderSize + 2*int(slot)
	tags[off] ^= 2
	tags[off+1] ^= 2
	expectHits(t, "victim's tag changed", h, paths, victim)

	// A .tags object failing one check is ignored by a new handle, which
	// then finds the victim in its slot.
	var st syscall.Stat_t
	if err := syscall.Stat(tagsPath, &st); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(st.Mode & 0777)
	for _, c := range []struct {
		what string
		bad  func()
		undo func()
	}{
		{"wrong magic", func() { tags[tMagic] ^= 1 }, func() { tags[tMagic] ^= 1 }},
		{"wrong epoch", func() { tags[tEpoch] ^= 1 }, func() { tags[tEpoch] ^= 1 }},
		{"wrong slot count", func() { tags[tSlotCount] ^= 1 }, func() { tags[tSlotCount] ^= 1 }},
		{"wrong size", func() {
			if err := os.Truncate(tagsPath, int64(size)+4096); err != nil {
				t.Fatal(err)
			}
		}, func() {
			if err := os.Truncate(tagsPath, int64(size)); err != nil {
				t.Fatal(err)
			}
		}},
		{"group-writable", func() {
			if err := os.Chmod(tagsPath, mode|0020); err != nil {
				t.Fatal(err)
			}
		}, func() {
			if err := os.Chmod(tagsPath, mode); err != nil {
				t.Fatal(err)
			}
		}},
		{"header flag clear", func() { xorTableFlags(hdr, segTags) }, func() { xorTableFlags(hdr, segTags) }},
	} {
		c.bad()
		h2, err := Open(w.Name, OpenAttached)
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if h2.cur.Load().tags != nil {
			t.Errorf("%s: the tag array was mapped", c.what)
		}
		expectHits(t, c.what, h2, paths, -1)
		h2.Close()
		c.undo()
	}

	// Every check passes again: a new handle follows the tags too.
	h3 := w.open(OpenAttached)
	if h3.cur.Load().tags == nil {
		t.Fatal("restored: the tag array is not mapped")
	}
	expectHits(t, "restored", h3, paths, victim)
	tags[off] ^= 2
	tags[off+1] ^= 2
	expectHits(t, "victim's tag back", h, paths, -1)
	// The writer keeps the tags in step as it rewrites slots.
	for _, p := range paths {
		writeFile(t, p, "more", true)
	}
	mustSync(t, h)
	expectHits(t, "after rewrites", h, paths, -1)
	w.Stop()
}
