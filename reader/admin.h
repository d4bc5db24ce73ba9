/*
 * fstatcache/reader/admin.h - the operator calls of admin.h.
 *
 * Inline implementation of admin.h; include that, not this.
 *
 * Control requests go on a socket of their own per call, bound to an
 * abstract autobind address so the writer can reply; the reply is matched
 * by op and a random cookie, and the wait wakes every 100 ms to notice a
 * writer that died.  Slots are read under their sequence count like a
 * lookup, but whole (the full path area), and validated the same way.
 */
#ifndef FSTATCACHE_READER_ADMIN_H
#define FSTATCACHE_READER_ADMIN_H

#ifndef FSTATCACHE_ADMIN_H
#error "include <fstatcache/admin.h> instead"
#endif

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fstatcache/atomics.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline int fsc__control_wait(fsc_handle *h, int fd, int op,
				    uint64_t cookie, int timeout_ms, char *msg,
				    size_t msg_size)
{
	unsigned char buf[FSC_REPLY_MAX];
	uint64_t deadline = fsc__now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		uint64_t now = fsc__now_ns();
		if (timeout_ms >= 0 && now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, 100); /* wake to notice a dead writer */
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0) {
			struct fsc__map *m = uatomic_read(&h->map);
			if (!m || !fsc__serving(m))
				return -ECONNRESET;
			continue;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct fsc_reply rp;
		if (n < (ssize_t)sizeof(rp))
			continue;
		memcpy(&rp, buf, sizeof(rp));
		if (rp.magic != FSC_MSG_MAGIC ||
		    rp.version != FSC_PROTO_VERSION || rp.op != op ||
		    rp.cookie != cookie || rp.msg_len > (size_t)n - sizeof(rp))
			continue;
		if (msg && msg_size) {
			size_t k = rp.msg_len < msg_size - 1 ? rp.msg_len
							     : msg_size - 1;
			memcpy(msg, buf + sizeof(rp), k);
			msg[k] = '\0';
		}
		return rp.status > 0 ? -EPROTO : rp.status;
	}
}

/*
 * The mapping for an administrative call: unlike a lookup, it does not
 * settle for the rate limit or for another thread's attach in progress,
 * but waits (2 ms steps, until the deadline) while a writer is starting
 * or another thread attaches.  NULL when no writer serves the name.
 */
static inline struct fsc__map *fsc__current_wait(fsc_handle *h, int timeout_ms)
{
	uint64_t deadline =
		fsc__now_ns() +
		(uint64_t)(timeout_ms < 0 ? 60000 : timeout_ms) * 1000000u;
	for (;;) {
		struct fsc__map *m = fsc__current(h);
		if (m)
			return m;
		struct fsc__map *seen = uatomic_read(&h->map);
		int r = fsc__reattach(h, seen, 1);
		m = uatomic_read(&h->map);
		cmm_smp_read_barrier_depends();
		if (m && fsc__serving(m))
			return m;
		if (r != -EAGAIN || fsc__now_ns() >= deadline)
			return NULL;
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

static inline int fsc_control(fsc_handle *h, int op, const char *path,
			      int timeout_ms, char *msg, size_t msg_size)
{
	if (msg && msg_size)
		msg[0] = '\0';
	size_t len = path ? strlen(path) : 0;
	if (!h || op <= FSC_OP_MISS || op >= FSC_OP_LIMIT ||
	    len >= FSC_PATH_MAX_MAX)
		return -EINVAL;
	struct fsc__map *m = fsc__current_wait(h, timeout_ms);
	if (!m)
		return -ENOTCONN;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sa_family_t fam = AF_UNIX; /* autobind: the writer replies to us */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct fsc_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.magic = FSC_MSG_MAGIC;
	rq.version = FSC_PROTO_VERSION;
	rq.op = (uint16_t)op;
	rq.cookie = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)(uintptr_t)&rq;
	rq.path_len = (uint32_t)len;
	unsigned char buf[FSC_REQUEST_MAX];
	memcpy(buf, &rq, sizeof(rq));
	if (len)
		memcpy(buf + sizeof(rq), path, len);
	int err = 0;
	if (bind(fd, (const struct sockaddr *)&fam, sizeof(fam)) < 0 ||
	    sendto(fd, buf, sizeof(rq) + len, MSG_NOSIGNAL,
		   (const struct sockaddr *)&m->dest, m->dest_len) < 0)
		err = -errno;
	if (!err)
		err = fsc__control_wait(h, fd, op, rq.cookie, timeout_ms, msg,
					msg_size);
	close(fd);
	return err;
}

/*
 * One slot of mapping m, whole, under its sequence count: 0, FSC_MISS
 * (empty), FSC_UNCACHED (stayed busy), -EPROTO (fails validation).
 * `copy` holds the path area (path_max bytes).
 */
static inline int fsc__slot_read_map(const struct fsc__map *m, uint32_t slot,
				     char *copy, struct fsc_stat *out,
				     uint64_t *validated_ns)
{
	const struct fsc_entry *e = fsc__slot(m, slot);
	for (int attempt = 0; attempt < FSC_RETRY_MAX; attempt++) {
		uint32_t s = fsc_seq_read_begin(&e->seq);
		if (s & 1) {
			caa_cpu_relax();
			continue;
		}
		uint32_t flags = uatomic_read(&e->flags);
		if (!(flags & FSC_ENT_USED)) { /* empty: nothing to copy */
			if (fsc_seq_read_retry(&e->seq, s))
				continue;
			return FSC_MISS;
		}
		uint32_t len = uatomic_read(&e->path_len);
		uint64_t vns =
			uatomic_read(&fsc__slot_cold(m, e)->validated_ns);
		const uint64_t *w = fsc__slot_path(e);
		for (uint32_t i = 0; i < m->path_max / 8; i++) {
			uint64_t v = uatomic_read(&w[i]);
			memcpy(copy + 8 * i, &v, 8);
		}
		fsc__copy_entry(e, out);
		if (fsc_seq_read_retry(&e->seq, s)) {
			caa_cpu_relax();
			continue;
		}
		if (len == 0 || len >= m->path_max || copy[len] != '\0' ||
		    memchr(copy, 0, len) || !fsc__copy_ok(flags, out))
			return -EPROTO;
		fsc__set_exists(out, flags);
		out->source = (flags & FSC_ENT_NOCACHE) ? FSC_SOURCE_STAT
							: FSC_SOURCE_CACHE;
		if (validated_ns)
			*validated_ns = vns;
		return 0;
	}
	return FSC_UNCACHED;
}

static inline int fsc_slot_read(fsc_handle *h, uint32_t slot, char *path,
				size_t path_size, struct fsc_stat *out,
				uint64_t *validated_ns)
{
	struct fsc__map *m = h ? fsc__current(h) : NULL;
	if (!m)
		return FSC_UNCACHED;
	if (slot >= m->slot_count || !path || !path_size || !out)
		return -EINVAL;
	char copy[FSC_PATH_MAX_MAX];
	int r = fsc__slot_read_map(m, slot, copy, out, validated_ns);
	if (r == 0) {
		size_t len = strlen(copy);
		size_t k = len < path_size - 1 ? len : path_size - 1;
		memcpy(path, copy, k);
		path[k] = '\0';
	}
	return r;
}

static inline uint32_t fsc_slot_count(fsc_handle *h)
{
	struct fsc__map *m = h ? fsc__current(h) : NULL;
	return m ? m->slot_count : 0;
}

static inline void fsc_listing_free(struct fsc_listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->count; i++)
		free(l->entries[i].path);
	free(l->entries);
	memset(l, 0, sizeof(*l));
}

#define FSC__SLOT_TRIES 4 /* slot reads before a busy slot is skipped */

/* Append one listed slot; -ENOMEM. */
static inline int fsc__listing_add(struct fsc_listing *l, size_t *room,
				   const struct fsc_listed *e, const char *path)
{
	if (l->count == *room) {
		size_t n = *room ? 2 * *room : 256;
		struct fsc_listed *v = (struct fsc_listed *)realloc(
			l->entries, n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->entries = v;
		*room = n;
	}
	struct fsc_listed *d = &l->entries[l->count];
	*d = *e;
	d->path = NULL;
	if (path && !(d->path = strdup(path)))
		return -ENOMEM;
	l->count++;
	return 0;
}

/* One pass over every slot of m: 0, -ECONNRESET or -ENOMEM. */
static inline int fsc__scan_pass(struct fsc__map *m, struct fsc_listing *l)
{
	char copy[FSC_PATH_MAX_MAX];
	size_t room = 0;
	for (uint32_t slot = 0; slot < m->slot_count; slot++) {
		struct fsc_listed e;
		memset(&e, 0, sizeof(e));
		e.slot = slot;
		int r = FSC_UNCACHED;
		for (int i = 0; i < FSC__SLOT_TRIES && r == FSC_UNCACHED; i++)
			r = fsc__slot_read_map(m, slot, copy, &e.st,
					       &e.validated_ns);
		if (r == FSC_MISS)
			continue;
		if (r == FSC_UNCACHED) {
			if (!fsc__serving(m))
				return -ECONNRESET;
			l->busy++;
			continue;
		}
		if (r < 0) {
			memset(&e.st, 0, sizeof(e.st));
			e.validated_ns = 0;
			e.status = r;
		}
		if (fsc__listing_add(l, &room, &e, r == 0 ? copy : NULL) < 0)
			return -ENOMEM;
	}
	return fsc__serving(m) ? 0 : -ECONNRESET;
}

static inline int fsc_entries_scan(fsc_handle *h, unsigned passes,
				   struct fsc_listing *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!h)
		return -EINVAL;
	for (unsigned pass = 0; pass < (passes ? passes : 1); pass++) {
		fsc_listing_free(out);
		struct fsc__map *m = fsc__current(h);
		if (!m)
			return pass ? -ECONNRESET : -ENOTCONN;
		const uint32_t *gen = &fsc__hdr(m)->table_gen;
		uint32_t g = fsc_seq_read_begin(gen);
		int err = fsc__scan_pass(m, out);
		if (err)
			return err;
		out->stable = !fsc_seq_read_retry(gen, g) &&
			      uatomic_read(&h->map) == m;
		if (out->stable)
			break;
	}
	return 0;
}

/*
 * A 64-bit word the writer may be storing while we read it, outside any
 * seqlock.  On 32-bit targets the load is two and may tear; the writer's
 * counters only grow (the gauges stay below 2^32), so two equal reads in a
 * row are a value it stored.  Bounded: the last read otherwise.
 */
static inline uint64_t fsc__read_u64(const uint64_t *p)
{
	uint64_t v = uatomic_read(p);
#if CAA_BITS_PER_LONG != 64
	for (int i = 0; i < FSC_RETRY_MAX; i++) {
		cmm_smp_rmb(); /* the second read is a later one */
		uint64_t again = uatomic_read(p);
		if (again == v)
			break;
		v = again;
	}
#endif
	return v;
}

static inline void fsc_header_copy(const struct fsc_header *hdr,
				   struct fsc_header *out)
{
	memcpy(out, hdr, offsetof(struct fsc_header, status));
	out->status = uatomic_read(&hdr->status);
	out->writer_alive = uatomic_read(&hdr->writer_alive);
	out->writer_pid = uatomic_read(&hdr->writer_pid);
	out->table_gen = uatomic_read(&hdr->table_gen);
	out->writer_started_ns = uatomic_read(&hdr->writer_started_ns);
	out->owner_uid = uatomic_read(&hdr->owner_uid);
	out->entry_count = uatomic_read(&hdr->entry_count);
	out->max_entries = uatomic_read(&hdr->max_entries);
	out->reserved0 = uatomic_read(&hdr->reserved0);
	out->mnt_ns = uatomic_read(&hdr->mnt_ns);
	memcpy(out->socket_path, hdr->socket_path, sizeof(out->socket_path));
	for (unsigned i = 0; i < FSC_NCOUNTERS; i++)
		out->counters[i] = fsc__read_u64(&hdr->counters[i]);
}

static inline int fsc_header_read(fsc_handle *h, struct fsc_header *out)
{
	struct fsc__map *m = h ? fsc__current(h) : NULL;
	if (!m || !out)
		return FSC_UNCACHED;
	fsc_header_copy(fsc__hdr(m), out);
	out->reserved0 = 0; /* readers of this API never see reserved bits */
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_ADMIN_H */
