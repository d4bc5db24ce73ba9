package fstatcache

// Finding a path in the table (reader/lookup.h).  Linear probing from
// hash & mask, at most probe_limit slots, stopping at the first empty
// slot.  Each slot is read under its sequence count: load seq (odd:
// retry), copy the fields with atomic loads, load seq again (changed:
// retry), then validate the copy before believing it.  A probe that found
// nothing is bracketed the same way by the header's table_gen, so an
// entry moving under the probe is never a false miss.  Where the writer
// keeps the tag array the probe reads each slot's tag first and only the
// slots whose tag is the key's; a 0 tag ends it, as an empty slot does, so
// a miss reads tags only.  Tags are hints: the slot's seq
// and full key decide.  Attempts are bounded by retryMax, then the answer
// is Uncached.

import (
	"encoding/binary"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Result of a lookup.
type Result int

const (
	// Hit: answered from the cache.
	Hit Result = 0
	// Miss: the path is not in the cache; stat() it (and RequestWatch it,
	// which Stat does).
	Miss Result = 1
	// Uncached: the cache cannot answer this path now (no live writer,
	// changed and not re-stat'ed yet, not a canonical key, answered by
	// stat() for a reason the writer gave); stat() it.
	Uncached Result = 2
)

func (r Result) String() string {
	switch r {
	case Hit:
		return "hit"
	case Miss:
		return "miss"
	case Uncached:
		return "uncached"
	}
	return "?"
}

// Source of an answer.
type Source int

const (
	SourceCache Source = 1
	SourceStat  Source = 2
)

// Stat is a stat(2) answer, from the cache or from stat() itself.  When
// Exists is false (ENOENT or ENOTDIR) only Err and Source are set.
type Stat struct {
	Exists    bool
	Source    Source
	Err       syscall.Errno // of the failed stat() when !Exists
	Mode      uint32
	UID, GID  uint32
	Dev, Ino  uint64
	Nlink     uint64
	Rdev      uint64
	Size      int64
	Blocks    int64
	MtimeSec  int64
	CtimeSec  int64
	MtimeNsec uint32
	CtimeNsec uint32
	// Have says whether they are set; every answer of a format 2
	// segment has both (a time outside 1677-2262 is not cached: it is
	// answered by stat()).  The cached atime is the one the writer saw at
	// its last stat() of the file (docs/FORMAT.md).
	Blksize   uint32
	Have      Have
	AtimeSec  int64
	AtimeNsec uint32
}

// Have says which of Stat's later fields are set.
type Have uint32

const (
	HaveBlksize Have = 1 << iota // Blksize
	HaveAtime                    // AtimeSec, AtimeNsec
)

// The host's byte order, for the control datagrams.
var hostOrder binary.ByteOrder = func() binary.ByteOrder {
	if hostBigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}()

// keyWord is the i-th 8-byte word of path as the path area holds it (the
// key's bytes in memory, loaded as a word in the host's byte order),
// zero-padded past the key's end (the NUL).
func keyWord(path string, i int) uint64 {
	if 8*i+8 <= len(path) {
		return hostUint64(stringBytes(path[8*i : 8*i+8]))
	}
	var b [8]byte
	copy(b[:], path[8*i:])
	return hostUint64(b[:])
}

// pathOK is the key rule (contract.h): absolute, no empty, "." or ".."
// component, no trailing slash, no NUL.
func pathOK(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] == 0 {
			return false
		}
		if i == len(p) || p[i] == '/' {
			c := p[start:i]
			if c == "" || c == "." || c == ".." {
				return false
			}
			start = i + 1
		}
	}
	return true
}

// modeOK: a file type stat(2) can answer.
func modeOK(mode uint32) bool {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG, syscall.S_IFDIR, syscall.S_IFCHR, syscall.S_IFBLK, syscall.S_IFIFO, syscall.S_IFSOCK:
		return true
	}
	return false
}

// copyOK validates a copied entry: never trust a value unchecked.  (The
// nanoseconds of the times need no check: splitNs makes them.)
func copyOK(flags uint32, s *Stat) bool {
	if flags&^entKnown != 0 {
		return false
	}
	if flags&entExists == 0 {
		return true
	}
	return modeOK(s.Mode) && s.Size >= 0 && s.Blocks >= 0
}

// splitFlagsLen splits the 32-bit word at eFlagsLen into flags (offset 4)
// and path_len (offset 6): one atomic load reads both, and which half is
// which depends on the host's byte order.
func splitFlagsLen(w uint32) (flags, pathLen uint32) {
	if hostBigEndian {
		return w >> 16, w & 0xffff
	}
	return w & 0xffff, w >> 16
}

// splitNs splits a time stored as signed ns since the epoch into seconds
// and nanoseconds, rounding down, so that a time before 1970 comes back as
// stat(2) gives it (nsec in 0..999999999).
func splitNs(ns int64) (int64, uint32) {
	sec, n := ns/1e9, ns%1e9
	if n < 0 {
		n += 1e9
		sec--
	}
	return sec, uint32(n)
}

// copyEntry copies the stat fields of the entry head at e with atomic
// loads; trusted only once the sequence count re-check passes.
func copyEntry(e unsafe.Pointer, s *Stat) {
	s.Dev = load64(unsafe.Add(e, eDev))
	s.Ino = load64(unsafe.Add(e, eIno))
	s.Mode = load32(unsafe.Add(e, eMode))
	s.UID = load32(unsafe.Add(e, eUID))
	s.GID = load32(unsafe.Add(e, eGID))
	s.Nlink = uint64(load32(unsafe.Add(e, eNlink)))
	s.Size = int64(load64(unsafe.Add(e, eSize)))
	s.Blocks = int64(load64(unsafe.Add(e, eBlocks)))
	s.MtimeSec, s.MtimeNsec = splitNs(int64(load64(unsafe.Add(e, eMtimeNs))))
	s.CtimeSec, s.CtimeNsec = splitNs(int64(load64(unsafe.Add(e, eCtimeNs))))
	s.AtimeSec, s.AtimeNsec = splitNs(int64(load64(unsafe.Add(e, eAtimeNs))))
	s.Blksize = load32(unsafe.Add(e, eBlksize))
	s.Rdev = uint64(load32(unsafe.Add(e, eRdev)))
	s.Have = HaveBlksize | HaveAtime
}

// setExists: a cached "does not exist" carries no numbers.
func setExists(s *Stat, flags uint32) {
	if flags&entExists != 0 {
		s.Exists, s.Err = true, 0
		return
	}
	*s = Stat{Err: syscall.ENOENT}
}

func (m *mapping) slot(i uint32) unsafe.Pointer {
	return unsafe.Add(m.base, headerSize+uintptr(i)*uintptr(m.entSize))
}

const (
	probeAbsent = iota
	probeFound
	probeRetry
)

// keyEqual compares the slot's path words with the key, inside the seqlock.
func keyEqual(e unsafe.Pointer, path string) bool {
	w := unsafe.Add(e, entryFixed)
	full := len(path) / 8
	for i := 0; i < full; i++ {
		if load64(unsafe.Add(w, 8*i)) != keyWord(path, i) {
			return false
		}
	}
	return load64(unsafe.Add(w, 8*full)) == keyWord(path, full)
}

// probeSlot looks at one slot under its sequence count.
func probeSlot(e unsafe.Pointer, path string, hash uint64, s *Stat, flags *uint32, empty *bool) int {
	seq := (*uint32)(e)
	s1 := atomic.LoadUint32(seq)
	if s1&1 != 0 {
		return probeRetry
	}
	f, el := splitFlagsLen(load32(unsafe.Add(e, eFlagsLen)))
	eh := load64(unsafe.Add(e, eHash))
	match := f&entUsed != 0 && eh == hash && el == uint32(len(path)) && keyEqual(e, path)
	if match {
		copyEntry(e, s)
	}
	if atomic.LoadUint32(seq) != s1 {
		return probeRetry
	}
	*empty = f&entUsed == 0
	if !match {
		return probeAbsent
	}
	*flags = f
	return probeFound
}

// tagOf is the tag of a key's hash (fsc_tag()): its top 16 bits, with
// bit 0 set so that no used slot's tag is 0.
func tagOf(hash uint64) uint16 { return uint16(hash>>48) | 1 }

// tag is slot i's tag in the tag array.  Go has no 16-bit atomics: one
// atomic load of the aligned 32-bit word holding it (the array starts at
// offset 64 and holds an even number of tags, so the word lies inside the
// mapping).  Read inside the caller's table_gen bracket, like the slots.
func (m *mapping) tag(i uint32) uint16 {
	off := uintptr(tagsHeaderSize) + 2*uintptr(i)
	w := atomic.LoadUint32((*uint32)(unsafe.Add(m.tagsBase, off&^3)))
	shift := 8 * (off & 2)
	if hostBigEndian {
		shift = 16 - shift
	}
	return uint16(w >> shift)
}

// probe is one probe sequence (docs/FORMAT.md, "Lookup", step 5.2).
// With the tag array, a 0 tag ends it, a tag that is not the key's skips
// the slot unread, and the key's tag reads the slot as without tags.
func (m *mapping) probe(path string, hash uint64, s *Stat, flags *uint32, slot *uint32) int {
	i := uint32(hash) & m.mask
	want := tagOf(hash)
	for n := uint32(0); n < m.probeLim; n++ {
		if m.tagsBase != nil {
			t := m.tag(i)
			if t == 0 {
				return probeAbsent
			}
			if t != want {
				i = (i + 1) & m.mask
				continue
			}
		}
		empty := false
		switch probeSlot(m.slot(i), path, hash, s, flags, &empty) {
		case probeFound:
			*slot = i
			return probeFound
		case probeRetry:
			return probeRetry
		}
		if empty {
			return probeAbsent
		}
		i = (i + 1) & m.mask
	}
	return probeAbsent
}

// markUsed: a hit counts as use for the writer's CLOCK eviction.  Go has
// no 8-bit atomics: the byte is set with one compare-and-swap of the
// aligned 32-bit word holding it (a failed swap is dropped: a hint).
func (m *mapping) markUsed(slot uint32) {
	if m.useBase == nil {
		return
	}
	off := uintptr(useHeaderSize) + uintptr(slot)
	word := (*uint32)(unsafe.Add(m.useBase, off&^3))
	old := atomic.LoadUint32(word)
	shift := 8 * (off & 3)
	if hostBigEndian {
		shift = 24 - shift
	}
	if old>>shift&0xff == 0 {
		atomic.CompareAndSwapUint32(word, old, old|1<<shift)
	}
}

// lookupMap is the probe loop on an attached, serving mapping.
func (m *mapping) lookupMap(path string, hash uint64, s *Stat) Result {
	gen := (*uint32)(m.hdr(hTableGen))
	for attempt := 0; attempt < retryMax; attempt++ {
		g := atomic.LoadUint32(gen)
		if g&1 != 0 {
			continue
		}
		var flags, slot uint32
		switch m.probe(path, hash, s, &flags, &slot) {
		case probeRetry:
			continue
		case probeAbsent:
			if atomic.LoadUint32(gen) != g {
				continue
			}
			if m.serving() {
				return Miss
			}
			return Uncached
		}
		if !copyOK(flags, s) || flags&entNoCache != 0 {
			return Uncached
		}
		// A dead writer's entries may be stale: check after the copy.
		if !m.serving() {
			return Uncached
		}
		setExists(s, flags)
		s.Source = SourceCache
		m.markUsed(slot)
		return Hit
	}
	return Uncached
}

// missOrUncached: the writer stores canonical keys only, so another
// spelling of a cached file is Uncached (asking for it would be refused).
func missOrUncached(r Result, path string) Result {
	if r == Miss && !pathOK(path) {
		return Uncached
	}
	return r
}

func hasNUL(p string) bool { return strings.IndexByte(p, 0) >= 0 }

// Lookup looks path up in the cache only: Hit fills *out (Source
// SourceCache; Exists false is a cached "does not exist"); Miss or
// Uncached leave it to the caller to stat().  No lock, no system call on
// a hit.
func (h *Handle) Lookup(path string, out *Stat) Result {
	if len(path) < 2 || path[0] != '/' || hasNUL(path) {
		return h.count(nil, Uncached)
	}
	m := h.current()
	if m == nil || uint32(len(path)) >= m.pathMax {
		return h.count(m, Uncached)
	}
	hash := XXH3String(path, m.seed)
	return h.count(m, missOrUncached(m.lookupMap(path, hash, out), path))
}

// LookupMany looks up every path: results[i] and out[i] get what
// Lookup(paths[i], &out[i]) would give.  out and results must be at least
// as long as paths.
func (h *Handle) LookupMany(paths []string, out []Stat, results []Result) {
	m := h.current()
	for i, p := range paths {
		if m == nil {
			results[i] = h.Lookup(p, &out[i])
			continue
		}
		r := Uncached
		if len(p) >= 2 && p[0] == '/' && uint32(len(p)) < m.pathMax && !hasNUL(p) {
			r = missOrUncached(m.lookupMap(p, XXH3String(p, m.seed), &out[i]), p)
		}
		results[i] = h.count(m, r)
	}
}

// Stat is stat(2) through the cache: a hit answers from memory; otherwise
// stat() answers (Source SourceStat) and, on a Miss, the writer is asked
// to watch the path (unless the handle was opened OpenNoRequests).
// ENOENT and ENOTDIR are answers (Exists false, Err set), not errors.
func (h *Handle) Stat(path string) (Stat, error) {
	var s Stat
	r := h.Lookup(path, &s)
	if r == Hit {
		return s, nil
	}
	var st syscall.Stat_t
	err := statRetry(path, &st)
	switch err {
	case nil:
		fromStat(&st, &s)
	case syscall.ENOENT, syscall.ENOTDIR:
		s = Stat{Source: SourceStat, Err: err.(syscall.Errno)}
	default:
		return Stat{}, &Error{Op: "stat", Name: path, Err: err}
	}
	if r == Miss && h.flags&OpenNoRequests == 0 {
		_ = h.RequestWatch(path)
	}
	return s, nil
}

func statRetry(path string, st *syscall.Stat_t) error {
	for {
		err := syscall.Stat(path, st)
		if err != syscall.EINTR {
			return err
		}
	}
}

// count adds a lookup result to the handle's counts and, every
// countBatch lookups, publishes them to the segment's .use header.
func (h *Handle) count(m *mapping, r Result) Result {
	n := h.counts[r].Add(1)
	if n%countBatch == 0 {
		h.publishCounts(m)
	}
	return r
}

func (h *Handle) publishCounts(m *mapping) {
	if m == nil || m.useBase == nil || !h.attaching.CompareAndSwap(0, 1) {
		return
	}
	offs := [3]uintptr{uReaderHits, uReaderMisses, uReaderUncached}
	for i := range offs {
		now := h.counts[i].Load()
		if now != h.published[i] {
			atomic.AddUint64((*uint64)(unsafe.Add(m.useBase, offs[i])), now-h.published[i])
		}
		h.published[i] = now
	}
	h.attaching.Store(0)
}

// Counts returns the handle's lookup counts: hits, misses, uncached.
func (h *Handle) Counts() (hits, misses, uncached uint64) {
	return h.counts[0].Load(), h.counts[1].Load(), h.counts[2].Load()
}
