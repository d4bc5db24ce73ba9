/*
 * fstatcache/hugepages.h - mapping the table so that 2 MiB pages can back it.
 *
 * A hit reads one slot at a random place in the table.  At 100,000
 * entries the table is 96 MiB, 24,576 pages of 4 KiB: far more than the
 * TLB holds, so in small pages every hit also pays a page walk.  In 2 MiB
 * pages the same table needs 48 TLB entries.  The writer asks the kernel
 * to back the table with huge pages (writer/segment.c); whether it did is
 * what `fstatcache inspect` reports.
 *
 * A mapping can map a huge page whole only where its address and the file
 * offset agree modulo 2 MiB.  The table starts at file offset 0, so both
 * sides map it at a 2 MiB-aligned address: newer kernels pick one by
 * themselves for a large mapping of tmpfs, older ones only when tmpfs
 * was mounted with huge pages allowed.  Both sides also say MADV_HUGEPAGE
 * on their mapping, so that where /dev/shm is mounted huge=advise a page
 * the kernel faults in for them may be huge, and khugepaged may collapse
 * the range later.  None of this changes an answer, only its cost.
 *
 * Needs: <sys/mman.h> with MAP_ANONYMOUS and madvise(2) (glibc and musl
 * declare them with _DEFAULT_SOURCE); without them, nothing is done.
 * C11 or C++11.
 */
#ifndef FSTATCACHE_HUGEPAGES_H
#define FSTATCACHE_HUGEPAGES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The PMD size of x86-64 and of arm64 with 4 KiB pages. */
#define FSC_HUGE_PAGE_SIZE ((size_t)2 << 20)

/*
 * A 2 MiB-aligned address at which `size` bytes may then be mapped with
 * MAP_FIXED: it is reserved (PROT_NONE, nothing else in the process can
 * take it), exactly `size` bytes rounded up to pages, so munmap(addr,
 * size) releases it whether or not the mapping replaced the reservation.
 * NULL when `size` is below one huge page or no room was found: the
 * caller then maps anywhere, as before.
 */
static inline void *fsc_huge_reserve(size_t size)
{
#if defined(MAP_ANONYMOUS) && defined(MAP_NORESERVE)
	long page = sysconf(_SC_PAGESIZE);
	if (size < FSC_HUGE_PAGE_SIZE || page <= 0 ||
	    size > SIZE_MAX - 2 * FSC_HUGE_PAGE_SIZE)
		return NULL;
	size_t len = (size + (size_t)page - 1) & ~((size_t)page - 1);
	size_t span = len + FSC_HUGE_PAGE_SIZE;
	void *r = mmap(NULL, span, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	uintptr_t lo = (uintptr_t)r;
	uintptr_t at = (lo + FSC_HUGE_PAGE_SIZE - 1) &
		       ~(uintptr_t)(FSC_HUGE_PAGE_SIZE - 1);
	if (at > lo)
		munmap(r, at - lo);
	if (lo + span > at + len)
		munmap((void *)(at + len), lo + span - (at + len));
	return (void *)at;
#else
	(void)size;
	return NULL;
#endif
}

/* Say that huge pages would serve this mapping; failures are harmless. */
static inline void fsc_huge_advise(void *addr, size_t size)
{
#ifdef MADV_HUGEPAGE
	(void)madvise(addr, size, MADV_HUGEPAGE);
#else
	(void)addr;
	(void)size;
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_HUGEPAGES_H */
