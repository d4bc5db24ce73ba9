/*
 * reach.h - could another user stat this path?  The rule the writer
 * applies to paths only other users asked for (docs/SERVICE.md,
 * "Other users' paths").
 */
#ifndef FW_REACH_H
#define FW_REACH_H

#include <stddef.h>
#include <sys/stat.h>

#include "config.h"

/*
 * Walk `path` as the kernel's lookup does (symlinks followed, at most 40),
 * one directory descriptor at a time (openat with O_NOFOLLOW, so what is
 * checked is what is searched, whatever is renamed meanwhile), checking
 * that every directory the walk searches may be searched by others (its
 * mode has S_IXOTH) and that where it ends (the canonical path reached)
 * lies under one of `prefixes` (whole components).  Returns
 *   0  allowed, and *st is the answer stat(path) gives (the walk's own
 *      fstatat of the final name, no symlink left: the answer published,
 *      so no symlink re-pointed between a check and a stat can slip a
 *      private file's metadata in);
 *   1  allowed, and the path does not exist (stat: ENOENT or ENOTDIR);
 *  <0  refused: -EACCES (a directory others may not search, or the end
 *      outside every prefix), or the walk's own error (-ELOOP,
 *      -ENAMETOOLONG, -EIO...); `why` says which, for the log and the
 *      requester's reply.
 */
int fw_reach_others(const char *path, const struct fw_strv *prefixes,
		    struct stat *st, char *why, size_t why_size);

#endif /* FW_REACH_H */
