//! The sequence-count protocol, reader side (include/fstatcache/seqlock.h
//! is the writer's and the C reader's; docs/FORMAT.md, "Protocols").
//!
//! ```text
//! writer                                 reader
//! seq <- s+1 (odd), release fence [W1]   s1 <- seq, acquire load   [R1]
//! store fields (relaxed atomics)         copy fields (relaxed atomics)
//! release fence [W2], seq <- s+2         acquire fence [R2], s2 <- seq
//! ```
//!
//! W1 pairs with R2: a reader that saw any value stored after W1 sees the
//! odd (or a later) count at its re-check, so a copy that overlapped a
//! write is thrown away.  W2 pairs with R1: a reader that read the even
//! count s+2 sees every store made before W2.  The guarded fields are
//! copied with relaxed atomic loads (never plain reads: those would be a
//! data race), and only a copy that passed the re-check is validated and
//! believed.  The same two functions bracket a probe with the table's
//! generation count (odd while entries move).

use std::sync::atomic::{fence, AtomicU32, Ordering};

/// Start a read section: the count to hand to `read_retry()`.  Odd means
/// the writer is mid-write: the caller retries (bounded) or gives up.
#[inline]
pub(crate) fn read_begin(seq: &AtomicU32) -> u32 {
    seq.load(Ordering::Acquire) // R1: pairs with the writer's W2
}

/// True when a read section that began with `start` cannot be trusted.
#[inline]
pub(crate) fn read_retry(seq: &AtomicU32, start: u32) -> bool {
    fence(Ordering::Acquire); // R2: pairs with the writer's W1
    start & 1 != 0 || seq.load(Ordering::Relaxed) != start
}
