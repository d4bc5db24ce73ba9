/*
 * fstatcache.c - libfstatcache.so: the reader API of
 * <fstatcache/fstatcache.h> as ordinary exported functions, for programs
 * that cannot compile a C header: Python's ctypes, Ruby's FFI, Java's
 * Panama, Go without cgo's header parsing, and so on.
 *
 * One implementation: the header's own static inline functions, compiled
 * here under private names (fsc__lib_*) and wrapped by exported functions
 * with the public names and the same signatures.  Each public name is
 * renamed with a function-like macro before the header is included, so
 * only its uses followed by '(' (its declaration, its definition, the
 * calls among the header's functions) are renamed, never the tag of
 * struct fsc_stat.  libfstatcache.map gives the exported names, all in
 * one version node; everything else (the inline code, liburcu's and
 * xxHash's inline helpers) is local.
 *
 * Beyond the header: fsc_control() of fstatcache/admin.h (sync, watch,
 * unwatch, invalidate: an FFI program has no other way to reach them) and
 * fsc_lib_sizeof(), the size of the structures a foreign program lays out
 * itself, so a binding can check its layout against the library's.
 */
#define fsc_open(...) fsc__lib_open(__VA_ARGS__)
#define fsc_close(...) fsc__lib_close(__VA_ARGS__)
#define fsc_attached(...) fsc__lib_attached(__VA_ARGS__)
#define fsc_attach_error(...) fsc__lib_attach_error(__VA_ARGS__)
#define fsc_lookup(...) fsc__lib_lookup(__VA_ARGS__)
#define fsc_lookup_many(...) fsc__lib_lookup_many(__VA_ARGS__)
#define fsc_stat(...) fsc__lib_stat(__VA_ARGS__)
#define fsc_request_watch(...) fsc__lib_request_watch(__VA_ARGS__)
#define fsc_requests_dropped(...) fsc__lib_requests_dropped(__VA_ARGS__)
#define fsc_changes(...) fsc__lib_changes(__VA_ARGS__)
#define fsc_changes_wait(...) fsc__lib_changes_wait(__VA_ARGS__)
#define fsc_change_name(...) fsc__lib_change_name(__VA_ARGS__)
#define fsc_cursor_format(...) fsc__lib_cursor_format(__VA_ARGS__)
#define fsc_cursor_parse(...) fsc__lib_cursor_parse(__VA_ARGS__)
#define fsc_stat_to_stat(...) fsc__lib_stat_to_stat(__VA_ARGS__)
#define fsc_stat_from_stat(...) fsc__lib_stat_from_stat(__VA_ARGS__)
#define fsc_strerror(...) fsc__lib_strerror(__VA_ARGS__)
#define fsc_path_ok(...) fsc__lib_path_ok(__VA_ARGS__)
#define fsc_name_ok(...) fsc__lib_name_ok(__VA_ARGS__)
#define fsc_control(...) fsc__lib_control(__VA_ARGS__)

#include <fstatcache/admin.h>
#include <fstatcache/fstatcache.h>

#include <string.h>

#undef fsc_open
#undef fsc_close
#undef fsc_attached
#undef fsc_attach_error
#undef fsc_lookup
#undef fsc_lookup_many
#undef fsc_stat
#undef fsc_request_watch
#undef fsc_requests_dropped
#undef fsc_changes
#undef fsc_changes_wait
#undef fsc_change_name
#undef fsc_cursor_format
#undef fsc_cursor_parse
#undef fsc_stat_to_stat
#undef fsc_stat_from_stat
#undef fsc_strerror
#undef fsc_path_ok
#undef fsc_name_ok
#undef fsc_control

/* What the library exports (with -fvisibility=hidden, and the map). */
#define FSC_LIB_API __attribute__((visibility("default")))

/* Declared here, not in a header: C programs include fstatcache.h and get
 * the inline versions; these prototypes are the same without
 * `static inline`. */
FSC_LIB_API int fsc_open(fsc_handle **out, const char *name, unsigned flags);
FSC_LIB_API void fsc_close(fsc_handle *h);
FSC_LIB_API int fsc_attached(fsc_handle *h);
FSC_LIB_API int fsc_attach_error(fsc_handle *h);
FSC_LIB_API int fsc_lookup(fsc_handle *h, const char *path,
			   struct fsc_stat *out);
FSC_LIB_API void fsc_lookup_many(fsc_handle *h, const char *const *paths,
				 size_t n, struct fsc_stat *out, int *results);
FSC_LIB_API int fsc_stat(fsc_handle *h, const char *path, struct fsc_stat *out);
FSC_LIB_API int fsc_request_watch(fsc_handle *h, const char *path);
FSC_LIB_API uint64_t fsc_requests_dropped(fsc_handle *h);
FSC_LIB_API int fsc_changes(fsc_handle *h, struct fsc_cursor *cur,
			    fsc_change_fn fn, void *arg);
FSC_LIB_API int fsc_changes_wait(fsc_handle *h, const struct fsc_cursor *cur,
				 int timeout_ms);
FSC_LIB_API const char *fsc_change_name(unsigned kind);
FSC_LIB_API int fsc_cursor_format(const struct fsc_cursor *cur, char *buf,
				  size_t size);
FSC_LIB_API int fsc_cursor_parse(const char *text, struct fsc_cursor *cur);
FSC_LIB_API void fsc_stat_to_stat(const struct fsc_stat *s, struct stat *st);
FSC_LIB_API void fsc_stat_from_stat(const struct stat *st, struct fsc_stat *s);
FSC_LIB_API const char *fsc_strerror(int err);
FSC_LIB_API int fsc_path_ok(const char *p, size_t len);
FSC_LIB_API int fsc_name_ok(const char *name);
FSC_LIB_API int fsc_control(fsc_handle *h, int op, const char *path,
			    int timeout_ms, char *msg, size_t msg_size);
FSC_LIB_API size_t fsc_lib_sizeof(const char *type);
FSC_LIB_API const char *fsc_lib_version(void);

int fsc_open(fsc_handle **out, const char *name, unsigned flags)
{
	return fsc__lib_open(out, name, flags);
}

void fsc_close(fsc_handle *h)
{
	fsc__lib_close(h);
}

int fsc_attached(fsc_handle *h)
{
	return fsc__lib_attached(h);
}

int fsc_attach_error(fsc_handle *h)
{
	return fsc__lib_attach_error(h);
}

int fsc_lookup(fsc_handle *h, const char *path, struct fsc_stat *out)
{
	return fsc__lib_lookup(h, path, out);
}

void fsc_lookup_many(fsc_handle *h, const char *const *paths, size_t n,
		     struct fsc_stat *out, int *results)
{
	fsc__lib_lookup_many(h, paths, n, out, results);
}

int fsc_stat(fsc_handle *h, const char *path, struct fsc_stat *out)
{
	return fsc__lib_stat(h, path, out);
}

int fsc_request_watch(fsc_handle *h, const char *path)
{
	return fsc__lib_request_watch(h, path);
}

uint64_t fsc_requests_dropped(fsc_handle *h)
{
	return fsc__lib_requests_dropped(h);
}

int fsc_changes(fsc_handle *h, struct fsc_cursor *cur, fsc_change_fn fn,
		void *arg)
{
	return fsc__lib_changes(h, cur, fn, arg);
}

int fsc_changes_wait(fsc_handle *h, const struct fsc_cursor *cur,
		     int timeout_ms)
{
	return fsc__lib_changes_wait(h, cur, timeout_ms);
}

const char *fsc_change_name(unsigned kind)
{
	return fsc__lib_change_name(kind);
}

int fsc_cursor_format(const struct fsc_cursor *cur, char *buf, size_t size)
{
	return fsc__lib_cursor_format(cur, buf, size);
}

int fsc_cursor_parse(const char *text, struct fsc_cursor *cur)
{
	return fsc__lib_cursor_parse(text, cur);
}

void fsc_stat_to_stat(const struct fsc_stat *s, struct stat *st)
{
	fsc__lib_stat_to_stat(s, st);
}

void fsc_stat_from_stat(const struct stat *st, struct fsc_stat *s)
{
	fsc__lib_stat_from_stat(st, s);
}

const char *fsc_strerror(int err)
{
	return fsc__lib_strerror(err);
}

int fsc_path_ok(const char *p, size_t len)
{
	return fsc__lib_path_ok(p, len);
}

int fsc_name_ok(const char *name)
{
	return fsc__lib_name_ok(name);
}

int fsc_control(fsc_handle *h, int op, const char *path, int timeout_ms,
		char *msg, size_t msg_size)
{
	return fsc__lib_control(h, op, path, timeout_ms, msg, msg_size);
}

/*
 * sizeof the structure named `type` ("fsc_stat", "fsc_cursor",
 * "fsc_change", "stat": the struct stat of fsc_stat_to_stat()), 0 for
 * any other name or NULL.
 */
size_t fsc_lib_sizeof(const char *type)
{
	static const struct {
		const char *name;
		size_t size;
	} sizes[] = {
		{ "fsc_stat", sizeof(struct fsc_stat) },
		{ "fsc_cursor", sizeof(struct fsc_cursor) },
		{ "fsc_change", sizeof(struct fsc_change) },
		{ "stat", sizeof(struct stat) },
	};
	for (size_t i = 0; type && i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (strcmp(type, sizes[i].name) == 0)
			return sizes[i].size;
	return 0;
}

/* The version of the header the library was built from ("0.1.0"). */
const char *fsc_lib_version(void)
{
	return FSC_VERSION_STRING;
}
