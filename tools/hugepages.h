/*
 * hugepages.h - is the table backed by huge pages, and if not, why not.
 *
 * The writer asks for 2 MiB pages (writer/segment.c, hugepages.h in the
 * public headers) and ignores the answer: the kernel may refuse, and only
 * speed depends on it.  The tools report what the kernel did.  They read
 * it from their own mapping of the table: a page the kernel backs with a
 * huge page is mapped whole by one fault, so after touching one byte per
 * 2 MiB, the mapping's ShmemPmdMapped (FilePmdMapped on kernels that
 * count tmpfs there) in /proc/self/smaps is the bytes of the table in huge
 * pages.  The reason for a "no" comes from /sys (is there THP at all, has
 * the administrator denied it for shmem) and from the huge= option of the
 * tmpfs mounted at /dev/shm.
 *
 * Gathering the facts touches the system; judging them is a pure
 * function, tested on its own (tests/test_hugepages.c).
 */
#ifndef FSC_TOOLS_HUGEPAGES_H
#define FSC_TOOLS_HUGEPAGES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct huge_facts {
	int thp;                /* /sys/kernel/mm/transparent_hugepage exists */
	char shmem_enabled[16]; /* its shmem_enabled choice, "" unknown */
	char mount_huge[16];    /* huge= of /dev/shm's tmpfs, "never" unset */
	uint64_t page_size;     /* hpage_pmd_size, 2 MiB when unknown */
	uint64_t table_bytes;   /* the object's size */
	int smaps_ok;           /* the mapping was found in smaps */
	uint64_t huge_bytes;    /* of it mapped by PMD (huge pages) */
};

enum huge_verdict {
	HUGE_UNKNOWN,
	HUGE_NO,
	HUGE_PARTLY,
	HUGE_YES
};

/* "yes", "partly", "no", "unknown". */
const char *huge_verdict_name(enum huge_verdict v);

/*
 * Judge the facts; `why` gets one line (the numbers, or why not).  Pure:
 * it reads nothing but `f`.
 */
enum huge_verdict huge_judge(const struct huge_facts *f, char *why,
			     size_t size);

/* The word in brackets of a /sys choice line ("a [b] c" -> "b"); "" none. */
void huge_choice(const char *line, char *out, size_t size);

/*
 * From a mountinfo stream, the huge= option of the last mount at `dir`
 * ("never" when the mount has none; "" when `dir` is not a mount).
 */
void huge_mount_option(FILE *mountinfo, const char *dir, char *out,
		       size_t size);

/*
 * From an smaps stream, the kB of the mapping that starts at `start`
 * mapped by PMD (ShmemPmdMapped + FilePmdMapped); -1 if no such mapping.
 */
int64_t huge_smaps_pmd_kb(FILE *smaps, uintptr_t start);

/*
 * Gather the facts for our own read-only mapping of the table at
 * [base, base + size): touches one byte per huge page (the caller guards
 * against SIGBUS: view_guarded()), then reads /proc and /sys.
 */
void huge_facts_read(struct huge_facts *f, const void *base, size_t size);

#endif /* FSC_TOOLS_HUGEPAGES_H */
