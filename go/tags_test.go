package fstatcache

// The tag array (docs/FORMAT.md "Tag array object") against
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
	"time"
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

// The sample segment of tests/vectors with a tag array beside it, made
// here from its slots: the answers are the ones without it; a 0 tag ends
// a probe, so a key stored past a 0 tag in its window is a miss (a reader
// that only skipped that slot would find it); and wrong tags never give
// another key's answer.
func TestSampleTags(t *testing.T) {
	table, err := os.ReadFile(vectorsDir + "/sample.table")
	if err != nil {
		t.Fatal(err)
	}
	slots := hostOrder.Uint32(table[hSlotCount:])
	es := hostOrder.Uint32(table[hEntrySize:])
	pathMax := hostOrder.Uint32(table[hPathMax:])
	seed := hostOrder.Uint64(table[hHashSeed:])
	type key struct {
		path       string
		home, slot uint32 // slot: ^0 for a key that is not there
	}
	var keys []key
	sound := make([]uint16, slots)
	for s := uint32(0); s < slots; s++ {
		e := headerSize + s*es
		flags, n := splitFlagsLen(hostOrder.Uint32(table[e+eFlagsLen:]))
		if flags&entUsed == 0 {
			continue
		}
		sound[s] = tagOf(hostOrder.Uint64(table[e+eHash:]))
		if n >= pathMax {
			t.Fatalf("slot %d: path_len %d", s, n)
		}
		p := string(table[e+entryFixed : e+entryFixed+n])
		keys = append(keys, key{p, uint32(XXH3String(p, seed)) & (slots - 1), s})
	}
	for _, p := range []string{"/var/log/never", "/x/y", "/srv"} {
		keys = append(keys, key{p, uint32(XXH3String(p, seed)) & (slots - 1), ^uint32(0)})
	}
	lookupAll := func(h *Handle) ([]Result, []Stat) {
		res, out := make([]Result, len(keys)), make([]Stat, len(keys))
		for i, k := range keys {
			res[i] = h.Lookup(k.path, &out[i])
		}
		return res, out
	}

	name := sampleInstance(t)
	h0, err := Open(name, OpenAttached|OpenNoRequests)
	if err != nil {
		t.Fatal(err)
	}
	base, baseOut := lookupAll(h0)
	h0.Close()

	tagsPath := "/dev/shm/fstatcache." + name + ".tags"
	f, err := os.OpenFile(tagsPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); os.Remove(tagsPath) })
	writeTags := func(tags []uint16) {
		b := make([]byte, tagsHeaderSize+2*len(tags))
		hostOrder.PutUint64(b[tMagic:], magicTags)
		copy(b[tEpoch:], table[hEpoch:hEpoch+8])
		hostOrder.PutUint32(b[tSlotCount:], slots)
		for i, v := range tags {
			hostOrder.PutUint16(b[tagsHeaderSize+2*i:], v)
		}
		if _, err := f.WriteAt(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	writeTags(sound)
	patch32(t, name, hFlags, hostOrder.Uint32(table[hFlags:])|segTags)
	h, err := Open(name, OpenAttached|OpenNoRequests)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.cur.Load().tags == nil {
		t.Fatal("the tag array is not mapped")
	}
	// With tags, a key that is not there is a miss (without them, a probe
	// that meets the sample's busy slot gives up: uncached); one that is
	// there has the answer it had without them, unless missed.
	check := func(what string, missed func(k key) bool) {
		t.Helper()
		res, out := lookupAll(h)
		for i, k := range keys {
			want := base[i]
			if k.slot == ^uint32(0) || missed(k) {
				want = Miss
			}
			if res[i] != want || (want == Hit && out[i] != baseOut[i]) {
				t.Errorf("%s: %s %v %+v, want %v %+v", what, k.path, res[i], out[i], want, baseOut[i])
			}
		}
	}
	check("sound tags", func(key) bool { return false })

	// A 0 tag at the home slot of a key stored past its home.
	zeroed := ^uint32(0)
	for i, k := range keys {
		if k.slot != ^uint32(0) && k.slot != k.home && base[i] == Hit {
			zeroed = k.home
			break
		}
	}
	if zeroed == ^uint32(0) {
		t.Fatal("the sample has no key stored past its home slot")
	}
	tags := append([]uint16(nil), sound...)
	tags[zeroed] = 0
	writeTags(tags)
	check("a 0 tag", func(k key) bool {
		d := func(s uint32) uint32 { return (s - k.home) & (slots - 1) }
		return k.slot != ^uint32(0) && d(zeroed) <= d(k.slot)
	})

	// Random wrong tags: a hit is the one without tags, never another
	// key's; a wrong tag may cost a miss (or, on the sample's busy slot,
	// uncached), which the caller stat()s.
	rng := uint64(time.Now().UnixNano()) | 1
	next := func() uint64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
	seed0 := rng
	hits := 0
	for it := 0; it < 500; it++ {
		copy(tags, sound)
		for n := 1 + next()%4; n > 0; n-- {
			r := next()
			s := r % uint64(slots)
			switch (r >> 32) % 3 {
			case 0:
				tags[s] = 0
			case 1:
				tags[s] = uint16(r >> 40)
			default:
				tags[s] = sound[(r>>20)%uint64(slots)]
			}
		}
		writeTags(tags)
		res, out := lookupAll(h)
		for i, k := range keys {
			if res[i] == Hit && (base[i] != Hit || out[i] != baseOut[i]) {
				t.Fatalf("wrong tags (seed %#x): %s %+v, want %v %+v", seed0, k.path, out[i], base[i], baseOut[i])
			}
			if res[i] == Hit {
				hits++
			}
		}
	}
	if hits == 0 {
		t.Fatalf("no hit with wrong tags (seed %#x)", seed0)
	}
}
