/*
 * fstatcache/reader/request.h - asking the writer to watch a path.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 *
 * With a writer of format 1.4 the request goes into the request ring
 * (format.h, "The request ring"): claim a slot by moving `head` with a
 * compare-and-swap, fill it in, publish it with a compare-and-swap of its
 * sequence word.  No system call and no waiting: a full ring drops the
 * request and counts it.  If the writer armed the doorbell (it sleeps),
 * the reader sends one FSC_OP_DOORBELL datagram, without waiting; the
 * writer disarms it once awake, so a run of misses wakes it about once,
 * and for a while after handling requests it looks at the ring by itself
 * (writer/loop.c, the ring's grace): misses then cost no system call.
 * Dekker's pattern keeps a request from sleeping unseen: the reader
 * publishes then (full barrier) loads the doorbell; the writer arms it
 * then (full barrier) looks at the ring before it sleeps.  The same
 * pattern covers a segment replaced meanwhile: after publishing, a reader
 * that finds its segment no longer serving sends the request on the
 * socket too (the writer collects an old ring after retiring it,
 * writer/grow.c).
 *
 * Otherwise (no ring, or the ring is judged as other users' and this
 * reader is the writer's user or root: attach.h) the miss is one
 * FSC_OP_MISS datagram (protocol.h) on the handle's own socket, connected
 * once per writer so the kernel does not resolve the socket's path on
 * every send.  No reply is awaited.  Datagrams on one socket keep their
 * order, so a sync sent after the request covers it.  When the writer's
 * queue is full the send waits (SO_SNDTIMEO) at most FSC_REQUEST_WAIT_MS,
 * then the request is dropped and counted.
 */
#ifndef FSTATCACHE_READER_REQUEST_H
#define FSTATCACHE_READER_REQUEST_H

#ifndef FSTATCACHE_FSTATCACHE_H
#error "include <fstatcache/fstatcache.h> instead"
#endif

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fstatcache/atomics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Slots looked at before a contended ring gives up (then: dropped). */
#define FSC__RING_TRIES 16

/* Send one datagram to m's writer; `wait`: may wait for queue room. */
static inline int fsc__send(fsc_handle *h, struct fsc__map *m, const void *buf,
			    size_t n, int wait)
{
	/* Connected once per writer: the kernel then skips resolving the
	 * socket's path on every send.  Threads racing here connect twice. */
	const struct sockaddr *to = (const struct sockaddr *)&m->dest;
	socklen_t to_len = m->dest_len;
	if (uatomic_read(&h->sock_map) != m &&
	    connect(h->sock, to, to_len) == 0)
		uatomic_set(&h->sock_map, m);
	if (uatomic_read(&h->sock_map) == m) {
		to = NULL;
		to_len = 0;
	}
	ssize_t r = sendto(h->sock, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, to,
			   to_len);
	if (r < 0 && wait &&
	    (errno == EAGAIN || errno == EWOULDBLOCK)) /* SO_SNDTIMEO */
		r = sendto(h->sock, buf, n, MSG_NOSIGNAL, to, to_len);
	if (r >= 0)
		return 0;
	return (errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN : -errno;
}

static inline int fsc__request_socket(fsc_handle *h, struct fsc__map *m,
				      uint16_t op, const char *path, size_t len,
				      int wait)
{
	unsigned char buf[FSC_REQUEST_MAX];
	struct fsc_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.magic = FSC_MSG_MAGIC;
	rq.version = FSC_PROTO_VERSION;
	rq.op = op;
	rq.path_len = (uint32_t)len;
	memcpy(buf, &rq, sizeof(rq));
	if (len)
		memcpy(buf + sizeof(rq), path, len);
	return fsc__send(h, m, buf, sizeof(rq) + len, wait);
}

static inline struct fsc_req_slot *fsc__req_slot(const struct fsc__map *m,
						 uint32_t pos)
{
	return (struct fsc_req_slot *)(void *)((unsigned char *)m->req +
					       FSC_REQ_HEADER_SIZE +
					       (size_t)(pos &
							(m->req_slots - 1)) *
						       m->req_slot_size);
}

/*
 * True when the reader that claimed `pos` should wake the writer although
 * the doorbell is not armed: the ring is half full (by the writer's tail
 * as it last published it) and `pos` is at a quarter mark, so a filling
 * ring wakes a writer that only looks at it now and then (its grace,
 * writer/loop.c) before requests drop, with a few datagrams per lap.
 */
static inline int fsc__ring_filling(const struct fsc__map *m, uint32_t pos)
{
	uint32_t n = m->req_slots;
	uint32_t used = pos - uatomic_read(&m->req->tail);
	return used >= n / 2 && used <= n && (pos & (n / 4 - 1)) == 0;
}

/*
 * Queue `path` in m's ring: 0, or -EAGAIN when the ring is full (or so
 * contended, or the writer gave our slot up as stuck): counted in the
 * ring's `dropped`; the caller counts it in the handle if it gives up.
 * Bounded by FSC__RING_TRIES, whatever the ring holds.  When the segment
 * was replaced meanwhile the request is sent on the socket as well
 * (*sent = 1) and its result returned: its failure may lose the request
 * (the old ring may have been collected for the last time).  `wait`:
 * that send may wait for room (see fsc__request).
 */
static inline int fsc__ring_push(fsc_handle *h, struct fsc__map *m,
				 const char *path, size_t len, int wait,
				 int *sent)
{
	struct fsc_req_header *r = m->req;
	uint32_t pos = uatomic_read(&r->head);
	struct fsc_req_slot *s = NULL;
	for (int i = 0; i < FSC__RING_TRIES && !s; i++) {
		struct fsc_req_slot *c = fsc__req_slot(m, pos);
		int32_t d = (int32_t)(uatomic_read(&c->seq) - pos);
		if (d < 0)
			break; /* the previous lap's request is still there */
		if (d > 0) {   /* taken: look again where head is now */
			pos = uatomic_read(&r->head);
			continue;
		}
		uint32_t was = uatomic_cmpxchg(&r->head, pos, pos + 1);
		if (was == pos)
			s = c;
		else
			pos = was;
	}
	/* Ours between the two compare-and-swaps: plain stores. */
	if (s) {
		unsigned char *area = (unsigned char *)s + FSC_REQ_SLOT_FIXED;
		s->pos = pos;
		s->path_len = (uint32_t)len;
		s->reserved = 0;
		s->hash = XXH3_64bits_withSeed(path, len, m->seed);
		s->reserved2 = 0;
		memcpy(area, path, len);
		area[len] = '\0';
	}
	if (!s || uatomic_cmpxchg(&s->seq, pos, pos + 1) != pos) {
		fsc__add_shared_u64(&r->dropped, 1);
		return -EAGAIN;
	}
	cmm_smp_mb(); /* the publish before the doorbell's load */
	/* Armed: the writer sleeps or is about to.  Every reader that sees
	 * it armed rings, and none disarms it (the writer does, awake): a
	 * reader that died before its datagram, or whose send failed, then
	 * leaves no later request asleep.  Never waits: a full queue holds
	 * datagrams that wake the writer anyway. */
	if (uatomic_read(&r->doorbell) || fsc__ring_filling(m, pos)) {
		fsc__add_shared_u64(&r->rung, 1);
		(void)fsc__request_socket(h, m, FSC_OP_DOORBELL, NULL, 0, 0);
	}
	/* Replaced since we looked: the old ring may be collected already. */
	if (uatomic_read(&fsc__hdr(m)->status) == FSC_STATUS_RETIRED) {
		*sent = 1;
		return fsc__request_socket(h, m, FSC_OP_MISS, path, len, wait);
	}
	return 0;
}

/*
 * `wait`: an explicit fsc_request_watch(), which keeps its contract of
 * waiting (boundedly) rather than dropping: a full ring sends it on the
 * socket.  A miss of fsc_stat() never waits: a full ring drops it.
 */
static inline int fsc__request(fsc_handle *h, const char *path, int wait)
{
	if (!h || !path)
		return -EINVAL;
	size_t len = strlen(path);
	if (!fsc_path_ok(path, len) || len >= FSC_PATH_MAX_MAX)
		return -EINVAL;
	struct fsc__map *m = fsc__current(h);
	if (!m)
		return -ENOTCONN;
	/* Longer than path_max: the socket, where the writer says why.
	 * The writer's user or root leaves a ring the writer judges as
	 * other users' (shared by a reload since it was mapped) to the
	 * socket, which allows it more (attach.h). */
	if (m->req && len < m->path_max &&
	    !(m->req_trusted &&
	      (uatomic_read(&m->req->flags) & FSC_REQ_F_CHECKED))) {
		int sent = 0;
		int err = fsc__ring_push(h, m, path, len, wait, &sent);
		if (!err)
			return 0;
		if (sent || !wait) { /* dropped, or its fallback failed */
			uatomic_inc(&h->requests_dropped);
			return err;
		}
	}
	int err = fsc__request_socket(h, m, FSC_OP_MISS, path, len, wait);
	if (err)
		uatomic_inc(&h->requests_dropped);
	return err;
}

static inline int fsc_request_watch(fsc_handle *h, const char *path)
{
	return fsc__request(h, path, 1);
}

static inline uint64_t fsc_requests_dropped(fsc_handle *h)
{
	return h ? (uint64_t)uatomic_read(&h->requests_dropped) : 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_REQUEST_H */
