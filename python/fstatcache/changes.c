/*
 * changes.c - the Handle's change feed: changes() (fsc_changes(), with
 * the GIL held, as lookups: the walk is memory loads and copies, and the
 * Change objects are made in its callback) and wait_changes()
 * (fsc_changes_wait(), a futex wait, without the GIL).  Cursors are the
 * text of fsc_cursor_format() ("EPOCH-POS" in hex), or None for a new one.
 */
#include "ext.h"

/* The names of fsc_change_name() (those `fstatcache changes` prints),
 * interned. */
static PyObject *kind_str[FSC_CHANGE_KNOWN];

PyTypeObject fscpy_ChangeType;

static PyStructSequence_Field change_fields[] = {
	{ "kind",
	  "'added', 'changed', 'created', 'deleted', 'marked', "
	  "'evicted' or 'removed' (as `fstatcache changes` names them)" },
	{ "path", "the path (str, decoded as os.fsdecode() does)" },
	{ "stat", "its new answer (StatResult, source 'cache'), or None when "
		  "the cache has none: 'marked', 'evicted', 'removed', or a "
		  "path answered by stat(); stat() it" },
	{ NULL, NULL }
};

static PyStructSequence_Desc change_desc = {
	"fstatcache.Change",
	"One change of the change feed (Handle.changes()).",
	change_fields,
	3,
};

int fscpy_changes_init(void)
{
	for (unsigned k = 0; k < FSC_CHANGE_KNOWN; k++) {
		if (fsc_change_name(k) && !kind_str[k] &&
		    !(kind_str[k] =
			      PyUnicode_InternFromString(fsc_change_name(k))))
			return -1;
	}
	if (!fscpy_ChangeType.tp_name &&
	    PyStructSequence_InitType2(&fscpy_ChangeType, &change_desc) < 0)
		return -1;
	return 0;
}

/* A cursor from None (a new one) or its text; 0, or -1 with an exception. */
static int cursor_get(PyObject *arg, struct fsc_cursor *cur)
{
	if (!arg || arg == Py_None) {
		*cur = (struct fsc_cursor)FSC_CURSOR_INIT;
		return 0;
	}
	if (!PyUnicode_Check(arg)) {
		PyErr_Format(PyExc_TypeError,
			     "cursor must be str or None, not %.100s",
			     Py_TYPE(arg)->tp_name);
		return -1;
	}
	Py_ssize_t len;
	const char *s = PyUnicode_AsUTF8AndSize(arg, &len);
	if (!s) { /* a lone surrogate: not a cursor either */
		PyErr_Clear();
		s = "";
		len = -1;
	}
	if ((Py_ssize_t)strlen(s) != len || fsc_cursor_parse(s, cur) < 0) {
		PyErr_Format(PyExc_ValueError,
			     "malformed change feed cursor %R (expected "
			     "EPOCH-POS in hex, as changes() returns it)",
			     arg);
		return -1;
	}
	return 0;
}

static PyObject *cursor_text(const struct fsc_cursor *cur)
{
	char text[FSC_CURSOR_TEXT_SIZE];
	fsc_cursor_format(cur, text, sizeof(text));
	return PyUnicode_FromString(text);
}

static PyObject *change_new(const struct fsc_change *c)
{
	PyObject *kind = c->kind < FSC_CHANGE_KNOWN ? kind_str[c->kind] : NULL;
	if (!kind) { /* the walk delivers no other kind */
		PyErr_Format(PyExc_SystemError,
			     "fstatcache: change of unknown kind %u", c->kind);
		return NULL;
	}
	PyObject *e = PyStructSequence_New(&fscpy_ChangeType);
	if (!e)
		return NULL;
	Py_INCREF(kind);
	PyObject *st;
	if (c->status == 0) {
		st = fscpy_stat_result(&c->st);
	} else {
		Py_INCREF(Py_None);
		st = Py_None;
	}
	PyObject *v[3] = {
		kind,
		PyUnicode_DecodeFSDefaultAndSize(c->path,
						 (Py_ssize_t)c->path_len),
		st,
	};
	return fscpy_seq_fill(e, v, 3);
}

/* The callback of fsc_changes(): one Change onto the list, GIL held. */
static int on_change(void *arg, const struct fsc_change *c)
{
	PyObject *list = arg;
	PyObject *e = change_new(c);
	int r = e ? PyList_Append(list, e) : -1;
	Py_XDECREF(e);
	return r < 0; /* an exception is set: stop the walk */
}

PyObject *fscpy_handle_changes(HandleObject *self, PyObject *args,
			       PyObject *kwds)
{
	static char *kwlist[] = { "cursor", NULL };
	PyObject *arg = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:changes", kwlist,
					 &arg))
		return NULL;
	fsc_handle *h = fscpy_handle_acquire(self);
	struct fsc_cursor cur;
	if (!h)
		return NULL;
	if (cursor_get(arg, &cur) < 0)
		return fscpy_handle_release(self, NULL);
	PyObject *list = PyList_New(0), *ret = NULL;
	if (!list)
		return fscpy_handle_release(self, NULL);
	int r = fsc_changes(h, &cur, on_change, list);
	if (PyErr_Occurred()) { /* from on_change, which stopped the walk */
		Py_DECREF(list);
		return fscpy_handle_release(self, NULL);
	}
	if (r < 0) {
		Py_DECREF(list);
		fscpy_handle_release(self, NULL);
		return fscpy_raise(r, PyUnicode_AsUTF8(self->name), NULL, NULL);
	}
	if (r == FSC_RESYNC) { /* changes listed before the resync: moot */
		Py_DECREF(list);
		Py_INCREF(Py_None);
		list = Py_None;
	}
	PyObject *text = cursor_text(&cur);
	if (text)
		ret = PyTuple_Pack(2, text, list);
	Py_XDECREF(text);
	Py_DECREF(list);
	return fscpy_handle_release(self, ret);
}

PyObject *fscpy_handle_wait_changes(HandleObject *self, PyObject *args,
				    PyObject *kwds)
{
	static char *kwlist[] = { "cursor", "timeout", NULL };
	PyObject *arg, *timeout = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:wait_changes", kwlist,
					 &arg, &timeout))
		return NULL;
	fsc_handle *h = fscpy_handle_acquire(self);
	struct fsc_cursor cur;
	double s = 1.0;
	if (!h)
		return NULL;
	if (cursor_get(arg, &cur) < 0)
		return fscpy_handle_release(self, NULL);
	if (timeout) {
		s = PyFloat_AsDouble(timeout);
		if (s == -1.0 && PyErr_Occurred())
			return fscpy_handle_release(self, NULL);
		if (!(s >= 0 && s * 1000 <= INT_MAX)) {
			PyErr_Format(PyExc_ValueError,
				     "timeout must be 0 to %d seconds, not %R",
				     INT_MAX / 1000, timeout);
			return fscpy_handle_release(self, NULL);
		}
	}
	int ms = (int)(s * 1000), r;
	Py_BEGIN_ALLOW_THREADS
	r = fsc_changes_wait(h, &cur, ms);
	Py_END_ALLOW_THREADS
	fscpy_handle_release(self, NULL);
	if (r < 0)
		return fscpy_raise(r, PyUnicode_AsUTF8(self->name), NULL, NULL);
	/* A signal ends the wait early (EINTR): its handler runs now, so
	 * Ctrl-C raises KeyboardInterrupt at once, as time.sleep() does. */
	if (PyErr_CheckSignals() < 0)
		return NULL;
	Py_RETURN_NONE;
}
