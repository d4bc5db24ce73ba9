/*
 * main.c - fsc-tail: follow many log files like `tail -F`, asking
 * fstatcache (not stat(2)) which of them changed.
 *
 *   fsc-tail [--stat] [--interval MS] [--from-start] [--files-from LIST]
 *            [--name NAME] [--poll-on-stdin] [--stats] [--poll-stats]
 *            FILE...
 *
 * Prints "FILE: line" for every line appended to a FILE, following each
 * name across rotation (rename, copytruncate), deletion and re-creation.
 * The poll logic is in tail.c; this file is options, the wait between
 * polls and the output.  Between polls the agent sleeps (ppoll): no busy
 * loop, so it is fit for small devices too.  (Not fsc_changes_wait(),
 * which would wake it when the files change: it cannot wait for a signal
 * too, and the interval is the documented rhythm of the polls.)
 *
 * SIGTERM and SIGINT stop it.  They stay blocked except inside ppoll(),
 * and ppoll() is the only place the agent waits: for the next poll, and
 * for room on stdout (a stalled reader).  So a stop signal is seen as soon
 * as the agent would wait, never lost between a check and the wait; the
 * work between two waits is bounded (tail.h: TAIL_POLL_READ per file).
 */
#include "tail.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "fsc-tail"
#define DEFAULT_INTERVAL_MS 250u
#define MAX_INTERVAL_MS 3600000u

struct opts {
	unsigned interval_ms;
	int use_stat;
	int from_start;
	int poll_on_stdin;
	int stats;
	int poll_stats;
	const char *name;
	const char *files_from;
};

enum {
	O_STAT = 256,
	O_NAME,
	O_POLL_STDIN,
	O_STATS,
	O_POLL_STATS
};

static const struct option options[] = {
	{ "files-from", required_argument, NULL, 'f' },
	{ "from-start", no_argument, NULL, 'n' },
	{ "interval", required_argument, NULL, 'i' },
	{ "stat", no_argument, NULL, O_STAT },
	{ "name", required_argument, NULL, O_NAME },
	{ "poll-on-stdin", no_argument, NULL, O_POLL_STDIN },
	{ "stats", no_argument, NULL, O_STATS },
	{ "poll-stats", no_argument, NULL, O_POLL_STATS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " [OPTION]... FILE...\n"
		"Print the lines appended to each FILE as \"FILE: line\", following each\n"
		"name like tail -F: across rotation (rename or copytruncate), deletion and\n"
		"creation.  Which files changed is asked to the fstatcache writer (its\n"
		"change feed), so an unchanged file costs no lookup and no system call;\n"
		"--stat asks stat(2) instead.\n"
		"\n"
		"  -f, --files-from LIST  also follow the paths in LIST, one per line\n"
		"                         (empty lines and lines starting with # skipped)\n"
		"  -n, --from-start       print what the files hold already, then follow\n"
		"                         (default: start at their end)\n"
		"  -i, --interval MS      sleep MS milliseconds between polls (default %u)\n"
		"      --stat             decide with stat(2) instead of the cache\n"
		"      --name NAME        fstatcache instance (default: $FSTATCACHE_NAME,\n"
		"                         else fstatcache)\n"
		"      --poll-on-stdin    poll once per line read on stdin instead of on a\n"
		"                         timer, then print \"== poll N done\" (poll 0 is\n"
		"                         the first look at the files); exit at EOF\n"
		"      --stats            print lookup, change and system-call counts at\n"
		"                         exit\n"
		"      --poll-stats       print each poll's counts on stderr\n"
		"  -h, --help             this help\n"
		"\n"
		"Exits 0 on SIGTERM, SIGINT (and EOF with --poll-on-stdin), 2 on bad\n"
		"arguments, 1 on other errors.\n",
		DEFAULT_INTERVAL_MS);
}

__attribute__((format(printf, 1, 2), noreturn)) static void
usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	va_end(ap);
	exit(2);
}

static unsigned parse_interval(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 ||
	    v > MAX_INTERVAL_MS)
		usage_error("--interval: expected 1..%u milliseconds, got '%s'",
			    MAX_INTERVAL_MS, s);
	return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->interval_ms = DEFAULT_INTERVAL_MS;
	int c;
	while ((c = getopt_long(argc, argv, "f:ni:h", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->files_from = optarg;
			break;
		case 'n':
			o->from_start = 1;
			break;
		case 'i':
			o->interval_ms = parse_interval(optarg);
			break;
		case O_STAT:
			o->use_stat = 1;
			break;
		case O_NAME:
			o->name = optarg;
			break;
		case O_POLL_STDIN:
			o->poll_on_stdin = 1;
			break;
		case O_STATS:
			o->stats = 1;
			break;
		case O_POLL_STATS:
			o->poll_stats = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage_error("bad arguments");
		}
	}
	if (o->use_stat && o->name)
		usage_error("--stat and --name exclude each other");
	if (o->name && !fsc_name_ok(o->name))
		usage_error("--name: '%s' is not an instance name (1 to %d "
			    "letters, digits, '_' or '-')",
			    o->name, FSC_NAME_MAX);
	if (optind == argc && !o->files_from)
		usage_error("no files to follow (give FILE arguments or "
			    "--files-from)");
}

static void add_or_die(struct tail *t, const char *path)
{
	int r = tail_add(t, path);
	if (r == -EINVAL)
		usage_error("empty file name");
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-r));
		exit(1);
	}
}

static void add_list(struct tail *t, const char *list)
{
	FILE *in = fopen(list, "re");
	if (!in)
		usage_error("--files-from %s: %s", list, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, in)) >= 0) {
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n && line[0] != '#')
			add_or_die(t, line);
	}
	int err = ferror(in) ? errno : 0;
	free(line);
	fclose(in);
	if (err) {
		fprintf(stderr, PROG ": --files-from %s: %s\n", list,
			strerror(err));
		exit(1);
	}
}

/* ---- output ---------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;
static sigset_t wait_mask; /* ours, without SIGTERM and SIGINT */

/*
 * Our own buffer, not stdio's: stdio would wait for a stalled reader in
 * write(), where the stop signals are blocked.  We wait for room in
 * ppoll() instead, then write at most PIPE_BUF bytes, which a pipe with
 * room takes without waiting.  Once stopping we wait no more: what stdout
 * cannot take at once is dropped, and so is all later output.
 */
static char out_buf[PIPE_BUF];
static size_t out_len;
static int out_dropped;

/* Write out_buf; exit 1 on an error of stdout. */
static void flush_or_die(void)
{
	static const struct timespec now;
	size_t done = 0;
	while (done < out_len && !out_dropped) {
		struct pollfd p = { STDOUT_FILENO, POLLOUT, 0 };
		int r = ppoll(&p, 1, stop_signal ? &now : NULL, &wait_mask);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": ppoll: %s\n", strerror(errno));
			exit(1);
		}
		if (r == 0)
			out_dropped = 1; /* stopping, and no room */
		if (r <= 0)
			continue; /* EINTR: stopping, ppoll() waits no more */
		ssize_t n =
			write(STDOUT_FILENO, out_buf + done, out_len - done);
		/* EINTR or EAGAIN (stdout left non-blocking by whoever
		 * gave it): back to ppoll(), which waits or gives up. */
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			fprintf(stderr, PROG ": standard output: %s\n",
				strerror(errno));
			exit(1);
		}
		done += (size_t)n;
	}
	out_len = 0;
}

static void out_put(const char *p, size_t len)
{
	while (len && !out_dropped) {
		if (out_len == sizeof(out_buf))
			flush_or_die();
		size_t k = sizeof(out_buf) - out_len;
		k = len < k ? len : k;
		memcpy(out_buf + out_len, p, k);
		out_len += k;
		p += k;
		len -= k;
	}
}

static void print_line(void *arg, const struct tail_file *f, const char *line,
		       size_t len)
{
	(void)arg;
	out_put(f->label, strlen(f->label));
	out_put(": ", 2);
	out_put(line, len);
	out_put("\n", 1);
}

/* Counts `c` after `what` on stderr. */
static void print_counts(const char *what, const struct tail_counts *c,
			 size_t files)
{
	fprintf(stderr,
		PROG ": %s: polls=%" PRIu64 " files=%zu full_passes=%" PRIu64
		     " feed_changes=%" PRIu64 " lookups=%" PRIu64
		     " cache_hits=%" PRIu64 " stat_calls=%" PRIu64
		     " watch_requests=%" PRIu64 " syscalls=%" PRIu64
		     " lines=%" PRIu64 " bytes=%" PRIu64 "\n",
		what, c->polls, files, c->full_passes, c->changes, c->lookups,
		c->hits, c->stats, c->requests, c->syscalls, c->lines,
		c->bytes);
}

/* What the last poll cost: its counts, `before` it subtracted. */
static void print_poll(const struct tail *t, const struct tail_counts *before)
{
	struct tail_counts d = t->counts;
	char what[64];
	d.polls -= before->polls;
	d.hits -= before->hits;
	d.stats -= before->stats;
	d.requests -= before->requests;
	d.syscalls -= before->syscalls;
	d.lookups -= before->lookups;
	d.changes -= before->changes;
	d.full_passes -= before->full_passes;
	d.lines -= before->lines;
	d.bytes -= before->bytes;
	snprintf(what, sizeof(what), "poll %" PRIu64, t->counts.polls - 1);
	print_counts(what, &d, t->n);
}

/* ---- waiting between polls ------------------------------------------- */

static void on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * SIGTERM and SIGINT stay blocked except inside ppoll() (the top of this
 * file says why).  No SA_RESTART: a wait they interrupt returns EINTR.
 */
static void setup_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
}

/* Newlines read from stdin and not yet turned into polls. */
static unsigned long pending_polls;

/*
 * Wait for the next poll: 1 to poll, 0 to stop.  `behind`: files have
 * more to read, so the timer does not wait (ppoll() still takes a
 * pending stop signal).
 */
static int wait_turn(const struct opts *o, size_t behind)
{
	static const struct timespec now;
	for (;;) {
		if (stop_signal)
			return 0;
		if (o->poll_on_stdin && pending_polls) {
			pending_polls--;
			return 1;
		}
		struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
		struct timespec ts = {
			(time_t)(o->interval_ms / 1000),
			(long)(o->interval_ms % 1000) * 1000000,
		};
		int r = o->poll_on_stdin ? ppoll(&p, 1, NULL, &wait_mask)
					 : ppoll(NULL, 0, behind ? &now : &ts,
						 &wait_mask);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": ppoll: %s\n", strerror(errno));
			exit(1);
		}
		if (!o->poll_on_stdin && r == 0)
			return 1;
		if (!o->poll_on_stdin || r <= 0)
			continue;
		char buf[512];
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0; /* EOF (or a broken stdin): done */
		for (ssize_t i = 0; i < n; i++)
			pending_polls += buf[i] == '\n';
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);

	fsc_handle *h = NULL;
	if (!o.use_stat) {
		/* Not FSC_OPEN_ATTACHED: without a writer every lookup is
		 * answered by stat(), and the handle attaches when a writer
		 * starts. */
		int r = fsc_open(&h, o.name, 0);
		if (r < 0) {
			fprintf(stderr, PROG ": fsc_open: %s\n",
				fsc_strerror(r));
			return 1;
		}
		const char *name = o.name ? o.name : getenv("FSTATCACHE_NAME");
		if (!fsc_attached(h))
			fprintf(stderr,
				PROG
				": no fstatcache writer serving "
				"'%s': answering by stat() until one does\n",
				name && *name ? name : "fstatcache");
	}
	struct tail t;
	tail_init(&t, h);
	t.from_start = o.from_start;
	t.emit = print_line;
	for (int i = optind; i < argc; i++)
		add_or_die(&t, argv[i]);
	if (o.files_from)
		add_list(&t, o.files_from);

	setup_signals();
	for (;;) {
		struct tail_counts before = t.counts;
		size_t behind = tail_poll(&t);
		if (o.poll_stats)
			print_poll(&t, &before);
		if (o.poll_on_stdin) {
			char done[64];
			int n = snprintf(done, sizeof(done),
					 "== poll %" PRIu64 " done\n",
					 t.counts.polls - 1);
			out_put(done, (size_t)n);
		}
		flush_or_die();
		if (!wait_turn(&o, behind))
			break;
	}
	tail_finish(&t);
	flush_or_die();
	if (o.stats)
		print_counts("stats", &t.counts, t.n);
	tail_free(&t);
	fsc_close(h);
	return 0;
}
