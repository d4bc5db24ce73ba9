/*
 * _fstatcache.c - the C extension behind the Python package `fstatcache`:
 * a Handle type over the header-only reader API (fstatcache.h), and the
 * StatResult, Entry and Change types it answers with.  This file is the
 * module; the rest is in convert.c, handle.c, handle_control.c and
 * changes.c (ext.h).
 *
 * The hit path is the point of the package, so a lookup runs with the GIL
 * held: a hit is about a hundred nanoseconds of memory loads that never
 * block, and releasing and re-taking the GIL would add a good part of that
 * again (bench/python_bench.py measures the whole call).  What can block
 * runs without the GIL: the stat(2) fallback and the watch request of a
 * miss (a full writer queue makes a request wait, at most
 * FSC_REQUEST_WAIT_MS), control requests (they wait for the writer's
 * reply), long lookup_many() lists and wait_changes().  changes() keeps
 * the GIL: reading the feed is memory loads, like a lookup.
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
 * the working directory.  The exception is file_stats(), the original
 * fstat-cache's call, which takes a relative path as os.stat() does
 * (joined to the working directory).  An ASCII str, the common case, is used in place
 * (CPython keeps it NUL-terminated) without a copy.
 */
#include "ext.h"

/* ---- the module ------------------------------------------------------ */

static PyObject *check_key(PyObject *module, PyObject *arg)
{
	(void)module;
	struct path_arg p;
	if (fscpy_path_get_key(arg, &p) < 0)
		return NULL;
	fscpy_path_release(&p);
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
	if (fscpy_convert_init() < 0 || fscpy_changes_init() < 0)
		return NULL;
	if (PyType_Ready(&fscpy_HandleType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&module);
	if (!m)
		return NULL;
	if (add_type(m, "Handle", &fscpy_HandleType) < 0 ||
	    add_type(m, "StatResult", &fscpy_StatResultType) < 0 ||
	    add_type(m, "Entry", &fscpy_EntryType) < 0 ||
	    add_type(m, "Change", &fscpy_ChangeType) < 0 ||
	    PyModule_AddStringConstant(m, "__version__", FSC_VERSION_STRING) <
		    0 ||
	    PyModule_AddIntConstant(m, "NAME_MAX", FSC_NAME_MAX) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
