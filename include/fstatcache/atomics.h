/*
 * fstatcache/atomics.h - the atomics and barriers every fstatcache
 * reader, writer and tool uses: liburcu's (uatomic_*, cmm_smp_*), and how
 * ThreadSanitizer gets to see them.
 *
 * liburcu 0.13 (Debian 12) implements uatomic_read and uatomic_set as
 * volatile accesses and its barriers as inline assembly: correct, and
 * invisible to ThreadSanitizer, which then reports every access to the
 * handle's shared state as a race.  In a build with -fsanitize=thread
 * only, the operations the project uses are re-expressed with the
 * compiler's __atomic builtins (as liburcu 0.14 does when configured
 * with --enable-compiler-atomic-builtins):
 *   uatomic_read         acquire load
 *   uatomic_set          release store
 *   uatomic_cmpxchg, _add, _inc    sequentially consistent
 *   cmm_smp_rmb/wmb/mb, cmm_smp_read_barrier_depends   compiler barriers
 * The read and write barriers may go because every load then acquires
 * and every store releases, which orders at least as much as each of them
 * did where it stands (a seqlock's data loads acquire, so the re-check
 * cannot move above them; its data stores release, so the odd count
 * cannot move below them).  The full barrier may not: acquire and
 * release never order a store before a later load, which Dekker's pattern
 * (the request ring's publish, then doorbell load; the writer's arm, then
 * ring scan) needs, so this build does not check those pairings.  A
 * fence would not help: TSan does not model fences (GCC's -Wtsan says so
 * and refuses __atomic_thread_fence).
 * What TSan then checks: that every variable threads share goes through
 * these operations or is ordered by them (a plain access that slipped in,
 * a field written outside the `attaching` hand-over, a pointer published
 * before what it points to was written).  What it cannot check: whether a
 * given barrier is needed or sufficient in the real build; the pairings are documented in seqlock.h
 * and reader/attach.h and exercised across processes by the stress tests
 * (tests/soak.c, test_table's race, test_lifetime).  Ordinary builds use
 * liburcu unchanged.
 */
#ifndef FSTATCACHE_ATOMICS_H
#define FSTATCACHE_ATOMICS_H

#include <urcu/arch.h>
#include <urcu/system.h>
#include <urcu/uatomic.h>

#if defined(__SANITIZE_THREAD__)
#define FSC__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FSC__TSAN 1
#endif
#endif

#ifdef FSC__TSAN
#undef uatomic_read
#define uatomic_read(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#undef uatomic_set
#define uatomic_set(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#undef uatomic_cmpxchg
#define uatomic_cmpxchg(p, old, _new) \
	__extension__({ \
		__typeof__(*(p)) fsc__expect = (old); \
		__atomic_compare_exchange_n((p), &fsc__expect, (_new), 0, \
					    __ATOMIC_SEQ_CST, \
					    __ATOMIC_SEQ_CST); \
		fsc__expect; \
	})
#undef uatomic_xchg
#define uatomic_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#undef uatomic_add
#define uatomic_add(p, v) ((void)__atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST))
#undef uatomic_inc
#define uatomic_inc(p) uatomic_add((p), 1)
#undef cmm_smp_rmb
#define cmm_smp_rmb() cmm_barrier()
#undef cmm_smp_wmb
#define cmm_smp_wmb() cmm_barrier()
#undef cmm_smp_mb
#define cmm_smp_mb() cmm_barrier()
#undef cmm_smp_read_barrier_depends
#define cmm_smp_read_barrier_depends() cmm_barrier()
#endif /* FSC__TSAN */

/*
 * 64-bit words that must be loaded and stored whole (the change feed's
 * head and tail): liburcu's uatomic_read/set on a uint64_t may tear on a
 * 32-bit target.  There, the compiler's builtins are used when they are
 * lock-free (ARMv7's LDREXD/STREXD, i686's CMPXCHG8B); without them
 * FSC_HAVE_U64_ATOMICS is 0 and such words are not read at all.
 * Relaxed, like uatomic_read/set: order them with the cmm_smp_* barriers.
 */
#if CAA_BITS_PER_LONG == 64
#define FSC_HAVE_U64_ATOMICS 1
#define fsc_load_u64(p) uatomic_read(p)
#define fsc_store_u64(p, v) uatomic_set((p), (v))
#elif defined(__GCC_ATOMIC_LLONG_LOCK_FREE) && __GCC_ATOMIC_LLONG_LOCK_FREE == 2
#define FSC_HAVE_U64_ATOMICS 1
#define fsc_load_u64(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define fsc_store_u64(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#else
#define FSC_HAVE_U64_ATOMICS 0
#endif

#endif /* FSTATCACHE_ATOMICS_H */
