/*
 * fstatcache/protocol.h - the control socket's wire format.
 *
 * The writer serves one Unix SOCK_DGRAM socket (its path is in the segment
 * header, socket_path).  Every datagram is one request: a fixed header then
 * `path_len` bytes of path (no NUL).  Datagrams keep message boundaries and
 * arrive in the order they were queued, which is what the sync barrier
 * relies on: a miss request whose send returned before a sync request was
 * sent is already queued ahead of that sync.
 *
 * Requests that expect an answer are sent from a bound (autobind) socket;
 * the writer replies to the sender's address with a struct fsc_reply and
 * an optional human-readable message.  FSC_OP_MISS is fire-and-forget.
 * The writer learns the sender's uid through SCM_CREDENTIALS.
 *
 * Needs: <stdint.h>; C11 or C++11.
 */
#ifndef FSTATCACHE_PROTOCOL_H
#define FSTATCACHE_PROTOCOL_H

#include "format.h"

#define FSC_MSG_MAGIC 0x46534d31u /* "1MSF" */
#define FSC_PROTO_VERSION 1u

enum fsc_op {
	FSC_OP_MISS = 1,       /* a reader missed: watch this path; no reply */
	FSC_OP_WATCH = 2,      /* watch this path; reply once it is cached */
	FSC_OP_UNWATCH = 3,    /* stop watching this path; drop its entry */
	FSC_OP_INVALIDATE = 4, /* unwatch everything and clear the table */
	FSC_OP_SYNC = 5,       /* the barrier: reply once it holds */
	FSC_OP_DOORBELL = 6,   /* requests wait in the ring (1.4); no path,
				* no reply */
	FSC_OP_LIMIT           /* one past the last op this version knows */
};

struct fsc_request {
	uint32_t magic;    /*  0 FSC_MSG_MAGIC */
	uint16_t version;  /*  4 FSC_PROTO_VERSION */
	uint16_t op;       /*  6 enum fsc_op */
	uint64_t cookie;   /*  8 echoed in the reply */
	uint32_t path_len; /* 16 bytes of path following the header */
	uint32_t flags;    /* 20 0 */
			   /* 24: path bytes */
};

struct fsc_reply {
	uint32_t magic;   /*  0 FSC_MSG_MAGIC */
	uint16_t version; /*  4 FSC_PROTO_VERSION */
	uint16_t op;      /*  6 the request's op */
	uint64_t cookie;  /*  8 the request's cookie */
	int32_t status;   /* 16 0 or a negative errno */
	uint32_t msg_len; /* 20 bytes of message following the header */
			  /* 24: message bytes (no NUL) */
};

#define FSC_REQUEST_MAX (sizeof(struct fsc_request) + FSC_PATH_MAX_MAX)
#define FSC_REPLY_MSG_MAX 1024u
#define FSC_REPLY_MAX (sizeof(struct fsc_reply) + FSC_REPLY_MSG_MAX)

FSC__FIELD(fsc_request, magic, 0, 4);
FSC__FIELD(fsc_request, version, 4, 2);
FSC__FIELD(fsc_request, op, 6, 2);
FSC__FIELD(fsc_request, cookie, 8, 8);
FSC__FIELD(fsc_request, path_len, 16, 4);
FSC__FIELD(fsc_request, flags, 20, 4);
FSC__STATIC_ASSERT(sizeof(struct fsc_request) == 24, "request size drifted");
FSC__FIELD(fsc_reply, magic, 0, 4);
FSC__FIELD(fsc_reply, version, 4, 2);
FSC__FIELD(fsc_reply, op, 6, 2);
FSC__FIELD(fsc_reply, cookie, 8, 8);
FSC__FIELD(fsc_reply, status, 16, 4);
FSC__FIELD(fsc_reply, msg_len, 20, 4);
FSC__STATIC_ASSERT(sizeof(struct fsc_reply) == 24, "reply size drifted");

#endif /* FSTATCACHE_PROTOCOL_H */
