package fstatcache

// The change feed (reader/changes.h, docs/FORMAT.md "Change feed object"):
// what changed since a cursor, with no system call.  Each record is copied
// into private memory with atomic loads, then the writer's tail is loaded:
// if it passed the record, the copy may be torn and the reader was
// lapped (a resync).  Only then is the copy validated.  Any doubt ends in
// a resync (a full pass), never in a skipped change.

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// ChangeKind says what a change record means.
type ChangeKind uint32

const (
	ChangeAdded   ChangeKind = 1 // the path entered the table
	ChangeChanged ChangeKind = 2 // its answer changed
	ChangeCreated ChangeKind = 3 // it did not exist and does now
	ChangeDeleted ChangeKind = 4 // it existed and does not now
	ChangeMarked  ChangeKind = 5 // changed, not re-stat'ed yet: stat() it
	ChangeEvicted ChangeKind = 6 // left the table to make room
	ChangeRemoved ChangeKind = 7 // left the table: unwatched or invalidated
	changePad     ChangeKind = 0
	changeAll     ChangeKind = 8
	changeKnown   ChangeKind = 9
)

// String is the kind's name, as `fstatcache changes` prints it.
func (k ChangeKind) String() string {
	names := [...]string{"", "added", "changed", "created", "deleted", "marked", "evicted", "removed"}
	if k >= 1 && int(k) < len(names) {
		return names[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Cursor is the writer's segment epoch and a position in its feed: plain
// data, keep it anywhere (text form: String and ParseCursor).  The zero
// Cursor is a new one.
type Cursor struct {
	Epoch uint64
	Pos   uint64
}

// String is "EPOCH-POS" in hex, as the C API's fsc_cursor_format().
func (c Cursor) String() string { return fmt.Sprintf("%016x-%x", c.Epoch, c.Pos) }

// ParseCursor reads a cursor written by String.
func ParseCursor(s string) (Cursor, error) {
	i := strings.IndexByte(s, '-')
	bad := &Error{Op: "parse cursor", Name: s, Err: syscall.EINVAL}
	if i <= 0 || i > 16 || len(s)-i-1 < 1 || len(s)-i-1 > 16 {
		return Cursor{}, bad
	}
	e, err1 := strconv.ParseUint(s[:i], 16, 64)
	p, err2 := strconv.ParseUint(s[i+1:], 16, 64)
	if err1 != nil || err2 != nil || strings.ContainsAny(s, "+_xX") {
		return Cursor{}, bad
	}
	return Cursor{e, p}, nil
}

// Change is one change, as given to the callback of Changes.  Status Hit:
// Stat is the new answer (Exists false: the file does not exist), as
// Lookup would have given it then.  Status Uncached: the cache has no
// answer for it (Marked, Evicted, Removed, or answered by stat()); stat() it.
type Change struct {
	Kind   ChangeKind
	Status Result
	Path   string
	Stat   Stat
}

type feedMap struct {
	mem  []byte
	base unsafe.Pointer
	ring uint32
}

// feedOpen opens, checks and maps the feed of mapping m.
func (h *Handle) feedOpen(m *mapping) (*feedMap, error) {
	if m.flags&segFeed == 0 {
		return nil, syscall.EOPNOTSUPP // the writer keeps no feed
	}
	fd, err := shmOpen("fstatcache."+h.name+".feed", syscall.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if !ownerOK(&st, h.owner, false) {
		return nil, syscall.EPERM
	}
	if st.Size < feedHeaderSize+feedSizeMin || st.Size > feedHeaderSize+feedSizeMax {
		return nil, syscall.EPROTO
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, err
	}
	p := unsafe.Pointer(&mem[0])
	ring := load32(unsafe.Add(p, fRingSize))
	// Another segment's feed (a writer replacing ours) is no feed.
	if load64(unsafe.Add(p, fMagic)) != magicFeed || load64(unsafe.Add(p, fEpoch)) != m.epoch {
		_ = syscall.Munmap(mem)
		return nil, syscall.ENOENT
	}
	if ring < feedSizeMin || ring > feedSizeMax || ring&(ring-1) != 0 || uint64(st.Size) != feedHeaderSize+uint64(ring) {
		_ = syscall.Munmap(mem)
		return nil, syscall.EPROTO
	}
	return &feedMap{mem: mem, base: p, ring: ring}, nil
}

// feed is the feed of m, mapped on first use.
func (h *Handle) feed(m *mapping) (*feedMap, error) {
	if f := m.feed.Load(); f != nil {
		return f, nil
	}
	m.feedMu.Lock()
	defer m.feedMu.Unlock()
	if f := m.feed.Load(); f != nil {
		return f, nil
	}
	f, err := h.feedOpen(m)
	if err != nil {
		return nil, err
	}
	m.feed.Store(f)
	return f, nil
}

// copyWords copies n bytes (a multiple of 8) of the ring from off with
// atomic loads into dst.
func (f *feedMap) copyWords(off uint32, dst []uint64, n uint32) {
	src := unsafe.Add(f.base, feedHeaderSize+uintptr(off))
	for w := uint32(0); w < n/8; w++ {
		dst[w] = load64(unsafe.Add(src, 8*w))
	}
}

// changeFrom turns a copied, whole record into a change; false for a
// record no writer of this format would have written.  The record holds
// the entry's head and cold tail (feedEntry bytes), then the path.  A
// longer record is one of a newer minor (fields after the path): accepted.
func changeFrom(pathMax uint32, rec []byte, kind ChangeKind, c *Change) bool {
	n := uint32(len(rec))
	if n < feedRecFixed+feedEntry+8 {
		return false
	}
	e := unsafe.Pointer(&rec[feedRecFixed])
	flags, plen := splitFlagsLen(*(*uint32)(unsafe.Add(e, eFlagsLen)))
	want := (feedRecFixed + feedEntry + (plen/8+1)*8 + feedAlign - 1) &^ (feedAlign - 1)
	if plen >= pathMax || n < want {
		return false
	}
	pb := rec[feedRecFixed+feedEntry : feedRecFixed+feedEntry+plen+1]
	if pb[plen] != 0 || flags&entUsed == 0 {
		return false
	}
	path := string(pb[:plen])
	if !pathOK(path) { // also: no NUL inside
		return false
	}
	*c = Change{Kind: kind, Path: path}
	copyEntry(e, &c.Stat)
	if !copyOK(flags, &c.Stat) {
		return false
	}
	if kind == ChangeMarked || kind == ChangeEvicted || kind == ChangeRemoved || flags&entNoCache != 0 {
		c.Stat = Stat{}
		c.Status = Uncached
		return true
	}
	setExists(&c.Stat, flags)
	c.Stat.Source = SourceCache
	c.Status = Hit
	return true
}

// walk is Changes on feed f of a segment of epoch and pathMax.
func (f *feedMap) walk(epoch uint64, pathMax uint32, cur *Cursor, fn func(*Change) bool) (bool, error) {
	head := load64(unsafe.Add(f.base, fHead))
	tailp := unsafe.Add(f.base, fTail)
	pos := cur.Pos
	resync := func(p uint64) (bool, error) {
		*cur = Cursor{epoch, p}
		return true, nil
	}
	// A position no writer made (another epoch, the future, off the
	// 16-byte grid) starts afresh.
	if cur.Epoch != epoch || pos > head || pos%feedAlign != 0 {
		return resync(head)
	}
	if pos == head { // nothing new: one load, no copy, no allocation
		return false, nil
	}
	var words [feedRecMax / 8]uint64
	var c Change
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), feedRecMax)
	mask := f.ring - 1
	for pos < head {
		off := uint32(pos) & mask
		f.copyWords(off, words[:], feedRecFixed)
		rpos := words[0]
		rlen := *(*uint32)(unsafe.Pointer(&buf[8]))
		kind := ChangeKind(*(*uint32)(unsafe.Pointer(&buf[12])))
		sane := rlen >= feedRecFixed && rlen%feedAlign == 0 && rlen <= f.ring-off &&
			uint64(rlen) <= head-pos && rlen <= feedRecMax && rpos == pos
		body := uint32(0)
		if sane && kind != changePad && kind < changeKnown {
			body = rlen
			f.copyWords(off, words[:], body)
		}
		if load64(tailp) > pos { // lapped: the copy may be torn
			return resync(load64(unsafe.Add(f.base, fHead)))
		}
		if !sane {
			return false, syscall.EPROTO
		}
		pos += uint64(rlen)
		if kind == changePad {
			continue
		}
		// ALL, or a kind of a newer minor this reader cannot read.
		if kind == changeAll || kind >= changeKnown {
			return resync(pos)
		}
		if !changeFrom(pathMax, buf[:body], kind, &c) {
			return false, syscall.EPROTO
		}
		cur.Pos = pos
		if !fn(&c) {
			return false, nil
		}
	}
	cur.Pos = pos
	return false, nil
}

// Changes calls fn for every change since *cur, in the order the writer
// made them, and moves *cur past each one delivered; fn returns false to
// stop (*cur is then just past that change: call again for the rest).
// One path may come more than once.
//
// resync true: changes cannot be listed from *cur (a new cursor, another
// segment, so far behind that the ring overwrote what followed it, the
// writer invalidated everything, or no live writer records changes now).
// *cur is set to now: look up every path you follow once (Stat), then
// carry on from *cur.  Never a silently skipped change.
//
// Errors: EOPNOTSUPP (the writer keeps no feed), EPROTO (a record fails
// validation: corruption; *cur stays before it), or an errno of mapping
// the feed.  On any error, poll by lookups meanwhile.
func (h *Handle) Changes(cur *Cursor, fn func(*Change) bool) (resync bool, err error) {
	m := h.current()
	if m == nil {
		// Changes after a writer's death go unrecorded: a full pass.
		*cur = Cursor{}
		return true, nil
	}
	f, err := h.feed(m)
	if err != nil {
		return false, &Error{Op: "changes", Name: h.name, Err: err}
	}
	resync, err = f.walk(m.epoch, m.pathMax, cur, fn)
	if err != nil {
		return false, &Error{Op: "changes", Name: h.name, Err: err}
	}
	return resync, nil
}

// ChangesWait sleeps until the feed may have moved past cur, at most
// timeout: a futex wait on the feed's wake word, which the writer bumps
// once per turn of its loop in which it published something.  Returns at
// once when there are changes already.  Wake-ups may be spurious: call
// Changes after it.  With no live writer or no feed it sleeps timeout.
func (h *Handle) ChangesWait(cur Cursor, timeout time.Duration) error {
	if timeout < 0 {
		return &Error{Op: "changes wait", Name: h.name, Err: syscall.EINVAL}
	}
	m := h.current()
	var f *feedMap
	if m != nil {
		f, _ = h.feed(m)
	}
	if f == nil {
		time.Sleep(timeout)
		return nil
	}
	headp := unsafe.Add(f.base, fHead)
	if m.useBase == nil { // nobody would wake us: nap
		if cur.Epoch == m.epoch && load64(headp) == cur.Pos {
			time.Sleep(timeout)
		}
		return nil
	}
	waiters := (*uint32)(unsafe.Add(m.useBase, uFeedWaiters))
	wake := (*uint32)(unsafe.Add(m.useBase, uFeedWake))
	atomic.AddUint32(waiters, 1)
	// Sequentially consistent: the add is ordered before the load of the
	// wake word (the full fence the format asks for).
	w := atomic.LoadUint32(wake)
	if cur.Epoch == m.epoch && load64(headp) == cur.Pos && m.serving() {
		err := futexWait(wake, w, timeout)
		if err != nil && err != syscall.EAGAIN && err != syscall.ETIMEDOUT && err != syscall.EINTR {
			time.Sleep(timeout) // a kernel that refuses the wait: never spin
		}
	}
	atomic.AddUint32(waiters, ^uint32(0))
	return nil
}
