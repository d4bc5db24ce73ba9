/*
 * fuzz_segment.c - libFuzzer target for the reader's validation of a
 * shared-memory segment (include/fstatcache/fstatcache.h): whatever the
 * object under an instance name holds, fsc_open() and every lookup must
 * return, without a crash, a SIGBUS or a loop, and a hit must be what the
 * segment says about that exact key.
 *
 * Each input becomes a real POSIX shared-memory object that the reader
 * opens by name.  Starting from a valid template (the writer's own
 * fw_segment_format() and table code, capacity 16, path_max 64, a few
 * keys), the first input byte chooses what the rest of the input replaces:
 *
 *   bits 0-1  0: the bytes from offset 0 (the header, then slots)
 *             1: the bytes of the slot area (the header stays valid)
 *             2: the bytes from an offset given by input bytes 1-2
 *             3: the whole object (its size is the input's)
 *   bit 2     fix the hash of every used slot afterwards, as a writer
 *             would, so the fuzzer reaches the checks behind the hash
 *   bit 3     also create the .use (recency) object, from the template
 *   bit 4     keep status SERVING and the liveness word alive afterwards
 *   bit 5     change the object's size by (int8)input[3] * 8 bytes
 *   bit 6     apply the bytes after fsc_open(), to the live mapping (a
 *             segment changing under an attached reader; size unchanged,
 *             as a writer never shrinks its object)
 *   bit 7     also create the tag array (.tags, format 1.5; the template's
 *             header says there is one) from the template, its tags
 *             XORed with the input's last 2 x 16 bytes (taken off the
 *             rest): tags are hints, so wrong ones may hide a key, never
 *             change an answer
 *
 * Then the target looks up the template's keys, an absent key, and the
 * string in every slot's path area, one by one and with
 * fsc_lookup_many(); lists every slot with fsc_slot_read(); reads the
 * header.  In modes that leave the header alone, every hit is checked
 * against the object's bytes: some slot holds that key with those fields.
 * The objects are unlinked after each input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstatcache/admin.h>

#include "segment.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 16u
#define PMAX 64u
#define ESIZE FSC_ENTRY_SIZE(PMAX)
#define SEG_SIZE (FSC_HEADER_SIZE + CAP * ESIZE)
#define NKEYS 9
#define MAX_SIZE (SEG_SIZE + 4096)

static unsigned char template_seg[SEG_SIZE];
static unsigned char template_use[FSC_USE_HEADER_SIZE + CAP];
static unsigned char template_tags[FSC_TAGS_HEADER_SIZE + 2 * CAP];
static char names[3][96];
static char inst[FSC_NAME_MAX + 1];

static void key(char *buf, size_t n, unsigned k)
{
	snprintf(buf, n, "/var/log/k%u-%.*s.log", k, (int)(k * 5 % 40),
		 "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
}

static void no_evict(void *ctx, const char *path, uint32_t len)
{
	(void)ctx;
	(void)path;
	(void)len;
	abort(); /* the template never fills up */
}

static void cleanup(void)
{
	shm_unlink(names[0]);
	shm_unlink(names[1]);
	shm_unlink(names[2]);
}

static void init_once(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	snprintf(inst, sizeof(inst), "fuzz-seg-%ld", (long)getpid());
	fsc_shm_name(names[0], sizeof(names[0]), inst, 0);
	fsc_shm_name(names[1], sizeof(names[1]), inst, 1);
	fsc_shm_name(names[2], sizeof(names[2]), inst, FSC_OBJ_TAGS);
	atexit(cleanup);
	struct fsc_header *h = (struct fsc_header *)(void *)template_seg;
	struct fw_segment_params p = {
		.name = inst,
		.capacity = CAP,
		.max_entries = 12,
		.path_max = PMAX,
		.probe_limit = 8,
		.socket_path = "/nonexistent/fuzz.sock",
	};
	fw_segment_format(h, &p, SEG_SIZE);
	h->hash_seed = UINT64_C(0x0123456789abcdef);
	h->epoch = UINT64_C(0x1122334455667788);
	static uint8_t marks[CAP];
	struct fw_table t;
	if (fw_table_bind(&t, h, marks) < 0)
		abort();
	struct fsc_tags_header *th =
		(struct fsc_tags_header *)(void *)template_tags;
	th->magic = FSC_TAGS_MAGIC;
	th->epoch = h->epoch;
	th->slot_count = CAP;
	h->flags |= FSC_SEG_F_TAGS;
	fw_table_set_tags(
		&t, (uint16_t *)(void *)(template_tags + FSC_TAGS_HEADER_SIZE));
	for (unsigned k = 0; k < NKEYS; k++) {
		char path[PMAX];
		key(path, sizeof(path), k);
		struct fw_record r = {
			.flags = k % 4 == 3 ? 0 : FSC_ENT_EXISTS,
			.dev = 0x803,
			.ino = 1000 + k,
			.nlink = 1,
			.mode = (k % 3 ? S_IFREG : S_IFDIR) | 0644,
			.uid = 1000,
			.gid = 1000,
			.size = 100 * k,
			.blocks = 8,
			.mtime_sec = 1700000000 + k,
			.ctime_sec = 1700000000 + k,
			.mtime_nsec = k,
			.ctime_nsec = 999999999u,
			.atime_sec = -1 - (int64_t)k,
			.atime_nsec = 5,
			.blksize = 4096,
		};
		if (k == 5) {
			r.flags |= FSC_ENT_NOCACHE;
			r.reason = FSC_REASON_FSTYPE;
		}
		if (fw_table_put(&t, path, (uint32_t)strlen(path), &r, no_evict,
				 NULL) < 0)
			abort();
	}
	h->status = FSC_STATUS_SERVING;
	h->writer_alive = (uint32_t)syscall(SYS_gettid) & FSC_WRITER_TID_MASK;
	struct fsc_use_header *u =
		(struct fsc_use_header *)(void *)template_use;
	u->magic = FSC_USE_MAGIC;
	u->epoch = h->epoch;
	u->slot_count = CAP;
}

static int write_object(const char *name, const void *buf, size_t n)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		abort(); /* a leftover of ours, or /dev/shm unusable */
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)n) < 0 ||
	    (n && pwrite(fd, buf, n, 0) != (ssize_t)n))
		abort();
	return fd;
}

static void fix_hashes(unsigned char *seg, size_t size)
{
	const struct fsc_header *h = (const struct fsc_header *)(void *)seg;
	for (uint32_t i = 0; i < CAP; i++) {
		size_t off = FSC_HEADER_SIZE + (size_t)i * ESIZE;
		if (off + ESIZE > size)
			break;
		struct fsc_entry *e = (struct fsc_entry *)(void *)(seg + off);
		uint32_t len = e->path_len < PMAX ? e->path_len : PMAX;
		e->hash = XXH3_64bits_withSeed(seg + off + FSC_ENTRY_FIXED, len,
					       h->hash_seed);
	}
}

/* Some slot of `seg` holds `path` with the fields of the answer `o`. */
static int backed_by_a_slot(const unsigned char *seg, const char *path,
			    const struct fsc_stat *o)
{
	size_t len = strlen(path);
	for (uint32_t i = 0; i < CAP; i++) {
		const unsigned char *s =
			seg + FSC_HEADER_SIZE + (size_t)i * ESIZE;
		struct fsc_entry e;
		memcpy(&e, s, sizeof(e));
		const unsigned char *kp = s + FSC_ENTRY_FIXED;
		if (!(e.flags & FSC_ENT_USED) || (e.flags & FSC_ENT_NOCACHE) ||
		    e.path_len != len || len >= PMAX || memcmp(kp, path, len) ||
		    kp[len] != 0)
			continue;
		if (!(e.flags & FSC_ENT_EXISTS)) {
			if (!o->exists)
				return 1;
			continue;
		}
		struct fsc_stat w;
		fsc_time_unpack(e.mtime_ns, &w.mtime_sec, &w.mtime_nsec);
		fsc_time_unpack(e.ctime_ns, &w.ctime_sec, &w.ctime_nsec);
		fsc_time_unpack(e.atime_ns, &w.atime_sec, &w.atime_nsec);
		if (o->exists && o->dev == e.dev && o->ino == e.ino &&
		    o->mode == e.mode && o->uid == e.uid && o->gid == e.gid &&
		    o->nlink == e.nlink && o->rdev == e.rdev &&
		    o->size == e.size && o->blocks == e.blocks &&
		    o->blksize == e.blksize && o->mtime_sec == w.mtime_sec &&
		    o->mtime_nsec == w.mtime_nsec &&
		    o->ctime_sec == w.ctime_sec &&
		    o->ctime_nsec == w.ctime_nsec &&
		    o->atime_sec == w.atime_sec &&
		    o->atime_nsec == w.atime_nsec)
			return 1;
	}
	return 0;
}

static void lookups(fsc_handle *h, const unsigned char *seg, size_t size,
		    int check)
{
	static char paths[NKEYS + 1 + CAP][PMAX + 1];
	int n = 0;
	for (unsigned k = 0; k < NKEYS; k++)
		key(paths[n++], sizeof(paths[0]), k);
	snprintf(paths[n++], sizeof(paths[0]), "/var/log/absent.log");
	for (uint32_t i = 0; i < CAP; i++) {
		size_t off =
			FSC_HEADER_SIZE + (size_t)i * ESIZE + FSC_ENTRY_FIXED;
		if (off + PMAX > size)
			break;
		memcpy(paths[n], seg + off, PMAX);
		paths[n][PMAX] = '\0';
		n++;
	}
	const char *ptrs[NKEYS + 1 + CAP];
	struct fsc_stat out[NKEYS + 1 + CAP];
	int res[NKEYS + 1 + CAP];
	for (int i = 0; i < n; i++) {
		ptrs[i] = paths[i];
		struct fsc_stat o;
		int r = fsc_lookup(h, paths[i], &o);
		if (r != 0 && r != FSC_MISS && r != FSC_UNCACHED)
			abort();
		if (r == 0 && (o.source != FSC_SOURCE_CACHE ||
			       (check && !backed_by_a_slot(seg, paths[i], &o))))
			abort();
	}
	fsc_lookup_many(h, ptrs, (size_t)n, out, res);
	for (int i = 0; i < n; i++) {
		if (res[i] != 0 && res[i] != FSC_MISS && res[i] != FSC_UNCACHED)
			abort();
		if (res[i] == 0 && check &&
		    !backed_by_a_slot(seg, paths[i], &out[i]))
			abort();
	}
	uint32_t cap = fsc_slot_count(h);
	for (uint32_t i = 0; i < cap; i++) {
		char p[FSC_PATH_MAX_MAX];
		struct fsc_stat o;
		uint64_t vns;
		int r = fsc_slot_read(h, i, p, sizeof(p), &o, &vns);
		if (r != 0 && r != FSC_MISS && r != FSC_UNCACHED &&
		    r != -EPROTO)
			abort();
		if (r == 0 && strlen(p) >= PMAX)
			abort();
	}
	struct fsc_header hdr;
	(void)fsc_header_read(h, &hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size < 1)
		return 0;
	static unsigned char seg[MAX_SIZE];
	unsigned mode = data[0];
	const uint8_t *body = data + 1;
	size_t blen = size - 1, segsize = SEG_SIZE, at = 0;
	int late = (mode & 0x40) && (mode & 3) != 3;
	unsigned char tags[sizeof(template_tags)];

	memcpy(tags, template_tags, sizeof(tags));
	if (mode & 0x80) {
		size_t n = blen < 2 * CAP ? blen : 2 * CAP;
		for (size_t i = 0; i < n; i++)
			tags[FSC_TAGS_HEADER_SIZE + i] ^= body[blen - n + i];
		blen -= n;
	}

	memset(seg, 0, sizeof(seg));
	memcpy(seg, template_seg, SEG_SIZE);
	switch (mode & 3) {
	case 0:
		at = 0;
		break;
	case 1:
		at = FSC_HEADER_SIZE;
		break;
	case 2:
		if (blen < 2)
			return 0;
		at = ((size_t)body[0] | (size_t)body[1] << 8) % SEG_SIZE;
		body += 2;
		blen -= 2;
		break;
	default:
		segsize = blen < MAX_SIZE ? blen : MAX_SIZE;
		break;
	}
	if ((mode & 3) == 3) {
		memcpy(seg, body, segsize);
	} else {
		if (blen > SEG_SIZE - at)
			blen = SEG_SIZE - at;
		if (!late)
			memcpy(seg + at, body, blen);
		if ((mode & 0x20) && size > 3 && !late) {
			long d = (long)(int8_t)data[3] * 8;
			long s = (long)SEG_SIZE + d;
			segsize = s < 0 ? 0 : (size_t)s;
		}
	}
	struct fsc_header *hdr = (struct fsc_header *)(void *)seg;
	if ((mode & 0x04) && !late)
		fix_hashes(seg, segsize);
	if ((mode & 0x10) && segsize >= sizeof(*hdr)) {
		hdr->status = FSC_STATUS_SERVING;
		hdr->writer_alive = (uint32_t)syscall(SYS_gettid) &
				    FSC_WRITER_TID_MASK;
	}
	int fd = write_object(names[0], seg, segsize);
	int ufd = -1, tfd = -1;
	if (mode & 0x08)
		ufd = write_object(names[1], template_use,
				   sizeof(template_use));
	if (mode & 0x80)
		tfd = write_object(names[2], tags, sizeof(tags));

	fsc_handle *h = NULL;
	if (fsc_open(&h, inst, FSC_OPEN_NO_REQUESTS) < 0)
		abort(); /* without FSC_OPEN_ATTACHED only setup can fail */
	/* Hits can be checked when the header is the template's. */
	int check = (mode & 3) == 1 && !(mode & 0x20);
	if (late) {
		/* Valid at attach time; now rewritten under the reader. */
		lookups(h, seg, segsize, 1);
		memcpy(seg + at, body, blen);
		if (mode & 0x04)
			fix_hashes(seg, segsize);
		if (pwrite(fd, seg, segsize, 0) != (ssize_t)segsize)
			abort();
		check = (mode & 3) == 1 || at >= FSC_HEADER_SIZE;
	}
	lookups(h, seg, segsize, check);
	fsc_close(h);
	close(fd);
	if (ufd >= 0)
		close(ufd);
	if (tfd >= 0)
		close(tfd);
	cleanup();
	return 0;
}
