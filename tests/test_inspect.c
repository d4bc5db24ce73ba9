/*
 * test_inspect.c - integration tests of the operator's view: `inspect`,
 * `ls --sort` and `top`.
 *
 * Each test starts a real fstatcached (tests/harness.c) on a known set of
 * files, runs the tool as a child process and checks its exit status and
 * output; JSON is parsed with Jansson and checked field by field.  Changes
 * are made visible with the sync barrier, never with sleeps, and `top`
 * is only checked for what it prints, never for how long it takes.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stddef.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../writer/defaults.h"
#include "harness.h"

static struct fsct_writer w;

static void teardown(void)
{
	fsct_writer_cleanup(&w);
}

TestSuite(inspect, .fini = teardown);

/* ---- helpers --------------------------------------------------------- */

#define TOOL(...) fsct_tool_run(&w, (const char *const[]){ __VA_ARGS__, NULL })

static json_t *parse_lines(const char *out)
{
	json_t *arr = json_array();
	cr_assert_not_null(arr);
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "output does not end with a newline: %s",
				   out);
		json_error_t jerr;
		json_t *obj = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		cr_assert_not_null(obj, "bad JSON line '%.*s': %s",
				   (int)(nl - p), p, jerr.text);
		json_array_append_new(arr, obj);
		p = nl + 1;
	}
	return arr;
}

static json_t *parse_one(const char *out)
{
	json_t *arr = parse_lines(out);
	cr_assert_eq(json_array_size(arr), 1, "want one line, got: %s", out);
	json_t *obj = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	cr_assert(json_is_object(obj), "not an object: %s", out);
	return obj;
}

static json_t *get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	cr_assert_not_null(v, "key '%s' missing", key);
	return v;
}

static long long int_field(json_t *obj, const char *key)
{
	json_t *v = get(obj, key);
	cr_assert(json_is_integer(v), "'%s' should be an integer", key);
	return json_integer_value(v);
}

static double real_field(json_t *obj, const char *key)
{
	json_t *v = get(obj, key);
	cr_assert(json_is_number(v), "'%s' should be a number", key);
	return json_number_value(v);
}

static const char *str_field(json_t *obj, const char *key)
{
	json_t *v = get(obj, key);
	cr_assert(json_is_string(v), "'%s' should be a string", key);
	return json_string_value(v);
}

static json_t *obj_field(json_t *obj, const char *key)
{
	json_t *v = get(obj, key);
	cr_assert(json_is_object(v), "'%s' should be an object", key);
	return v;
}

/* The object has exactly `keys` (NULL-terminated). */
static void expect_keys(json_t *obj, const char *what, const char *const *keys)
{
	size_t n = 0;
	for (; keys[n]; n++)
		cr_assert_not_null(json_object_get(obj, keys[n]),
				   "%s: key '%s' missing", what, keys[n]);
	cr_assert_eq(json_object_size(obj), n, "%s: %zu keys, want %zu", what,
		     json_object_size(obj), n);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a known cache --------------------------------------------------- */

#define NFILES 5
static const char *const names[NFILES] = {
	"c.log", "a.log", "e.log", "b.log", "d.log",
};
static const char *const contents[NFILES] = {
	"ccc\n", "a\n", "eeeeeeeeeeee\n", "bbbbbbbb\n", "dddddd\n",
};
#define MISSING "missing.log"
#define NWATCHED (NFILES + 1)

/* 1 when `path` is one of the watched paths. */
static int watched(const char *path)
{
	for (int i = 0; i < NFILES; i++)
		if (strcmp(path, fsct_path(&w, names[i])) == 0)
			return 1;
	return strcmp(path, fsct_path(&w, MISSING)) == 0;
}

/* A writer watching five files and one missing path, synced. */
static fsc_handle *start_known(void)
{
	fsct_writer_init(&w);
	const char *args[NWATCHED + 3];
	int n = 0;
	args[n++] = "--capacity";
	args[n++] = "100";
	for (int i = 0; i < NFILES; i++) {
		fsct_write(fsct_path(&w, names[i]), contents[i], 0);
		args[n++] = strdup(fsct_path(&w, names[i]));
	}
	args[n++] = strdup(fsct_path(&w, MISSING));
	args[n] = NULL;
	fsct_writer_start(&w, args);
	for (int i = 2; i < n; i++)
		free((void *)args[i]);
	fsc_handle *h = fsct_open(&w);
	fsct_sync(h);
	return h;
}

/* Look every watched path up through `h`: NWATCHED hits. */
static void look_up_all(fsc_handle *h)
{
	struct fsc_stat st;
	for (int i = 0; i < NFILES; i++)
		cr_assert_eq(fsc_lookup(h, fsct_path(&w, names[i]), &st), 0,
			     "%s not cached", names[i]);
	cr_assert_eq(fsc_lookup(h, fsct_path(&w, MISSING), &st), 0,
		     "the missing path is not cached");
	cr_assert_not(st.exists);
}

static json_t *inspect_json(void)
{
	struct fsct_run r = TOOL("inspect", "--json");
	fsct_expect_ok(&r, "inspect --json");
	json_t *obj = parse_one(r.out);
	fsct_run_free(&r);
	return obj;
}

/* ---- inspect ----------------------------------------------------------- */

static const char *const counter_names[] = {
	"events",
	"batches",
	"coalesced",
	"stats",
	"inserts",
	"updates",
	"evictions",
	"overflows",
	"watches",
	"watch_failures",
	"requests",
	"requests_refused",
	"uncacheable",
	"revalidations",
	"moves",
	"syncs",
	"paths",
	"removals",
	"watch_limit",
	"changed_marks",
	"drain_pauses",
	"pause_us",
	"mount_changes",
	"file_marks",
	"feed_wakes",
	"growths",
	"refaults",
	"not_admitted",
	"quieted",
	"use_truncated",
	NULL,
};

static void check_header(json_t *hdr, uint32_t capacity)
{
	expect_keys(hdr, "header",
		    (const char *const[]){
			    "shm",           "magic",         "version",
			    "version_major", "version_minor", "header_size",
			    "capacity",      "entry_size",    "path_max",
			    "probe_limit",   "segment_size",  "writer_pid",
			    "started_at",    "started_ns",    "liveness",
			    "events",        "status",        "status_code",
			    "owner_uid",     "socket_path",   NULL });
	char shm[FSC_NAME_MAX + 32];
	snprintf(shm, sizeof(shm), "/fstatcache.%s", w.name);
	cr_assert_str_eq(str_field(hdr, "shm"), shm);
	cr_assert_str_eq(str_field(hdr, "magic"), "0xfe01435441545346");
	char version[32];
	snprintf(version, sizeof(version), "%u.%u", FSC_FORMAT_MAJOR,
		 FSC_FORMAT_MINOR);
	cr_assert_str_eq(str_field(hdr, "version"), version);
	cr_assert_eq(int_field(hdr, "version_major"), FSC_FORMAT_MAJOR);
	cr_assert_eq(int_field(hdr, "version_minor"), FSC_FORMAT_MINOR);
	cr_assert_eq(int_field(hdr, "header_size"), FSC_HEADER_SIZE);
	cr_assert_eq(int_field(hdr, "capacity"), capacity);
	long long pm = int_field(hdr, "path_max");
	cr_assert_eq(pm, FW_DEFAULT_PATH_MAX);
	long long es = int_field(hdr, "entry_size");
	cr_assert_eq(es, FSC_ENTRY_SIZE(pm));
	cr_assert_eq(int_field(hdr, "probe_limit"), FW_DEFAULT_PROBE_LIMIT);
	cr_assert_eq(int_field(hdr, "segment_size"),
		     FSC_HEADER_SIZE + (long long)capacity * es);
	cr_assert_eq(int_field(hdr, "writer_pid"), w.pid);
	long long started = int_field(hdr, "started_ns");
	cr_assert(started > 0 && (uint64_t)started <= realtime_ns(),
		  "started_ns %lld", started);
	cr_assert(strlen(str_field(hdr, "started_at")) >= 19);
	cr_assert_str_eq(str_field(hdr, "liveness"), "alive");
	/* The source asked for (FSCT_EVENTS), or what the writer took. */
	const char *ev = getenv("FSCT_EVENTS");
	if (ev && strcmp(ev, "auto") != 0)
		cr_assert_str_eq(str_field(hdr, "events"), ev);
	else
		cr_assert(strcmp(str_field(hdr, "events"), "fanotify") == 0 ||
			  strcmp(str_field(hdr, "events"), "inotify") == 0);
	cr_assert_str_eq(str_field(hdr, "status"), "serving");
	cr_assert_eq(int_field(hdr, "status_code"), FSC_STATUS_SERVING);
	cr_assert_eq(int_field(hdr, "owner_uid"), (long long)geteuid());
	cr_assert_str_eq(str_field(hdr, "socket_path"), w.socket);
}

static void check_counters(json_t *c, const char *events)
{
	expect_keys(c, "counters", counter_names);
	for (int i = 0; counter_names[i]; i++)
		cr_assert_geq(int_field(c, counter_names[i]), 0);
	cr_assert_geq(int_field(c, "inserts"), NWATCHED);
	cr_assert_geq(int_field(c, "stats"), NWATCHED);
	cr_assert_geq(int_field(c, "syncs"), 1);
	cr_assert_eq(int_field(c, "paths"), NWATCHED);
	cr_assert_geq(int_field(c, "watches"), 1);
	cr_assert_eq(int_field(c, "evictions"), 0);
	cr_assert_eq(int_field(c, "overflows"), 0);
	cr_assert_eq(int_field(c, "requests_refused"), 0);
	cr_assert_eq(int_field(c, "uncacheable"), 0);
	cr_assert_eq(int_field(c, "watch_failures"), 0);
	FILE *f = fopen(strcmp(events, "fanotify") == 0
				? "/proc/sys/fs/fanotify/max_user_marks"
				: "/proc/sys/fs/inotify/max_user_watches",
			"r");
	long long limit = 0;
	if (f && fscanf(f, "%lld", &limit) == 1)
		cr_assert_eq(int_field(c, "watch_limit"), limit);
	if (f)
		fclose(f);
}

static void check_histogram(json_t *p, long long entries)
{
	expect_keys(p, "probe_lengths",
		    (const char *const[]){ "entries", "buckets", "max", "mean",
					   "skipped", NULL });
	static const char *const ranges[] = {
		"0", "1", "2", "3", "4-7", "8-15", "16-31", "32+",
	};
	json_t *b = get(p, "buckets");
	cr_assert(json_is_array(b));
	cr_assert_eq(json_array_size(b), 8);
	long long sum = 0, max_seen = -1;
	double weighted = 0;
	for (size_t i = 0; i < 8; i++) {
		json_t *bi = json_array_get(b, i);
		expect_keys(bi, "bucket",
			    (const char *const[]){ "range", "from", "to",
						   "count", NULL });
		cr_assert_str_eq(str_field(bi, "range"), ranges[i]);
		long long n = int_field(bi, "count");
		long long from = int_field(bi, "from");
		cr_assert_geq(n, 0);
		sum += n;
		weighted += (double)n * (double)from;
		if (n)
			max_seen = from;
		json_t *to = get(bi, "to");
		cr_assert(i == 7 ? json_is_null(to) : json_is_integer(to));
	}
	cr_assert_eq(sum, entries, "histogram counts sum to %lld, want %lld",
		     sum, entries);
	cr_assert_eq(int_field(p, "entries"), entries);
	cr_assert_eq(int_field(p, "skipped"), 0);
	long long max = int_field(p, "max");
	cr_assert_geq(max, max_seen, "max %lld below a used bucket", max);
	double mean = real_field(p, "mean");
	cr_assert(mean >= weighted / (double)entries - 1e-9 &&
			  mean <= (double)max + 1e-9,
		  "mean %g", mean);
}

static void check_landmark(json_t *l, const char *what)
{
	cr_assert(json_is_object(l), "%s should be an object", what);
	expect_keys(l, what,
		    (const char *const[]){ "path", "slot", "validated_ns",
					   "age_ns", NULL });
	cr_assert(watched(str_field(l, "path")), "%s: %s is not watched", what,
		  str_field(l, "path"));
	cr_assert_gt(int_field(l, "validated_ns"), 0);
	cr_assert_geq(int_field(l, "age_ns"), 0);
	cr_assert_geq(int_field(l, "slot"), 0);
}

Test(inspect, json_on_a_known_cache)
{
	fsc_handle *h = start_known();
	uint32_t capacity = fsc_slot_count(h);
	look_up_all(h);
	look_up_all(h);
	fsc_close(h); /* publishes this handle's counts to the .use header */

	json_t *o = inspect_json();
	expect_keys(o, "inspect",
		    (const char *const[]){ "name", "header", "occupancy",
					   "huge_pages", "counters", "readers",
					   "feed", "request_ring", "tag_array",
					   "uncacheable", "probe_lengths",
					   "oldest", "newest", NULL });
	cr_assert_str_eq(str_field(o, "name"), w.name);

	/* The tag array (1.5): one tag per slot. */
	json_t *ta = obj_field(o, "tag_array");
	expect_keys(ta, "tag_array",
		    (const char *const[]){ "known", "tags", "bytes", NULL });
	cr_assert(json_is_true(get(ta, "known")));
	json_int_t slots = int_field(obj_field(o, "header"), "capacity");
	cr_assert_eq(int_field(ta, "tags"), slots);
	cr_assert_eq(int_field(ta, "bytes"), FSC_TAGS_HEADER_SIZE + 2 * slots);

	/* The request ring (1.4): its geometry and counters. */
	json_t *rr = obj_field(o, "request_ring");
	expect_keys(rr, "request_ring",
		    (const char *const[]){ "known", "slots", "slot_size",
					   "shared", "requests", "dropped",
					   "doorbells", "queued_now", NULL });
	cr_assert(json_is_true(get(rr, "known")));
	cr_assert_eq(int_field(rr, "slot_size"), FSC_REQ_SLOT_FIXED + 256);
	cr_assert(json_is_false(get(rr, "shared")));
	cr_assert_eq(int_field(rr, "queued_now"), 0);

	/* Every watched path was added once: one record each at least. */
	json_t *fd = obj_field(o, "feed");
	expect_keys(fd, "feed",
		    (const char *const[]){ "known", "ring_size", "records",
					   "head", "tail", "followers", NULL });
	cr_assert(json_is_true(get(fd, "known")));
	cr_assert_geq(int_field(fd, "records"), NWATCHED);
	cr_assert_gt(int_field(fd, "head"), 0);
	cr_assert_eq(int_field(fd, "tail"), 0, "nothing overwritten yet");
	cr_assert_eq(int_field(fd, "ring_size"), 1 << 20);
	cr_assert_eq(int_field(fd, "followers"), 0);
	check_header(obj_field(o, "header"), capacity);

	json_t *occ = obj_field(o, "occupancy");
	expect_keys(occ, "occupancy",
		    (const char *const[]){ "entry_count", "max_entries",
					   "capacity", "load_factor", NULL });
	cr_assert_eq(int_field(occ, "entry_count"), NWATCHED);
	cr_assert_eq(int_field(occ, "max_entries"), 100);
	cr_assert_eq(int_field(occ, "capacity"), capacity);
	double lf = real_field(occ, "load_factor");
	cr_assert(lf > 0 && lf < 1 && lf * capacity > NWATCHED - 0.01 &&
			  lf * capacity < NWATCHED + 0.01,
		  "load_factor %g", lf);

	check_counters(obj_field(o, "counters"),
		       str_field(obj_field(o, "header"), "events"));

	json_t *rd = obj_field(o, "readers");
	expect_keys(rd, "readers",
		    (const char *const[]){ "known", "reader_hits",
					   "reader_misses", "reader_uncached",
					   "version_mismatches", NULL });
	cr_assert(json_is_true(get(rd, "known")));
	cr_assert_geq(int_field(rd, "reader_hits"), 2 * NWATCHED);
	cr_assert_geq(int_field(rd, "reader_misses"), 0);
	cr_assert_geq(int_field(rd, "reader_uncached"), 0);
	cr_assert_eq(int_field(rd, "version_mismatches"), 0);

	json_t *un = obj_field(o, "uncacheable");
	expect_keys(un, "uncacheable",
		    (const char *const[]){ "entries", "fstype", "watch_limit",
					   "stat_error", "watch_error",
					   "changed", "private", "range",
					   "unknown", NULL });
	cr_assert_eq(int_field(un, "entries"), 0);
	cr_assert_eq(int_field(un, "stat_error"), 0);

	check_histogram(obj_field(o, "probe_lengths"), NWATCHED);
	json_t *old = get(o, "oldest"), *new = get(o, "newest");
	check_landmark(old, "oldest");
	check_landmark(new, "newest");
	cr_assert_leq(int_field(old, "validated_ns"),
		      int_field(new, "validated_ns"));
	json_decref(o);
	fsct_writer_stop(&w);
}

Test(inspect, json_newest_follows_a_change)
{
	fsc_handle *h = start_known();
	const char *changed = fsct_path(&w, names[2]);
	fsct_write(changed, "more\n", 1);
	fsct_sync(h);
	fsc_close(h);
	json_t *o = inspect_json();
	cr_assert_str_eq(str_field(get(o, "newest"), "path"), changed);
	cr_assert_geq(int_field(obj_field(o, "counters"), "updates"), 1);
	json_decref(o);
	fsct_writer_stop(&w);
}

/* Text output: the line starting with `key` (then spaces) contains `want`. */
static void expect_line(const char *out, const char *key, const char *want)
{
	size_t k = strlen(key);
	for (const char *p = out; p && *p;
	     p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, k) != 0 || p[k] != ' ')
			continue;
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		cr_assert(strstr(line, want), "line '%s' lacks '%s'", line,
			  want);
		return;
	}
	cr_assert_fail("no line starting with '%s' in:\n%s", key, out);
}

Test(inspect, text_has_the_key_lines)
{
	fsc_handle *h = start_known();
	look_up_all(h);
	fsc_close(h);
	struct fsct_run r = TOOL("inspect");
	fsct_expect_ok(&r, "inspect");
	char buf[64];
	expect_line(r.out, "instance", w.name);
	expect_line(r.out, "magic", "0xfe01435441545346");
	char version[32];
	snprintf(version, sizeof(version), "%u.%u", FSC_FORMAT_MAJOR,
		 FSC_FORMAT_MINOR);
	expect_line(r.out, "format", version);
	expect_line(r.out, "capacity", "slots");
	expect_line(r.out, "entry size", "path max 256");
	expect_line(r.out, "huge pages", "no (the table is smaller than one");
	snprintf(buf, sizeof(buf), "%d", (int)w.pid);
	expect_line(r.out, "writer pid", buf);
	expect_line(r.out, "started at", "ago");
	expect_line(r.out, "liveness", "alive");
	expect_line(r.out, "status", "serving");
	expect_line(r.out, "occupancy", "6 entries (max 100)");
	expect_line(r.out, "occupancy", "load factor");
	expect_line(r.out, "  watches", "(watch_limit)");
	expect_line(r.out, "  inserts", "6");
	expect_line(r.out, "  reader_hits", "");
	expect_line(r.out, "uncacheable", "0 entries answered by stat()");
	expect_line(r.out, "  watch_limit", "");
	expect_line(r.out, "probe lengths", "6 entries");
	expect_line(r.out, "  32+", "0");
	expect_line(r.out, "oldest", w.dir);
	expect_line(r.out, "newest", w.dir);
	cr_assert(strstr(r.out, "\ncounters\n"), "%s", r.out);
	cr_assert(strstr(r.out, "\nreaders\n"), "%s", r.out);
	fsct_run_free(&r);
	fsct_writer_stop(&w);
}

/* ---- huge pages --------------------------------------------------------- */

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

/*
 * The VmFlags line of process `pid`'s mapping of the table object of
 * instance w, and where it starts; fails the test when there is none.
 */
static void table_mapping(pid_t pid, char *flags, size_t size, uintptr_t *start)
{
	char path[64], obj[128], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	snprintf(obj, sizeof(obj), " /dev/shm/fstatcache.%s\n", w.name);
	FILE *f = fopen(path, "re");
	cr_assert_not_null(f, "%s", path);
	int in = 0, found = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line), k = strlen(obj);
		if (n >= k && strcmp(line + n - k, obj) == 0) {
			unsigned long lo;
			cr_assert_eq(sscanf(line, "%lx-", &lo), 1);
			*start = (uintptr_t)lo;
			in = 1;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			size_t m = strlen(line + 8);
			m = m < size ? m : size - 1;
			memcpy(flags, line + 8, m);
			flags[m] = '\0';
			in = 0;
			found = 1;
		}
	}
	fclose(f);
	cr_assert(found, "no mapping of the table in %s", path);
}

/* Start an instance whose table is larger than one huge page (6 MiB). */
static fsc_handle *start_large(void)
{
	fsct_writer_init(&w);
	fsct_write(fsct_path(&w, "a"), "a", 0);
	char *a = strdup(fsct_path(&w, "a"));
	fsct_writer_start(&w, (const char *const[]){ "--capacity", "8000", a,
						     NULL });
	free(a);
	fsc_handle *h = fsct_open(&w);
	fsct_sync(h);
	return h;
}

/*
 * Does madvise(MADV_HUGEPAGE) show in this process's VmFlags here?  Not
 * under an emulator that drops the advice (qemu-user, in the cross
 * passes): asked of an anonymous mapping of our own first.
 */
static int advice_shows(void)
{
	size_t size = 4u << 20;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(p != MAP_FAILED);
	int shows = 0;
	if (madvise(p, size, MADV_HUGEPAGE) == 0) {
		char line[512];
		FILE *f = fopen("/proc/self/smaps", "re");
		int in = 0;
		while (f && fgets(line, sizeof(line), f)) {
			unsigned long lo, hi;
			if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
				in = (uintptr_t)lo == (uintptr_t)p;
			else if (in && strncmp(line, "VmFlags:", 8) == 0)
				shows = strstr(line, " hg") != NULL;
		}
		if (f)
			fclose(f);
	}
	munmap(p, size);
	return shows;
}

Test(inspect, writer_and_reader_ask_for_huge_pages)
{
	if (access(THP_DIR, F_OK) != 0)
		cr_skip_test("the kernel has no transparent huge pages");
	/* A writer of another architecture runs under an emulator (the
	 * cross passes drive the armhf writer from native tests). */
	if (fsct_writer_emulated())
		cr_skip_test("the writer is emulated");
	if (!advice_shows())
		cr_skip_test("MADV_HUGEPAGE leaves no trace in smaps here "
			     "(an emulator that drops the advice)");
	fsc_handle *h = start_large();
	char flags[256];
	uintptr_t start;
	table_mapping(w.pid, flags, sizeof(flags), &start);
	cr_assert(strstr(flags, " hg"), "writer's VmFlags:%s", flags);
	cr_assert_eq(start % (2u << 20), 0, "writer maps it at %#lx",
		     (unsigned long)start);
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(h, fsct_path(&w, "a"), &st), 0);
	table_mapping(getpid(), flags, sizeof(flags), &start);
	cr_assert(strstr(flags, " hg"), "reader's VmFlags:%s", flags);
	cr_assert_eq(start % (2u << 20), 0, "reader maps it at %#lx",
		     (unsigned long)start);
	fsc_close(h);
	fsct_writer_stop(&w);
}

Test(inspect, writer_keeps_small_pages_when_told)
{
	if (access(THP_DIR, F_OK) != 0)
		cr_skip_test("the kernel has no transparent huge pages");
	setenv("FSTATCACHE_HUGE_PAGES", "0", 1);
	fsc_handle *h = start_large();
	unsetenv("FSTATCACHE_HUGE_PAGES");
	char flags[256];
	uintptr_t start;
	table_mapping(w.pid, flags, sizeof(flags), &start);
	cr_assert_null(strstr(flags, " hg"), "writer's VmFlags:%s", flags);
	fsc_close(h);
	fsct_writer_stop(&w);
}

/* What inspect --json says agrees with itself, whatever the machine. */
Test(inspect, json_says_whether_huge_pages_back_the_table)
{
	fsc_handle *h = start_large();
	fsc_close(h);
	json_t *o = inspect_json();
	json_t *hp = obj_field(o, "huge_pages");
	expect_keys(hp, "huge_pages",
		    (const char *const[]){
			    "backed", "huge_bytes", "table_bytes", "page_bytes",
			    "why", "shmem_enabled", "dev_shm_huge", NULL });
	long long table = int_field(hp, "table_bytes");
	long long huge = int_field(hp, "huge_bytes");
	long long page = int_field(hp, "page_bytes");
	char backed[16];
	snprintf(backed, sizeof(backed), "%s", str_field(hp, "backed"));
	cr_assert_eq(table, int_field(obj_field(o, "header"), "segment_size"));
	cr_assert_gt(page, 0);
	cr_assert_leq(huge, table);
	cr_assert_gt(strlen(str_field(hp, "why")), 0);
	if (strcmp(backed, "yes") == 0)
		cr_assert_eq(huge / page, table / page);
	else if (strcmp(backed, "partly") == 0)
		cr_assert(huge > 0 && huge / page < table / page);
	else /* "unknown": smaps unreadable (an emulated tool, say) */
		cr_assert((strcmp(backed, "no") == 0 ||
			   strcmp(backed, "unknown") == 0) &&
				  huge == 0,
			  "%s %lld", backed, huge);
	json_decref(o);

	struct fsct_run r = TOOL("metrics");
	fsct_expect_ok(&r, "metrics");
	char want[128];
	snprintf(want, sizeof(want),
		 "fstatcache_huge_page_bytes{name=\"%s\",backed=\"%s\"} %lld\n",
		 w.name, backed, huge);
	cr_assert(strstr(r.out, want), "want '%s' in:\n%s", want, r.out);
	fsct_run_free(&r);
	fsct_writer_stop(&w);
}

Test(inspect, small_table_is_not_in_huge_pages)
{
	fsc_handle *h = start_known(); /* --capacity 100: 256 slots */
	fsc_close(h);
	json_t *o = inspect_json();
	json_t *hp = obj_field(o, "huge_pages");
	cr_assert_str_eq(str_field(hp, "backed"), "no");
	cr_assert(strstr(str_field(hp, "why"), "smaller than one huge page"));
	json_decref(o);
	fsct_writer_stop(&w);
}

Test(inspect, dead_writer_segment_says_dead)
{
	fsc_handle *h = start_known();
	fsc_close(h);
	fsct_writer_kill(&w, SIGKILL); /* its segment stays behind */

	struct fsct_run r = TOOL("inspect");
	fsct_expect_ok(&r, "inspect of a dead writer's segment");
	expect_line(r.out, "liveness", "dead");
	expect_line(r.out, "occupancy", "6 entries");
	fsct_run_free(&r);

	json_t *o = inspect_json();
	json_t *hdr = obj_field(o, "header");
	cr_assert_str_eq(str_field(hdr, "liveness"), "dead");
	cr_assert_str_eq(str_field(hdr, "status"), "serving");
	cr_assert_eq(int_field(obj_field(o, "occupancy"), "entry_count"),
		     NWATCHED);
	check_histogram(obj_field(o, "probe_lengths"), NWATCHED);
	json_decref(o);
}

Test(inspect, readers_unknown_without_the_use_object)
{
	fsc_handle *h = start_known();
	fsc_close(h);
	fsct_writer_kill(&w, SIGKILL);
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), w.name, 1);
	cr_assert_eq(shm_unlink(shm), 0, "shm_unlink(%s)", shm);

	json_t *o = inspect_json();
	json_t *rd = obj_field(o, "readers");
	cr_assert(json_is_false(get(rd, "known")));
	cr_assert(json_is_null(get(rd, "reader_hits")));
	cr_assert(json_is_null(get(rd, "reader_misses")));
	cr_assert(json_is_null(get(rd, "reader_uncached")));
	cr_assert(strlen(str_field(rd, "error")) > 0);
	json_decref(o);

	struct fsct_run r = TOOL("inspect");
	fsct_expect_ok(&r, "inspect");
	expect_line(r.out, "readers", "unknown");
	fsct_run_free(&r);
}

/*
 * Readers of another format major leave a count in the .use header
 * (version_mismatches, tests/test_reader.c other_major_counted): inspect
 * shows it and check does not call it a violation.
 */
/* Lines of `out` that start with `prefix`. */
static int count_lines(const char *out, const char *prefix)
{
	int n = 0;
	size_t k = strlen(prefix);
	for (const char *p = out; *p;) {
		if (strncmp(p, prefix, k) == 0)
			n++;
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

Test(inspect, version_mismatches_shown)
{
	fsc_handle *h = start_known();
	fsc_close(h);
	char shm[FSC_SHM_NAME_SIZE];
	fsc_shm_name(shm, sizeof(shm), w.name, 1);
	int fd = shm_open(shm, O_RDWR, 0);
	cr_assert_geq(fd, 0, "shm_open(%s)", shm);
	uint64_t three = 3;
	cr_assert_eq(
		pwrite(fd, &three, sizeof(three),
		       offsetof(struct fsc_use_header, version_mismatches)),
		(ssize_t)sizeof(three));
	close(fd);

	json_t *o = inspect_json();
	cr_assert_eq(int_field(obj_field(o, "readers"), "version_mismatches"),
		     3);
	json_decref(o);
	struct fsct_run r = TOOL("inspect");
	fsct_expect_ok(&r, "inspect");
	expect_line(r.out, "  version_mismatches", "3  (readers of another");
	fsct_run_free(&r);
	struct fsct_run t = TOOL("top", "--count", "1");
	fsct_expect_ok(&t, "top --count 1");
	cr_assert_eq(count_lines(t.out, "version_mismatches "), 1, "%s", t.out);
	const char *vm = strstr(t.out, "version_mismatches ");
	const char *eol = vm ? strchr(vm, '\n') : NULL;
	cr_assert(eol && eol - vm > 2 && eol[-1] == '3' && eol[-2] == ' ',
		  "top shows version_mismatches 3:\n%s", t.out);
	fsct_run_free(&t);
	struct fsct_run c = TOOL("check");
	fsct_expect_ok(&c, "check with version_mismatches 3");
	fsct_run_free(&c);
	fsct_writer_stop(&w);
}

Test(inspect, no_segment_fails_clearly)
{
	fsct_writer_init(&w); /* a name nobody serves */
	const char *cmds[] = { "inspect", "top", "check" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct fsct_run r = TOOL(cmds[i]);
		cr_assert_eq(r.status, 1, "%s: exit %d", cmds[i], r.status);
		cr_assert_str_empty(r.out, "%s printed: %s", cmds[i], r.out);
		char want[FSC_NAME_MAX + 64];
		snprintf(want, sizeof(want), "instance '%s' has no segment",
			 w.name);
		cr_assert(strstr(r.err, want), "%s: stderr: %s", cmds[i],
			  r.err);
		fsct_run_free(&r);
	}
}

/* ---- ls --sort --------------------------------------------------------- */

static json_t *ls_json(const char *sort)
{
	struct fsct_run r = sort ? TOOL("ls", "--json", "--sort", sort)
				 : TOOL("ls", "--json");
	fsct_expect_ok(&r, sort ? sort : "ls --json");
	json_t *all = parse_lines(r.out);
	fsct_run_free(&r);
	cr_assert_eq(json_array_size(all), NWATCHED,
		     "ls --sort %s: %zu "
		     "entries",
		     sort ? sort : "(none)", json_array_size(all));
	return all;
}

Test(inspect, ls_sort_orders)
{
	fsc_handle *h = start_known();
	/* Validate c.log, then a.log last: a.log is the most recent. */
	fsct_write(fsct_path(&w, "c.log"), "c\n", 1);
	fsct_sync(h);
	fsct_write(fsct_path(&w, "a.log"), "a\n", 1);
	fsct_sync(h);
	fsc_close(h);

	json_t *all = ls_json(NULL);
	for (size_t i = 1; i < json_array_size(all); i++)
		cr_assert_lt(int_field(json_array_get(all, i - 1), "slot"),
			     int_field(json_array_get(all, i), "slot"),
			     "default order is not slot order");
	json_decref(all);
	all = ls_json("slot");
	for (size_t i = 1; i < json_array_size(all); i++)
		cr_assert_lt(int_field(json_array_get(all, i - 1), "slot"),
			     int_field(json_array_get(all, i), "slot"));
	json_decref(all);

	all = ls_json("path");
	for (size_t i = 1; i < json_array_size(all); i++)
		cr_assert_lt(
			strcmp(str_field(json_array_get(all, i - 1), "path"),
			       str_field(json_array_get(all, i), "path")),
			0, "--sort path: not increasing at %zu", i);
	json_decref(all);

	all = ls_json("size");
	for (size_t i = 1; i < json_array_size(all); i++) {
		json_t *a = json_array_get(all, i - 1),
		       *b = json_array_get(all, i);
		int ea = json_is_true(get(a, "exists"));
		int eb = json_is_true(get(b, "exists"));
		cr_assert(ea >= eb, "--sort size: missing file before a file");
		if (ea && eb)
			cr_assert_geq(int_field(a, "size"),
				      int_field(b, "size"),
				      "--sort size: not decreasing at %zu", i);
	}
	cr_assert_str_eq(str_field(json_array_get(all, 0), "path"),
			 fsct_path(&w, "e.log"));
	cr_assert(json_is_false(
		get(json_array_get(all, NWATCHED - 1), "exists")));
	json_decref(all);

	all = ls_json("recency");
	for (size_t i = 1; i < json_array_size(all); i++)
		cr_assert_geq(int_field(json_array_get(all, i - 1),
					"validated_ns"),
			      int_field(json_array_get(all, i), "validated_ns"),
			      "--sort recency: not decreasing at %zu", i);
	cr_assert_str_eq(str_field(json_array_get(all, 0), "path"),
			 fsct_path(&w, "a.log"));
	cr_assert_str_eq(str_field(json_array_get(all, 1), "path"),
			 fsct_path(&w, "c.log"));
	json_decref(all);

	struct fsct_run r = TOOL("ls", "--sort", "path");
	fsct_expect_ok(&r, "ls --sort path");
	const char *a = strstr(r.out, fsct_path(&w, "a.log"));
	const char *e = strstr(r.out, fsct_path(&w, "e.log"));
	cr_assert(strncmp(r.out, "EXISTS ", 7) == 0 && a && e && a < e,
		  "text ls --sort path: %s", r.out);
	fsct_run_free(&r);

	r = TOOL("ls", "--sort", "age");
	cr_assert_eq(r.status, 2, "--sort age: exit %d", r.status);
	cr_assert(strstr(r.err, "invalid --sort 'age'"), "%s", r.err);
	fsct_run_free(&r);
	fsct_writer_stop(&w);
}

/*
 * A writer killed with SIGKILL leaves its segment behind: ls lists it as
 * inspect reports on it, the same entries it listed while the writer
 * lived, and says on stderr that no writer serves them.
 */
Test(inspect, ls_lists_a_dead_writers_segment)
{
	fsc_handle *h = start_known();
	fsc_close(h);
	json_t *before = ls_json(NULL);
	fsct_writer_kill(&w, SIGKILL); /* its segment stays behind */

	struct fsct_run r = TOOL("ls", "--json");
	cr_assert_eq(r.status, 0, "ls --json: exit %d, stderr: %s", r.status,
		     r.err);
	char want[FSC_NAME_MAX + 64];
	snprintf(want, sizeof(want), "no fstatcached is serving instance '%s'",
		 w.name);
	cr_assert(strstr(r.err, want), "stderr: %s", r.err);
	cr_assert(strstr(r.err, "killed or crashed"), "stderr: %s", r.err);
	json_t *after = parse_lines(r.out);
	fsct_run_free(&r);
	cr_assert_eq(json_array_size(after), NWATCHED, "%zu entries",
		     json_array_size(after));
	for (size_t i = 0; i < NWATCHED; i++) {
		json_t *a = json_array_get(before, i),
		       *b = json_array_get(after, i);
		cr_assert(json_equal(a, b), "entry %zu differs: %s vs %s", i,
			  json_dumps(a, JSON_COMPACT),
			  json_dumps(b, JSON_COMPACT));
	}
	json_decref(before);
	json_decref(after);

	r = TOOL("ls", "--sort", "path");
	cr_assert_eq(r.status, 0, "ls: exit %d, stderr: %s", r.status, r.err);
	cr_assert(strncmp(r.out, "EXISTS ", 7) == 0, "%s", r.out);
	int paths = 0;
	for (const char *p = r.out; (p = strstr(p, w.dir)); p++)
		paths++;
	cr_assert_eq(paths, NWATCHED, "%s", r.out);
	cr_assert(strstr(r.err, "killed or crashed"), "stderr: %s", r.err);
	fsct_run_free(&r);
}

/* ---- top ----------------------------------------------------------------- */

Test(inspect, top_prints_two_snapshots_and_exits)
{
	fsc_handle *h = start_known();
	look_up_all(h);
	fsc_close(h);
	struct fsct_run r = TOOL("top", "--interval", "0.1", "--count", "2");
	fsct_expect_ok(&r, "top --interval 0.1 --count 2");
	char title[FSC_NAME_MAX + 64];
	snprintf(title, sizeof(title), "fstatcache top - instance '%s'",
		 w.name);
	cr_assert_eq(count_lines(r.out, title), 2, "want 2 snapshots:\n%s",
		     r.out);
	cr_assert_eq(count_lines(r.out, "inserts "), 2, "%s", r.out);
	cr_assert_eq(count_lines(r.out, "reader_hits "), 2, "%s", r.out);
	cr_assert_eq(count_lines(r.out, "events "), 2, "%s", r.out);
	cr_assert_eq(count_lines(r.out, "entries 6 / 100 max"), 2, "%s", r.out);
	cr_assert_eq(count_lines(r.out, "writer pid"), 2, "%s", r.out);
	cr_assert_null(strstr(r.out, "\033"), "escape codes on a pipe");
	fsct_run_free(&r);
	fsct_writer_stop(&w);
}

Test(inspect, top_rejects_bad_options)
{
	fsct_writer_init(&w);
	const char *const *bad[] = {
		(const char *const[]){ "top", "--interval", "0", NULL },
		(const char *const[]){ "top", "--interval", "soon", NULL },
		(const char *const[]){ "top", "--count", "0", NULL },
		(const char *const[]){ "top", "--count", "2x", NULL },
		(const char *const[]){ "inspect", "--count", "1", NULL },
		(const char *const[]){ "check", "--follow", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fsct_run r = fsct_tool_run(&w, bad[i]);
		cr_assert_eq(r.status, 2, "%s %s: exit %d", bad[i][0],
			     bad[i][1], r.status);
		cr_assert_str_empty(r.out);
		fsct_run_free(&r);
	}
}

Test(inspect, help_of_the_new_subcommands)
{
	fsct_writer_init(&w);
	const char *cmds[] = { "inspect", "top", "check", "ls" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct fsct_run r = TOOL(cmds[i], "--help");
		fsct_expect_ok(&r, cmds[i]);
		char want[64];
		snprintf(want, sizeof(want), "Usage: fstatcache %s ", cmds[i]);
		cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
		cr_assert(strstr(r.out, "--name NAME"), "%s", r.out);
		fsct_run_free(&r);
	}
	struct fsct_run r = TOOL("--help");
	fsct_expect_ok(&r, "--help");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char want[32];
		snprintf(want, sizeof(want), "\n  %s ", cmds[i]);
		cr_assert(strstr(r.out, want), "overview lacks %s", cmds[i]);
	}
	fsct_run_free(&r);
}
