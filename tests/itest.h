/*
 * itest.h - the frame an integration test file with one writer per test
 * repeats: the writer W and reader handle H, the suite fixture, P() and
 * PATH() for paths in the writer's temp dir, start() and stop(), and
 * control requests that must succeed (with the caller's file and line in
 * the failure).  Include it once, after harness.h, and name the suite:
 *
 *     TestSuite(NAME, .init = itest_setup, .fini = itest_teardown, ...);
 */
#ifndef FSC_TESTS_ITEST_H
#define FSC_TESTS_ITEST_H

#include <limits.h>
#include <stdio.h>

#include "harness.h"

static struct fsct_writer W;
static fsc_handle *H;

static inline void itest_setup(void)
{
	fsct_fixture_init(&W, &H);
}

static inline void itest_teardown(void)
{
	fsct_fixture_fini(&W, &H);
}

#define P(rel) fsct_path(&W, rel)
/* A path kept in a local buffer (P's buffers rotate). */
#define PATH(var, rel) \
	char var[PATH_MAX]; \
	snprintf(var, sizeof(var), "%s", P(rel))

/* Start the writer with `extra` arguments and open H on it. */
static inline void start(const char *const *extra)
{
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
}

/* Clean shutdown at the end of a test: exit 0, nothing left behind. */
static inline void stop(void)
{
	fsc_close(H);
	H = NULL;
	fsct_writer_stop(&W);
}

#define control(op, p) fsct_control_at(H, (op), (p), __FILE__, __LINE__)
#define watch(p) control(FSC_OP_WATCH, (p))
#define unwatch(p) control(FSC_OP_UNWATCH, (p))
#define invalidate() control(FSC_OP_INVALIDATE, NULL)

#endif /* FSC_TESTS_ITEST_H */
