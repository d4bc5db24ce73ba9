package fstatcache

// The segment format 2.0 (docs/FORMAT.md; include/fstatcache/format.h is
// its C twin).  Offsets are in bytes; every value is in the host's byte
// order.

const (
	magicTable = 0xFE01435441545346 // "FSTATC" 0x01 0xFE
	magicUse   = 0xFE01455355435346 // "FSCUSE" 0x01 0xFE
	magicFeed  = 0xFE01444545465346 // "FSFEED" 0x01 0xFE
	magicTags  = 0xFE01534741545346 // "FSTAGS" 0x01 0xFE

	// FormatMajor is the only table major this reader accepts; any minor
	// of it is read (a newer minor only adds what readers may skip).
	FormatMajor = 2
	// FormatMinor is the newest minor this reader was written for.
	FormatMinor = 0

	headerSize    = 4096
	entryFixed    = 96 // the entry's head: what a hit reads, then the path
	entryCold     = 16 // the cold tail, after the path area
	pathMaxMin    = 64
	pathMaxMax    = 4096
	slotsMin      = 16
	slotsMax      = 1 << 24
	probeLimitMax = 256
	socketPathLen = 112

	useHeaderSize  = 64
	feedHeaderSize = 64
	feedRecFixed   = 16
	feedAlign      = 16
	feedSizeMin    = 65536
	feedSizeMax    = 1 << 30
	feedEntry      = entryFixed + entryCold // record bytes before the path
	feedRecMax     = feedRecFixed + feedEntry + pathMaxMax
	tagsHeaderSize = 64 // then one uint16 tag per slot
)

// Table header field offsets.
const (
	hMagic        = 0
	hVersionMajor = 8
	hVersionMinor = 12
	hHeaderSize   = 16
	hEntrySize    = 20
	hSlotCount    = 24
	hProbeLimit   = 28
	hPathMax      = 32
	hFlags        = 36
	hSegmentSize  = 40
	hHashSeed     = 48
	hEpoch        = 56
	hStatus       = 64
	hWriterAlive  = 68
	hTableGen     = 76
	hMntNs        = 104 // the writer's mount namespace, 0 unknown
	hSocketPath   = 112
	hCounters     = 224
)

// Entry (slot) head field offsets (format 2): a hit reads these 96 bytes
// and the path after them, never the cold tail.
const (
	eSeq      = 0
	eFlagsLen = 4 // flags (uint16) then path_len (uint16): one 32-bit load
	eHash     = 8
	eDev      = 16
	eIno      = 24
	eMode     = 32
	eUID      = 36
	eGID      = 40
	eNlink    = 44 // uint32
	eSize     = 48
	eBlocks   = 56
	eMtimeNs  = 64 // the times: signed ns since the epoch
	eCtimeNs  = 72
	eAtimeNs  = 80
	eBlksize  = 88
	eRdev     = 92 // uint32
)

// Cold tail field offsets, from entryFixed + path_max in the slot (and
// from feedRecFixed + entryFixed in a feed record).
const (
	cReason      = 0
	cValidatedNs = 8
)

// Recency (.use) header offsets.
const (
	uMagic             = 0
	uEpoch             = 8
	uSlotCount         = 16
	uFeedWaiters       = 20
	uReaderHits        = 24
	uReaderMisses      = 32
	uReaderUncached    = 40
	uVersionMismatches = 48
	uFeedWake          = 56
)

// Tag array (.tags) header offsets.
const (
	tMagic     = 0
	tEpoch     = 8
	tSlotCount = 16
)

// Feed header offsets.
const (
	fMagic    = 0
	fEpoch    = 8
	fRingSize = 16
	fHead     = 24
	fTail     = 32
)

// header.status
const (
	statusInit         = 0
	statusServing      = 1
	statusRevalidating = 2
	statusRetired      = 3
)

const (
	writerDied    = 0x40000000
	writerTIDMask = 0x3fffffff
)

// header.flags
const (
	segPIDLiveness = 0x1
	segFanotify    = 0x2
	segFeed        = 0x4
	segTags        = 0x8 // the tag array exists
)

// entry.flags
const (
	entUsed    = 0x1
	entExists  = 0x2
	entNoCache = 0x4
	entKnown   = entUsed | entExists | entNoCache
)

// entry.reason with NOCACHE: 5 is "changed"; 7, "range" (2.0), a stat
// value that does not fit the entry.  Readers answer both by stat(), as
// every NOCACHE entry.
const (
	reasonChanged = 5
	reasonRange   = 7
)

// Retry and timing bounds, as the C reader's.
const (
	retryMax            = 8    // torn or busy reads before stat()
	reattachIntervalMs  = 100  // between attach attempts while detached
	livenessCheckMs     = 250  // FSC_SEG_F_PID_LIVENESS lock queries
	requestWaitMs       = 1000 // longest wait for room in the writer's queue
	countBatch          = 1024 // lookups between publications of counts
	serviceUser         = "fstatcache"
	fOFDGetlk           = 36 // F_OFD_GETLK, Linux 3.15, every architecture
	controlPollInterval = 100
)

// Control protocol (include/fstatcache/protocol.h).
const (
	msgMagic     = 0x46534d31
	protoVersion = 1
	requestFixed = 24
	replyFixed   = 24
	replyMsgMax  = 1024
)

// Op is a control request.
type Op uint16

const (
	OpMiss       Op = 1 // a reader missed: watch this path; no reply
	OpWatch      Op = 2 // watch this path; reply once it is cached
	OpUnwatch    Op = 3 // stop watching this path; drop its entry
	OpInvalidate Op = 4 // unwatch everything and clear the table
	OpSync       Op = 5 // the barrier: reply once it holds
	opLimit      Op = 6
)
