/*
 * writer.c - the real fstatcached fsc-bench measures against: started on
 * the bench's paths (a watch list file), ready when it says so on
 * --ready-fd, synced with the barrier (the protocol of tests/harness.c,
 * never a sleep), its header read, stopped, its warnings summarised.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a writer under test --------------------------------------------------------- */

static void write_list(const char *file, char *const *paths, size_t n)
{
	FILE *f = fopen(file, "we");
	if (!f)
		fb_die("%s: %s", file, strerror(errno));
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", paths[i]);
	if (fclose(f) != 0)
		fb_die("%s: %s", file, strerror(errno));
}

static void exec_writer(const struct fb_writer *w, int ready_fd,
			unsigned capacity)
{
	char fdstr[16], capstr[16];
	/* Its warnings go to a log the bench summarises at stop. */
	int log = open(w->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log >= 0 && dup2(log, STDERR_FILENO) < 0)
		_exit(126);
	snprintf(fdstr, sizeof(fdstr), "%d", ready_fd);
	snprintf(capstr, sizeof(capstr), "%u", capacity);
	fcntl(ready_fd, F_SETFD, 0); /* the writer inherits this one only */
	const char *argv[16] = { FB.writer_bin, "--name",       w->name,
				 "--socket",    w->sock,        "--ready-fd",
				 fdstr,         "--watch-list", w->list,
				 "--quiet" };
	int k = 10;
	if (capacity) { /* 0: the writer's defaults, growth included */
		argv[k++] = "--capacity";
		argv[k++] = capstr;
	}
	if (FB.events) { /* else the writer's own choice */
		argv[k++] = "--events";
		argv[k++] = FB.events;
	}
	argv[k] = NULL;
	execv(FB.writer_bin, (char *const *)argv);
	fprintf(stderr, "%s: exec %s: %s\n", program_invocation_short_name,
		FB.writer_bin, strerror(errno));
	_exit(127);
}

/* Say how much the writer logged (its warnings are findings too). */
static void summarise_log(struct fb_writer *w)
{
	FILE *f = fopen(w->log, "re");
	char line[512], first[512] = "";
	unsigned long n = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!n++)
			snprintf(first, sizeof(first), "%s", line);
	if (f)
		fclose(f);
	first[strcspn(first, "\n")] = '\0';
	w->log_lines = n;
	if (n)
		printf("(the writer logged %lu line%s; the first: %s)\n", n,
		       n > 1 ? "s" : "", first);
	unlink(w->log);
}

/* Read "READY\n" from the writer's ready pipe. */
static void wait_ready(struct fb_writer *w, int fd)
{
	char buf[16] = { 0 };
	size_t got = 0;
	uint64_t deadline = fb_now_ns() + READY_TIMEOUT_MS * 1000000ull;
	while (got < 6) {
		uint64_t now = fb_now_ns();
		if (now >= deadline)
			fb_die("%s: not ready after %d s", FB.writer_bin,
			       READY_TIMEOUT_MS / 1000);
		struct pollfd pf = { fd, POLLIN, 0 };
		int r = poll(&pf, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno != EINTR)
			fb_die("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int st = 0;
			waitpid(w->pid, &st, 0);
			fb_child_untrack(w->pid);
			w->pid = 0;
			summarise_log(w);
			fb_die("%s exited before it was ready (status %#x)",
			       FB.writer_bin, st);
		}
		got += (size_t)n;
	}
	if (strncmp(buf, "READY\n", 6) != 0)
		fb_die("%s wrote '%s' on the ready pipe", FB.writer_bin, buf);
}

void fb_writer_start(struct fb_writer *w, char *const *paths, size_t n,
		     unsigned capacity)
{
	memset(w, 0, sizeof(*w));
	unsigned k = FB.writers++;
	snprintf(w->name, sizeof(w->name), "fscb-%ld-%u", (long)getpid(), k);
	if ((size_t)snprintf(w->sock, sizeof(w->sock), "%s/w%u.sock", FB.dir,
			     k) >= sizeof(w->sock) ||
	    (size_t)snprintf(w->list, sizeof(w->list), "%s/w%u.list", FB.dir,
			     k) >= sizeof(w->list) ||
	    (size_t)snprintf(w->log, sizeof(w->log), "%s/w%u.log", FB.dir, k) >=
		    sizeof(w->log))
		fb_die("%s: path too long", FB.dir);
	write_list(w->list, paths, n);

	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		fb_die("pipe: %s", strerror(errno));
	fflush(NULL);
	w->spawn_ns = fb_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		fb_die("fork: %s", strerror(errno));
	if (pid == 0) {
		fb_child_setup();
		exec_writer(w, ready[1], capacity);
	}
	w->pid = pid;
	fb_child_track(pid);
	close(ready[1]);
	wait_ready(w, ready[0]);
	close(ready[0]);
	w->ready_ns = fb_now_ns();
	int rc = fsc_open(&w->h, w->name, FSC_OPEN_ATTACHED);
	if (rc < 0)
		fb_die("fsc_open %s: %s", w->name, fsc_strerror(rc));
	fb_writer_sync(w);
	w->synced_ns = fb_now_ns();
}

void fb_writer_sync(struct fb_writer *w)
{
	char msg[256];
	int rc = fsc_control(w->h, FSC_OP_SYNC, NULL, SYNC_TIMEOUT_MS, msg,
			     sizeof(msg));
	if (rc < 0)
		fb_die("sync %s: %s %s", w->name, fsc_strerror(rc), msg);
}

void fb_writer_header(struct fb_writer *w, struct fsc_header *hdr)
{
	if (fsc_header_read(w->h, hdr) != 0)
		fb_die("%s: cannot read the segment header", w->name);
}

void fb_writer_stop(struct fb_writer *w)
{
	int st = 0;
	fsc_close(w->h);
	w->h = NULL;
	if (kill(w->pid, SIGTERM) < 0)
		fb_die("kill writer: %s", strerror(errno));
	while (waitpid(w->pid, &st, 0) < 0)
		if (errno != EINTR)
			fb_die("waitpid writer: %s", strerror(errno));
	fb_child_untrack(w->pid);
	w->pid = 0;
	unlink(w->list);
	summarise_log(w);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fb_die("the writer did not exit 0 on SIGTERM (status %#x)", st);
}
