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
/* The change feed's ring: about 6,000 records of 150-byte paths (the
 * meson option small: 64 KiB). */
/* The most shared memory a table grows to when no --capacity fixes its
 * size: 128 MiB holds about 250,000 entries of 255-byte paths (the meson
 * option small: 8 MiB). */
#ifndef FW_DEFAULT_MEMORY_LIMIT
#define FW_DEFAULT_MEMORY_LIMIT (UINT64_C(128) << 20)
#endif
#ifndef FW_DEFAULT_FEED_SIZE
#define FW_DEFAULT_FEED_SIZE 1048576u
#endif
/* A changed file is re-stat'ed after this long without news of it (its
 * readers stat() it meanwhile); busy drains are this far apart. */
#define FW_DEFAULT_SETTLE_MS 20u
#define FW_DEFAULT_BATCH_US 1000u
/* --cpu-budget: a percentage of one core, as text and in millionths. */
#define FW_DEFAULT_CPU_BUDGET "1"
#define FW_DEFAULT_CPU_BUDGET_PPM 10000u
#define FW_SETTLE_MS_MAX 3600000u
#define FW_BATCH_US_MAX 1000000u

#endif /* FW_DEFAULTS_H */
