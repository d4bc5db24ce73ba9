/*
 * defaults.h - the writer's built-in defaults for the segment it creates.
 *
 * Readers take every value from the segment header, never from here.  The
 * build may set FW_DEFAULT_ENTRIES (--capacity) and FW_DEFAULT_PATH_MAX
 * (the path area, a multiple of 8): meson options small,
 * default_capacity and default_path_max.
 */
#ifndef FW_DEFAULTS_H
#define FW_DEFAULTS_H

#ifndef FW_DEFAULT_ENTRIES
#define FW_DEFAULT_ENTRIES 8192u
#endif
#ifndef FW_DEFAULT_PATH_MAX
#define FW_DEFAULT_PATH_MAX 256u
#endif
#define FW_DEFAULT_PROBE_LIMIT 64u

#endif /* FW_DEFAULTS_H */
