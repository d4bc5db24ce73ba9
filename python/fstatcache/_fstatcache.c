/*
 * _fstatcache.c - the C extension behind the Python package `fstatcache`:
 * a Handle type over the header-only reader API (fstatcache.h), and the
 * StatResult and Entry types it answers with.
 *
 * The hit path is the point of the package, so a lookup runs with the GIL
 * held: a hit is about a hundred nanoseconds of memory loads that never
 * block, and releasing and re-taking the GIL would add a good part of that
 * again (bench/python_bench.py measures the whole call).  What can block
 * runs without the GIL: the stat(2) fallback and the watch request of a
 * miss (a full writer queue makes a request wait, at most
 * FSC_REQUEST_WAIT_MS), control requests (they wait for the writer's
 * reply) and long lookup_many() lists.
 *
 * fsc_close() must not run concurrently with any other call on its handle,
 * and close() can come while a call is in flight: from another thread
 * while the call runs without the GIL, or from Python code the call itself
 * runs (a path's __fspath__, a timeout's __float__, a finalizer run by the
 * garbage collector while it allocates).  So every call that uses the
 * handle counts itself in `busy` from before it converts its arguments to
 * its return (handle_acquire/handle_release, with the GIL held); close()
 * while any is in flight marks the handle closed at once and the last
 * call to come back frees it.
 *
 * Paths are str (encoded as os.fsencode() does: UTF-8, surrogateescape),
 * bytes or os.PathLike, and must be absolute and free of NUL bytes: the
 * cache's keys are absolute, and a relative path would silently depend on
 * the working directory.  An ASCII str, the common case, is used in place
 * (CPython keeps it NUL-terminated) without a copy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <fstatcache/admin.h>

/* lookup_many() lists at least this long (tens of microseconds) release
 * the GIL while they run, so other threads are not held up meanwhile. */
#define LOOKUP_MANY_NOGIL 256
/* Control requests wait this long for the writer by default, as the tool. */
#define DEFAULT_TIMEOUT_S 30
/* Passes entries() makes while the writer keeps moving entries. */
#define ENTRIES_TRIES 8

static PyTypeObject StatResultType;
static PyTypeObject EntryType;
static PyObject *str_cache, *str_stat, *str_ts, *str_size; /* interned */

/* ---- paths ----------------------------------------------------------- */

struct path_arg {
	const char *s; /* NUL-terminated, no NUL inside */
	Py_ssize_t len;
	PyObject *owned; /* bytes made by PyUnicode_FSConverter, or NULL */
};

static void path_release(struct path_arg *p)
{
	Py_CLEAR(p->owned);
}

/* Convert and check one path; 0, or -1 with an exception set. */
static int path_get(PyObject *arg, struct path_arg *p)
{
	p->owned = NULL;
	if (PyUnicode_Check(arg)) {
#if PY_VERSION_HEX < 0x030C0000
		if (PyUnicode_READY(arg) < 0)
			return -1;
#endif
		if (PyUnicode_IS_ASCII(arg)) {
			p->s = (const char *)PyUnicode_DATA(arg);
			p->len = PyUnicode_GET_LENGTH(arg);
			goto check;
		}
	} else if (PyBytes_Check(arg)) {
		p->s = PyBytes_AS_STRING(arg);
		p->len = PyBytes_GET_SIZE(arg);
		goto check;
	}
	/* Other str, os.PathLike; the TypeError for anything else. */
	if (!PyUnicode_FSConverter(arg, &p->owned))
		return -1;
	p->s = PyBytes_AS_STRING(p->owned);
	p->len = PyBytes_GET_SIZE(p->owned);
check:
	if (memchr(p->s, '\0', (size_t)p->len)) {
		PyErr_Format(PyExc_ValueError, "embedded null byte in path %R",
			     arg);
		goto fail;
	}
	if (p->len == 0 || p->s[0] != '/') {
		PyErr_Format(PyExc_ValueError,
			     "path must be absolute (the cache keys are "
			     "absolute paths): %R",
			     arg);
		goto fail;
	}
	return 0;
fail:
	path_release(p);
	return -1;
}

/* A path the writer can be asked to watch: canonical and short enough. */
static int path_get_key(PyObject *arg, struct path_arg *p)
{
	if (path_get(arg, p) < 0)
		return -1;
	if (!fsc_path_ok(p->s, (size_t)p->len)) {
		PyErr_Format(
			PyExc_ValueError,
			"not a canonical absolute path (the cache takes no "
			"'.', '..', '//' or trailing '/'): %R",
			arg);
		path_release(p);
		return -1;
	}
	if (p->len >= FSC_PATH_MAX_MAX) {
		errno = ENAMETOOLONG;
		PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
		path_release(p);
		return -1;
	}
	return 0;
}

/* ---- errors ---------------------------------------------------------- */

/*
 * OSError(errno, text[, filename]) for a negative errno of the API; OSError
 * picks the subclass (FileNotFoundError, TimeoutError, ...).  `detail` is
 * the writer's own message when it gave one.
 */
static PyObject *raise_fsc(int err, const char *instance, const char *detail,
			   PyObject *path)
{
	const char *why = detail && *detail ? detail : fsc_strerror(err);
	PyObject *text =
		instance ? PyUnicode_FromFormat("%s (fstatcache instance '%s')",
						why, instance)
			 : PyUnicode_FromString(why);
	if (!text)
		return NULL;
	PyObject *args = path ? Py_BuildValue("(iOO)", -err, text, path)
			      : Py_BuildValue("(iO)", -err, text);
	Py_DECREF(text);
	if (args) {
		PyErr_SetObject(PyExc_OSError, args);
		Py_DECREF(args);
	}
	return NULL;
}

/* ---- results --------------------------------------------------------- */

static PyStructSequence_Field stat_fields[] = {
	{ "exists", "False when the file does not exist (ENOENT or ENOTDIR); "
		    "every number is then 0" },
	{ "source", "'cache' (answered from shared memory) or 'stat' "
		    "(answered by stat(2))" },
	{ "dev", "device (st_dev)" },
	{ "ino", "inode number (st_ino)" },
	{ "mode", "type and permissions (st_mode)" },
	{ "nlink", "number of hard links (st_nlink)" },
	{ "uid", "owner (st_uid)" },
	{ "gid", "group (st_gid)" },
	{ "size", "size in bytes (st_size)" },
	{ "blocks", "512-byte blocks allocated (st_blocks)" },
	{ "mtime_ns", "modification time in integer nanoseconds "
		      "(st_mtime_ns)" },
	{ "ctime_ns", "status change time in integer nanoseconds "
		      "(st_ctime_ns)" },
	/* Attributes only, as os.stat_result's float times are. */
	{ "rdev", "device of a device node (st_rdev)" },
	{ "err", "errno of the failed stat() when exists is False, else 0 "
		 "(the cache keeps no errno: it reads ENOENT)" },
	{ "mtime", "modification time in seconds, a float like "
		   "os.stat_result.st_mtime" },
	{ "ctime", "status change time in seconds, a float like "
		   "os.stat_result.st_ctime" },
	{ NULL, NULL }
};

static PyStructSequence_Desc stat_desc = {
	"fstatcache.StatResult",
	"stat(2) answer of fstatcache: the keys of `fstatcache stat --json` as "
	"a tuple, plus the attributes rdev, err, mtime and ctime.",
	stat_fields,
	12,
};

static PyStructSequence_Field entry_fields[] = {
	{ "path", "the cached path" },
	{ "stat", "its answer (StatResult; source 'stat' for a watched path "
		  "the cache cannot serve)" },
	{ "slot", "its slot in the table" },
	{ "validated_ns", "CLOCK_REALTIME nanoseconds of the writer's last "
			  "stat() of it" },
	{ NULL, NULL }
};

static PyStructSequence_Desc entry_desc = {
	"fstatcache.Entry",
	"One entry of the cache's table (Handle.entries()).",
	entry_fields,
	4,
};

/* sec * 10**9 + nsec as a Python int, exact for every time_t. */
static PyObject *time_ns(int64_t sec, uint32_t nsec)
{
	const int64_t lim = INT64_MAX / 1000000000 - 1;
	if (sec > -lim && sec < lim)
		return PyLong_FromLongLong(sec * 1000000000 + (int64_t)nsec);
	PyObject *s = PyLong_FromLongLong(sec), *g = NULL, *p = NULL, *r = NULL;
	PyObject *n = PyLong_FromUnsignedLong(nsec);
	if (s && n && (g = PyLong_FromLong(1000000000)) &&
	    (p = PyNumber_Multiply(s, g)))
		r = PyNumber_Add(p, n);
	Py_XDECREF(s);
	Py_XDECREF(n);
	Py_XDECREF(g);
	Py_XDECREF(p);
	return r;
}

/* Seconds as a float, computed as os.stat() computes st_mtime. */
static double time_float(int64_t sec, uint32_t nsec)
{
	return (double)sec + (double)nsec * 1e-9;
}

static PyObject *stat_result(const struct fsc_stat *st)
{
	PyObject *r = PyStructSequence_New(&StatResultType);
	if (!r)
		return NULL;
	PyObject *source = st->source == FSC_SOURCE_CACHE ? str_cache
							  : str_stat;
	Py_INCREF(source);
	PyObject *v[16] = {
		PyBool_FromLong(st->exists),
		source,
		PyLong_FromUnsignedLongLong(st->dev),
		PyLong_FromUnsignedLongLong(st->ino),
		PyLong_FromUnsignedLong(st->mode),
		PyLong_FromUnsignedLongLong(st->nlink),
		PyLong_FromUnsignedLong(st->uid),
		PyLong_FromUnsignedLong(st->gid),
		PyLong_FromLongLong(st->size),
		PyLong_FromLongLong(st->blocks),
		time_ns(st->mtime_sec, st->mtime_nsec),
		time_ns(st->ctime_sec, st->ctime_nsec),
		PyLong_FromUnsignedLongLong(st->rdev),
		PyLong_FromLong(st->err),
		PyFloat_FromDouble(time_float(st->mtime_sec, st->mtime_nsec)),
		PyFloat_FromDouble(time_float(st->ctime_sec, st->ctime_nsec)),
	};
	int ok = 1;
	for (int i = 0; i < 16; i++) {
		if (!v[i])
			ok = 0;
		PyStructSequence_SET_ITEM(r, i, v[i]);
	}
	if (!ok)
		Py_CLEAR(r); /* frees the items made; an error is set */
	return r;
}

/* The original fstat-cache's answer: {'ts': mtime as float seconds, 'size': bytes}. */
static PyObject *compat_dict(const struct fsc_stat *st)
{
	PyObject *d = PyDict_New();
	PyObject *ts =
		PyFloat_FromDouble(time_float(st->mtime_sec, st->mtime_nsec));
	PyObject *size = PyLong_FromLongLong(st->size);
	if (!d || !ts || !size || PyDict_SetItem(d, str_ts, ts) < 0 ||
	    PyDict_SetItem(d, str_size, size) < 0)
		Py_CLEAR(d);
	Py_XDECREF(ts);
	Py_XDECREF(size);
	return d;
}

/* ---- the Handle type ------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	fsc_handle *h;  /* NULL once freed */
	int busy;       /* calls in flight (handle_acquire) */
	int closed;     /* close() was called; freed when busy drops to 0 */
	int requests;   /* a miss asks the writer to watch the path */
	PyObject *name; /* str */
} HandleObject;

static void handle_free(HandleObject *self)
{
	fsc_handle *h = self->h;
	self->h = NULL;
	fsc_close(h); /* unmaps and closes: never blocks */
}

/* The handle for a call, or NULL with ValueError when closed. */
static fsc_handle *handle_get(HandleObject *self)
{
	if (self->closed || !self->h) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a closed fstatcache.Handle");
		return NULL;
	}
	return self->h;
}

/*
 * The handle for a whole call, or NULL with ValueError when closed; each
 * success is paired with handle_release() on every way out of the call.
 */
static fsc_handle *handle_acquire(HandleObject *self)
{
	fsc_handle *h = handle_get(self);
	if (h)
		self->busy++;
	return h;
}

/* Returns `ret`, so a call can end with `return handle_release(...)`. */
static PyObject *handle_release(HandleObject *self, PyObject *ret)
{
	if (--self->busy == 0 && self->closed)
		handle_free(self);
	return ret;
}

static PyObject *Handle_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "name", "attached", "requests", NULL };
	PyObject *name_obj = Py_None;
	int attached = 0, requests = 1;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$pp:Handle", kwlist,
					 &name_obj, &attached, &requests))
		return NULL;
	const char *name = NULL;
	if (name_obj != Py_None) {
		if (!PyUnicode_Check(name_obj)) {
			PyErr_Format(PyExc_TypeError,
				     "name must be str or None, not %.100s",
				     Py_TYPE(name_obj)->tp_name);
			return NULL;
		}
		name = PyUnicode_AsUTF8(name_obj);
		if (!name)
			return NULL;
		if (!fsc_name_ok(name) ||
		    strlen(name) != (size_t)PyUnicode_GET_LENGTH(name_obj)) {
			PyErr_Format(PyExc_ValueError,
				     "invalid fstatcache instance name %R: 1 "
				     "to %d letters, digits, '_' or '-'",
				     name_obj, FSC_NAME_MAX);
			return NULL;
		}
	}
	unsigned flags = (attached ? FSC_OPEN_ATTACHED : 0) |
			 (requests ? 0 : FSC_OPEN_NO_REQUESTS);
	fsc_handle *h;
	int r = fsc_open(&h, name, flags);
	if (r == -EINVAL) {
		PyErr_SetString(PyExc_ValueError,
				"cannot open an fstatcache handle: invalid "
				"$FSTATCACHE_NAME or $FSTATCACHE_OWNER_UID");
		return NULL;
	}
	if (r < 0) {
		const char *env = getenv("FSTATCACHE_NAME");
		if (!name)
			name = env && *env ? env : "fstatcache";
		return raise_fsc(
			r, name,
			r == -ENOENT ? "no fstatcached writer serves this name"
				     : NULL,
			NULL);
	}
	HandleObject *self = (HandleObject *)type->tp_alloc(type, 0);
	if (!self) {
		fsc_close(h);
		return NULL;
	}
	self->h = h;
	self->requests = requests;
	self->name = PyUnicode_FromString(h->name);
	if (!self->name) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static void Handle_dealloc(HandleObject *self)
{
	/* No call is in flight: each holds a reference to self. */
	handle_free(self);
	Py_CLEAR(self->name);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Handle_close(HandleObject *self, PyObject *unused)
{
	(void)unused;
	self->closed = 1;
	if (self->busy == 0)
		handle_free(self);
	Py_RETURN_NONE;
}

static PyObject *Handle_enter(HandleObject *self, PyObject *unused)
{
	(void)unused;
	if (!handle_get(self))
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *Handle_exit(HandleObject *self, PyObject *args)
{
	(void)args;
	return Handle_close(self, NULL);
}

/*
 * What fsc_stat() does once fsc_lookup() did not answer (r is FSC_MISS or
 * FSC_UNCACHED), run without the GIL: stat() the path and, on a miss, ask
 * the writer to watch it (with `requests` 2, only a path that exists).
 * Here rather than a call to fsc_stat() so that the lookup keeps the GIL
 * and is made and counted once.  0, or the negative errno of stat(2).
 */
static int stat_fallback(fsc_handle *h, int requests, const char *path, int r,
			 struct fsc_stat *out)
{
	struct stat sb;
	memset(out, 0, sizeof(*out));
	out->source = FSC_SOURCE_STAT;
	if (stat(path, &sb) == 0) {
		fsc_stat_from_stat(&sb, out); /* as fsc_stat() fills it */
	} else if (errno == ENOENT || errno == ENOTDIR) {
		out->err = errno;
	} else {
		return -errno;
	}
	if (r == FSC_MISS && requests && (requests == 1 || out->exists))
		(void)fsc_request_watch(h, path); /* counted if dropped */
	return 0;
}

/*
 * fsc_stat() for a checked path, in a call that acquired `h`: 0 with
 * *out, or -1 with an exception.
 */
static int handle_stat(HandleObject *self, fsc_handle *h, PyObject *arg,
		       const struct path_arg *p, struct fsc_stat *out,
		       int existing_only)
{
	int r = fsc_lookup(h, p->s, out);
	if (r > 0) {
		int requests = self->requests ? 1 + existing_only : 0;
		Py_BEGIN_ALLOW_THREADS
		r = stat_fallback(h, requests, p->s, r, out);
		Py_END_ALLOW_THREADS
	}
	if (r < 0) {
		raise_fsc(r, NULL, NULL, arg);
		return -1;
	}
	return 0;
}

static PyObject *Handle_stat(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = handle_acquire(self);
	struct path_arg p;
	struct fsc_stat st;
	if (!h)
		return NULL;
	if (path_get(arg, &p) < 0)
		return handle_release(self, NULL);
	int r = handle_stat(self, h, arg, &p, &st, 0);
	path_release(&p);
	return handle_release(self, r < 0 ? NULL : stat_result(&st));
}

static PyObject *Handle_file_stats(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = handle_acquire(self);
	struct path_arg p;
	struct fsc_stat st;
	if (!h)
		return NULL;
	if (path_get(arg, &p) < 0)
		return handle_release(self, NULL);
	/* The original fstat-cache's call raises for a missing file: not worth a watch (an
	 * HTTP client asking for random names would fill the table). */
	int r = handle_stat(self, h, arg, &p, &st, 1);
	path_release(&p);
	handle_release(self, NULL);
	if (r < 0)
		return NULL;
	if (!st.exists) {
		errno = st.err;
		return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
	}
	return compat_dict(&st);
}

static PyObject *Handle_lookup(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = handle_acquire(self);
	struct path_arg p;
	struct fsc_stat st;
	if (!h)
		return NULL;
	if (path_get(arg, &p) < 0)
		return handle_release(self, NULL);
	int r = fsc_lookup(h, p.s, &st);
	path_release(&p);
	handle_release(self, NULL);
	if (r < 0)
		return raise_fsc(r, NULL, NULL, arg);
	if (r > 0)
		Py_RETURN_NONE;
	return stat_result(&st);
}

struct many {
	Py_ssize_t n;
	struct path_arg *p;
	const char **s;
	struct fsc_stat *st;
	int *r;
};

static void many_free(struct many *m)
{
	for (Py_ssize_t i = 0; m->p && i < m->n; i++)
		path_release(&m->p[i]);
	PyMem_Free(m->p);
	PyMem_Free(m->s);
	PyMem_Free(m->st);
	PyMem_Free(m->r);
}

/* Convert a tuple of paths; 0, or -1 with an exception. */
static int many_get(PyObject *seq, struct many *m)
{
	Py_ssize_t n = PyTuple_GET_SIZE(seq);
	memset(m, 0, sizeof(*m));
	size_t k = n ? (size_t)n : 1;
	m->p = PyMem_Calloc(k, sizeof(*m->p));
	m->s = PyMem_Calloc(k, sizeof(*m->s));
	m->st = PyMem_Calloc(k, sizeof(*m->st));
	m->r = PyMem_Calloc(k, sizeof(*m->r));
	if (!m->p || !m->s || !m->st || !m->r) {
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		if (path_get(PyTuple_GET_ITEM(seq, i), &m->p[i]) < 0)
			return -1;
		m->n = i + 1;
		m->s[i] = m->p[i].s;
	}
	return 0;
}

static PyObject *Handle_lookup_many(HandleObject *self, PyObject *arg)
{
	if (PyUnicode_Check(arg) || PyBytes_Check(arg)) {
		PyErr_Format(PyExc_TypeError,
			     "paths must be a sequence of "
			     "paths, not a single %.100s",
			     Py_TYPE(arg)->tp_name);
		return NULL;
	}
	fsc_handle *h = handle_acquire(self);
	if (!h)
		return NULL;
	/* A tuple of our own: the paths are used in place, without the GIL,
	 * and another thread may change the caller's list meanwhile. */
	PyObject *seq = PySequence_Tuple(arg);
	if (!seq) {
		if (PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Format(PyExc_TypeError,
				     "paths must be an "
				     "iterable of paths, not %.100s",
				     Py_TYPE(arg)->tp_name);
		}
		return handle_release(self, NULL);
	}
	struct many m;
	PyObject *list = NULL;
	if (many_get(seq, &m) < 0)
		goto out;
	if (m.n >= LOOKUP_MANY_NOGIL) {
		Py_BEGIN_ALLOW_THREADS
		fsc_lookup_many(h, m.s, (size_t)m.n, m.st, m.r);
		Py_END_ALLOW_THREADS
	} else {
		fsc_lookup_many(h, m.s, (size_t)m.n, m.st, m.r);
	}
	list = PyList_New(m.n);
	for (Py_ssize_t i = 0; list && i < m.n; i++) {
		PyObject *v;
		if (m.r[i] < 0) {
			raise_fsc(m.r[i], NULL, NULL, PyTuple_GET_ITEM(seq, i));
			v = NULL;
		} else if (m.r[i] > 0) {
			Py_INCREF(Py_None);
			v = Py_None;
		} else {
			v = stat_result(&m.st[i]);
		}
		if (!v)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, i, v);
	}
out:
	many_free(&m);
	Py_DECREF(seq);
	return handle_release(self, list);
}

/* Seconds (None: no limit; NULL: the default) to milliseconds. */
static int timeout_ms(PyObject *timeout, int *ms)
{
	if (!timeout) {
		*ms = DEFAULT_TIMEOUT_S * 1000;
		return 0;
	}
	if (timeout == Py_None) {
		*ms = -1;
		return 0;
	}
	double s = PyFloat_AsDouble(timeout);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (!(s >= 0 && s * 1000 <= INT_MAX)) {
		PyErr_Format(PyExc_ValueError,
			     "timeout must be None or 0 to "
			     "%d seconds, not %R",
			     INT_MAX / 1000, timeout);
		return -1;
	}
	*ms = (int)(s * 1000);
	return 0;
}

/* One control request; None, or OSError with the writer's reason. */
static PyObject *handle_control(HandleObject *self, int op, PyObject *path,
				PyObject *timeout)
{
	fsc_handle *h = handle_acquire(self);
	struct path_arg p = { NULL, 0, NULL };
	int ms;
	if (!h)
		return NULL;
	if (timeout_ms(timeout, &ms) < 0 ||
	    (path && path_get_key(path, &p) < 0))
		return handle_release(self, NULL);
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = fsc_control(h, op, p.s, ms, msg, sizeof(msg));
	Py_END_ALLOW_THREADS
	handle_release(self, NULL);
	path_release(&p);
	if (r < 0)
		return raise_fsc(r, PyUnicode_AsUTF8(self->name), msg, path);
	Py_RETURN_NONE;
}

static PyObject *Handle_sync(HandleObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:sync", kwlist,
					 &timeout))
		return NULL;
	return handle_control(self, FSC_OP_SYNC, NULL, timeout);
}

static PyObject *Handle_invalidate(HandleObject *self, PyObject *args,
				   PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:invalidate", kwlist,
					 &timeout))
		return NULL;
	return handle_control(self, FSC_OP_INVALIDATE, NULL, timeout);
}

static PyObject *Handle_watch(HandleObject *self, PyObject *args,
			      PyObject *kwds)
{
	static char *kwlist[] = { "path", "timeout", NULL };
	PyObject *path, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:watch", kwlist, &path,
					 &timeout))
		return NULL;
	return handle_control(self, FSC_OP_WATCH, path, timeout);
}

static PyObject *Handle_unwatch(HandleObject *self, PyObject *args,
				PyObject *kwds)
{
	static char *kwlist[] = { "path", "timeout", NULL };
	PyObject *path, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:unwatch", kwlist,
					 &path, &timeout))
		return NULL;
	return handle_control(self, FSC_OP_UNWATCH, path, timeout);
}

static PyObject *Handle_request_watch(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = handle_acquire(self);
	struct path_arg p;
	if (!h)
		return NULL;
	if (path_get_key(arg, &p) < 0)
		return handle_release(self, NULL);
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = fsc_request_watch(h, p.s);
	Py_END_ALLOW_THREADS
	handle_release(self, NULL);
	path_release(&p);
	if (r < 0)
		return raise_fsc(r, PyUnicode_AsUTF8(self->name), NULL, arg);
	Py_RETURN_NONE;
}

static PyObject *entry_new(const char *path, const struct fsc_stat *st,
			   uint32_t slot, uint64_t validated)
{
	PyObject *e = PyStructSequence_New(&EntryType);
	if (!e)
		return NULL;
	PyObject *v[4] = {
		PyUnicode_DecodeFSDefault(path),
		stat_result(st),
		PyLong_FromUnsignedLong(slot),
		PyLong_FromUnsignedLongLong(validated),
	};
	int ok = 1;
	for (int i = 0; i < 4; i++) {
		if (!v[i])
			ok = 0;
		PyStructSequence_SET_ITEM(e, i, v[i]);
	}
	if (!ok)
		Py_CLEAR(e);
	return e;
}

/*
 * Every entry, from one pass that no move of entries overlapped when the
 * writer allows one (fsc_entries_scan(): after ENTRIES_TRIES passes the
 * last one is kept; FStatCache.list_files_in_cache() drops duplicates).
 * A new list, or NULL with an exception.
 */
static PyObject *Handle_entries(HandleObject *self, PyObject *unused)
{
	(void)unused;
	fsc_handle *h = handle_acquire(self);
	if (!h)
		return NULL;
	struct fsc_listing l;
	int r = fsc_entries_scan(h, ENTRIES_TRIES, &l);
	PyObject *list = NULL;
	if (r == -ENOTCONN) /* detached: no entries, as slot_count is 0 */
		r = 0;
	for (size_t i = 0; r == 0 && i < l.count; i++)
		if (l.entries[i].status < 0)
			r = l.entries[i].status;
	if (r < 0)
		raise_fsc(r, PyUnicode_AsUTF8(self->name), NULL, NULL);
	else
		list = PyList_New(0);
	for (size_t i = 0; list && i < l.count; i++) {
		const struct fsc_listed *le = &l.entries[i];
		PyObject *e = entry_new(le->path, &le->st, le->slot,
					le->validated_ns);
		if (!e || PyList_Append(list, e) < 0)
			Py_CLEAR(list);
		Py_XDECREF(e);
	}
	fsc_listing_free(&l);
	return handle_release(self, list);
}

static PyObject *Handle_get_name(HandleObject *self, void *closure)
{
	(void)closure;
	Py_INCREF(self->name);
	return self->name;
}

static PyObject *Handle_get_closed(HandleObject *self, void *closure)
{
	(void)closure;
	return PyBool_FromLong(self->closed || !self->h);
}

static PyObject *Handle_get_attached(HandleObject *self, void *closure)
{
	(void)closure;
	fsc_handle *h = handle_get(self);
	return h ? PyBool_FromLong(fsc_attached(h)) : NULL;
}

static PyObject *Handle_get_slot_count(HandleObject *self, void *closure)
{
	(void)closure;
	fsc_handle *h = handle_get(self);
	return h ? PyLong_FromUnsignedLong(fsc_slot_count(h)) : NULL;
}

static PyObject *Handle_get_requests_dropped(HandleObject *self, void *closure)
{
	(void)closure;
	fsc_handle *h = handle_get(self);
	return h ? PyLong_FromUnsignedLongLong(fsc_requests_dropped(h)) : NULL;
}

static PyObject *Handle_get_busy(HandleObject *self, void *closure)
{
	(void)closure;
	return PyLong_FromLong(self->busy);
}

static PyObject *Handle_repr(HandleObject *self)
{
	return PyUnicode_FromFormat("<fstatcache.Handle name=%R%s>", self->name,
				    (self->closed || !self->h) ? " closed"
							       : "");
}

#define METH_KW(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef Handle_methods[] = {
	{ "close", (PyCFunction)Handle_close, METH_NOARGS,
	  "close()\n--\n\nClose the handle (idempotent).  Calls still running "
	  "in other threads finish first; any later call raises ValueError." },
	{ "__enter__", (PyCFunction)Handle_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)Handle_exit, METH_VARARGS, NULL },
	{ "stat", (PyCFunction)Handle_stat, METH_O,
	  "stat(path, /)\n--\n\nstat(2) through the cache: a hit answers from "
	  "shared memory (source 'cache'); otherwise stat() answers (source "
	  "'stat') and, on a miss, the writer is asked to watch the path.\n"
	  "Returns a StatResult; a file that does not exist gives exists=False "
	  "(no exception).  Raises OSError for other stat() errors, ValueError "
	  "for a relative path or one with a NUL byte, TypeError for a "
	  "non-path." },
	{ "file_stats", (PyCFunction)Handle_file_stats, METH_O,
	  "file_stats(path, /)\n--\n\nLike stat(), answering the fstat-cache compatible "
	  "{'ts': mtime (float seconds), 'size': bytes}; raises "
	  "FileNotFoundError (NotADirectoryError) when the file does not "
	  "exist, as os.stat() does." },
	{ "lookup", (PyCFunction)Handle_lookup, METH_O,
	  "lookup(path, /)\n--\n\nThe cache only: a StatResult (source "
	  "'cache'; exists=False is a cached \"does not exist\"), or None when "
	  "the cache has no answer (not cached, no live writer, a path it "
	  "does not serve).  Never makes a system call on a hit." },
	{ "lookup_many", (PyCFunction)Handle_lookup_many, METH_O,
	  "lookup_many(paths, /)\n--\n\nlookup() of every path in a sequence, "
	  "prefetching the next slots: a list of StatResult or None." },
	{ "request_watch", (PyCFunction)Handle_request_watch, METH_O,
	  "request_watch(path, /)\n--\n\nAsk the writer to watch and cache "
	  "path, without waiting for it (a later sync() covers it).  Raises "
	  "OSError (ENOTCONN: no writer; EAGAIN: its queue stayed full)." },
	{ "sync", METH_KW(Handle_sync), METH_VARARGS | METH_KEYWORDS,
	  "sync(timeout=30.0)\n--\n\nThe barrier: returns once every change "
	  "made before the call, and every watch request sent before it, is "
	  "visible to lookups.  timeout in seconds (None: no limit; the wait "
	  "ends anyway if the writer dies; the other control calls take it "
	  "too).  Raises OSError (ENOTCONN: no live "
	  "writer; TimeoutError; ConnectionResetError: the writer died)." },
	{ "watch", METH_KW(Handle_watch), METH_VARARGS | METH_KEYWORDS,
	  "watch(path, timeout=30.0)\n--\n\nWatch and cache path; returns "
	  "once it is cached.  path must be canonical (no '.', '..', '//' or "
	  "trailing '/').  Raises OSError with the writer's reason when it "
	  "refuses." },
	{ "unwatch", METH_KW(Handle_unwatch), METH_VARARGS | METH_KEYWORDS,
	  "unwatch(path, timeout=30.0)\n--\n\nStop watching path and drop its "
	  "entry.  FileNotFoundError when it was not watched." },
	{ "invalidate", METH_KW(Handle_invalidate),
	  METH_VARARGS | METH_KEYWORDS,
	  "invalidate(timeout=30.0)\n--\n\nUnwatch everything and clear the "
	  "table (for every reader of the instance)." },
	{ "entries", (PyCFunction)Handle_entries, METH_NOARGS,
	  "entries()\n--\n\nEvery entry in the table, in slot order, as a list "
	  "of Entry(path, stat, slot, validated_ns); empty when no writer "
	  "serves the instance.  Not a snapshot: the writer keeps changing "
	  "the table while it is read." },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef Handle_getset[] = {
	{ "name", (getter)Handle_get_name, NULL, "the instance name", NULL },
	{ "closed", (getter)Handle_get_closed, NULL, "True once closed", NULL },
	{ "attached", (getter)Handle_get_attached, NULL,
	  "True while attached to a live, serving writer", NULL },
	{ "slot_count", (getter)Handle_get_slot_count, NULL,
	  "slots in the attached table (0 when detached)", NULL },
	{ "capacity", (getter)Handle_get_slot_count, NULL,
	  "deprecated name of slot_count (it never meant --capacity)", NULL },
	{ "requests_dropped", (getter)Handle_get_requests_dropped, NULL,
	  "watch requests given up because the writer's queue stayed full",
	  NULL },
	{ "_busy", (getter)Handle_get_busy, NULL,
	  "calls running without the GIL (for tests)", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject HandleType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "fstatcache.Handle",
	.tp_basicsize = sizeof(HandleObject),
	.tp_dealloc = (destructor)Handle_dealloc,
	.tp_repr = (reprfunc)Handle_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Handle(name=None, *, attached=False, requests=True)\n--\n\n"
		  "A reader of the fstatcache instance `name` (None: "
		  "$FSTATCACHE_NAME, else 'fstatcache').  Without a live "
		  "writer, lookups answer None and stat() answers by stat(2); "
		  "the handle attaches when a writer appears.  attached=True "
		  "raises OSError instead when no writer serves the name.  "
		  "requests=False: a miss never asks the writer to watch the "
		  "path.  Thread-safe; a context manager (closes on exit).",
	.tp_methods = Handle_methods,
	.tp_getset = Handle_getset,
	.tp_new = Handle_new,
};

/* ---- the module ------------------------------------------------------ */

static PyObject *check_key(PyObject *module, PyObject *arg)
{
	(void)module;
	struct path_arg p;
	if (path_get_key(arg, &p) < 0)
		return NULL;
	path_release(&p);
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{ "_check_key", (PyCFunction)check_key, METH_O,
	  "_check_key(path, /)\n--\n\nRaise as watch() would for a path it "
	  "refuses before asking the writer (ValueError, TypeError, OSError "
	  "ENAMETOOLONG)." },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "fstatcache._fstatcache",
	.m_doc = "C extension of the fstatcache package: the Handle type over "
		 "the reader API <fstatcache/fstatcache.h>.",
	.m_size = -1,
	.m_methods = module_methods,
};

static int intern(PyObject **slot, const char *s)
{
	*slot = PyUnicode_InternFromString(s);
	return *slot ? 0 : -1;
}

static int add_type(PyObject *m, const char *name, PyTypeObject *type)
{
	Py_INCREF(type);
	if (PyModule_AddObject(m, name, (PyObject *)type) < 0) {
		Py_DECREF(type);
		return -1;
	}
	return 0;
}

PyMODINIT_FUNC PyInit__fstatcache(void)
{
	if (intern(&str_cache, "cache") < 0 || intern(&str_stat, "stat") < 0 ||
	    intern(&str_ts, "ts") < 0 || intern(&str_size, "size") < 0)
		return NULL;
	if (!StatResultType.tp_name &&
	    PyStructSequence_InitType2(&StatResultType, &stat_desc) < 0)
		return NULL;
	if (!EntryType.tp_name &&
	    PyStructSequence_InitType2(&EntryType, &entry_desc) < 0)
		return NULL;
	if (PyType_Ready(&HandleType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&module);
	if (!m)
		return NULL;
	if (add_type(m, "Handle", &HandleType) < 0 ||
	    add_type(m, "StatResult", &StatResultType) < 0 ||
	    add_type(m, "Entry", &EntryType) < 0 ||
	    PyModule_AddStringConstant(m, "__version__", FSC_VERSION_STRING) <
		    0 ||
	    PyModule_AddIntConstant(m, "NAME_MAX", FSC_NAME_MAX) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
