/*
 * fstatcache/reader/request.h - asking the writer to watch a path.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 *
 * A miss is answered by the caller's own stat(); the writer learns of it
 * from one FSC_OP_MISS datagram (protocol.h) on the handle's own socket,
 * connected once per writer so the kernel does not resolve the socket's
 * path on every send.  No reply is awaited.  Datagrams on one socket keep
 * their order, so a sync sent after the request covers it.  When the
 * writer's queue is full the send waits (SO_SNDTIMEO) at most
 * FSC_REQUEST_WAIT_MS, then the request is dropped and counted.
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

static inline int fsc_request_watch(fsc_handle *h, const char *path)
{
	if (!h || !path)
		return -EINVAL;
	size_t len = strlen(path);
	if (!fsc_path_ok(path, len) || len >= FSC_PATH_MAX_MAX)
		return -EINVAL;
	struct fsc__map *m = fsc__current(h);
	if (!m)
		return -ENOTCONN;
	unsigned char buf[FSC_REQUEST_MAX];
	struct fsc_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.magic = FSC_MSG_MAGIC;
	rq.version = FSC_PROTO_VERSION;
	rq.op = FSC_OP_MISS;
	rq.path_len = (uint32_t)len;
	memcpy(buf, &rq, sizeof(rq));
	memcpy(buf + sizeof(rq), path, len);
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
	ssize_t n = sendto(h->sock, buf, sizeof(rq) + len,
			   MSG_DONTWAIT | MSG_NOSIGNAL, to, to_len);
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK)) /* SO_SNDTIMEO */
		n = sendto(h->sock, buf, sizeof(rq) + len, MSG_NOSIGNAL, to,
			   to_len);
	if (n >= 0)
		return 0;
	int err = (errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN : -errno;
	uatomic_inc(&h->requests_dropped);
	return err;
}

static inline uint64_t fsc_requests_dropped(fsc_handle *h)
{
	return h ? (uint64_t)uatomic_read(&h->requests_dropped) : 0;
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_REQUEST_H */
