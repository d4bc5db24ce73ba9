/*
 * test_hostile.c - odd paths, odd files and hostile control datagrams
 * (issue 5, item 3).  Each case has one defined answer, stated in the
 * docs/TESTING.md ("Odd paths and files", "Control datagrams") and
 * checked here:
 *
 *   path spellings  relative, ".", "..", "//", trailing "/": never cached;
 *                   fsc_lookup() FSC_UNCACHED, fsc_stat() = stat(2),
 *                   fsc_request_watch() -EINVAL, a WATCH request is
 *                   refused with -EINVAL and counted;
 *   symlinks        answers follow them like stat(2): to a file or a
 *                   directory, cached and kept fresh; dangling, cached as
 *                   "does not exist" until the target appears; a loop (or
 *                   more than 40 links), ELOOP: answered by stat()
 *                   (FSC_UNCACHED, fsc_stat() -ELOOP), fresh once broken;
 *   length          up to --path-max - 1 bytes cached (4095 at most, the
 *                   kernel's PATH_MAX - 1); longer ones answered by stat()
 *                   (-ENAMETOOLONG from PATH_MAX on), a WATCH for them
 *                   refused (-ENAMETOOLONG), one over FSC_PATH_MAX_MAX
 *                   never sent (-EINVAL);
 *   bytes           any byte but NUL and '/' in a name (non-UTF-8,
 *                   newline, tab, backslash): cached like any other;
 *   file types      directories, FIFOs, sockets, device nodes, files on
 *                   tmpfs (/dev/shm): cached, equal to stat(2) (a FIFO's
 *                   times as of its writer's last close: Linux reports no
 *                   IN_MODIFY for FIFO writes); /proc and /sys: answered
 *                   by stat(), never from the cache;
 *   datagrams       see control_datagrams_get_defined_answers below; a
 *                   flood of thousands is served or refused one by one,
 *                   replies are never waited for, passed descriptors are
 *                   dropped by the kernel, and the writer keeps serving.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define GUARD_MS 60000

static struct fsct_writer W;
static fsc_handle *H;
static char shm_dir[64];

static void setup(void)
{
	shm_dir[0] = '\0';
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	fsct_fixture_fini(&W, &H);
	if (shm_dir[0]) {
		DIR *d = opendir(shm_dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char p[PATH_MAX];
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", shm_dir, de->d_name);
			unlink(p);
		}
		if (d)
			closedir(d);
		rmdir(shm_dir);
	}
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 240);

#define PATH(var, rel) \
	char var[PATH_MAX]; \
	snprintf(var, sizeof(var), "%s", fsct_path(&W, rel))

static void start(const char *const *extra)
{
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
}

static int control(int op, const char *path)
{
	char msg[FSC_REPLY_MSG_MAX + 1];
	return fsc_control(H, op, path, GUARD_MS, msg, sizeof(msg));
}

static void watch_ok(const char *path)
{
	int r = control(FSC_OP_WATCH, path);
	cr_assert_eq(r, 0, "watch %s: %d (%s)", path, r, fsc_strerror(r));
}

/* An answer equals stat(2) of `path` now (any source). */
static void equals_stat(const struct fsc_stat *c, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		cr_assert(errno == ENOENT || errno == ENOTDIR, "stat(%s): %s",
			  path, strerror(errno));
		cr_assert_eq(c->exists, 0, "%s: gone, answer says it exists",
			     path);
		return;
	}
	cr_assert(c->exists, "%s exists, answer says not", path);
	cr_assert(c->dev == (uint64_t)st.st_dev &&
			  c->ino == (uint64_t)st.st_ino &&
			  c->mode == st.st_mode &&
			  c->nlink == (uint64_t)st.st_nlink &&
			  c->uid == st.st_uid && c->gid == st.st_gid &&
			  c->rdev == (uint64_t)st.st_rdev &&
			  c->size == st.st_size &&
			  c->mtime_sec == st.st_mtim.tv_sec &&
			  c->mtime_nsec == (uint32_t)st.st_mtim.tv_nsec &&
			  c->ctime_sec == st.st_ctim.tv_sec &&
			  c->ctime_nsec == (uint32_t)st.st_ctim.tv_nsec,
		  "%s: answer (source %d, ino %llu, mode %o, size %lld, mtime "
		  "%lld.%09u) != stat (ino %llu, mode %o, size %lld, mtime "
		  "%lld.%09ld)",
		  path, c->source, (unsigned long long)c->ino, c->mode,
		  (long long)c->size, (long long)c->mtime_sec, c->mtime_nsec,
		  (unsigned long long)st.st_ino, st.st_mode,
		  (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		  st.st_mtim.tv_nsec);
}

/* A cache hit equal to stat(2). */
static void fresh(const char *path)
{
	struct fsc_stat c;
	int r = fsc_lookup(H, path, &c);
	cr_assert_eq(r, 0, "%s: fsc_lookup %d (%s), want a hit", path, r,
		     fsc_strerror(r));
	equals_stat(&c, path);
}

/* Not from the cache; fsc_stat() answers what stat(2) says. */
static void by_stat(const char *path, int want_err)
{
	struct fsc_stat c;
	int r = fsc_lookup(H, path, &c);
	cr_assert_eq(r, FSC_UNCACHED, "%s: fsc_lookup %d, want FSC_UNCACHED",
		     path, r);
	r = fsc_stat(H, path, &c);
	cr_assert_eq(r, want_err, "%s: fsc_stat %d (%s), want %d", path, r,
		     fsc_strerror(r), want_err);
	if (r == 0) {
		cr_assert_eq(c.source, FSC_SOURCE_STAT);
		equals_stat(&c, path);
	}
}

/* ---- spellings ------------------------------------------------------------ */

Test(hostile, non_canonical_spellings)
{
	start(NULL);
	PATH(f, "f.log");
	fsct_write(f, "f\n", 0);
	watch_ok(f);
	cr_assert_eq(chdir(W.dir), 0);
	char spell[6][PATH_MAX];
	snprintf(spell[0], PATH_MAX, "f.log");
	snprintf(spell[1], PATH_MAX, "%s/./f.log", W.dir);
	snprintf(spell[2], PATH_MAX, "%s/../%s/f.log", W.dir, W.dir + 5);
	snprintf(spell[3], PATH_MAX, "%s//f.log", W.dir);
	snprintf(spell[4], PATH_MAX, "%s/", W.dir);
	snprintf(spell[5], PATH_MAX, "./f.log");
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	for (int i = 0; i < 6; i++) {
		by_stat(spell[i], 0);
		cr_assert_eq(fsc_request_watch(H, spell[i]), -EINVAL, "%s",
			     spell[i]);
		cr_assert_eq(control(FSC_OP_WATCH, spell[i]), -EINVAL, "%s",
			     spell[i]);
	}
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED), refused + 6);
	fresh(f); /* the canonical spelling is untouched */
	cr_assert_eq(chdir("/"), 0);
	fsct_writer_stop(&W);
}

/* ---- symlinks --------------------------------------------------------- */

Test(hostile, symlinks_of_every_kind)
{
	start(NULL);
	PATH(target, "target.log");
	PATH(dir, "dir");
	PATH(to_file, "to_file");
	PATH(to_dir, "to_dir");
	PATH(dangling, "dangling");
	PATH(missing, "missing.log");
	PATH(loop_a, "loop_a");
	PATH(loop_b, "loop_b");
	PATH(self, "self");
	fsct_write(target, "t\n", 0);
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(symlink(target, to_file), 0);
	cr_assert_eq(symlink("dir", to_dir), 0);
	cr_assert_eq(symlink(missing, dangling), 0);
	cr_assert_eq(symlink("loop_b", loop_a), 0);
	cr_assert_eq(symlink("loop_a", loop_b), 0);
	cr_assert_eq(symlink("self", self), 0);
	/* 41 links in a chain: one more than the kernel follows. */
	char chain[42][PATH_MAX];
	for (int i = 0; i <= 41; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "chain%02d", i);
		snprintf(chain[i], PATH_MAX, "%s", fsct_path(&W, rel));
	}
	fsct_write(chain[41], "end of chain\n", 0);
	for (int i = 0; i < 41; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "chain%02d", i + 1);
		cr_assert_eq(symlink(rel, chain[i]), 0);
	}
	const char *all[] = { to_file, to_dir,   dangling, loop_a,
			      self,    chain[0], chain[1] };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		watch_ok(all[i]);
	fsct_sync(H);

	fresh(to_file);
	fresh(to_dir);
	fresh(dangling); /* cached "does not exist" */
	by_stat(loop_a, -ELOOP);
	by_stat(self, -ELOOP);
	by_stat(chain[0], -ELOOP); /* 41 links */
	fresh(chain[1]);           /* 40 links: followed */

	/* Changes through and to the links are seen. */
	fsct_write(target, "more\n", 1);
	fsct_write(fsct_path(&W, "dir/child"), "c", 0); /* dir's mtime */
	fsct_write(missing, "now here\n", 0);
	cr_assert_eq(unlink(loop_b), 0); /* break the loop: a -> b, b a file */
	fsct_write(loop_b, "b is a file\n", 0);
	cr_assert_eq(unlink(self), 0);
	fsct_write(self, "self is a file\n", 0);
	fsct_write(chain[41], "longer end\n", 1);
	fsct_sync(H);
	fresh(to_file);
	fresh(to_dir);
	fresh(dangling);
	fresh(loop_a);
	fresh(self);
	fresh(chain[1]);
	by_stat(chain[0], -ELOOP);
	fsct_writer_stop(&W);
}

/* ---- length ----------------------------------------------------------- */

/* Under the writer's dir, make directories until the path is `len` long. */
static void deep_path(char *out, size_t len)
{
	char cur[PATH_MAX + 1];
	snprintf(cur, sizeof(cur), "%s", W.dir);
	while (strlen(cur) + 1 + 200 + 1 + 8 < len) {
		size_t n = strlen(cur);
		cur[n] = '/';
		memset(cur + n + 1, 'd', 200);
		cur[n + 201] = '\0';
		cr_assert(mkdir(cur, 0755) == 0 || errno == EEXIST, "mkdir: %s",
			  strerror(errno));
	}
	size_t n = strlen(cur);
	cr_assert_lt(n + 2, len);
	cur[n] = '/';
	memset(cur + n + 1, 'f', len - n - 1);
	cur[len] = '\0';
	memcpy(out, cur, len + 1);
}

Test(hostile, longest_paths)
{
	const char *extra[] = { "--path-max", "4095", "--capacity", "48",
				NULL };
	start(extra);
	static char longest[PATH_MAX + 1];
	deep_path(longest, PATH_MAX - 1); /* 4095 bytes: the longest key */
	cr_assert_eq(strlen(longest), PATH_MAX - 1);
	fsct_write(longest, "deep\n", 0);
	watch_ok(longest);
	fresh(longest);
	fsct_write(longest, "deeper\n", 1);
	fsct_sync(H);
	fresh(longest);

	/* PATH_MAX and beyond: the kernel refuses them, so do we. */
	static char too_long[PATH_MAX + 2], far_too_long[6000];
	memcpy(too_long, longest, PATH_MAX - 1);
	memcpy(too_long + PATH_MAX - 1, "x", 2); /* 4096 bytes */
	memset(far_too_long, 'z', sizeof(far_too_long) - 1);
	far_too_long[0] = '/';
	far_too_long[sizeof(far_too_long) - 1] = '\0';
	by_stat(too_long, -ENAMETOOLONG);
	by_stat(far_too_long, -ENAMETOOLONG);
	cr_assert_eq(fsc_request_watch(H, too_long), -EINVAL);
	cr_assert_eq(control(FSC_OP_WATCH, too_long), -EINVAL);
	cr_assert_eq(control(FSC_OP_WATCH, far_too_long), -EINVAL);
	fsct_writer_stop(&W);
}

/* Longer than --path-max: answered by stat(); a WATCH is refused. */
Test(hostile, longer_than_path_max_refused)
{
	const char *extra[] = { "--path-max", "100", NULL };
	start(extra);
	static char p[PATH_MAX + 1];
	deep_path(p, 300);
	fsct_write(p, "x", 0);
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	cr_assert_eq(control(FSC_OP_WATCH, p), -ENAMETOOLONG);
	cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED), refused + 1);
	by_stat(p, 0);
	fsct_writer_stop(&W);
}

/* ---- bytes ------------------------------------------------------------ */

Test(hostile, any_byte_in_a_name)
{
	start(NULL);
	static const char *const names[] = {
		"\xff\xfe not utf-8.log", "new\nline.log",    "tab\there.log",
		"back\\slash.log",        "\x01\x1f\x7f.log", "-rf",
		"\xc3\xa9t\xc3\xa9.log",  " lead and trail ",
	};
	enum {
		N = sizeof(names) / sizeof(names[0])
	};
	char paths[N][PATH_MAX];
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], PATH_MAX, "%s", fsct_path(&W, names[i]));
		fsct_write(paths[i], "1\n", 0);
		if (i % 2)
			watch_ok(paths[i]);
		else { /* learned from a reader's miss */
			struct fsc_stat c;
			cr_assert_eq(fsc_stat(H, paths[i], &c), 0);
		}
	}
	fsct_sync(H);
	for (int i = 0; i < N; i++) {
		fresh(paths[i]);
		fsct_write(paths[i], "22\n", 1);
	}
	fsct_sync(H);
	for (int i = 0; i < N; i++)
		fresh(paths[i]);
	fsct_writer_stop(&W);
}

/* ---- file types -------------------------------------------------------- */

Test(hostile, special_files)
{
	start(NULL);
	PATH(dir, "adir");
	PATH(fifo, "fifo");
	PATH(sock, "sock");
	PATH(chr, "null-copy");
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(mkfifo(fifo, 0644), 0);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	cr_assert_lt(strlen(sock), sizeof(a.sun_path));
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	int have_chr = mknod(chr, S_IFCHR | 0666, makedev(1, 3)) == 0;
	if (!have_chr)
		cr_log_warn("mknod: %s: no device node test", strerror(errno));

	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fsct-hostile-%ld",
		 (long)getpid());
	cr_assert_eq(mkdir(shm_dir, 0700), 0);
	char tmpfs_file[PATH_MAX];
	snprintf(tmpfs_file, sizeof(tmpfs_file), "%s/on-tmpfs.log", shm_dir);
	fsct_write(tmpfs_file, "tmpfs\n", 0);

	const char *cached[] = {
		dir, fifo, sock, "/dev/null", tmpfs_file, have_chr ? chr : dir
	};
	for (size_t i = 0; i < sizeof(cached) / sizeof(cached[0]); i++)
		watch_ok(cached[i]);
	static const char *const pseudo[] = {
		"/proc/self/status", "/proc/uptime", "/proc/sys/fs/inotify",
		"/sys/kernel",       "/sys/fs",
	};
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
		struct fsc_stat c;
		cr_assert_eq(fsc_stat(H, pseudo[i], &c), 0, "%s", pseudo[i]);
	}
	fsct_sync(H);
	for (size_t i = 0; i < sizeof(cached) / sizeof(cached[0]); i++)
		fresh(cached[i]);
	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
		if (access(pseudo[i], F_OK) == 0)
			by_stat(pseudo[i], 0);
	}

	/* Changes to each kind are seen. */
	fsct_write(fsct_path(&W, "adir/x"), "x", 0);
	/* A FIFO's writes make no IN_MODIFY (Linux 6.18): its new times are
	 * seen when the writing end is closed (IN_CLOSE_WRITE). */
	int ff = open(fifo, O_RDWR | O_NONBLOCK);
	cr_assert_geq(ff, 0);
	cr_assert_eq(write(ff, "through the fifo", 16), 16);
	close(ff);
	cr_assert_eq(chmod(sock, 0600), 0);
	int nul = open("/dev/null", O_WRONLY);
	cr_assert_eq(write(nul, "discarded", 9), 9);
	close(nul);
	fsct_write(tmpfs_file, "more\n", 1);
	fsct_sync(H);
	for (size_t i = 0; i < sizeof(cached) / sizeof(cached[0]); i++)
		fresh(cached[i]);
	close(s);
	fsct_writer_stop(&W);
}

/* ---- control datagrams -------------------------------------------------- */

static int bound_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	sa_family_t fam = AF_UNIX;
	cr_assert_eq(bind(fd, (struct sockaddr *)&fam, sizeof(fam)), 0);
	return fd;
}

static void send_raw(int fd, const void *buf, size_t n)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	snprintf(to.sun_path, sizeof(to.sun_path), "%s", W.socket);
	ssize_t r = sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to));
	cr_assert_eq(r, (ssize_t)n, "sendto(%zu bytes): %s", n,
		     strerror(errno));
}

static struct fsc_reply recv_reply(int fd, char *msg, size_t size)
{
	struct pollfd p = { fd, POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, GUARD_MS), 1, "no reply within %d ms",
		     GUARD_MS);
	unsigned char buf[FSC_REPLY_MAX];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	struct fsc_reply rp;
	cr_assert_geq(n, (ssize_t)sizeof(rp));
	memcpy(&rp, buf, sizeof(rp));
	cr_assert_eq(rp.magic, FSC_MSG_MAGIC);
	cr_assert_eq(rp.version, FSC_PROTO_VERSION);
	cr_assert_eq(rp.msg_len, (uint32_t)n - sizeof(rp));
	size_t k = rp.msg_len < size - 1 ? rp.msg_len : size - 1;
	memcpy(msg, buf + sizeof(rp), k);
	msg[k] = '\0';
	return rp;
}

static size_t request(unsigned char *buf, uint32_t magic, uint16_t version,
		      uint16_t op, uint64_t cookie, uint32_t path_len,
		      uint32_t flags, const void *path, size_t n)
{
	struct fsc_request rq = { magic, version, op, cookie, path_len, flags };
	memcpy(buf, &rq, sizeof(rq));
	if (n)
		memcpy(buf + sizeof(rq), path, n);
	return sizeof(rq) + n;
}

struct dgram_case {
	const char *what;
	uint32_t magic;
	uint16_t version, op;
	int path_len_delta; /* declared minus real */
	uint32_t flags;
	const char *path; /* NULL: no path bytes */
	int truncate_to;  /* >= 0: send only this many bytes */
	int status;       /* the reply's status */
	int refused;      /* counted in REQUESTS_REFUSED */
};

/*
 * The defined answer to each malformed or odd datagram, as
 * docs/TESTING.md ("Control datagrams") lists it: the reply's status, and whether it counts as refused.  The
 * reply echoes op and cookie when the 24-byte header arrived whole.
 */
Test(hostile, control_datagrams_get_defined_answers)
{
	start(NULL);
	PATH(f, "f.log");
	fsct_write(f, "f\n", 0);
	const uint32_t M = FSC_MSG_MAGIC;
	const uint16_t V = FSC_PROTO_VERSION;
	const struct dgram_case cases[] = {
		{ "empty datagram", M, V, 2, 0, 0, NULL, 0, -EBADMSG, 1 },
		{ "1 byte", M, V, 2, 0, 0, NULL, 1, -EBADMSG, 1 },
		{ "23 bytes", M, V, 2, 0, 0, NULL, 23, -EBADMSG, 1 },
		{ "bad magic", 0x12345678, V, 2, 0, 0, f, -1, -EPROTO, 1 },
		{ "byte-swapped magic", 0x314d5346, V, 2, 0, 0, f, -1, -EPROTO,
		  1 },
		{ "version 0", M, 0, 2, 0, 0, f, -1, -EPROTO, 1 },
		{ "version 2", M, 2, 2, 0, 0, f, -1, -EPROTO, 1 },
		{ "op 0", M, V, 0, 0, 0, f, -1, -EINVAL, 1 },
		{ "op 7", M, V, 7, 0, 0, f, -1, -EINVAL, 1 },
		{ "op 0xffff", M, V, 0xffff, 0, 0, f, -1, -EINVAL, 1 },
		{ "flags set", M, V, 2, 0, 1, f, -1, -EINVAL, 1 },
		{ "path_len too big", M, V, 2, 5, 0, f, -1, -EBADMSG, 1 },
		{ "path_len too small", M, V, 2, -3, 0, f, -1, -EBADMSG, 1 },
		{ "path_len 0 with bytes", M, V, 2, -100000, 0, f, -1, -EBADMSG,
		  1 },
		{ "path cut short", M, V, 2, 0, 0, f, 30, -EBADMSG, 1 },
		{ "NUL inside path", M, V, 2, 0, 0, "/tmp/a\0b", -1, -EINVAL,
		  1 },
		{ "relative path", M, V, 2, 0, 0, "rel/f.log", -1, -EINVAL, 1 },
		{ "empty path", M, V, 2, 0, 0, "", -1, -EINVAL, 1 },
		{ "unwatch of an unwatched path", M, V, 3, 0, 0, "/nope", -1,
		  -ENOENT, 0 },
		{ "sync with a path (ignored)", M, V, 5, 0, 0, "/ignored", -1,
		  0, 0 },
		{ "invalidate with a path (ignored)", M, V, 4, 0, 0, "/x", -1,
		  0, 0 },
		{ "valid watch", M, V, 2, 0, 0, f, -1, 0, 0 },
	};
	int fd = bound_socket();
	unsigned char buf[FSC_REQUEST_MAX + 64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dgram_case *c = &cases[i];
		size_t plen = !c->path ? 0
			      : !strcmp(c->what, "NUL inside path")
				      ? 8
				      : strlen(c->path);
		uint32_t declared =
			c->path_len_delta < -(int)plen
				? 0
				: (uint32_t)((int)plen + c->path_len_delta);
		uint64_t cookie = 0xc0c0 + i;
		size_t n = request(buf, c->magic, c->version, c->op, cookie,
				   declared, c->flags, c->path, plen);
		if (c->truncate_to >= 0)
			n = (size_t)c->truncate_to;
		uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
		send_raw(fd, buf, n);
		char msg[FSC_REPLY_MSG_MAX + 1];
		struct fsc_reply rp = recv_reply(fd, msg, sizeof(msg));
		cr_assert_eq(rp.status, c->status,
			     "%s: status %d (%s), want "
			     "%d",
			     c->what, rp.status, msg, c->status);
		if (n >= sizeof(struct fsc_request)) {
			cr_assert_eq(rp.cookie, cookie, "%s: cookie", c->what);
			cr_assert_eq(rp.op, c->op, "%s: op", c->what);
		} else {
			cr_assert_eq(rp.cookie, 0, "%s: cookie", c->what);
		}
		/* The writer counts a refusal after replying: the next
		 * datagram it reads (the sync) comes after the count. */
		fsct_sync(H);
		cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED),
			     refused + (uint64_t)c->refused,
			     "%s: refused "
			     "count",
			     c->what);
	}

	/* Oversized: anything over 24 + 4096 bytes. */
	static unsigned char big[65536];
	size_t sizes[] = { FSC_REQUEST_MAX + 1, 8192, sizeof(big) };
	for (size_t i = 0; i < 3; i++) {
		request(big, M, V, 2, 77, (uint32_t)(sizes[i] - 24), 0, NULL,
			0);
		memset(big + 24, 'a', sizes[i] - 24);
		big[24] = '/';
		send_raw(fd, big, sizes[i]);
		char msg[FSC_REPLY_MSG_MAX + 1];
		struct fsc_reply rp = recv_reply(fd, msg, sizeof(msg));
		cr_assert_eq(rp.status, -EMSGSIZE, "%zu bytes: %d (%s)",
			     sizes[i], rp.status, msg);
		cr_assert_eq(rp.op, 0);
	}
	/* The longest acceptable one: 4096 path bytes (too long to cache). */
	request(big, M, V, 2, 78, FSC_PATH_MAX_MAX, 0, NULL, 0);
	memset(big + 24, 'b', FSC_PATH_MAX_MAX);
	big[24] = '/';
	send_raw(fd, big, FSC_REQUEST_MAX);
	char msg[FSC_REPLY_MSG_MAX + 1];
	struct fsc_reply rp = recv_reply(fd, msg, sizeof(msg));
	cr_assert_eq(rp.status, -ENAMETOOLONG, "%d (%s)", rp.status, msg);

	/* A MISS is never answered, even when malformed; still counted. */
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	size_t n = request(buf, M, V, FSC_OP_MISS, 1, 3, 0, "rel", 3);
	send_raw(fd, buf, n);
	n = request(buf, M, V, FSC_OP_MISS, 1, 9, 0, "/x", 2);
	send_raw(fd, buf, n);
	fsct_sync(H);
	cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS_REFUSED), refused + 2);
	struct pollfd p = { fd, POLLIN, 0 };
	cr_assert_eq(poll(&p, 1, 0), 0, "a MISS was answered");
	close(fd);
	fresh(f);
	fsct_writer_stop(&W);
}

/* Descriptors in the writer's /proc/PID/fd. */
static int writer_fds(void)
{
	char d[64];
	snprintf(d, sizeof(d), "/proc/%d/fd", (int)W.pid);
	DIR *dir = opendir(d);
	cr_assert_not_null(dir);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * The writer runs under qemu-user (the cross test passes; its binary is
 * then the interpreter).  qemu receives a datagram's control data into a
 * buffer larger than the program's and leaks the descriptors that do not
 * fit the program's; a real kernel discards them.
 */
static int writer_under_qemu(void)
{
	char link[64], exe[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)W.pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0)
		return 0;
	exe[n] = '\0';
	return strstr(exe, "/qemu-") != NULL;
}

Test(hostile, flood_of_datagrams)
{
	const char *extra[] = { "--capacity", "8192", NULL }; /* all fit */
	start(extra);
	enum {
		VALID = 2000,
		GARBAGE = 10000,
		REPLIED = 5000,
		FDS = 300
	};
	static char paths[VALID][PATH_MAX];
	for (int i = 0; i < VALID; i++) {
		char rel[32];
		snprintf(rel, sizeof(rel), "flood%04d.log", i);
		snprintf(paths[i], PATH_MAX, "%s", fsct_path(&W, rel));
		if (i % 2)
			fsct_write(paths[i], "x", 0);
	}
	fsct_sync(H);
	uint64_t refused0 = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	uint64_t requests0 = fsct_counter(H, FSC_CTR_REQUESTS);
	int fds0 = writer_fds();

	/* Unbound sender (no replies possible): valid misses among garbage. */
	int quiet = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(quiet, 0);
	unsigned char buf[FSC_REQUEST_MAX];
	unsigned rng = 12345;
	int v = 0;
	for (int i = 0; i < GARBAGE + VALID; i++) {
		size_t n;
		if (i % 6 == 5 && v < VALID) {
			n = request(buf, FSC_MSG_MAGIC, FSC_PROTO_VERSION,
				    FSC_OP_MISS, 0, (uint32_t)strlen(paths[v]),
				    0, paths[v], strlen(paths[v]));
			v++;
		} else {
			rng = rng * 1103515245u + 12345u;
			n = 1 + (rng >> 8) % 200;
			for (size_t k = 0; k < n; k++) {
				rng = rng * 1103515245u + 12345u;
				buf[k] = (unsigned char)(rng >> 16);
			}
		}
		send_raw(quiet, buf, n);
	}
	for (; v < VALID; v++) {
		size_t n = request(buf, FSC_MSG_MAGIC, FSC_PROTO_VERSION,
				   FSC_OP_MISS, 0, (uint32_t)strlen(paths[v]),
				   0, paths[v], strlen(paths[v]));
		send_raw(quiet, buf, n);
	}
	close(quiet);

	/* A bound sender that never reads its error replies. */
	int deaf = bound_socket();
	for (int i = 0; i < REPLIED; i++)
		send_raw(deaf, "short", 5);

	/* Datagrams carrying descriptors: the writer must not keep them. */
	int pass = open("/dev/null", O_RDONLY);
	cr_assert_geq(pass, 0);
	for (int i = 0; i < FDS; i++) {
		int fdv[16];
		for (int k = 0; k < 16; k++)
			fdv[k] = pass;
		union {
			char b[CMSG_SPACE(sizeof(fdv))];
			struct cmsghdr align;
		} cb;
		struct sockaddr_un to = { .sun_family = AF_UNIX };
		snprintf(to.sun_path, sizeof(to.sun_path), "%s", W.socket);
		struct iovec iov = { (void *)"fds", 3 };
		struct msghdr mh = { .msg_name = &to,
				     .msg_namelen = sizeof(to),
				     .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cb.b,
				     .msg_controllen = sizeof(cb.b) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fdv));
		memcpy(CMSG_DATA(cm), fdv, sizeof(fdv));
		cr_assert_eq(sendmsg(deaf, &mh, 0), 3, "sendmsg: %s",
			     strerror(errno));
	}
	close(pass);

	fsct_sync(H);
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED) - refused0;
	uint64_t requests = fsct_counter(H, FSC_CTR_REQUESTS) - requests0;
	cr_log_info("flood: %d datagrams, %llu refused, %llu served",
		    GARBAGE + VALID + REPLIED + FDS,
		    (unsigned long long)refused, (unsigned long long)requests);
	/* Random bytes are never a valid header; every one is refused. */
	cr_assert_eq(refused, GARBAGE + REPLIED + FDS);
	cr_assert_eq(requests, VALID + 1 /* the sync */);
	int fds1 = writer_fds();
	if (writer_under_qemu())
		cr_log_info("writer under qemu-user, which leaks SCM_RIGHTS "
			    "descriptors its own larger control buffer took "
			    "in: %d descriptors, had %d (not checked)",
			    fds1, fds0);
	else
		cr_assert_eq(fds1, fds0,
			     "the writer holds %d descriptors, "
			     "had %d",
			     fds1, fds0);
	for (int i = 0; i < VALID; i++)
		fresh(paths[i]);
	close(deaf);
	fsct_writer_stop(&W);
}
