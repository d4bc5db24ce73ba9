/*
 * fuzz_request.c - libFuzzer target for the control protocol's parser,
 * fw_request_parse() (writer/control.c), the only code that reads a
 * datagram another process sent to the writer.
 *
 * The input is one datagram.  Besides "never crash" (ASan/UBSan watch
 * every byte read), the target checks the parser against an independent
 * statement of protocol.h: a datagram is accepted exactly when its size,
 * magic, version, op, flags, path_len and path bytes are all right, and an
 * accepted request carries the path it declared, NUL-terminated.  A
 * disagreement aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What protocol.h says, written without looking at control.c. */
static int expected(const uint8_t *d, size_t n)
{
	struct fsc_request rq;
	if (n > FSC_REQUEST_MAX)
		return -EMSGSIZE;
	if (n < sizeof(rq))
		return -EBADMSG;
	memcpy(&rq, d, sizeof(rq));
	if (rq.magic != FSC_MSG_MAGIC || rq.version != FSC_PROTO_VERSION)
		return -EPROTO;
	if (rq.op < FSC_OP_MISS || rq.op > FSC_OP_DOORBELL || rq.flags != 0)
		return -EINVAL;
	if ((size_t)rq.path_len != n - sizeof(rq))
		return -EBADMSG;
	if (memchr(d + sizeof(rq), 0, rq.path_len))
		return -EINVAL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The writer receives into a buffer of FSC_REQUEST_MAX + 1 bytes and
	 * learns the real size from MSG_TRUNC: model that for long inputs. */
	static struct fw_ctl_msg m;
	static unsigned char buf[FSC_REQUEST_MAX + 1];
	size_t copy = size < sizeof(buf) ? size : sizeof(buf);
	memcpy(buf, data, copy);
	memset(&m, 0xa5, sizeof(m));
	int r = fw_request_parse(buf, size, &m);
	if (r != expected(data, size))
		abort();
	if (r == 0) {
		if (m.path_len != size - sizeof(struct fsc_request) ||
		    strlen(m.path) != m.path_len ||
		    memcmp(m.path, data + sizeof(struct fsc_request),
			   m.path_len) != 0 ||
		    m.op < FSC_OP_MISS || m.op >= FSC_OP_LIMIT)
			abort();
	} else if (size < sizeof(struct fsc_request) && (m.op || m.cookie)) {
		abort(); /* nothing to echo from a partial header */
	}
	return 0;
}
