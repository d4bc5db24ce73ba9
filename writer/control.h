/*
 * control.h - the writer's control socket (wire format: protocol.h).
 *
 * One non-blocking Unix datagram socket, owner-only by default.  Each
 * datagram is checked in full (size, magic, version, op, path length,
 * path bytes) before anything acts on it; the sender's uid comes from
 * SCM_CREDENTIALS, never from the message.
 */
#ifndef FW_CONTROL_H
#define FW_CONTROL_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "fstatcache/protocol.h"

struct fw_control;

struct fw_ctl_msg {
	uint16_t op;
	uint64_t cookie;
	uid_t uid;
	pid_t pid;
	uint32_t path_len;
	char path[FSC_PATH_MAX_MAX + 1]; /* NUL-terminated */
	struct sockaddr_un from;         /* reply address (may be unbound) */
	socklen_t from_len;
};

/*
 * Parse one datagram of `n` bytes (the size recvmsg reported, which may
 * exceed what `buf` holds only when it is over FSC_REQUEST_MAX) into op,
 * cookie, path_len and path of *m; uid, pid and from are left alone.  A
 * pure function, the control protocol's only parser (fuzzed: fuzz/).
 * 0, or: -EMSGSIZE (n > FSC_REQUEST_MAX), -EBADMSG (shorter than the
 * header, or path_len over FSC_PATH_MAX_MAX or not the bytes that follow),
 * -EPROTO (magic or version), -EINVAL (unknown op, flags != 0, a NUL in
 * the path).  On error m->op and m->cookie hold the header's values when
 * the header was complete (so an error reply can be addressed), else 0.
 */
int fw_request_parse(const unsigned char *buf, size_t n, struct fw_ctl_msg *m);

/*
 * Bind `path` (replacing a stale socket) with `mode`: 0600, or 0660 when
 * `mode` lets the group read the segment; group `gid` unless (gid_t)-1.
 * 0 or -errno.
 */
int fw_control_open(struct fw_control **out, const char *path, mode_t mode,
		    gid_t gid);

/* Change the socket's mode and group as fw_control_open() sets them. */
int fw_control_set_access(struct fw_control *c, mode_t mode, gid_t gid);

int fw_control_fd(const struct fw_control *c);

/*
 * Receive one request: 1 with *m filled, 0 when the queue is empty,
 * -EBADMSG for a malformed datagram (already answered if it could be),
 * or another -errno.
 */
int fw_control_recv(struct fw_control *c, struct fw_ctl_msg *m);

/* Answer a request (no-op for unbound senders and FSC_OP_MISS). */
__attribute__((format(printf, 4, 5))) void
fw_control_reply(struct fw_control *c, const struct fw_ctl_msg *m, int status,
		 const char *fmt, ...);

/* Close and unlink the socket. */
void fw_control_close(struct fw_control *c);

#endif /* FW_CONTROL_H */
