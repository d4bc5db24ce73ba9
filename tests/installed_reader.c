/*
 * installed_reader.c - a reader built the way a user builds one: against
 * the installed header, with nothing but `pkg-config --cflags --libs
 * fstatcache` (tests/install_test.sh compiles and runs it; it is not part
 * of the build).
 *
 * Usage: installed_reader WRITER TOOL NAME SOCKET FILE
 *
 * Starts WRITER (the installed fstatcached) on instance NAME with its
 * control socket at SOCKET and waits for it on --ready-fd; stats FILE
 * through the cache (a miss: stat() answers and asks the writer to watch
 * it); runs `TOOL --name NAME sync` (the installed fstatcache); stats FILE
 * again, which must now come from the cache and equal stat(2); stops the
 * writer with SIGTERM, which must exit 0.  Exit status 0 when all held.
 */
#include <errno.h>
#include <fstatcache/fstatcache.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t writer_pid = -1;

__attribute__((format(printf, 1, 2), noreturn)) static void
fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "installed_reader: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (writer_pid > 0) {
		kill(writer_pid, SIGKILL);
		waitpid(writer_pid, NULL, 0);
	}
	exit(1);
}

/* The writer, which dies with us if we die first. */
static void start_writer(const char *writer, const char *name, const char *sock)
{
	int p[2];
	if (pipe(p) < 0)
		fail("pipe: %s", strerror(errno));
	pid_t parent = getpid();
	writer_pid = fork();
	if (writer_pid < 0)
		fail("fork: %s", strerror(errno));
	if (writer_pid == 0) {
		char fd[16];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		close(p[0]);
		snprintf(fd, sizeof(fd), "%d", p[1]);
		execl(writer, writer, "--name", name, "--socket", sock,
		      "--ready-fd", fd, (char *)NULL);
		fprintf(stderr, "installed_reader: exec %s: %s\n", writer,
			strerror(errno));
		_exit(127);
	}
	close(p[1]);
	char buf[8] = "";
	ssize_t n;
	do
		n = read(p[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n != 6 || strcmp(buf, "READY\n"))
		fail("%s did not get ready (read %zd bytes)", writer, n);
}

static void run_sync(const char *tool, const char *name)
{
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		execl(tool, tool, "--name", name, "sync", (char *)NULL);
		fprintf(stderr, "installed_reader: exec %s: %s\n", tool,
			strerror(errno));
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("'%s --name %s sync' failed (status 0x%x)", tool, name,
		     status);
}

static void check_equal(const char *file, const struct fsc_stat *c)
{
	struct stat st;
	if (stat(file, &st) < 0)
		fail("stat %s: %s", file, strerror(errno));
	if (!c->exists || c->dev != (uint64_t)st.st_dev ||
	    c->ino != (uint64_t)st.st_ino || c->mode != st.st_mode ||
	    c->nlink != (uint64_t)st.st_nlink || c->uid != st.st_uid ||
	    c->gid != st.st_gid || c->size != (int64_t)st.st_size ||
	    c->mtime_sec != (int64_t)st.st_mtim.tv_sec ||
	    c->mtime_nsec != (uint32_t)st.st_mtim.tv_nsec ||
	    c->ctime_sec != (int64_t)st.st_ctim.tv_sec ||
	    c->ctime_nsec != (uint32_t)st.st_ctim.tv_nsec)
		fail("%s: the cache says size %lld ino %llu mode 0%o, stat() "
		     "size %lld ino %llu mode 0%o (or times differ)",
		     file, (long long)c->size, (unsigned long long)c->ino,
		     c->mode, (long long)st.st_size,
		     (unsigned long long)st.st_ino, (unsigned)st.st_mode);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: installed_reader WRITER TOOL NAME "
				"SOCKET FILE\n");
		return 2;
	}
	const char *writer = argv[1], *tool = argv[2], *name = argv[3];
	const char *sock = argv[4], *file = argv[5];

	start_writer(writer, name, sock);
	fsc_handle *h;
	int r = fsc_open(&h, name, FSC_OPEN_ATTACHED);
	if (r < 0)
		fail("fsc_open(%s): %s", name, fsc_strerror(r));

	struct fsc_stat st;
	r = fsc_stat(h, file, &st);
	if (r < 0)
		fail("fsc_stat(%s): %s", file, fsc_strerror(r));
	if (st.source != FSC_SOURCE_STAT)
		fail("%s: first answer from source %d, want stat() (a miss)",
		     file, st.source);

	run_sync(tool, name);
	r = fsc_stat(h, file, &st);
	if (r < 0)
		fail("fsc_stat(%s) after sync: %s", file, fsc_strerror(r));
	if (st.source != FSC_SOURCE_CACHE)
		fail("%s: not answered from the cache after sync (source %d; "
		     "is it on a file system inotify cannot follow?)",
		     file, st.source);
	check_equal(file, &st);
	fsc_close(h);

	if (kill(writer_pid, SIGTERM) < 0)
		fail("kill: %s", strerror(errno));
	int status;
	if (waitpid(writer_pid, &status, 0) < 0)
		fail("waitpid: %s", strerror(errno));
	writer_pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("the writer did not stop cleanly on SIGTERM (status 0x%x)",
		     status);
	printf("installed_reader: %s from the cache, equal to stat(); "
	       "writer stopped cleanly\n",
	       file);
	return 0;
}
