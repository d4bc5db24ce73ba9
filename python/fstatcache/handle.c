/*
 * handle.c - the Handle type: its lifetime (busy counting, so that close()
 * may come while a call is in flight; see _fstatcache.c), stat(), lookup()
 * and lookup_many(), its attributes, and the method table, which names the
 * control calls of handle_control.c and the change feed of changes.c too.
 */
#include "ext.h"

/* ---- lifetime ------------------------------------------------- */

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
 * success is paired with fscpy_handle_release() on every way out of the call.
 */
fsc_handle *fscpy_handle_acquire(HandleObject *self)
{
	fsc_handle *h = handle_get(self);
	if (h)
		self->busy++;
	return h;
}

/* Returns `ret`, so a call can end with `return fscpy_handle_release(...)`. */
PyObject *fscpy_handle_release(HandleObject *self, PyObject *ret)
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
		return fscpy_raise(
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
		fscpy_raise(r, NULL, NULL, arg);
		return -1;
	}
	return 0;
}

static PyObject *Handle_stat(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = fscpy_handle_acquire(self);
	struct path_arg p;
	struct fsc_stat st;
	if (!h)
		return NULL;
	if (fscpy_path_get(arg, &p) < 0)
		return fscpy_handle_release(self, NULL);
	int r = handle_stat(self, h, arg, &p, &st, 0);
	fscpy_path_release(&p);
	return fscpy_handle_release(self,
				    r < 0 ? NULL : fscpy_stat_result(&st));
}

/*
 * The original fstat-cache's get_file_stats(): {'ts', 'size'} of a
 * regular file, None for anything else (nothing there, a directory, ...),
 * as its os.path.isfile() test answers; other stat(2) errors raise, which
 * it would hide (docs/PYTHON.md).  A relative path is taken as os.stat()
 * takes it.  A miss asks the writer to watch only a path that exists: an
 * HTTP client asking for random names must not fill the table.
 */
static PyObject *Handle_file_stats(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = fscpy_handle_acquire(self);
	struct path_arg p;
	struct fsc_stat st;
	if (!h)
		return NULL;
	if (fscpy_path_get_relative(arg, &p) < 0)
		return fscpy_handle_release(self, NULL);
	int r = handle_stat(self, h, arg, &p, &st, 1);
	fscpy_path_release(&p);
	fscpy_handle_release(self, NULL);
	if (r < 0)
		return NULL;
	if (!st.exists || !S_ISREG(st.mode))
		Py_RETURN_NONE;
	return fscpy_compat_dict(&st);
}

static PyObject *Handle_lookup(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = fscpy_handle_acquire(self);
	struct path_arg p;
	struct fsc_stat st;
	if (!h)
		return NULL;
	if (fscpy_path_get(arg, &p) < 0)
		return fscpy_handle_release(self, NULL);
	int r = fsc_lookup(h, p.s, &st);
	fscpy_path_release(&p);
	fscpy_handle_release(self, NULL);
	if (r < 0)
		return fscpy_raise(r, NULL, NULL, arg);
	if (r > 0)
		Py_RETURN_NONE;
	return fscpy_stat_result(&st);
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
		fscpy_path_release(&m->p[i]);
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
		if (fscpy_path_get(PyTuple_GET_ITEM(seq, i), &m->p[i]) < 0)
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
	fsc_handle *h = fscpy_handle_acquire(self);
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
		return fscpy_handle_release(self, NULL);
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
			fscpy_raise(m.r[i], NULL, NULL,
				    PyTuple_GET_ITEM(seq, i));
			v = NULL;
		} else if (m.r[i] > 0) {
			Py_INCREF(Py_None);
			v = Py_None;
		} else {
			v = fscpy_stat_result(&m.st[i]);
		}
		if (!v)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, i, v);
	}
out:
	many_free(&m);
	Py_DECREF(seq);
	return fscpy_handle_release(self, list);
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
	  "file_stats(path, /)\n--\n\nLike stat(), answering as the original "
	  "fstat-cache's get_file_stats(): {'ts': mtime (float seconds), "
	  "'size': bytes} for a regular file, None when the path is not one "
	  "(missing, a directory, ...).  Takes a relative path as os.stat() "
	  "does.  Raises OSError for other stat() errors." },
	{ "lookup", (PyCFunction)Handle_lookup, METH_O,
	  "lookup(path, /)\n--\n\nThe cache only: a StatResult (source "
	  "'cache'; exists=False is a cached \"does not exist\"), or None when "
	  "the cache has no answer (not cached, no live writer, a path it "
	  "does not serve).  Never makes a system call on a hit." },
	{ "lookup_many", (PyCFunction)Handle_lookup_many, METH_O,
	  "lookup_many(paths, /)\n--\n\nlookup() of every path in a sequence, "
	  "prefetching the next slots: a list of StatResult or None." },
	{ "request_watch", (PyCFunction)fscpy_handle_request_watch, METH_O,
	  "request_watch(path, /)\n--\n\nAsk the writer to watch and cache "
	  "path, without waiting for it (a later sync() covers it).  Raises "
	  "OSError (ENOTCONN: no writer; EAGAIN: its queue stayed full)." },
	{ "sync", METH_KW(fscpy_handle_sync), METH_VARARGS | METH_KEYWORDS,
	  "sync(timeout=30.0)\n--\n\nThe barrier: returns once every change "
	  "made before the call, and every watch request sent before it, is "
	  "visible to lookups.  timeout in seconds (None: no limit; the wait "
	  "ends anyway if the writer dies; the other control calls take it "
	  "too).  Raises OSError (ENOTCONN: no live "
	  "writer; TimeoutError; ConnectionResetError: the writer died)." },
	{ "watch", METH_KW(fscpy_handle_watch), METH_VARARGS | METH_KEYWORDS,
	  "watch(path, timeout=30.0)\n--\n\nWatch and cache path; returns "
	  "once it is cached.  path must be canonical (no '.', '..', '//' or "
	  "trailing '/').  Raises OSError with the writer's reason when it "
	  "refuses." },
	{ "unwatch", METH_KW(fscpy_handle_unwatch),
	  METH_VARARGS | METH_KEYWORDS,
	  "unwatch(path, timeout=30.0)\n--\n\nStop watching path and drop its "
	  "entry.  FileNotFoundError when it was not watched." },
	{ "invalidate", METH_KW(fscpy_handle_invalidate),
	  METH_VARARGS | METH_KEYWORDS,
	  "invalidate(timeout=30.0)\n--\n\nUnwatch everything and clear the "
	  "table (for every reader of the instance)." },
	{ "entries", (PyCFunction)fscpy_handle_entries, METH_NOARGS,
	  "entries()\n--\n\nEvery entry in the table, in slot order, as a list "
	  "of Entry(path, stat, slot, validated_ns); empty when no writer "
	  "serves the instance.  Not a snapshot: the writer keeps changing "
	  "the table while it is read." },
	{ "changes", METH_KW(fscpy_handle_changes),
	  METH_VARARGS | METH_KEYWORDS,
	  "changes(cursor=None)\n--\n\nThe change feed: (new_cursor, "
	  "changes), every change the writer published after `cursor`, in "
	  "order, as a list of Change(kind, path, stat) (stat None: no answer "
	  "in the cache; stat() the path).  changes is None instead when they "
	  "cannot be listed (a new cursor (None), a restarted writer, a "
	  "cursor the ring has overwritten, invalidate(), no live writer): "
	  "look at every path you follow once, then carry on from "
	  "new_cursor.  A cursor is the str changes() returns (\"EPOCH-POS\" in "
	  "hex, as `fstatcache changes` prints it); ValueError for a "
	  "malformed one.  Holds the GIL, like lookups (no system call)." },
	{ "wait_changes", METH_KW(fscpy_handle_wait_changes),
	  METH_VARARGS | METH_KEYWORDS,
	  "wait_changes(cursor, timeout=1.0)\n--\n\nSleep, without the "
	  "GIL, until the feed may have moved past cursor, at most timeout "
	  "seconds; returns None (at once when there are changes already; "
	  "after at most 0.1 s when no writer runs).  May wake without a "
	  "change: call changes() after it." },
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

PyTypeObject fscpy_HandleType = {
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
