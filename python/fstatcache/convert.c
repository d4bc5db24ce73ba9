/*
 * convert.c - between Python and the reader API: paths in (str, bytes or
 * os.PathLike; absolute, or joined to the working directory for the
 * fstat-cache compatible calls; no NUL), errors out (OSError with the errno and
 * the writer's reason), answers out (StatResult, the compatible dict,
 * Entry).
 */
#include "ext.h"

PyTypeObject fscpy_StatResultType, fscpy_EntryType;
PyObject *fscpy_str_cache, *fscpy_str_stat, *fscpy_str_ts, *fscpy_str_size;

/* ---- paths ----------------------------------------------------------- */

void fscpy_path_release(struct path_arg *p)
{
	Py_CLEAR(p->owned);
}

/* Convert one path and refuse a NUL byte in it; 0, or -1 with an
 * exception set. */
static int path_convert(PyObject *arg, struct path_arg *p)
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
		fscpy_path_release(p);
		return -1;
	}
	return 0;
}

/* Convert and check one path; 0, or -1 with an exception set. */
int fscpy_path_get(PyObject *arg, struct path_arg *p)
{
	if (path_convert(arg, p) < 0)
		return -1;
	if (p->len == 0 || p->s[0] != '/') {
		PyErr_Format(PyExc_ValueError,
			     "path must be absolute (the cache keys are "
			     "absolute paths): %R",
			     arg);
		fscpy_path_release(p);
		return -1;
	}
	return 0;
}

/*
 * Relative paths as os.stat() takes them (the fstat-cache compatible
 * calls): joined to the working directory, whose name getcwd(3) gives
 * without symlinks, so the joined path names the same file and the cache
 * can serve it.  When the working directory has no name (removed), the
 * path stays relative: the cache serves no relative path, so stat(2)
 * answers it, relative to the directory as os.stat() would.
 */
int fscpy_path_get_relative(PyObject *arg, struct path_arg *p)
{
	char cwd[PATH_MAX];
	if (path_convert(arg, p) < 0)
		return -1;
	if ((p->len > 0 && p->s[0] == '/') || !getcwd(cwd, sizeof(cwd)))
		return 0;
	size_t n = strlen(cwd);
	size_t sep = n > 0 && cwd[n - 1] == '/' ? 0 : 1;
	PyObject *joined =
		PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n + sep) + p->len);
	if (!joined) {
		fscpy_path_release(p);
		return -1;
	}
	char *s = PyBytes_AS_STRING(joined);
	memcpy(s, cwd, n);
	if (sep)
		s[n] = '/';
	memcpy(s + n + sep, p->s, (size_t)p->len);
	fscpy_path_release(p);
	p->owned = joined;
	p->s = s;
	p->len = PyBytes_GET_SIZE(joined);
	return 0;
}

/* A path the writer can be asked to watch: canonical and short enough. */
int fscpy_path_get_key(PyObject *arg, struct path_arg *p)
{
	if (fscpy_path_get(arg, p) < 0)
		return -1;
	if (!fsc_path_ok(p->s, (size_t)p->len)) {
		PyErr_Format(
			PyExc_ValueError,
			"not a canonical absolute path (the cache takes no "
			"'.', '..', '//' or trailing '/'): %R",
			arg);
		fscpy_path_release(p);
		return -1;
	}
	if (p->len >= FSC_PATH_MAX_MAX) {
		errno = ENAMETOOLONG;
		PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
		fscpy_path_release(p);
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
PyObject *fscpy_raise(int err, const char *instance, const char *detail,
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
	/* Attributes only, as os.fscpy_stat_result's float times are. */
	{ "rdev", "device of a device node (st_rdev)" },
	{ "err", "errno of the failed stat() when exists is False, else 0 "
		 "(the cache keeps no errno: it reads ENOENT)" },
	{ "mtime", "modification time in seconds, a float like "
		   "os.fscpy_stat_result.st_mtime" },
	{ "ctime", "status change time in seconds, a float like "
		   "os.fscpy_stat_result.st_ctime" },
	{ "blksize", "preferred I/O size (st_blksize), or None when the "
		     "segment (format 1.3 or older) does not hold it" },
	{ "atime_ns", "access time in integer nanoseconds (st_atime_ns) as of "
		      "the writer's last stat() of the file, or None when "
		      "the cache does not hold it" },
	{ "atime", "access time in seconds, a float, or None (as atime_ns)" },
	{ NULL, NULL }
};

static PyStructSequence_Desc stat_desc = {
	"fstatcache.StatResult",
	"stat(2) answer of fstatcache: the keys of `fstatcache stat --json` as "
	"a tuple, plus the attributes rdev, err, mtime, ctime, blksize, "
	"atime_ns and atime.",
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

/* A new reference to None (Py_NewRef is Python 3.10+). */
static PyObject *none_ref(void)
{
	Py_INCREF(Py_None);
	return Py_None;
}

PyObject *fscpy_stat_result(const struct fsc_stat *st)
{
	PyObject *r = PyStructSequence_New(&fscpy_StatResultType);
	if (!r)
		return NULL;
	PyObject *source = st->source == FSC_SOURCE_CACHE ? fscpy_str_cache
							  : fscpy_str_stat;
	Py_INCREF(source);
	int have_atime = (st->have & FSC_HAVE_ATIME) != 0;
	PyObject *v[19] = {
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
		(st->have & FSC_HAVE_BLKSIZE)
			? PyLong_FromUnsignedLong(st->blksize)
			: none_ref(),
		have_atime ? time_ns(st->atime_sec, st->atime_nsec)
			   : none_ref(),
		have_atime ? PyFloat_FromDouble(
				     time_float(st->atime_sec, st->atime_nsec))
			   : none_ref(),
	};
	int ok = 1;
	for (int i = 0; i < 19; i++) {
		if (!v[i])
			ok = 0;
		PyStructSequence_SET_ITEM(r, i, v[i]);
	}
	if (!ok)
		Py_CLEAR(r); /* frees the items made; an error is set */
	return r;
}

/* The original fstat-cache's answer: {'ts': mtime as float seconds, 'size': bytes}. */
PyObject *fscpy_compat_dict(const struct fsc_stat *st)
{
	PyObject *d = PyDict_New();
	PyObject *ts =
		PyFloat_FromDouble(time_float(st->mtime_sec, st->mtime_nsec));
	PyObject *size = PyLong_FromLongLong(st->size);
	if (!d || !ts || !size || PyDict_SetItem(d, fscpy_str_ts, ts) < 0 ||
	    PyDict_SetItem(d, fscpy_str_size, size) < 0)
		Py_CLEAR(d);
	Py_XDECREF(ts);
	Py_XDECREF(size);
	return d;
}

PyObject *fscpy_entry_new(const char *path, const struct fsc_stat *st,
			  uint32_t slot, uint64_t validated)
{
	PyObject *e = PyStructSequence_New(&fscpy_EntryType);
	if (!e)
		return NULL;
	PyObject *v[4] = {
		PyUnicode_DecodeFSDefault(path),
		fscpy_stat_result(st),
		PyLong_FromUnsignedLong(slot),
		PyLong_FromUnsignedLongLong(validated),
	};
	return fscpy_seq_fill(e, v, 4);
}

PyObject *fscpy_seq_fill(PyObject *e, PyObject *const *v, int n)
{
	int ok = 1;
	for (int i = 0; i < n; i++) {
		if (!v[i])
			ok = 0;
		PyStructSequence_SET_ITEM(e, i, v[i]);
	}
	if (!ok)
		Py_CLEAR(e);
	return e;
}

static int intern(PyObject **slot, const char *s)
{
	*slot = PyUnicode_InternFromString(s);
	return *slot ? 0 : -1;
}

int fscpy_convert_init(void)
{
	if (intern(&fscpy_str_cache, "cache") < 0 ||
	    intern(&fscpy_str_stat, "stat") < 0 ||
	    intern(&fscpy_str_ts, "ts") < 0 ||
	    intern(&fscpy_str_size, "size") < 0)
		return -1;
	if (!fscpy_StatResultType.tp_name &&
	    PyStructSequence_InitType2(&fscpy_StatResultType, &stat_desc) < 0)
		return -1;
	if (!fscpy_EntryType.tp_name &&
	    PyStructSequence_InitType2(&fscpy_EntryType, &entry_desc) < 0)
		return -1;
	return 0;
}
