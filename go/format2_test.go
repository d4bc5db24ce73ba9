package fstatcache

// The entry layout of format 2.0 (include/fstatcache/format.h), built
// here byte by byte, without a writer: a table in private memory read by
// the probe, and feed records read by changeFrom.  Each check a copied
// entry or record must pass is broken once, and refused.

import (
	"strings"
	"testing"
	"unsafe"
)

// aligned is n zero bytes, 8-byte aligned (the format's words are read
// with 64-bit atomic loads).
func aligned(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// entry2 is what a writer of format 2.0 stores for one path.
type entry2 struct {
	seq                 uint32
	flags               uint16
	pathLen             int // -1: len(path)
	dev, ino            uint64
	mode, uid, gid      uint32
	nlink               uint32
	size, blocks        int64
	mtime, ctime, atime int64 // ns since the epoch
	blksize, rdev       uint32
	reason              uint32
	reserved, validated uint64
	path                string
	pathPad             byte // the path area past the key (0: NUL-padded)
}

// put writes e's head at b[0:96], its path at 96 and its cold tail at
// 96 + pathMax, in the host's byte order.
func (e *entry2) put(b []byte, pathMax uint32, seed uint64) {
	plen := len(e.path)
	if e.pathLen >= 0 {
		plen = e.pathLen
	}
	hostOrder.PutUint32(b[eSeq:], e.seq)
	hostOrder.PutUint16(b[4:], e.flags)
	hostOrder.PutUint16(b[6:], uint16(plen))
	hostOrder.PutUint64(b[eHash:], XXH3String(e.path, seed))
	hostOrder.PutUint64(b[eDev:], e.dev)
	hostOrder.PutUint64(b[eIno:], e.ino)
	hostOrder.PutUint32(b[eMode:], e.mode)
	hostOrder.PutUint32(b[eUID:], e.uid)
	hostOrder.PutUint32(b[eGID:], e.gid)
	hostOrder.PutUint32(b[eNlink:], e.nlink)
	hostOrder.PutUint64(b[eSize:], uint64(e.size))
	hostOrder.PutUint64(b[eBlocks:], uint64(e.blocks))
	hostOrder.PutUint64(b[eMtimeNs:], uint64(e.mtime))
	hostOrder.PutUint64(b[eCtimeNs:], uint64(e.ctime))
	hostOrder.PutUint64(b[eAtimeNs:], uint64(e.atime))
	hostOrder.PutUint32(b[eBlksize:], e.blksize)
	hostOrder.PutUint32(b[eRdev:], e.rdev)
	area := b[entryFixed : entryFixed+pathMax]
	for i := range area {
		area[i] = e.pathPad
	}
	copy(area, e.path)
	if len(e.path) < len(area) {
		area[len(e.path)] = 0
	}
	cold := b[entryFixed+pathMax:]
	hostOrder.PutUint32(cold[cReason:], e.reason)
	hostOrder.PutUint32(cold[4:], uint32(e.reserved))
	hostOrder.PutUint64(cold[cValidatedNs:], e.validated)
}

// A regular file whose every field is at a boundary of its type: times
// before 1970 and at both ends of the ns range, nlink and rdev with
// their top bit set (zero-extended, never sign-extended).
func fullEntry(path string) entry2 {
	return entry2{
		seq: 4, flags: entUsed | entExists, pathLen: -1,
		dev: 0x0123456789abcdef, ino: 1<<63 + 5,
		mode: 0100644, uid: 1000, gid: 0xfffffffe, nlink: 0xffffffff,
		size: 1<<62 + 3, blocks: 1 << 40,
		mtime: -1, ctime: -1 << 63, atime: 1<<63 - 1,
		blksize: 65536, rdev: 0x80000103,
		reason: 0xdeadbeef, reserved: 0xfeedface, validated: ^uint64(0),
		path: path,
	}
}

// Its answer: -1 ns is -1 s + 999999999 ns (floor division).
func fullAnswer() Stat {
	return Stat{
		Exists: true, Source: SourceCache,
		Mode: 0100644, UID: 1000, GID: 0xfffffffe,
		Dev: 0x0123456789abcdef, Ino: 1<<63 + 5,
		Nlink: 0xffffffff, Rdev: 0x80000103,
		Size: 1<<62 + 3, Blocks: 1 << 40,
		MtimeSec: -1, MtimeNsec: 999999999,
		CtimeSec: -9223372037, CtimeNsec: 145224192,
		Blksize: 65536, Have: HaveBlksize | HaveAtime,
		AtimeSec: 9223372036, AtimeNsec: 854775807,
	}
}

const (
	t2Slots   = 16
	t2PathMax = 64
	t2Seed    = 0x5eed5eed0badcafe
)

// table2 is a serving table of 16 slots (path_max 64) in private memory,
// each entry in its home slot or the next free one.
func table2(t *testing.T, ents []entry2) *mapping {
	t.Helper()
	es := entrySize(t2PathMax)
	b := aligned(headerSize + t2Slots*int(es))
	hostOrder.PutUint32(b[hStatus:], statusServing)
	hostOrder.PutUint32(b[hWriterAlive:], 4242)
	m := &mapping{table: b, base: unsafe.Pointer(&b[0]), seed: t2Seed, slots: t2Slots,
		mask: t2Slots - 1, entSize: es, pathMax: t2PathMax, probeLim: 8, lockFd: -1}
	for k := range ents {
		i := uint32(XXH3String(ents[k].path, t2Seed)) & m.mask
		for n := 0; hostOrder.Uint32(b[headerSize+i*es+eFlagsLen:]) != 0; n++ {
			if n == t2Slots {
				t.Fatal("table full")
			}
			i = (i + 1) & m.mask
		}
		ents[k].put(b[headerSize+i*es:headerSize+(i+1)*es], t2PathMax, t2Seed)
	}
	return m
}

func TestEntrySize2(t *testing.T) {
	for _, c := range []struct{ pm, want uint32 }{{64, 256}, {256, 384}, {4096, 4224}, {136, 256}, {144, 256}, {152, 384}} {
		if got := entrySize(c.pm); got != c.want {
			t.Errorf("entrySize(%d) = %d, want %d", c.pm, got, c.want)
		}
	}
	if feedEntry != 112 || feedRecMax != 16+112+4096 {
		t.Errorf("feed record: %d bytes before the path, at most %d", feedEntry, feedRecMax)
	}
}

// The flags and path_len halves of the word at offset 4, by byte order.
func TestSplitFlagsLen(t *testing.T) {
	b := aligned(8)
	hostOrder.PutUint16(b[4:], 0x0007)
	hostOrder.PutUint16(b[6:], 0x0fff)
	f, n := splitFlagsLen(hostOrder.Uint32(b[4:]))
	if f != 7 || n != 0xfff {
		t.Fatalf("flags %#x path_len %#x, want 0x7 0xfff", f, n)
	}
}

func TestSplitNs(t *testing.T) {
	for _, c := range []struct {
		ns   int64
		sec  int64
		nsec uint32
	}{
		{0, 0, 0}, {1, 0, 1}, {-1, -1, 999999999}, {-1e9, -1, 0},
		{-1e9 - 1, -2, 999999999}, {1764950400123456789, 1764950400, 123456789},
		{-86399000000001, -86400, 999999999},
		{-1 << 63, -9223372037, 145224192}, {1<<63 - 1, 9223372036, 854775807},
	} {
		s, n := splitNs(c.ns)
		if s != c.sec || n != c.nsec {
			t.Errorf("splitNs(%d) = %d %d, want %d %d", c.ns, s, n, c.sec, c.nsec)
		}
	}
}

// Hits read the head and the path; the cold tail holds anything.
func TestTable2Lookup(t *testing.T) {
	// 31 bytes and less: the head's pair of lines; 63: the longest key.
	keys := []string{"/a"}
	for _, n := range []int{7, 8, 9, 31, 32, 33, 58, 63} {
		keys = append(keys, "/k/"+strings.Repeat("a", n-4)+"z")
	}
	var ents []entry2
	for _, k := range keys {
		ents = append(ents, fullEntry(k))
	}
	gone := entry2{seq: 2, flags: entUsed, pathLen: -1, path: "/gone", mtime: 5, reason: 1}
	ents = append(ents, gone)
	m := table2(t, ents)
	for _, k := range keys {
		var s Stat
		if r := m.lookupMap(k, XXH3String(k, t2Seed), &s); r != Hit {
			t.Errorf("%s: %v, want hit", k, r)
			continue
		}
		if want := fullAnswer(); s != want {
			t.Errorf("%s:\n got %+v\nwant %+v", k, s, want)
		}
	}
	var s Stat
	if r := m.lookupMap("/gone", XXH3String("/gone", t2Seed), &s); r != Hit || s.Exists || s.Have != 0 {
		t.Errorf("/gone: %v %+v, want a cached absence", r, s)
	}
	// Another key of the same bytes, one shorter or longer: not found.
	for _, k := range []string{"/k/" + strings.Repeat("a", 28), "/k/" + strings.Repeat("a", 28) + "zz", "/b"} {
		if r := m.lookupMap(k, XXH3String(k, t2Seed), &s); r != Miss {
			t.Errorf("%s: %v, want miss", k, r)
		}
	}
}

// Every entry a reader must not believe: answered by stat() (Uncached),
// or not taken for the key (Miss).
func TestTable2Refusals(t *testing.T) {
	const p = "/var/log/app.log"
	for _, c := range []struct {
		what string
		bad  func(e *entry2)
		want Result
	}{
		{"sound", func(e *entry2) {}, Hit},
		{"mid-write (odd seq)", func(e *entry2) { e.seq = 5 }, Uncached},
		{"an unknown flag", func(e *entry2) { e.flags |= 0x100 }, Uncached},
		{"an unknown flag in the top bit", func(e *entry2) { e.flags |= 0x8000 }, Uncached},
		{"NOCACHE, reason RANGE", func(e *entry2) { e.flags |= entNoCache; e.reason = reasonRange }, Uncached},
		{"NOCACHE, reason changed", func(e *entry2) { e.flags |= entNoCache; e.reason = reasonChanged }, Uncached},
		{"no file type", func(e *entry2) { e.mode = 0644 }, Uncached},
		{"an unknown file type", func(e *entry2) { e.mode = 0170644 }, Uncached},
		{"a negative size", func(e *entry2) { e.size = -1 }, Uncached},
		{"negative blocks", func(e *entry2) { e.blocks = -1 }, Uncached},
		{"another path_len", func(e *entry2) { e.pathLen = len(p) + 1 }, Miss},
		{"not NUL-padded", func(e *entry2) { e.pathPad = 'x' }, Miss},
		{"not USED", func(e *entry2) { e.flags = entExists }, Miss},
	} {
		e := fullEntry(p)
		c.bad(&e)
		m := table2(t, []entry2{e})
		var s Stat
		if r := m.lookupMap(p, XXH3String(p, t2Seed), &s); r != c.want {
			t.Errorf("%s: %v, want %v", c.what, r, c.want)
		}
	}
	// A cold tail of any content changes no answer.
	e := fullEntry(p)
	e.reason, e.reserved, e.validated = reasonRange, ^uint64(0), 0
	m := table2(t, []entry2{e})
	var s Stat
	if r := m.lookupMap(p, XXH3String(p, t2Seed), &s); r != Hit || s != fullAnswer() {
		t.Errorf("cold tail: %v %+v", r, s)
	}
}

// record2 is a feed record of kind for e: 16 bytes of record header, the
// head, the cold tail, then the path NUL-padded to a multiple of 8 and
// the record to a multiple of 16 (extra: bytes more).
func record2(e *entry2, kind ChangeKind, extra int) []byte {
	n := (feedRecFixed + feedEntry + (len(e.path)/8+1)*8 + feedAlign - 1) &^ (feedAlign - 1)
	rec := aligned(n + extra)
	hostOrder.PutUint64(rec[0:], 0x1000)
	hostOrder.PutUint32(rec[8:], uint32(len(rec)))
	hostOrder.PutUint32(rec[12:], uint32(kind))
	// The head and cold tail are put as in a slot whose path area is
	// empty, so that the path follows the cold tail.
	slot := aligned(feedEntry)
	path := e.path
	e.path = ""
	pl := e.pathLen
	if pl < 0 {
		e.pathLen = len(path)
	}
	e.put(slot, 0, t2Seed)
	e.path, e.pathLen = path, pl
	hostOrder.PutUint64(slot[eHash:], XXH3String(path, t2Seed))
	copy(rec[feedRecFixed:], slot)
	copy(rec[feedRecFixed+feedEntry:], path)
	return rec
}

func TestChangeFromRecord2(t *testing.T) {
	const p = "/var/log/syslog"
	e := fullEntry(p)
	for _, extra := range []int{0, 16, 64} { // longer: a newer minor
		var c Change
		if !changeFrom(t2PathMax, record2(&e, ChangeChanged, extra), ChangeChanged, &c) {
			t.Fatalf("+%d bytes: refused", extra)
		}
		if c.Kind != ChangeChanged || c.Status != Hit || c.Path != p || c.Stat != fullAnswer() {
			t.Errorf("+%d bytes: %+v", extra, c)
		}
	}
	// The path is read after the cold tail, not after the head.
	rec := record2(&e, ChangeChanged, 0)
	if string(rec[feedRecFixed+feedEntry:feedRecFixed+feedEntry+len(p)]) != p ||
		hostOrder.Uint32(rec[feedRecFixed+entryFixed+cReason:]) != 0xdeadbeef {
		t.Fatal("record2 lays the record out wrongly")
	}
	for _, kind := range []ChangeKind{ChangeMarked, ChangeEvicted, ChangeRemoved} {
		var c Change
		if !changeFrom(t2PathMax, record2(&e, kind, 0), kind, &c) || c.Status != Uncached || c.Stat != (Stat{}) || c.Path != p {
			t.Errorf("%v: %+v", kind, c)
		}
	}
	nc := fullEntry(p)
	nc.flags |= entNoCache
	nc.reason = reasonRange
	var c Change
	if !changeFrom(t2PathMax, record2(&nc, ChangeChanged, 0), ChangeChanged, &c) || c.Status != Uncached {
		t.Errorf("NOCACHE RANGE: %+v", c)
	}

	// Refused: each check once.
	for _, r := range []struct {
		what string
		rec  func() []byte
	}{
		{"shorter than head, tail and one path word", func() []byte {
			return record2(&e, ChangeChanged, 0)[:feedRecFixed+feedEntry]
		}},
		{"shorter than its path", func() []byte {
			long := fullEntry("/var/log/a-path-of-more-than-16-bytes")
			b := record2(&long, ChangeChanged, 0)
			return b[:len(b)-16]
		}},
		{"path_len of path_max", func() []byte {
			b := record2(&e, ChangeChanged, 64)
			hostOrder.PutUint16(b[feedRecFixed+6:], t2PathMax)
			return b
		}},
		{"no NUL after the path", func() []byte {
			b := record2(&e, ChangeChanged, 0)
			b[feedRecFixed+feedEntry+len(p)] = 'x'
			return b
		}},
		{"a NUL inside the path", func() []byte {
			b := record2(&e, ChangeChanged, 0)
			b[feedRecFixed+feedEntry+4] = 0
			return b
		}},
		{"not a canonical path", func() []byte {
			d := fullEntry("/var/./syslog")
			return record2(&d, ChangeChanged, 0)
		}},
		{"not USED", func() []byte {
			d := fullEntry(p)
			d.flags = entExists
			return record2(&d, ChangeChanged, 0)
		}},
		{"an unknown flag", func() []byte {
			d := fullEntry(p)
			d.flags |= 0x10
			return record2(&d, ChangeChanged, 0)
		}},
		{"no file type", func() []byte {
			d := fullEntry(p)
			d.mode = 0644
			return record2(&d, ChangeChanged, 0)
		}},
		{"a negative size", func() []byte {
			d := fullEntry(p)
			d.size = -5
			return record2(&d, ChangeChanged, 0)
		}},
		{"negative blocks", func() []byte {
			d := fullEntry(p)
			d.blocks = -5
			return record2(&d, ChangeChanged, 0)
		}},
	} {
		var c Change
		if changeFrom(t2PathMax, r.rec(), ChangeChanged, &c) {
			t.Errorf("%s: accepted as %+v", r.what, c)
		}
	}
}

// The entry_size rule (contract.h, FSC_GEOM_ENTRY_SIZE): room for the
// head, the path area and the cold tail, a multiple of 8, at most 4096
// bytes more than the writer's size for the largest path_max.
func TestGeometryEntrySize2(t *testing.T) {
	const n, pl = 16, 8
	ok := func(es, pm uint32) bool {
		seg := uint64(headerSize) + n*uint64(es)
		return geometryOK(magicTable, FormatMajor, headerSize, es, n, pl, pm, seg, seg)
	}
	for _, c := range []struct {
		es, pm uint32
		want   bool
	}{
		{256, 64, true},              // the writer's
		{96 + 64 + 16, 64, true},     // the least
		{96 + 64 + 8, 64, false},     // no room for the cold tail
		{96 + 64, 64, false},         // 1.x's least
		{96 + 64 + 20, 64, false},    // not a multiple of 8
		{384, 256, true},             // the default path_max
		{8320, 4096, true},           // the most
		{8328, 4096, false},          // more
		{8320, 64, true},             // the most, for any path_max
		{96 + 4096 + 8, 4096, false}, // 4096 + 112 > 4104
	} {
		if got := ok(c.es, c.pm); got != c.want {
			t.Errorf("entry_size %d, path_max %d: %v, want %v", c.es, c.pm, got, c.want)
		}
	}
	seg := uint64(headerSize) + n*256
	if geometryOK(magicTable, 1, headerSize, 256, n, pl, 64, seg, seg) {
		t.Error("major 1 accepted")
	}
}
