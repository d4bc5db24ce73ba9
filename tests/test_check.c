/*
 * test_check.c - integration tests of `fstatcache check`.
 *
 * Healthy segments (live idle writer, live writer after churn, a writer
 * changing the table while check runs, a SIGKILLed writer's segment) must
 * pass.  Then each kind of corruption is injected into a SIGKILLed
 * writer's segment, which stays behind: the test (its owner) maps the
 * objects read-write, flips one thing, and expects exit 1 with a
 * violation line naming it.  Every corruption test first checks that the
 * untouched segment passes, so the violation is the injected one.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct fsct_writer w;

struct seg {
	unsigned char *base;
	size_t size;
	struct fsc_header *h;
	unsigned char *use;
	size_t use_size;
	struct fsc_use_header *u;
};

static struct seg seg;

static void unmap_seg(void)
{
	if (seg.base)
		munmap(seg.base, seg.size);
	if (seg.use)
		munmap(seg.use, seg.use_size);
	memset(&seg, 0, sizeof(seg));
}

static void teardown(void)
{
	unmap_seg();
	fsct_writer_cleanup(&w);
}

TestSuite(check, .fini = teardown);

/* ---- helpers ----------------------------------------------------------- */

#define TOOL(...) fsct_tool_run(&w, (const char *const[]){ __VA_ARGS__, NULL })

/* `check` passes: exit 0, "ok: N entries, M slots", nothing on stderr. */
static void expect_check_ok(long entries)
{
	struct fsct_run r = TOOL("check");
	cr_assert_eq(r.status, 0, "check: exit %d, stderr:\n%s", r.status,
		     r.err);
	cr_assert_str_empty(r.err, "check: stderr: %s", r.err);
	char want[64];
	if (entries >= 0) {
		snprintf(want, sizeof(want), "ok: %ld entries, ", entries);
		cr_assert(strncmp(r.out, want, strlen(want)) == 0,
			  "check said: %s", r.out);
	} else {
		cr_assert(strncmp(r.out, "ok: ", 4) == 0, "check said: %s",
			  r.out);
	}
	fsct_run_free(&r);
}

/*
 * `check` fails: exit 1, nothing on stdout, every stderr line starts with
 * "fstatcache: check: ", and one of them contains `needle`.
 */
static void expect_violation(const char *needle)
{
	struct fsct_run r = TOOL("check");
	cr_assert_eq(r.status, 1,
		     "check: exit %d (want 1 for '%s'), "
		     "stdout: %s stderr: %s",
		     r.status, needle, r.out, r.err);
	cr_assert_str_empty(r.out, "check printed on stdout: %s", r.out);
	int found = 0;
	for (const char *p = r.err; *p;) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "stderr does not end in a newline");
		cr_assert(strncmp(p, "fstatcache: check: ", 19) == 0,
			  "stderr line '%.*s'", (int)(nl - p), p);
		char line[2048];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (strstr(line, needle))
			found = 1;
		p = nl + 1;
	}
	cr_assert(found, "no violation mentions '%s':\n%s", needle, r.err);
	fsct_run_free(&r);
}

#define NFILES 6

static void start_known(void)
{
	fsct_writer_init(&w);
	const char *args[NFILES + 4];
	int n = 0;
	args[n++] = "--capacity";
	args[n++] = "100";
	for (int i = 0; i < NFILES; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "f%d.log", i);
		if (i < NFILES - 1) /* the last one does not exist */
			fsct_write(fsct_path(&w, rel), rel, 0);
		args[n++] = strdup(fsct_path(&w, rel));
	}
	args[n] = NULL;
	fsct_writer_start(&w, args);
	for (int i = 2; i < n; i++)
		free((void *)args[i]);
	fsc_handle *h = fsct_open(&w);
	fsct_sync(h);
	fsc_close(h);
}

static void *map_rw(const char *shm, size_t *size)
{
	int fd = shm_open(shm, O_RDWR, 0);
	cr_assert(fd >= 0, "shm_open(%s): %s", shm, strerror(errno));
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED, "mmap(%s): %s", shm, strerror(errno));
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

/* A healthy cache whose writer was SIGKILLed, mapped read-write. */
static void dead_segment(void)
{
	start_known();
	fsct_writer_kill(&w, SIGKILL);
	expect_check_ok(NFILES); /* what follows is the injected corruption */
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), w.name, 0);
	seg.base = map_rw(shm, &seg.size);
	seg.h = (struct fsc_header *)(void *)seg.base;
	fsc_shm_name(shm, sizeof(shm), w.name, 1);
	seg.use = map_rw(shm, &seg.use_size);
	seg.u = (struct fsc_use_header *)(void *)seg.use;
}

static struct fsc_entry *slot_at(uint32_t i)
{
	return (struct fsc_entry *)(void *)(seg.base + FSC_HEADER_SIZE +
					    (size_t)i * seg.h->entry_size);
}

static char *slot_path(uint32_t i)
{
	return (char *)slot_at(i) + FSC_ENTRY_FIXED;
}

static struct fsc_entry_cold *slot_cold(uint32_t i)
{
	return fsc_entry_cold(slot_at(i), seg.h->path_max);
}

static uint32_t mask(void)
{
	return seg.h->slot_count - 1;
}

static uint32_t home_of(uint32_t i)
{
	return (uint32_t)slot_at(i)->hash & mask();
}

/* The first used slot whose file exists. */
static uint32_t used_slot(void)
{
	for (uint32_t i = 0; i < seg.h->slot_count; i++)
		if ((slot_at(i)->flags & FSC_ENT_USED) &&
		    (slot_at(i)->flags & FSC_ENT_EXISTS))
			return i;
	cr_assert_fail("no used slot");
	return 0;
}

/* The first empty slot at or after `from`. */
static uint32_t empty_slot_from(uint32_t from)
{
	for (uint32_t k = 0; k < seg.h->slot_count; k++) {
		uint32_t i = (from + k) & mask();
		if (!(slot_at(i)->flags & FSC_ENT_USED))
			return i;
	}
	cr_assert_fail("no empty slot");
	return 0;
}

static void copy_slot(uint32_t dst, uint32_t src)
{
	memcpy(slot_at(dst), slot_at(src), seg.h->entry_size);
}

/* ---- healthy segments -------------------------------------------------- */

Test(check, live_idle_writer_is_ok)
{
	start_known();
	expect_check_ok(NFILES);
	fsct_writer_stop(&w);
}

Test(check, dead_writer_segment_is_ok)
{
	start_known();
	fsct_writer_kill(&w, SIGKILL);
	expect_check_ok(NFILES);
	struct fsct_run r = TOOL("check");
	cr_assert_str_eq(r.out, "ok: 6 entries, 256 slots\n");
	fsct_run_free(&r);
}

/* Many paths in, half of them out: inserts, removals and backward shifts. */
Test(check, live_writer_after_churn_is_ok)
{
	start_known();
	enum {
		N = 48
	}; /* the harness passes at most 60 arguments */
	char *paths[N];
	const char *argv[N + 2];
	argv[0] = "watch";
	for (int i = 0; i < N; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "churn%02d", i);
		paths[i] = strdup(fsct_path(&w, rel));
		if (i % 3) /* every third one does not exist */
			fsct_write(paths[i], rel, 0);
		argv[i + 1] = paths[i];
	}
	argv[N + 1] = NULL;
	struct fsct_run r = fsct_tool_run(&w, argv);
	cr_assert_eq(r.status, 0, "watch: %s", r.err);
	fsct_run_free(&r);
	expect_check_ok(NFILES + N);

	argv[0] = "unwatch";
	for (int i = 0; i < N / 2; i++)
		argv[i + 1] = paths[2 * i];
	argv[N / 2 + 1] = NULL;
	r = fsct_tool_run(&w, argv);
	cr_assert_eq(r.status, 0, "unwatch: %s", r.err);
	fsct_run_free(&r);
	expect_check_ok(NFILES + N / 2);
	for (int i = 0; i < N; i++)
		free(paths[i]);
	fsct_writer_stop(&w);
}

struct churn {
	fsc_handle *h;
	const char *paths[16];
	volatile int stop;
	long rounds;
};

/* Watch and unwatch paths until told to stop: the table keeps moving. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	while (!c->stop) {
		for (int i = 0; i < 16 && !c->stop; i++)
			fsc_control(c->h, FSC_OP_WATCH, c->paths[i], 60000,
				    NULL, 0);
		for (int i = 0; i < 16 && !c->stop; i++)
			fsc_control(c->h, FSC_OP_UNWATCH, c->paths[i], 60000,
				    NULL, 0);
		c->rounds++;
	}
	return NULL;
}

/* No false alarm while the writer inserts, removes and shifts entries. */
Test(check, live_writer_changing_the_table_is_not_a_violation)
{
	start_known();
	struct churn c = { .h = fsct_open(&w) };
	for (int i = 0; i < 16; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "busy%02d", i);
		c.paths[i] = strdup(fsct_path(&w, rel));
		if (i % 2)
			fsct_write(c.paths[i], rel, 0);
	}
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, churn_thread, &c), 0);
	for (int i = 0; i < 5; i++) {
		struct fsct_run r = TOOL("check");
		cr_assert_eq(r.status, 0, "check during churn: exit %d:\n%s",
			     r.status, r.err);
		cr_assert(strncmp(r.out, "ok: ", 4) == 0, "%s", r.out);
		fsct_run_free(&r);
	}
	c.stop = 1;
	pthread_join(t, NULL);
	fsct_sync(c.h);
	fsc_close(c.h);
	for (int i = 0; i < 16; i++)
		free((void *)c.paths[i]);
	expect_check_ok(-1);
	fsct_writer_stop(&w);
}

/* ---- header corruption ---------------------------------------------------- */

Test(check, bad_magic)
{
	dead_segment();
	seg.h->magic ^= 0xff;
	expect_violation("header: bad magic");
}

Test(check, byte_swapped_magic)
{
	dead_segment();
	seg.h->magic = __builtin_bswap64(FSC_MAGIC);
	expect_violation("byte-swapped");
}

Test(check, wrong_major_version)
{
	dead_segment();
	seg.h->version_major = FSC_FORMAT_MAJOR + 1;
	expect_violation("header: format version 3.");
}

Test(check, capacity_not_a_power_of_two)
{
	dead_segment();
	seg.h->slot_count -= 1;
	expect_violation("header: slot_count 255 is not a power of two");
}

Test(check, segment_size_mismatch)
{
	dead_segment();
	seg.h->segment_size += 8;
	expect_violation("header: segment_size");
	expect_violation("differs from the object's size");
}

Test(check, header_size_and_probe_limit)
{
	dead_segment();
	seg.h->header_size = 8192;
	expect_violation("header: header_size 8192");
	seg.h->header_size = FSC_HEADER_SIZE;
	seg.h->probe_limit = 0;
	expect_violation("header: probe_limit 0");
}

Test(check, unknown_status)
{
	dead_segment();
	seg.h->status = 7;
	expect_violation("header: unknown status 7");
}

Test(check, table_gen_left_odd)
{
	dead_segment();
	seg.h->table_gen |= 1;
	expect_violation("table_gen");
}

/*
 * Reserved fields are checked in every minor this tool knows (they were
 * skipped for any minor but 0 once the format became 1.1), and left
 * alone for a newer minor, which may use them.
 */
Test(check, reserved_field_set)
{
	dead_segment();
	seg.h->reserved0 = 7;
	cr_assert_eq(seg.h->version_minor, FSC_FORMAT_MINOR);
	expect_violation("header: reserved fields are not 0");
}

Test(check, reserved_field_of_a_newer_minor)
{
	dead_segment();
	seg.h->reserved0 = 7;
	seg.h->version_minor = FSC_FORMAT_MINOR + 1;
	struct fsct_run r = TOOL("check");
	cr_assert_null(strstr(r.err, "reserved fields"), "%s", r.err);
	fsct_run_free(&r);
}

Test(check, entry_count_wrong)
{
	dead_segment();
	seg.h->entry_count += 1;
	expect_violation("header: entry_count 7 but 6 slots are used");
}

Test(check, object_truncated)
{
	dead_segment();
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), w.name, 0);
	int fd = shm_open(shm, O_RDWR, 0);
	cr_assert(fd >= 0);
	unmap_seg();
	cr_assert_eq(ftruncate(fd, FSC_HEADER_SIZE + 1000), 0);
	expect_violation("differs from the object's size");
	cr_assert_eq(ftruncate(fd, 100), 0);
	expect_violation("smaller than the header page");
	close(fd);
}

/* ---- entry corruption ----------------------------------------------------- */

Test(check, entry_hash_wrong)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_at(i)->hash ^= 1;
	char want[64];
	snprintf(want, sizeof(want), "slot %u: hash", i);
	expect_violation(want);
	expect_violation("does not match its key");
}

Test(check, entry_outside_its_probe_window)
{
	dead_segment();
	uint32_t i = used_slot();
	uint32_t far = empty_slot_from(home_of(i) + seg.h->probe_limit + 3);
	copy_slot(far, i);
	memset(slot_at(i), 0, seg.h->entry_size); /* moved, not copied */
	char want[64];
	snprintf(want, sizeof(want), "slot %u: ", far);
	expect_violation(want);
	expect_violation("outside the probe window");
}

Test(check, entry_behind_an_empty_slot)
{
	dead_segment();
	uint32_t i = used_slot();
	uint32_t to = empty_slot_from(i + 1);
	cr_assert_lt((to - home_of(i)) & mask(), seg.h->probe_limit);
	copy_slot(to, i);
	memset(slot_at(i), 0, seg.h->entry_size);
	expect_violation("unreachable: slot");
}

Test(check, duplicate_key)
{
	dead_segment();
	uint32_t i = used_slot();
	copy_slot(empty_slot_from(i + 1), i);
	seg.h->entry_count += 1;
	expect_violation("duplicate key");
}

Test(check, seq_left_odd)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_at(i)->seq |= 1;
	char want[64];
	snprintf(want, sizeof(want), "slot %u: seq", i);
	expect_violation(want);
	expect_violation("stays odd");
}

Test(check, unknown_flag_bit)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_at(i)->flags |= 0x100;
	expect_violation("unknown flag bits 0x100");
}

Test(check, path_not_nul_terminated)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_path(i)[slot_at(i)->path_len] = 'x';
	expect_violation("not NUL-terminated");
}

Test(check, path_padding_not_zero)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_path(i)[slot_at(i)->path_len + 3] = 'z';
	expect_violation("not NUL-padded");
}

Test(check, nul_inside_the_key)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_path(i)[1] = '\0';
	expect_violation("NUL byte inside the key");
}

Test(check, path_len_out_of_range)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_at(i)->path_len = 60000;
	expect_violation("path_len 60000 out of range");
}

Test(check, insane_stat_fields)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_at(i)->mode = 0;
	expect_violation("not a known file type");
	slot_at(i)->mode = S_IFREG | 0644;
	slot_at(i)->size = -1;
	expect_violation("negative size (-1)");
}

Test(check, nocache_reasons)
{
	dead_segment();
	uint32_t i = used_slot();
	slot_at(i)->flags |= FSC_ENT_NOCACHE;
	slot_cold(i)->reason = 9;
	expect_violation("NOCACHE with unknown reason 9");
	slot_at(i)->flags &= ~FSC_ENT_NOCACHE;
	slot_cold(i)->reason = FSC_REASON_FSTYPE;
	expect_violation("reason 1 without NOCACHE");
}

/* ---- the .use object ------------------------------------------------------- */

Test(check, use_epoch_wrong)
{
	dead_segment();
	seg.u->epoch ^= 1;
	expect_violation("use: epoch");
}

Test(check, use_magic_and_capacity)
{
	dead_segment();
	seg.u->magic ^= 1;
	expect_violation("use: bad magic");
	seg.u->magic ^= 1;
	seg.u->slot_count += 1;
	expect_violation("use: slot_count 257 differs from the table's 256");
}

Test(check, use_object_missing)
{
	dead_segment();
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), w.name, 1);
	cr_assert_eq(shm_unlink(shm), 0);
	expect_violation("use: cannot open");
}

/* ---- the change feed ------------------------------------------------------ */

/* The dead segment's feed, mapped read-write (unmapped by the test). */
static unsigned char *map_feed(size_t *size)
{
	char shm[FSC_SHM_NAME_SIZE];
	fsc_shm_name(shm, sizeof(shm), w.name, FSC_OBJ_FEED);
	return map_rw(shm, size);
}

Test(check, feed_epoch_wrong)
{
	size_t size;
	dead_segment();
	unsigned char *f = map_feed(&size);
	((struct fsc_feed_header *)(void *)f)->epoch ^= 1;
	expect_violation("feed:");
	munmap(f, size);
}

Test(check, feed_record_corrupt)
{
	size_t size;
	dead_segment();
	unsigned char *f = map_feed(&size);
	/* The first record is the first watched path's "added". */
	struct fsc_feed_record *r = (void *)(f + FSC_FEED_HEADER_SIZE);
	cr_assert_eq(r->kind, FSC_CHANGE_ADDED);
	uint32_t len = r->len;
	r->len = 8;
	expect_violation("feed: the record at position 0 fails validation");
	r->len = len;
	/* Its path's terminator. */
	struct fsc_entry *e =
		(void *)(f + FSC_FEED_HEADER_SIZE + FSC_FEED_REC_FIXED);
	e->path_len += 1;
	expect_violation("feed: the record at position 0");
	e->path_len -= 1;
	expect_check_ok(NFILES);
	munmap(f, size);
}

Test(check, feed_missing)
{
	dead_segment();
	char shm[FSC_SHM_NAME_SIZE];
	fsc_shm_name(shm, sizeof(shm), w.name, FSC_OBJ_FEED);
	cr_assert_eq(shm_unlink(shm), 0);
	expect_violation("feed:");
}

/* ---- the tag array (format 1.5) ----------------------------------------- */

/* The dead segment's tag array, mapped read-write (unmapped by the test). */
static unsigned char *map_tags(size_t *size)
{
	char shm[FSC_SHM_NAME_SIZE];
	fsc_shm_name(shm, sizeof(shm), w.name, FSC_OBJ_TAGS);
	return map_rw(shm, size);
}

Test(check, tag_wrong)
{
	size_t size;
	dead_segment();
	unsigned char *t = map_tags(&size);
	uint16_t *tags = (uint16_t *)(void *)(t + FSC_TAGS_HEADER_SIZE);
	uint32_t u = used_slot(), e = empty_slot_from(u);
	char want[96];
	cr_assert_eq(tags[u], fsc_tag(slot_at(u)->hash));
	cr_assert_eq(tags[e], 0);
	tags[u] ^= 2;
	snprintf(want, sizeof(want), "slot %u: tag 0x%04x, want 0x%04x", u,
		 tags[u], fsc_tag(slot_at(u)->hash));
	expect_violation(want);
	tags[u] ^= 2;
	tags[e] = 0x8001;
	snprintf(want, sizeof(want), "slot %u: tag 0x8001, want 0x0000", e);
	expect_violation(want);
	tags[e] = 0;
	expect_check_ok(NFILES);
	munmap(t, size);
}

Test(check, tags_object_checked)
{
	size_t size;
	dead_segment();
	unsigned char *t = map_tags(&size);
	struct fsc_tags_header *th = (void *)t;
	th->epoch ^= 1;
	expect_violation("does not match the table");
	th->epoch ^= 1;
	th->reserved[2] = 1;
	expect_violation("tags: reserved fields are not 0");
	th->reserved[2] = 0;
	expect_check_ok(NFILES);
	munmap(t, size);
	char shm[FSC_SHM_NAME_SIZE];
	fsc_shm_name(shm, sizeof(shm), w.name, FSC_OBJ_TAGS);
	cr_assert_eq(shm_unlink(shm), 0);
	expect_violation("tags: the header says the writer keeps");
}

/* --json: the same verdict and messages, as one object. */
Test(check, json_report)
{
	dead_segment();
	seg.u->epoch ^= 1;
	struct fsct_run r = TOOL("check", "--json");
	cr_assert_eq(r.status, 1);
	json_error_t jerr;
	json_t *o = json_loads(r.out, 0, &jerr);
	cr_assert_not_null(o, "%s: %s", jerr.text, r.out);
	cr_assert(json_is_false(json_object_get(o, "ok")));
	json_t *v = json_object_get(o, "violations");
	cr_assert_geq(json_array_size(v), 1);
	cr_assert(strstr(json_string_value(json_array_get(v, 0)),
			 "use: epoch") != NULL,
		  "%s", r.out);
	json_decref(o);
	fsct_run_free(&r);
}
