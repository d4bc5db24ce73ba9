/*
 * hugepages.c - whether the table is backed by huge pages (hugepages.h).
 */
#include "hugepages.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

const char *huge_verdict_name(enum huge_verdict v)
{
	switch (v) {
	case HUGE_YES:
		return "yes";
	case HUGE_PARTLY:
		return "partly";
	case HUGE_NO:
		return "no";
	default:
		return "unknown";
	}
}

/* Why a table that could be in huge pages is not (the writer asked). */
static void why_not(const struct huge_facts *f, char *why, size_t size)
{
	if (!f->thp)
		snprintf(why, size, "the kernel has no transparent huge pages");
	else if (strcmp(f->shmem_enabled, "deny") == 0)
		snprintf(why, size,
			 "denied: " THP_DIR "/shmem_enabled is deny");
	else if (!f->mount_huge[0] || strcmp(f->mount_huge, "never") == 0)
		snprintf(why, size,
			 "not offered: /dev/shm is mounted huge=%s (advise, "
			 "always or within_size offer them); "
			 "FSTATCACHE_HUGE_PAGES=1 makes the writer ask anyway "
			 "(MADV_COLLAPSE, Linux 6.1, free 2 MiB pages; "
			 "shmem_enabled %s)",
			 f->mount_huge[0] ? f->mount_huge : "unknown",
			 f->shmem_enabled[0] ? f->shmem_enabled : "unknown");
	else
		snprintf(why, size,
			 "offered (/dev/shm huge=%s) but none given: no free "
			 "2 MiB pages, or the writer runs with "
			 "FSTATCACHE_HUGE_PAGES=0; =1 also asks with "
			 "MADV_COLLAPSE (Linux 6.1; shmem_enabled %s)",
			 f->mount_huge,
			 f->shmem_enabled[0] ? f->shmem_enabled : "unknown");
}

enum huge_verdict huge_judge(const struct huge_facts *f, char *why, size_t size)
{
	uint64_t page = f->page_size ? f->page_size : (uint64_t)2 << 20;
	uint64_t whole = f->table_bytes / page; /* file offset 0 is aligned */
	uint64_t got = f->huge_bytes / page;
	if (whole == 0) {
		snprintf(why, size,
			 "the table is smaller than one huge page (%" PRIu64
			 " KiB)",
			 page >> 10);
		return HUGE_NO;
	}
	if (!f->smaps_ok) {
		snprintf(why, size, "cannot read /proc/self/smaps");
		return HUGE_UNKNOWN;
	}
	if (got >= whole) {
		snprintf(why, size,
			 "%" PRIu64 " of %" PRIu64 " huge pages of %" PRIu64
			 " KiB",
			 got, whole, page >> 10);
		return HUGE_YES;
	}
	if (got > 0) {
		snprintf(why, size,
			 "%" PRIu64 " of %" PRIu64 " huge pages of %" PRIu64
			 " KiB; the kernel found too few free",
			 got, whole, page >> 10);
		return HUGE_PARTLY;
	}
	why_not(f, why, size);
	return HUGE_NO;
}

void huge_choice(const char *line, char *out, size_t size)
{
	const char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
	size_t n = (a && b) ? (size_t)(b - a - 1) : 0;
	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(out, a ? a + 1 : "", n);
	out[n] = '\0';
}

/* The value of `key=` in a comma-separated option list; 0 if absent. */
static int option_value(const char *opts, const char *key, char *out,
			size_t size)
{
	size_t k = strlen(key);
	for (const char *p = opts; p && *p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			size_t n = strcspn(p + k + 1, ", \n");
			if (n >= size)
				n = size - 1;
			memcpy(out, p + k + 1, n);
			out[n] = '\0';
			return 1;
		}
	}
	return 0;
}

/*
 * mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE
 * SOURCE SUPEROPTS"; tmpfs keeps huge= among the super options.
 */
void huge_mount_option(FILE *mountinfo, const char *dir, char *out, size_t size)
{
	char line[4096];
	if (size)
		out[0] = '\0';
	while (fgets(line, sizeof(line), mountinfo)) {
		char point[1024];
		if (sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1 ||
		    strcmp(point, dir) != 0)
			continue;
		const char *dash = strstr(line, " - ");
		const char *super = NULL;
		if (dash) { /* skip FSTYPE and SOURCE */
			super = strchr(dash + 3, ' ');
			super = super ? strchr(super + 1, ' ') : NULL;
		}
		if (!super || !option_value(super + 1, "huge", out, size))
			snprintf(out, size, "never");
	}
}

int64_t huge_smaps_pmd_kb(FILE *smaps, uintptr_t start)
{
	char line[1024];
	int in = 0, found = 0;
	int64_t kb = 0;
	while (fgets(line, sizeof(line), smaps)) {
		uintptr_t lo, hi;
		char perms[8];
		/* A mapping's first line: "lo-hi rw-s offset dev inode path" */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &lo, &hi,
			   perms) == 3 &&
		    strlen(perms) == 4) {
			in = lo == start;
			found |= in;
			continue;
		}
		long long v;
		if (in && (sscanf(line, "ShmemPmdMapped: %lld kB", &v) == 1 ||
			   sscanf(line, "FilePmdMapped: %lld kB", &v) == 1))
			kb += v;
	}
	return found ? kb : -1;
}

static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	buf[0] = '\0';
	if (f && !fgets(buf, (int)size, f))
		buf[0] = '\0';
	if (f)
		fclose(f);
}

void huge_facts_read(struct huge_facts *f, const void *base, size_t size)
{
	char line[256];
	memset(f, 0, sizeof(*f));
	f->table_bytes = size;
	f->thp = access(THP_DIR, F_OK) == 0;
	read_line(THP_DIR "/shmem_enabled", line, sizeof(line));
	huge_choice(line, f->shmem_enabled, sizeof(f->shmem_enabled));
	read_line(THP_DIR "/hpage_pmd_size", line, sizeof(line));
	f->page_size = strtoull(line, NULL, 10);
	if (!f->page_size)
		f->page_size = (uint64_t)2 << 20;
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	if (mi) {
		huge_mount_option(mi, "/dev/shm", f->mount_huge,
				  sizeof(f->mount_huge));
		fclose(mi);
	}
	/* One fault per huge page maps all of it: then smaps can tell. */
	const volatile unsigned char *p = base;
	for (size_t o = 0; o < size; o += (size_t)f->page_size)
		(void)p[o];
	FILE *sm = fopen("/proc/self/smaps", "re");
	int64_t kb = sm ? huge_smaps_pmd_kb(sm, (uintptr_t)base) : -1;
	if (sm)
		fclose(sm);
	f->smaps_ok = kb >= 0;
	f->huge_bytes = kb > 0 ? (uint64_t)kb << 10 : 0;
}
