/*
 * test_security.c - who may read the cache, write it, and ask the writer
 * for anything (DESIGN.md, "Security"; issue 5, item 5).
 *
 *   - the segment, the recency object and the control socket are 0600 by
 *     default, 0640 / 0660 / 0660 with --group-readable;
 *   - a reader's mapping of the table is read-only: a store through it
 *     kills the reader with SIGSEGV, and mprotect() cannot make it
 *     writable (the object was opened O_RDONLY);
 *   - another user cannot reach a 0600 socket nor open the segment; when
 *     the socket is reachable (--group-readable, or an operator's chmod),
 *     the writer refuses that user's requests, answers -EACCES, counts
 *     them (FSC_CTR_REQUESTS_REFUSED) and changes nothing;
 *   - a segment name squatted by another user, or a socket path taken by
 *     a regular file, stops the writer at start with a clear error and
 *     leaves the squatter's object alone.
 * The tests run as root (CI does) and drop to uid/gid 65534 in forked
 * children; as another user they are skipped.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_MS 60000
#define NOBODY 65534

static struct fsct_writer W;
static fsc_handle *H;

static void setup(void)
{
	fsct_fixture_init(&W, &H);
}

static void teardown(void)
{
	fsct_fixture_fini(&W, &H);
}

TestSuite(security, .init = setup, .fini = teardown, .timeout = 120);

static void need_root(void)
{
	if (geteuid() != 0) {
		fsct_writer_cleanup(&W); /* no .fini after a skip */
		cr_skip_test("needs root to switch to another uid");
	}
}

static void start(const char *const *extra)
{
	fsct_writer_start(&W, extra);
	H = fsct_open(&W);
}

static mode_t object_mode(int use, uid_t *uid)
{
	char shm[FSC_NAME_MAX + 32], dev[FSC_NAME_MAX + 48];
	fsc_shm_name(shm, sizeof(shm), W.name, use);
	snprintf(dev, sizeof(dev), "/dev/shm%s", shm);
	struct stat st;
	cr_assert_eq(stat(dev, &st), 0, "stat(%s): %s", dev, strerror(errno));
	cr_assert(S_ISREG(st.st_mode));
	*uid = st.st_uid;
	return st.st_mode & 07777;
}

static mode_t socket_mode(void)
{
	struct stat st;
	cr_assert_eq(lstat(W.socket, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode), "%s is not a socket", W.socket);
	return st.st_mode & 07777;
}

static void check_modes(mode_t seg, mode_t use, mode_t sock)
{
	uid_t uid;
	mode_t m = object_mode(0, &uid);
	cr_expect_eq(m, seg, "segment mode %o, want %o", m, seg);
	cr_expect_eq(uid, geteuid());
	m = object_mode(1, &uid);
	cr_expect_eq(m, use, "recency object mode %o, want %o", m, use);
	m = socket_mode();
	cr_expect_eq(m, sock, "socket mode %o, want %o", m, sock);
}

Test(security, owner_only_by_default)
{
	mode_t old = umask(0); /* the writer must not depend on the umask */
	start(NULL);
	umask(old);
	check_modes(0600, 0600, 0600);
	fsct_writer_stop(&W);
}

Test(security, group_readable_is_explicit)
{
	const char *extra[] = { "--group-readable", NULL };
	start(extra);
	check_modes(0640, 0660, 0660);
	fsct_writer_stop(&W);
}

/*
 * Issue 13, item 11: the readers' object is writable by every reader (the
 * group with --group-readable), so one may truncate it.  The writer's next
 * touch of it must not kill it (SIGBUS): it serves a new segment, counts
 * it, and readers re-attach.  (Done here by the owner: a group member has
 * the same write permission, see group_readable_is_explicit.)
 */
Test(security, a_truncated_readers_object_does_not_stop_the_writer)
{
	/* qemu-user (armhf on x86-64) reports a SIGBUS at the wrong address
	 * (a page off, checked with a standalone probe), so the writer's
	 * handler cannot tell the fault is in its mapping. */
	if (fsct_writer_emulated()) {
		fsct_writer_cleanup(&W); /* no .fini after a skip */
		cr_skip_test(
			"the writer is emulated: its SIGBUS address is not "
			"the fault's");
	}
	const char *extra[] = { "--group-readable", NULL };
	start(extra);
	char f[PATH_MAX], g[PATH_MAX], shm[FSC_SHM_NAME_SIZE];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	snprintf(g, sizeof(g), "%s", fsct_path(&W, "g.log"));
	fsct_write(f, "x\n", 0);
	fsct_write(g, "yy\n", 0);
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, f, GUARD_MS, NULL, 0), 0);
	struct fsc_header hdr;
	cr_assert_eq(fsc_header_read(H, &hdr), 0);

	fsc_shm_name(shm, sizeof(shm), W.name, FSC_OBJ_USE);
	int fd = shm_open(shm, O_RDWR, 0);
	cr_assert_geq(fd, 0, "shm_open(%s): %s", shm, strerror(errno));
	cr_assert_eq(ftruncate(fd, 0), 0);
	close(fd);
	/* What touches it: an insert (its use mark), a publish (the feed's
	 * sleepers), reading the readers' counters. */
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, g, GUARD_MS, NULL, 0), 0);
	fsct_write(f, "more\n", 1);
	fsct_sync(H);
	/* The turn that touched it may end after the sync's reply: the new
	 * segment comes at its end, and the handle has none for the moment
	 * between (the suite's timeout bounds the wait). */
	struct fsc_header now;
	while (fsc_header_read(H, &now) != 0 || now.epoch == hdr.epoch)
		sched_yield();
	fsct_sync(H);
	cr_assert_eq(waitpid(W.pid, NULL, WNOHANG), 0, "the writer died");
	cr_assert_eq(fsct_counter(H, FSC_CTR_USE_TRUNCATED), 1);
	/* Served as before, from the new segment, with its entries. */
	struct fsc_stat st;
	cr_assert_eq(fsc_lookup(H, f, &st), 0);
	cr_assert_eq(st.size, 7);
	cr_assert_eq(fsc_lookup(H, g, &st), 0);
	cr_assert_eq(st.size, 3);
	fsct_writer_stop(&W);
}

/* ---- the reader's mapping ---------------------------------------------- */

Test(security, reader_mapping_is_read_only)
{
	start(NULL);
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "x\n", 0);
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, f, GUARD_MS, NULL, 0), 0);
	struct fsc_stat before;
	cr_assert_eq(fsc_lookup(H, f, &before), 0);

	/* A store into the header, then into an entry: SIGSEGV each time. */
	for (int where = 0; where < 2; where++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			signal(SIGSEGV, SIG_DFL);
			volatile unsigned char *p =
				(volatile unsigned char *)H->map->base +
				(where ? FSC_HEADER_SIZE + 40 : 64);
			*p = 0xff;
			_exit(0); /* the store went through: a failure */
		}
		int st = fsct_child_status(pid);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
			  "a store through the reader's mapping: wait status "
			  "0x%x, want death by SIGSEGV",
			  st);
	}
	/* Nor can the reader make its mapping writable. */
	void *base = (void *)(uintptr_t)H->map->base;
	cr_assert_eq(mprotect(base, H->map->size, PROT_READ | PROT_WRITE), -1,
		     "mprotect made the table writable");
	cr_assert_eq(errno, EACCES, "mprotect: %s", strerror(errno));

	/* The writer and the table are untouched. */
	fsct_sync(H);
	struct fsc_stat after;
	cr_assert_eq(fsc_lookup(H, f, &after), 0);
	cr_assert_eq(after.ino, before.ino);
	cr_assert_eq(after.size, before.size);
	fsct_writer_stop(&W);
}

/* ---- another user ----------------------------------------------------- */

/* In a forked child: become nobody (uid and, if asked, gid and groups). */
static void become_nobody(int drop_groups)
{
	if (drop_groups &&
	    (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0))
		_exit(90);
	if (setresuid(NOBODY, NOBODY, NOBODY) < 0)
		_exit(91);
}

/* A request datagram as protocol.h defines it. */
static size_t make_request(unsigned char *buf, uint16_t op, uint64_t cookie,
			   const char *path)
{
	struct fsc_request rq = { FSC_MSG_MAGIC, FSC_PROTO_VERSION,      op,
				  cookie,        (uint32_t)strlen(path), 0 };
	memcpy(buf, &rq, sizeof(rq));
	memcpy(buf + sizeof(rq), path, rq.path_len);
	return sizeof(rq) + rq.path_len;
}

/*
 * Child: send `op` for `path` as nobody and wait (bounded) for the reply.
 * Exit codes: 0 reply with status -EACCES (or, for MISS, sent); 10 sendto
 * refused with EACCES (the socket's mode kept us out); 11 shm_open of the
 * segment refused with EACCES; others: unexpected.
 */
static void nobody_request(int drop_groups, uint16_t op, const char *path,
			   int expect_reach)
{
	become_nobody(drop_groups);
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), W.name, 0);
	int segfd = shm_open(shm, O_RDONLY, 0);
	int seg_denied = segfd < 0 && errno == EACCES;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sa_family_t fam = AF_UNIX;
	if (fd < 0 || bind(fd, (struct sockaddr *)&fam, sizeof(fam)) < 0)
		_exit(92);
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	snprintf(to.sun_path, sizeof(to.sun_path), "%s", W.socket);
	unsigned char buf[FSC_REQUEST_MAX];
	size_t n = make_request(buf, op, 0x5eed, path);
	if (sendto(fd, buf, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		if (errno == EACCES && !expect_reach)
			_exit(seg_denied ? 10 : 93);
		_exit(94);
	}
	if (!expect_reach)
		_exit(95);
	if (op == FSC_OP_MISS)
		_exit(0);
	struct pollfd p = { fd, POLLIN, 0 };
	if (poll(&p, 1, GUARD_MS) != 1)
		_exit(96);
	unsigned char rb[FSC_REPLY_MAX];
	ssize_t k = recv(fd, rb, sizeof(rb), 0);
	struct fsc_reply rp;
	if (k < (ssize_t)sizeof(rp))
		_exit(97);
	memcpy(&rp, rb, sizeof(rp));
	if (rp.magic != FSC_MSG_MAGIC || rp.cookie != 0x5eed || rp.op != op)
		_exit(98);
	_exit(rp.status == -EACCES ? 0 : 99);
}

static int run_as_nobody(int drop_groups, uint16_t op, const char *path,
			 int expect_reach)
{
	/* The private directory must not be what keeps nobody out. */
	cr_assert_eq(chmod(W.dir, 0755), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		nobody_request(drop_groups, op, path, expect_reach);
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st), "child: wait status 0x%x", st);
	return WEXITSTATUS(st);
}

Test(security, other_user_kept_out_by_modes)
{
	need_root();
	start(NULL);
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_sync(H);
	uint64_t requests = fsct_counter(H, FSC_CTR_REQUESTS);
	int rc = run_as_nobody(1, FSC_OP_WATCH, f, 0);
	cr_assert_eq(rc, 10,
		     "nobody reached a 0600 socket or segment "
		     "(child exit %d)",
		     rc);
	/* nobody's handle answers by stat(): it cannot open the segment. */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		become_nobody(1);
		fsc_handle *h = NULL;
		int r = fsc_open(&h, W.name, FSC_OPEN_ATTACHED);
		_exit(r == -EACCES ? 0 : 1);
	}
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "nobody attached to a 0600 segment (0x%x)", st);
	fsct_sync(H);
	/* Only our two syncs got through. */
	cr_assert_eq(fsct_counter(H, FSC_CTR_REQUESTS), requests + 1);
	fsct_writer_stop(&W);
}

/* Another user who can reach the socket: refused, counted, nothing done. */
static void refused_case(int group_readable)
{
	need_root();
	const char *extra[] = { group_readable ? "--group-readable" : NULL,
				NULL };
	start(extra);
	if (!group_readable) /* an operator opening the socket to everyone */
		cr_assert_eq(chmod(W.socket, 0666), 0);
	char f[PATH_MAX];
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "f.log"));
	fsct_write(f, "secret\n", 0);
	fsct_sync(H);
	uint64_t refused = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	/* With --group-readable nobody keeps our group; else drop it too. */
	int drop = !group_readable;
	static const uint16_t ops[] = { FSC_OP_WATCH, FSC_OP_UNWATCH,
					FSC_OP_INVALIDATE, FSC_OP_SYNC,
					FSC_OP_MISS };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int rc = run_as_nobody(drop, ops[i], f, 1);
		cr_assert_eq(rc, 0,
			     "op %u from uid %d: child exit %d (want a "
			     "-EACCES reply)",
			     ops[i], NOBODY, rc);
	}
	fsct_sync(H);
	uint64_t now = fsct_counter(H, FSC_CTR_REQUESTS_REFUSED);
	cr_assert_eq(now, refused + 5, "refusals counted: %llu, want %llu",
		     (unsigned long long)now, (unsigned long long)refused + 5);
	struct fsc_stat c;
	cr_assert_eq(fsc_lookup(H, f, &c), FSC_MISS,
		     "a refused request was acted on");

	/* The group can read: nobody maps the segment and looks up. */
	if (group_readable) {
		cr_assert_eq(fsc_control(H, FSC_OP_WATCH, f, GUARD_MS, NULL, 0),
			     0);
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			become_nobody(0);
			setenv("FSTATCACHE_OWNER_UID", "0", 1);
			fsc_handle *h = NULL;
			if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) < 0)
				_exit(1);
			struct fsc_stat s;
			int r = fsc_lookup(h, f, &s);
			char msg[FSC_REPLY_MSG_MAX + 1];
			int w = fsc_control(h, FSC_OP_INVALIDATE, NULL,
					    GUARD_MS, msg, sizeof(msg));
			fsc_close(h);
			_exit(r == 0 && s.size == 7 && w == -EACCES ? 0 : 2);
		}
		int st = fsct_child_status(pid);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "group member: 0x%x", st);
		cr_assert_eq(fsc_lookup(H, f, &c), 0,
			     "the refused invalidate "
			     "cleared the cache");
	}
	fsct_writer_stop(&W);
}

Test(security, other_user_refused_and_counted_chmod)
{
	refused_case(0);
}

Test(security, other_user_refused_and_counted_group_readable)
{
	refused_case(1);
}

/* ---- squatting against the writer ------------------------------------- */

/* Start the writer expecting failure; returns its stderr (static). */
static const char *writer_fails(void)
{
	static char msg[4096];
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		execl(fsct_writer_binary(), "fstatcached", "--name", W.name,
		      "--socket", W.socket, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(msg) - 1 &&
	       (k = read(fds[0], msg + n, sizeof(msg) - 1 - n)) > 0)
		n += (size_t)k;
	msg[n] = '\0';
	close(fds[0]);
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		  "writer: wait status 0x%x, want exit 1; stderr: %s", st, msg);
	return msg;
}

Test(security, squatted_segment_name_refused)
{
	need_root();
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), W.name, 0);
	int fd = shm_open(shm, O_RDWR | O_CREAT | O_EXCL, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fchown(fd, NOBODY, NOBODY), 0);
	cr_assert_eq(write(fd, "squat", 5), 5);
	struct stat before, after;
	cr_assert_eq(fstat(fd, &before), 0);
	const char *msg = writer_fails();
	cr_expect(strstr(msg, "another user") != NULL, "stderr: %s", msg);
	int fd2 = shm_open(shm, O_RDONLY, 0);
	cr_assert_geq(fd2, 0, "the squatter's object was removed");
	cr_assert_eq(fstat(fd2, &after), 0);
	cr_expect_eq(after.st_ino, before.st_ino);
	cr_expect_eq(after.st_size, 5);
	close(fd);
	close(fd2);
	cr_assert_neq(access(W.socket, F_OK), 0, "a socket was left behind");
}

Test(security, socket_path_taken_by_a_file)
{
	fsct_write(W.socket, "not a socket\n", 0);
	const char *msg = writer_fails();
	cr_expect(strstr(msg, "File exists") != NULL, "stderr: %s", msg);
	struct stat st;
	cr_assert_eq(stat(W.socket, &st), 0);
	cr_assert(S_ISREG(st.st_mode) && st.st_size == 13,
		  "the file at the socket path was touched");
	char shm[FSC_NAME_MAX + 32];
	fsc_shm_name(shm, sizeof(shm), W.name, 0);
	cr_assert_lt(shm_open(shm, O_RDONLY, 0), 0, "a segment was left");
}

/* ---- another user's paths: what they resolve to (issue 13, item 10) ---- */

/*
 * The cache shared with our group (segment_mode 0640), `pub` the one
 * allowed prefix for other users, `priv` a 0700 directory of ours holding
 * `secret`.  nobody keeps our groups: a member of the cache's group.
 */
struct shared {
	char pub[PATH_MAX], priv[PATH_MAX], secret[PATH_MAX];
	char conf[PATH_MAX];
};

static void shared_start(struct shared *s)
{
	need_root();
	cr_assert_eq(chmod(W.dir, 0755), 0);
	snprintf(s->pub, sizeof(s->pub), "%s", fsct_path(&W, "pub"));
	snprintf(s->priv, sizeof(s->priv), "%s", fsct_path(&W, "priv"));
	snprintf(s->secret, sizeof(s->secret), "%s",
		 fsct_path(&W, "priv/secret"));
	snprintf(s->conf, sizeof(s->conf), "%s", fsct_path(&W, "conf"));
	cr_assert_eq(mkdir(s->pub, 0755), 0);
	cr_assert_eq(mkdir(s->priv, 0700), 0);
	fsct_write(s->secret, "a secret of 27 bytes here.\n", 0);
	char text[2 * PATH_MAX];
	snprintf(text, sizeof(text), "segment_mode = 0640\nallow = %s\n",
		 s->pub);
	fsct_write(s->conf, text, 0);
	const char *extra[] = { "--config", s->conf, NULL };
	start(extra);
}

/* As a member of the group: WATCH `path`; the reply's status. */
static int member_watch(const char *path)
{
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pipefd[0]);
		become_nobody(0);
		setenv("FSTATCACHE_OWNER_UID", "0", 1);
		fsc_handle *h = NULL;
		if (fsc_open(&h, W.name, FSC_OPEN_ATTACHED) < 0)
			_exit(1);
		char msg[FSC_REPLY_MSG_MAX + 1];
		int r = fsc_control(h, FSC_OP_WATCH, path, GUARD_MS, msg,
				    sizeof(msg));
		fsc_close(h);
		if (write(pipefd[1], &r, sizeof(r)) != sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	int r = 1;
	cr_assert_eq(read(pipefd[0], &r, sizeof(r)), (ssize_t)sizeof(r));
	close(pipefd[0]);
	int st = fsct_child_status(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "member: 0x%x", st);
	return r;
}

/*
 * Nothing of `secret` is in the table for `path`: no hit, and the slot
 * as the group reads it (raw, whatever its flags) holds no stat field.
 */
static void assert_not_revealed(const char *path, const char *secret)
{
	struct stat sec;
	cr_assert_eq(stat(secret, &sec), 0);
	struct fsc_stat c;
	int r = fsc_lookup(H, path, &c);
	cr_assert(r != 0, "%s: served from the cache (ino %llu, size %lld)",
		  path, (unsigned long long)c.ino, (long long)c.size);
	uint32_t n = fsc_slot_count(H);
	int found = 0;
	for (uint32_t i = 0; i < n; i++) {
		char p[PATH_MAX];
		if (fsc_slot_read(H, i, p, sizeof(p), &c, NULL) != 0 ||
		    strcmp(p, path) != 0)
			continue;
		found = 1;
		cr_assert(c.ino != (uint64_t)sec.st_ino &&
				  c.size != (int64_t)sec.st_size,
			  "%s: its slot holds the private file's ino %llu, "
			  "size %lld",
			  path, (unsigned long long)c.ino, (long long)c.size);
		cr_assert_eq(c.exists, 0, "%s: its slot says it exists", path);
	}
	cr_assert(found, "%s is not watched at all", path);
}

static void assert_served(const char *path)
{
	struct fsc_stat c;
	struct stat st;
	cr_assert_eq(fsc_lookup(H, path, &c), 0, "%s: not served", path);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(c.ino, (uint64_t)st.st_ino);
	cr_assert_eq(c.size, (int64_t)st.st_size);
}

/* ln -s /priv/secret PUB/peek; a member's watch of PUB/peek. */
Test(security, a_symlink_to_a_private_file_reveals_nothing)
{
	struct shared s;
	shared_start(&s);
	char peek[PATH_MAX];
	snprintf(peek, sizeof(peek), "%s", fsct_path(&W, "pub/peek"));
	cr_assert_eq(symlink(s.secret, peek), 0);
	cr_assert_eq(member_watch(peek), -EACCES,
		     "the member's watch of a link to a private file "
		     "succeeded");
	fsct_sync(H);
	assert_not_revealed(peek, s.secret);
	/* Its owner's own watch: the owner may stat it, so it is cached. */
	cr_assert_eq(fsc_control(H, FSC_OP_WATCH, peek, GUARD_MS, NULL, 0), 0);
	fsct_sync(H);
	assert_served(peek);
	fsct_writer_stop(&W);
}

/* A link that was public when watched, re-pointed to the private file. */
Test(security, a_symlink_re_pointed_to_a_private_file_reveals_nothing)
{
	struct shared s;
	shared_start(&s);
	char link[PATH_MAX], open[PATH_MAX], tmp[PATH_MAX];
	snprintf(link, sizeof(link), "%s", fsct_path(&W, "pub/link"));
	snprintf(open, sizeof(open), "%s", fsct_path(&W, "pub/open.log"));
	snprintf(tmp, sizeof(tmp), "%s", fsct_path(&W, "pub/link.tmp"));
	fsct_write(open, "open\n", 0);
	cr_assert_eq(symlink(open, link), 0);
	cr_assert_eq(member_watch(link), 0);
	fsct_sync(H);
	assert_served(link);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(symlink(s.secret, tmp), 0);
		cr_assert_eq(rename(tmp, link), 0);
		fsct_sync(H);
		assert_not_revealed(link, s.secret);
		cr_assert_eq(symlink(open, tmp), 0);
		cr_assert_eq(rename(tmp, link), 0);
		fsct_sync(H);
		assert_served(link);
	}
	fsct_writer_stop(&W);
}

/*
 * A path only other users asked for is answered as the walk's own stat()
 * finds it: a date out of the entry's range there says "range" (format.h),
 * whatever the writer's first stat() said.  Here that one fails with
 * ENOENT (fault injection: as if the file appeared, or its date moved,
 * between the two calls); before, the entry was NOCACHE with reason 0,
 * which `fstatcache check` calls a violation.
 */
Test(security, a_date_out_of_range_found_by_the_walk_says_range)
{
	struct shared s;
	setenv("FSTATCACHE_FAULTS", "stat=ENOENT", 1);
	shared_start(&s);
	unsetenv("FSTATCACHE_FAULTS");
	char far[PATH_MAX];
	snprintf(far, sizeof(far), "%s", fsct_path(&W, "pub/far.log"));
	fsct_write(far, "from 2300\n", 0);
	struct timespec ts[2] = { { INT64_C(10413792000), 0 },
				  { INT64_C(10413792000), 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, far, ts, 0), 0);
	cr_assert_eq(member_watch(far), 0);
	fsct_sync(H);
	struct fsc_stat c;
	cr_assert_eq(fsc_lookup(H, far, &c), FSC_UNCACHED);
	const char *check[] = { "check", NULL };
	struct fsct_run run = fsct_tool_run(&W, check);
	cr_assert_eq(run.status, 0, "check: %s %s", run.out, run.err);
	fsct_run_free(&run);
	const char *inspect[] = { "inspect", "--json", NULL };
	run = fsct_tool_run(&W, inspect);
	cr_assert_not_null(strstr(run.out, "\"range\":1"), "%s", run.out);
	fsct_run_free(&run);
	fsct_writer_stop(&W);
}

/* PUB/sub made 0700: its files are the owner's business, until 0755. */
Test(security, a_private_directory_on_the_way_reveals_nothing)
{
	struct shared s;
	shared_start(&s);
	char sub[PATH_MAX], f[PATH_MAX];
	snprintf(sub, sizeof(sub), "%s", fsct_path(&W, "pub/sub"));
	snprintf(f, sizeof(f), "%s", fsct_path(&W, "pub/sub/f.log"));
	cr_assert_eq(mkdir(sub, 0700), 0);
	fsct_write(f, "a secret of 27 bytes here.\n", 0);
	cr_assert_eq(member_watch(f), -EACCES);
	fsct_sync(H);
	assert_not_revealed(f, f);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(chmod(sub, 0755), 0);
		fsct_sync(H);
		assert_served(f);
		cr_assert_eq(chmod(sub, 0750), 0); /* group, not others */
		fsct_sync(H);
		assert_not_revealed(f, f);
	}
	fsct_writer_stop(&W);
}
