/*
 * handle_control.c - the Handle's calls that talk to the writer: sync,
 * watch, unwatch and invalidate (control requests, waiting for the reply
 * without the GIL), request_watch (a datagram, no reply), and entries().
 */
#include "ext.h"

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
	fsc_handle *h = fscpy_handle_acquire(self);
	struct path_arg p = { NULL, 0, NULL };
	int ms;
	if (!h)
		return NULL;
	if (timeout_ms(timeout, &ms) < 0 ||
	    (path && fscpy_path_get_key(path, &p) < 0))
		return fscpy_handle_release(self, NULL);
	char msg[FSC_REPLY_MSG_MAX + 1];
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = fsc_control(h, op, p.s, ms, msg, sizeof(msg));
	Py_END_ALLOW_THREADS
	fscpy_handle_release(self, NULL);
	fscpy_path_release(&p);
	if (r < 0)
		return fscpy_raise(r, PyUnicode_AsUTF8(self->name), msg, path);
	Py_RETURN_NONE;
}

PyObject *fscpy_handle_sync(HandleObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:sync", kwlist,
					 &timeout))
		return NULL;
	return handle_control(self, FSC_OP_SYNC, NULL, timeout);
}

PyObject *fscpy_handle_invalidate(HandleObject *self, PyObject *args,
				  PyObject *kwds)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:invalidate", kwlist,
					 &timeout))
		return NULL;
	return handle_control(self, FSC_OP_INVALIDATE, NULL, timeout);
}

PyObject *fscpy_handle_watch(HandleObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "path", "timeout", NULL };
	PyObject *path, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:watch", kwlist, &path,
					 &timeout))
		return NULL;
	return handle_control(self, FSC_OP_WATCH, path, timeout);
}

PyObject *fscpy_handle_unwatch(HandleObject *self, PyObject *args,
			       PyObject *kwds)
{
	static char *kwlist[] = { "path", "timeout", NULL };
	PyObject *path, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:unwatch", kwlist,
					 &path, &timeout))
		return NULL;
	return handle_control(self, FSC_OP_UNWATCH, path, timeout);
}

PyObject *fscpy_handle_request_watch(HandleObject *self, PyObject *arg)
{
	fsc_handle *h = fscpy_handle_acquire(self);
	struct path_arg p;
	if (!h)
		return NULL;
	if (fscpy_path_get_key(arg, &p) < 0)
		return fscpy_handle_release(self, NULL);
	int r;
	Py_BEGIN_ALLOW_THREADS
	r = fsc_request_watch(h, p.s);
	Py_END_ALLOW_THREADS
	fscpy_handle_release(self, NULL);
	fscpy_path_release(&p);
	if (r < 0)
		return fscpy_raise(r, PyUnicode_AsUTF8(self->name), NULL, arg);
	Py_RETURN_NONE;
}

/*
 * Every entry, from one pass that no move of entries overlapped when the
 * writer allows one (fsc_entries_scan(): after ENTRIES_TRIES passes the
 * last one is kept; FStatCache.list_files_in_cache() drops duplicates).
 * A new list, or NULL with an exception.
 */
PyObject *fscpy_handle_entries(HandleObject *self, PyObject *unused)
{
	(void)unused;
	fsc_handle *h = fscpy_handle_acquire(self);
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
		fscpy_raise(r, PyUnicode_AsUTF8(self->name), NULL, NULL);
	else
		list = PyList_New(0);
	for (size_t i = 0; list && i < l.count; i++) {
		const struct fsc_listed *le = &l.entries[i];
		PyObject *e = fscpy_entry_new(le->path, &le->st, le->slot,
					      le->validated_ns);
		if (!e || PyList_Append(list, e) < 0)
			Py_CLEAR(list);
		Py_XDECREF(e);
	}
	fsc_listing_free(&l);
	return fscpy_handle_release(self, list);
}
