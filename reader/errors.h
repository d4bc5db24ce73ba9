/*
 * fstatcache/reader/errors.h - a message for every return value.
 *
 * Inline implementation of fstatcache.h; include that, not this.
 */
#ifndef FSTATCACHE_READER_ERRORS_H
#define FSTATCACHE_READER_ERRORS_H

#ifndef FSTATCACHE_FSTATCACHE_H
#error "include <fstatcache/fstatcache.h> instead"
#endif

#include <errno.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline const char *fsc_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case FSC_MISS:
		return "not in the cache";
	case FSC_UNCACHED:
		return "the cache cannot answer this path now";
	case FSC_RESYNC:
		return "changes cannot be listed from this cursor: look at "
		       "every path once";
	case -EOPNOTSUPP:
		return "the writer keeps no change feed (an older writer)";
	case -EPROTO:
		return "shared-memory segment failed validation";
	case -EPROTONOSUPPORT:
		return "segment format not supported by this reader";
	case -EPERM:
		return "segment owned by another user or writable by others";
	case -EXDEV:
		return "the writer runs in another mount namespace, where paths "
		       "may name other files (FSC_OPEN_ANY_MOUNT_NS or "
		       "FSTATCACHE_ANY_MOUNT_NS=1 to be served anyway)";
	case -ENOTCONN:
		return "no live fstatcached writer for this name";
	case -ECONNRESET:
		return "the writer died before answering";
	case -ETIMEDOUT:
		return "the writer did not answer in time";
	default:
		return err < 0 ? strerror(-err) : "unknown status";
	}
}

#ifdef __cplusplus
}
#endif

#endif /* FSTATCACHE_READER_ERRORS_H */
