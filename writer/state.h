/*
 * state.h - the watch list kept across clean restarts (state.c).
 */
#ifndef FW_STATE_H
#define FW_STATE_H

#include "table.h"

/* Write every path of `t` to `file` (atomically: FILE.tmp, then rename).
 * The number of paths, or -errno. */
int fw_state_save(const char *file, const struct fw_table *t);

/* Call `add` for every path in `file`; the number added, 0 when there is
 * no file, or -errno (-EPERM: another user's or writable by others,
 * -EPROTO: not a state file). */
int fw_state_load(const char *file, int (*add)(void *ctx, const char *path),
		  void *ctx);

#endif /* FW_STATE_H */
