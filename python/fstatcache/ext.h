/*
 * ext.h - what the files of the C extension `fstatcache._fstatcache`
 * share (the design is on top of _fstatcache.c): _fstatcache.c (the
 * module), convert.c (paths in, errors and results out), handle.c (the
 * Handle type: lifetime and lookups), handle_control.c (control
 * requests, watch requests, entries) and changes.c (the change feed).
 * Every name here is fscpy_.
 */
#ifndef FSCPY_EXT_H
#define FSCPY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstatcache/admin.h>

/* lookup_many() lists at least this long (tens of microseconds) release
 * the GIL while they run, so other threads are not held up meanwhile. */
#define LOOKUP_MANY_NOGIL 256
/* Control requests wait this long for the writer by default, as the tool. */
#define DEFAULT_TIMEOUT_S 30
/* Passes entries() makes while the writer keeps moving entries. */
#define ENTRIES_TRIES 8

/* convert.c ------------------------------------------------------------ */

extern PyTypeObject fscpy_StatResultType, fscpy_EntryType;
extern PyObject *fscpy_str_cache, *fscpy_str_stat, *fscpy_str_ts,
	*fscpy_str_size; /* interned */

struct path_arg {
	const char *s; /* NUL-terminated, no NUL inside */
	Py_ssize_t len;
	PyObject *owned; /* bytes made by PyUnicode_FSConverter, or NULL */
};

void fscpy_path_release(struct path_arg *p);
/* Convert and check one path; 0, or -1 with an exception set. */
int fscpy_path_get(PyObject *arg, struct path_arg *p);
/* Any path os.stat() takes; a relative one joined to the working
 * directory when it has a name (else left relative). */
int fscpy_path_get_relative(PyObject *arg, struct path_arg *p);
/* fscpy_path_get() plus the writer's key rules (canonical, length). */
int fscpy_path_get_key(PyObject *arg, struct path_arg *p);
/* OSError for a negative errno of the API; returns NULL. */
PyObject *fscpy_raise(int err, const char *instance, const char *detail,
		      PyObject *path);
PyObject *fscpy_stat_result(const struct fsc_stat *st);
/* Put the n new references v[] into the struct sequence e (stealing
 * them); e, or NULL (e released) if any of them is NULL. */
PyObject *fscpy_seq_fill(PyObject *e, PyObject *const *v, int n);
PyObject *fscpy_compat_dict(const struct fsc_stat *st);
PyObject *fscpy_entry_new(const char *path, const struct fsc_stat *st,
			  uint32_t slot, uint64_t validated);
/* Interned strings and the StatResult and Entry types; 0 or -1. */
int fscpy_convert_init(void);

/* handle.c ------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	fsc_handle *h;  /* NULL once freed */
	int busy;       /* calls in flight (fscpy_handle_acquire) */
	int closed;     /* close() was called; freed when busy drops to 0 */
	int requests;   /* a miss asks the writer to watch the path */
	PyObject *name; /* str */
} HandleObject;

extern PyTypeObject fscpy_HandleType;
/* The handle for one call, counted busy; NULL with ValueError if closed. */
fsc_handle *fscpy_handle_acquire(HandleObject *self);
/* End the call fscpy_handle_acquire() began; returns ret. */
PyObject *fscpy_handle_release(HandleObject *self, PyObject *ret);

/* handle_control.c ------------------------------------------------------ */

PyObject *fscpy_handle_sync(HandleObject *self, PyObject *args, PyObject *kwds);
PyObject *fscpy_handle_invalidate(HandleObject *self, PyObject *args,
				  PyObject *kwds);
PyObject *fscpy_handle_watch(HandleObject *self, PyObject *args,
			     PyObject *kwds);
PyObject *fscpy_handle_unwatch(HandleObject *self, PyObject *args,
			       PyObject *kwds);
PyObject *fscpy_handle_request_watch(HandleObject *self, PyObject *arg);
PyObject *fscpy_handle_entries(HandleObject *self, PyObject *unused);

/* changes.c -------------------------------------------------------------- */

extern PyTypeObject fscpy_ChangeType;
/* The Change type and the interned kind names; 0 or -1. */
int fscpy_changes_init(void);
PyObject *fscpy_handle_changes(HandleObject *self, PyObject *args,
			       PyObject *kwds);
PyObject *fscpy_handle_wait_changes(HandleObject *self, PyObject *args,
				    PyObject *kwds);

#endif /* FSCPY_EXT_H */
