package fstatcache

// The segment format 1.5 (docs/FORMAT.md; include/fstatcache/format.h is
// its C twin).  Offsets are in bytes; every value is in the host's byte
// order.

const (
	magicTable = 0xFE01435441545346 // "FSTATC" 0x01 0xFE
	magicUse   = 0xFE01455355435346 // "FSCUSE" 0x01 0xFE
	magicFeed  = 0xFE01444545465346 // "FSFEED" 0x01 0xFE
	magicTags  = 0xFE01534741545346 // "FSTAGS" 0x01 0xFE

	// FormatMajor is the only table major this reader accepts; any minor
	// of it is read (a newer minor only adds what readers may skip).
	FormatMajor = 1
	// FormatMinor is the newest minor this reader was written for.
	FormatMinor = 5

	headerSize    = 4096
	entryFixed    = 128
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
	feedRecMax     = feedRecFixed + entryFixed + pathMaxMax
	tagsHeaderSize = 64 // then one uint16 tag per slot (1.5)
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
	hMntNs        = 104 // the writer's mount namespace (1.4), 0 unknown
	hSocketPath   = 112
	hCounters     = 224
)

// Entry (slot) field offsets.
const (
	eSeq       = 0
	eFlags     = 4
	eHash      = 8
	ePathLen   = 16
	eReason    = 20
	eDev       = 24
	eIno       = 32
	eMode      = 40
	eUID       = 44
	eGID       = 48
	eNlink     = 56
	eSize      = 64
	eBlocks    = 72
	eMtimeSec  = 80
	eCtimeSec  = 88
	eMtimeNsec = 96
	eCtimeNsec = 100
	eRdev      = 104
	eBlksize   = 52  // since 1.4
	eAtimeNs   = 120 // since 1.4; atimeUnknown: none
)

// entry.atime_ns when the atime does not fit in a nanosecond count.
const atimeUnknown = -1 << 63

// The first format minor whose entries hold blksize and atime_ns.
const formatMinorAtime = 4

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

// Tag array (.tags, 1.5) header offsets.
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
	segTags        = 0x8 // the tag array exists (1.5)
)

// entry.flags
const (
	entUsed    = 0x1
	entExists  = 0x2
	entNoCache = 0x4
	entKnown   = entUsed | entExists | entNoCache
)

// entry.reason with NOCACHE: 5 is "changed" (format 1.2).
const reasonChanged = 5

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
