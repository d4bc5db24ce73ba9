package fstatcache

// Attaching a reader to a writer's segment, as the C reader does
// (reader/attach.h): every check happens once per segment, when it is
// mapped: the object's owner and mode (squatting), its size against the
// header (SIGBUS), the header's geometry, the writer's liveness; the
// same owner, size and header checks for the optional objects beside it
// (.use, and the tag array .tags).  The geometry is then copied into the
// private mapping struct and never read from the segment again.  A lookup that finds no live serving writer
// re-attaches, at most every 100 ms (at once when the segment says it
// was retired).  Replaced mappings are kept until Close, so a goroutine
// still probing one never touches unmapped memory.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mapping is one mapped segment; immutable once published, but for the
// liveness state and the lazily mapped feed.
type mapping struct {
	table    []byte
	base     unsafe.Pointer
	use      []byte // recency object (read-write), or nil
	useBase  unsafe.Pointer
	tags     []byte         // tag array (read-only), or nil: probe slots alone
	tagsBase unsafe.Pointer // its first byte (the header), nil without it
	seed     uint64
	epoch    uint64
	slots    uint32
	mask     uint32
	entSize  uint32
	pathMax  uint32
	probeLim uint32
	flags    uint32
	socket   string
	lockFd   int          // FSC_SEG_F_PID_LIVENESS only, else -1
	liveNext atomic.Int64 // next lock query, ms
	liveDead atomic.Bool  // the lock was seen free: for good
	feed     atomic.Pointer[feedMap]
	feedMu   sync.Mutex // serialises mapping the feed
}

// Handle is a reader handle.  It may be shared by any number of
// goroutines; lookups never lock.  Close must not run concurrently with
// any other call on the handle.
type Handle struct {
	name      string
	owner     uint32
	mntNS     uint64 // our mount namespace (mntNSSelf), 0 unknown
	flags     OpenFlags
	cur       atomic.Pointer[mapping]
	attaching atomic.Uint32 // 1 while one goroutine (re)attaches
	// Guarded by attaching:
	nextAttach   int64
	retiredTried *mapping
	retired      []*mapping
	mismatchIno  uint64
	attachErr    atomic.Value // error of the last attach attempt (errBox)

	sock      int // datagram socket for watch requests
	sockMap   atomic.Pointer[mapping]
	dropped   atomic.Uint64
	counts    [3]atomic.Uint64 // hits, misses, uncached
	published [3]uint64        // guarded by attaching
	closed    bool
}

type errBox struct{ err error }

// OpenFlags change how Open behaves.
type OpenFlags uint

const (
	// OpenAttached fails unless a live writer is attached.
	OpenAttached OpenFlags = 1 << iota
	// OpenNoRequests: Stat never sends watch requests.
	OpenNoRequests
	// OpenAnyMountNS serves from a writer in another mount namespace,
	// whose paths may name other files than this process's (also
	// $FSTATCACHE_ANY_MOUNT_NS=1; docs/FORMAT.md, "Readers in another
	// mount namespace").
	OpenAnyMountNS
)

// nameOK: 1 to 64 letters, digits, '_' or '-'.
func nameOK(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Open opens a reader handle for instance name ("" means
// $FSTATCACHE_NAME, else "fstatcache").  Without OpenAttached a missing
// or dead writer is not an error: lookups answer Uncached and the handle
// attaches when a writer appears.  The segment must belong to the
// caller's effective uid, root, the system user "fstatcache", or the uid
// in $FSTATCACHE_OWNER_UID.
func Open(name string, flags OpenFlags) (*Handle, error) {
	if name == "" {
		name = os.Getenv("FSTATCACHE_NAME")
	}
	if name == "" {
		name = "fstatcache"
	}
	if !nameOK(name) {
		return nil, &Error{Op: "open", Name: name, Err: syscall.EINVAL}
	}
	if os.Getenv("FSTATCACHE_ANY_MOUNT_NS") == "1" {
		flags |= OpenAnyMountNS
	}
	h := &Handle{name: name, flags: flags, owner: uint32(os.Geteuid()), mntNS: mntNSSelf()}
	if o := os.Getenv("FSTATCACHE_OWNER_UID"); o != "" {
		v, err := strconv.ParseUint(o, 10, 32)
		if err != nil {
			return nil, &Error{Op: "open", Name: name, Err: syscall.EINVAL}
		}
		h.owner = uint32(v)
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Op: "open", Name: name, Err: err}
	}
	h.sock = fd
	// A full writer queue makes a watch request wait, boundedly.
	tv := syscall.NsecToTimeval(requestWaitMs * 1e6)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	if err := h.reattach(nil, false); err != nil && flags&OpenAttached != 0 {
		syscall.Close(fd)
		return nil, &Error{Op: "open", Name: name, Err: err}
	}
	return h, nil
}

// Close publishes the handle's lookup counts and unmaps every mapping it
// made.  The handle must not be used afterwards.
func (h *Handle) Close() error {
	if h == nil || h.closed {
		return nil
	}
	h.closed = true
	m := h.cur.Load()
	h.publishCounts(m)
	for _, r := range h.retired {
		r.unmap()
	}
	if m != nil {
		m.unmap()
	}
	h.retired = nil
	h.cur.Store(nil)
	return syscall.Close(h.sock)
}

// Attached reports whether the handle is attached to a live, serving
// writer (attaching first if needed).
func (h *Handle) Attached() bool { return h.current() != nil }

// AttachError is why the handle is not attached: nil while attached (or
// before the first attempt), else the error of its last attempt.
func (h *Handle) AttachError() error {
	if h.current() != nil {
		return nil
	}
	if b, ok := h.attachErr.Load().(errBox); ok {
		return b.err
	}
	return nil
}

func (m *mapping) unmap() {
	if f := m.feed.Load(); f != nil {
		_ = syscall.Munmap(f.mem)
	}
	if m.use != nil {
		_ = syscall.Munmap(m.use)
	}
	if m.tags != nil {
		_ = syscall.Munmap(m.tags)
	}
	if m.table != nil {
		_ = syscall.Munmap(m.table)
	}
	if m.lockFd >= 0 {
		syscall.Close(m.lockFd)
	}
}

func (m *mapping) hdr(off uintptr) unsafe.Pointer { return unsafe.Add(m.base, off) }

// lockAlive: is the writer's lock still held?  One fcntl at most every
// 250 ms per mapping; once seen free, never again.
func (m *mapping) lockAlive() bool {
	if m.liveDead.Load() {
		return false
	}
	now := nowMs()
	if now < m.liveNext.Load() {
		return true
	}
	m.liveNext.Store(now + livenessCheckMs)
	if lockHeld(m.lockFd) {
		return true
	}
	m.liveDead.Store(true)
	return false
}

// serving: the writer is alive and the segment may be served from.
func (m *mapping) serving() bool {
	alive := load32(m.hdr(hWriterAlive))
	status := load32(m.hdr(hStatus))
	return status == statusServing && alive&writerTIDMask != 0 &&
		alive&writerDied == 0 && (m.lockFd < 0 || m.lockAlive())
}

// entrySize is FSC_ENTRY_SIZE(path_max): the slot size the writer uses,
// head, path area and cold tail rounded up to 128 bytes.
func entrySize(pm uint32) uint32 { return (entryFixed + pm + entryCold + 127) &^ 127 }

// geometryOK is fsc_geometry_check(): the header copy against the
// object's real size.  A slot holds at least the head, the path area and
// the cold tail; a newer minor may add up to 4096 bytes after them.
func geometryOK(magic uint64, major, hsize, es, n, pl, pm uint32, segSize, objSize uint64) bool {
	return magic == magicTable && major == FormatMajor && hsize == headerSize &&
		n >= slotsMin && n <= slotsMax && n&(n-1) == 0 &&
		pm >= pathMaxMin && pm <= pathMaxMax && pm%8 == 0 &&
		uint64(es) >= entryFixed+uint64(pm)+entryCold && es%8 == 0 &&
		es <= entrySize(pathMaxMax)+4096 &&
		pl >= 1 && pl <= probeLimitMax && pl <= n &&
		segSize == headerSize+uint64(n)*uint64(es) && objSize == segSize
}

// mapOpen opens, checks and maps the instance's current segment.
func (h *Handle) mapOpen() (*mapping, error) {
	fd, err := shmOpen("fstatcache."+h.name, syscall.O_RDONLY)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if !ownerOK(&st, h.owner, false) {
		syscall.Close(fd)
		return nil, syscall.EPERM
	}
	if st.Size < headerSize {
		syscall.Close(fd)
		return nil, syscall.EAGAIN // the writer has not sized it yet
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	m := &mapping{table: mem, base: unsafe.Pointer(&mem[0]), lockFd: -1}
	// Frozen in every major: magic and version_major.
	if load64(m.hdr(hMagic)) == magicTable && load32(m.hdr(hVersionMajor)) != FormatMajor {
		syscall.Close(fd)
		m.unmap()
		h.countMismatch(uint64(st.Ino))
		return nil, syscall.EPROTONOSUPPORT
	}
	if !m.serving() {
		status := load32(m.hdr(hStatus))
		syscall.Close(fd)
		m.unmap()
		if status == statusInit {
			return nil, syscall.EAGAIN
		}
		return nil, syscall.ENOENT
	}
	// Set before status first became SERVING, never changed: one copy.
	magic := load64(m.hdr(hMagic))
	major := load32(m.hdr(hVersionMajor))
	hsize := load32(m.hdr(hHeaderSize))
	m.entSize = load32(m.hdr(hEntrySize))
	m.slots = load32(m.hdr(hSlotCount))
	m.probeLim = load32(m.hdr(hProbeLimit))
	m.pathMax = load32(m.hdr(hPathMax))
	m.flags = load32(m.hdr(hFlags))
	segSize := load64(m.hdr(hSegmentSize))
	m.seed = load64(m.hdr(hHashSeed))
	m.epoch = load64(m.hdr(hEpoch))
	var sock [socketPathLen]byte
	for i := 0; i < socketPathLen; i += 8 {
		w := load64(m.hdr(hSocketPath + uintptr(i)))
		*(*uint64)(unsafe.Pointer(&sock[i])) = w
	}
	if m.flags&segPIDLiveness != 0 {
		m.lockFd = fd // kept: the writer's lock is queried on it
		m.liveNext.Store(nowMs())
	} else {
		syscall.Close(fd)
	}
	if !geometryOK(magic, major, hsize, m.entSize, m.slots, m.probeLim, m.pathMax, segSize, uint64(st.Size)) {
		m.unmap()
		return nil, syscall.EPROTO
	}
	// The socket path: absolute, NUL-terminated within sun_path (108).
	end := -1
	for i := 0; i < 108; i++ {
		if sock[i] == 0 {
			end = i
			break
		}
	}
	if end <= 0 || sock[0] != '/' {
		m.unmap()
		return nil, syscall.EPROTO
	}
	m.socket = string(sock[:end])
	if !m.serving() { // the writer's lock is already free
		m.unmap()
		return nil, syscall.ENOENT
	}
	// Paths name other files in another mount namespace (the writer sets
	// mnt_ns before status, as the geometry).
	if !mntNSOK(load64(m.hdr(hMntNs)), h.mntNS, h.flags&OpenAnyMountNS != 0) {
		m.unmap()
		return nil, syscall.EXDEV
	}
	m.mask = m.slots - 1
	h.mapUse(m)
	h.mapTags(m)
	return m, nil
}

// mapUse maps the recency marks; a reader without them still answers.
func (h *Handle) mapUse(m *mapping) {
	m.use, m.useBase = h.mapBeside(m, ".use", true, magicUse, useHeaderSize+int(m.slots))
}

// mapTags maps the tag array when the header says the writer keeps one:
// checked as the table is (owner, not writable by others, exact size) and
// tied to it by its epoch and slot count.  A reader without it probes
// the slots alone, which answers the same with more memory reads per
// miss; a wrong tag can cost a miss, never a wrong
// answer (the slot's seq and full key still decide).
func (h *Handle) mapTags(m *mapping) {
	if m.flags&segTags == 0 {
		return
	}
	m.tags, m.tagsBase = h.mapBeside(m, ".tags", false, magicTags, tagsHeaderSize+2*int(m.slots))
}

// mapBeside maps an object beside the table that begins as .use and
// .tags do (magic, epoch and slot count at offsets 0, 8 and 16, pinned
// for both by format.h): owned by the segment's owner (writable by its
// group only when rw), exactly want bytes, its header this table's;
// read-write when rw.  nil, nil otherwise.
func (h *Handle) mapBeside(m *mapping, suffix string, rw bool, magic uint64, want int) ([]byte, unsafe.Pointer) {
	flags, prot := syscall.O_RDONLY, syscall.PROT_READ
	if rw {
		flags, prot = syscall.O_RDWR, syscall.PROT_READ|syscall.PROT_WRITE
	}
	fd, err := shmOpen("fstatcache."+h.name+suffix, flags)
	if err != nil {
		return nil, nil
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || !ownerOK(&st, h.owner, rw) || st.Size != int64(want) {
		return nil, nil
	}
	mem, err := syscall.Mmap(fd, 0, want, prot, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	p := unsafe.Pointer(&mem[0])
	if load64(unsafe.Add(p, uMagic)) != magic || load64(unsafe.Add(p, uEpoch)) != m.epoch ||
		load32(unsafe.Add(p, uSlotCount)) != m.slots {
		_ = syscall.Munmap(mem)
		return nil, nil
	}
	return mem, p
}

// countMismatch: the segment (inode ino) is of another format major; say
// so where every major looks, once per object per handle.
func (h *Handle) countMismatch(ino uint64) {
	if h.mismatchIno == ino {
		return
	}
	h.mismatchIno = ino
	fd, err := shmOpen("fstatcache."+h.name+".use", syscall.O_RDWR)
	if err != nil {
		return
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || !ownerOK(&st, h.owner, true) || st.Size < useHeaderSize {
		return
	}
	mem, err := syscall.Mmap(fd, 0, useHeaderSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return
	}
	p := unsafe.Pointer(&mem[0])
	if load64(p) == magicUse {
		atomic.AddUint64((*uint64)(unsafe.Add(p, uVersionMismatches)), 1)
	}
	_ = syscall.Munmap(mem)
}

// reattach replaces the current mapping (if seen is still current) by the
// segment the name now holds.  One goroutine at a time; rate-limited,
// except when the old segment says it was retired, or force.
func (h *Handle) reattach(seen *mapping, force bool) error {
	if !h.attaching.CompareAndSwap(0, 1) {
		return syscall.EAGAIN
	}
	defer h.attaching.Store(0)
	now := nowMs()
	retired := seen != nil && seen != h.retiredTried && load32(seen.hdr(hStatus)) == statusRetired
	if h.cur.Load() != seen || !(force || retired || now >= h.nextAttach) {
		return syscall.EAGAIN
	}
	h.nextAttach = now + reattachIntervalMs
	if retired {
		h.retiredTried = seen
	}
	m, err := h.mapOpen()
	h.attachErr.Store(errBox{err})
	if err != nil {
		return err
	}
	if seen != nil {
		h.retired = append(h.retired, seen)
	}
	h.cur.Store(m)
	return nil
}

// current is the mapping to read, attaching if needed; nil means answer
// by stat().
func (h *Handle) current() *mapping {
	m := h.cur.Load()
	if m != nil && m.serving() {
		return m
	}
	if h.reattach(m, false) != nil {
		return nil
	}
	if m = h.cur.Load(); m != nil && m.serving() {
		return m
	}
	return nil
}

// Error is an error of this package: what was done, on which instance,
// and the errno (errors.Is(err, syscall.ENOENT) works).
type Error struct {
	Op   string
	Name string
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("fstatcache %s %s: %s", e.Op, e.Name, describe(e.Err))
}

func (e *Error) Unwrap() error { return e.Err }

// describe says what an errno means here (fsc_strerror()'s wording).
func describe(err error) string {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return err.Error()
	}
	switch en {
	case syscall.ENOENT:
		return "no writer serves this name"
	case syscall.EPERM:
		return "segment owned by an unexpected user or writable by others"
	case syscall.EPROTO:
		return "segment fails validation (corrupt)"
	case syscall.EPROTONOSUPPORT:
		return "segment of another format major (reader and writer versions differ)"
	case syscall.EAGAIN:
		return "writer still starting, or request given up"
	case syscall.ENOTCONN:
		return "no live writer"
	case syscall.EOPNOTSUPP:
		return "the writer keeps no change feed"
	case syscall.EXDEV:
		return "the writer runs in another mount namespace (FSTATCACHE_ANY_MOUNT_NS=1 to be served anyway)"
	}
	return en.Error()
}
