/*
 * cmd_top.c - `fstatcache top [--interval SECONDS] [--count N]`: the
 * counters as rates per second, refreshed every interval.
 *
 * Each refresh maps the segment read-only (view.h), copies the header and
 * the .use counts, and unmaps it again, so a writer that restarts (a new
 * segment under the same name) is followed at the next refresh; rates are
 * differences between two samples of the same segment (same epoch) over
 * the CLOCK_MONOTONIC time between them, and "-" otherwise.
 *
 * On a terminal: the alternate screen, redrawn in place (cursor home,
 * clear to end of line, clear below), the terminal in non-canonical
 * no-echo mode so 'q' quits without Enter; Ctrl-C (SIGINT), SIGTERM and
 * 'q' all end it with the terminal restored; Ctrl-Z restores the terminal
 * before stopping and re-enters the view after SIGCONT.  Elsewhere (a pipe,
 * a file): one block of plain lines per interval, first after one interval,
 * so every block has rates.
 *
 * The loop sleeps in ppoll() on stdin (when it is a terminal) with the
 * time left to the next refresh as timeout and the signals unblocked only
 * inside it: no busy loop, and no signal lost between a check and a wait.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "view.h"

/* Rows of the rate table: a counter, or a reader count (-1 - index). */
static const int rows[] = {
	FSC_CTR_EVENTS,
	FSC_CTR_BATCHES,
	FSC_CTR_COALESCED,
	FSC_CTR_STATS,
	FSC_CTR_INSERTS,
	FSC_CTR_UPDATES,
	FSC_CTR_EVICTIONS,
	FSC_CTR_REMOVALS,
	FSC_CTR_MOVES,
	FSC_CTR_OVERFLOWS,
	FSC_CTR_WATCH_FAILURES,
	FSC_CTR_REQUESTS,
	FSC_CTR_REQUESTS_REFUSED,
	FSC_CTR_SYNCS,
	FSC_CTR_UNCACHEABLE,
	FSC_CTR_REVALIDATIONS,
	-1,
	-2,
	-3,
	-4,
};
static const char *const reader_names[] = {
	"reader_hits", "reader_misses", "reader_uncached",
	"version_mismatches", /* readers of another format major */
};

struct sample {
	int err;       /* 0, or the view_open() error */
	uint64_t t_ns; /* CLOCK_MONOTONIC */
	struct fsc_header hdr;
	int use_ok;
	uint64_t reader[4]; /* hits, misses, uncached, version mismatches */
};

struct top {
	const struct tool_ctx *ctx;
	int tty;  /* stdout is a terminal: redraw in place */
	int keys; /* stdin is a terminal: read 'q' */
	struct termios saved;
	int raw; /* the terminal is in our mode */
	struct sample prev, cur;
	long shown;
};

static volatile sig_atomic_t got_stop, got_tstp, got_winch;

static void on_signal(int sig)
{
	if (sig == SIGTSTP)
		got_tstp = 1;
	else if (sig == SIGWINCH)
		got_winch = 1;
	else
		got_stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void take_sample(const struct top *t, struct sample *s)
{
	struct view v;
	memset(s, 0, sizeof(*s));
	s->t_ns = mono_ns();
	s->err = view_open(&v, t->ctx->name, 0);
	if (s->err)
		return;
	if (!v.valid) {
		s->err = -EPROTO;
	} else {
		struct fsc_use_header u;
		view_read_header(&v, &s->hdr);
		s->use_ok = view_read_use(&v, &u) == 0;
		if (s->use_ok) {
			s->reader[0] = u.reader_hits;
			s->reader[1] = u.reader_misses;
			s->reader[2] = u.reader_uncached;
			s->reader[3] = u.version_mismatches;
		}
	}
	view_close(&v);
}

/* ---- drawing ------------------------------------------------------------ */

/* One line: on a terminal it also clears what the last frame left there. */
static void line(const struct top *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void line(const struct top *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs(t->tty ? "\033[K\n" : "\n", stdout);
}

static void draw_title(const struct top *t, const struct sample *s)
{
	char when[64];
	tool_format_time_ns(when, sizeof(when), tool_realtime_ns());
	line(t, "fstatcache top - instance '%s' - %s - every %.3gs%s",
	     t->ctx->name, when, t->ctx->interval_ms / 1000.0,
	     t->keys ? " - q quits" : "");
	if (s->err) {
		line(t, "no segment to show: %s; waiting for a writer",
		     s->err == -ENOENT   ? "no writer has it"
		     : s->err == -EPROTO ? "it fails validation"
		     : s->err == -EPERM  ? "not trusted (owner or mode)"
					 : strerror(-s->err));
		return;
	}
	const struct fsc_header *h = &s->hdr;
	const char *status = view_status_name(h->status);
	char up[24];
	tool_format_age(up, sizeof(up), tool_realtime_ns(),
			h->writer_started_ns);
	line(t, "writer pid %u %s, %s, up %s", h->writer_pid,
	     view_liveness_name(view_liveness(h->writer_alive)),
	     status ? status : "unknown status", up);
	const uint64_t *c = h->counters;
	line(t,
	     "entries %u / %u max (%u slots, load %.2f%%)  watches %llu / "
	     "%llu  paths %llu",
	     h->entry_count, h->max_entries, h->slot_count,
	     100.0 * h->entry_count / h->slot_count,
	     (unsigned long long)c[FSC_CTR_WATCHES],
	     (unsigned long long)c[FSC_CTR_WATCH_LIMIT],
	     (unsigned long long)c[FSC_CTR_PATHS]);
}

static void draw_row(const struct top *t, const char *name, uint64_t now,
		     int have_prev, uint64_t before, double secs)
{
	if (have_prev && now >= before && secs > 0)
		line(t, "%-18s %14.1f %16llu", name,
		     (double)(now - before) / secs, (unsigned long long)now);
	else
		line(t, "%-18s %14s %16llu", name, "-",
		     (unsigned long long)now);
}

/* A rate, or JSON null when there is no earlier sample of this segment. */
static json_t *rate(int have_prev, uint64_t now, uint64_t before, double secs)
{
	if (have_prev && now >= before && secs > 0)
		return json_real((double)(now - before) / secs);
	return json_null();
}

/* --json: one object per refresh (schema in fstatcache(1)). */
static void draw_json(struct top *t)
{
	const struct sample *s = &t->cur, *p = &t->prev;
	json_t *o = json_pack("{s:s, s:f}", "name", t->ctx->name, "interval_s",
			      t->ctx->interval_ms / 1000.0);
	if (!o)
		return;
	if (s->err) {
		json_object_set_new(o, "segment", json_false());
		json_object_set_new(o, "error",
				    json_string(s->err == -ENOENT
							? "no writer has it"
							: strerror(-s->err)));
		tool_json_print(o);
		fflush(stdout);
		return;
	}
	const struct fsc_header *h = &s->hdr;
	int same = !p->err && p->t_ns && p->hdr.epoch == s->hdr.epoch;
	double secs = (double)(s->t_ns - p->t_ns) / 1e9;
	json_t *totals = json_object(), *rates = json_object();
	for (unsigned i = 0; i < FSC_CTR_KNOWN; i++) {
		json_object_set_new(totals, view_counter_name(i),
				    json_integer((json_int_t)h->counters[i]));
		json_object_set_new(rates, view_counter_name(i),
				    rate(same, h->counters[i],
					 p->hdr.counters[i], secs));
	}
	for (unsigned i = 0; s->use_ok && i < 4; i++) {
		json_object_set_new(totals, reader_names[i],
				    json_integer((json_int_t)s->reader[i]));
		json_object_set_new(rates, reader_names[i],
				    rate(same && p->use_ok, s->reader[i],
					 p->reader[i], secs));
	}
	const char *status = view_status_name(h->status);
	json_object_set_new(o, "segment", json_true());
	json_object_set_new(o, "writer_pid", json_integer(h->writer_pid));
	json_object_set_new(o, "liveness",
			    json_string(view_liveness_name(
				    view_liveness(h->writer_alive))));
	json_object_set_new(o, "status",
			    json_string(status ? status : "unknown"));
	json_object_set_new(o, "entry_count", json_integer(h->entry_count));
	json_object_set_new(o, "max_entries", json_integer(h->max_entries));
	json_object_set_new(o, "slots", json_integer(h->slot_count));
	json_object_set_new(o, "totals", totals);
	json_object_set_new(o, "per_second", rates);
	tool_json_print(o);
	fflush(stdout);
}

/* Rows the terminal has, or 0 when unknown (then every row is drawn). */
static int term_rows(const struct top *t)
{
	struct winsize ws;
	if (!t->tty || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_row;
}

/* The readers' hit ratio: over the last interval when there is one,
 * else since the segment began; "-" before any lookup was counted. */
static void hit_ratio(const struct sample *s, const struct sample *p, int same,
		      char *buf, size_t size)
{
	uint64_t hits = s->reader[0],
		 all = s->reader[0] + s->reader[1] + s->reader[2];
	const char *over = "in all";
	if (same && p->use_ok &&
	    all > p->reader[0] + p->reader[1] + p->reader[2]) {
		hits -= p->reader[0];
		all -= p->reader[0] + p->reader[1] + p->reader[2];
		over = "last interval";
	}
	if (!s->use_ok || all == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%% (%s)", 100.0 * (double)hits / all,
			 over);
}

static void draw(struct top *t)
{
	const struct sample *s = &t->cur, *p = &t->prev;
	if (t->ctx->json) {
		draw_json(t);
		return;
	}
	if (t->tty)
		fputs("\033[H", stdout);
	draw_title(t, s);
	if (!s->err) {
		int same = !p->err && p->t_ns && p->hdr.epoch == s->hdr.epoch;
		double secs = (double)(s->t_ns - p->t_ns) / 1e9;
		char ratio[64];
		hit_ratio(s, p, same, ratio, sizeof(ratio));
		line(t, "readers' hit ratio %s", ratio);
		line(t, "%s", "");
		line(t, "%-18s %14s %16s", "", "per second", "total");
		/* On a terminal, only the rows it has room for (5 above). */
		size_t nrows = sizeof(rows) / sizeof(rows[0]);
		int height = term_rows(t);
		if (height > 6 && (size_t)(height - 6) < nrows)
			nrows = (size_t)(height - 6);
		for (size_t i = 0; i < nrows; i++) {
			int r = rows[i];
			if (r >= 0) {
				draw_row(t, view_counter_name((unsigned)r),
					 s->hdr.counters[r], same,
					 p->hdr.counters[r], secs);
			} else if (s->use_ok) {
				draw_row(t, reader_names[-1 - r],
					 s->reader[-1 - r], same && p->use_ok,
					 p->reader[-1 - r], secs);
			} else {
				line(t, "%-18s %14s %16s", reader_names[-1 - r],
				     "-", "unknown");
			}
		}
	}
	if (t->tty)
		fputs("\033[J", stdout);
	else
		line(t, "%s", "");
	fflush(stdout);
}

/* ---- the terminal ------------------------------------------------------- */

static void term_enter(struct top *t)
{
	if (t->keys && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		struct termios raw = t->saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* ISIG stays: ^C */
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
			t->raw = 1;
	}
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout); /* alt screen */
	fflush(stdout);
}

static void term_leave(struct top *t)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->raw = 0;
}

/* Ctrl-Z: give the terminal back, stop, and take it again on SIGCONT. */
static void suspend(struct top *t)
{
	sigset_t tstp;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	term_leave(t);
	signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP); /* pending: delivered when unblocked below */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	/* ... stopped here until SIGCONT ... */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTSTP, &sa, NULL);
	term_enter(t);
}

/* ---- the loop ------------------------------------------------------------ */

/* Signals handled only inside ppoll(): returns the mask to wait with. */
static void setup_signals(const struct top *t, sigset_t *wait_mask)
{
	sigset_t block;
	sigemptyset(&block);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: ppoll returns EINTR */
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGWINCH };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (!t->tty && (sigs[i] == SIGTSTP || sigs[i] == SIGWINCH))
			continue;
		sigaddset(&block, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(wait_mask, sigs[i]);
}

/* Keys waiting on stdin: 1 when 'q' was among them, -1 at end of input. */
static int read_keys(void)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 'q' || buf[i] == 'Q')
			return 1;
	return 0;
}

/* Wait until `deadline` (CLOCK_MONOTONIC ns), a key or a signal. */
static void wait_until(struct top *t, uint64_t deadline,
		       const sigset_t *wait_mask)
{
	while (!got_stop) {
		uint64_t now = mono_ns();
		if (now >= deadline)
			return;
		uint64_t left = deadline - now;
		struct timespec ts = { (time_t)(left / 1000000000u),
				       (long)(left % 1000000000u) };
		struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
		int r = ppoll(&p, t->keys ? 1 : 0, &ts, wait_mask);
		if (r < 0 && errno != EINTR)
			return;
		if (got_tstp) {
			got_tstp = 0;
			suspend(t);
			draw(t);
		}
		if (got_winch) {
			got_winch = 0;
			if (t->tty)
				draw(t);
		}
		if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			int k = read_keys();
			if (k > 0)
				got_stop = 1;
			else if (k < 0)
				t->keys = 0; /* end of input: stop polling it */
		}
	}
}

int cmd_top(const struct tool_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct top t = { .ctx = ctx };
	t.tty = !ctx->json && isatty(STDOUT_FILENO);
	t.keys = t.tty && isatty(STDIN_FILENO);
	take_sample(&t, &t.cur);
	if (t.cur.err && t.cur.err != -EPROTO)
		return tool_view_error(ctx, t.cur.err);
	sigset_t wait_mask;
	setup_signals(&t, &wait_mask);
	if (t.tty) {
		term_enter(&t);
		draw(&t); /* totals at once; rates from the next refresh */
	}
	uint64_t step = (uint64_t)ctx->interval_ms * 1000000u;
	uint64_t next = t.cur.t_ns + step;
	while (!got_stop && (ctx->count == 0 || t.shown < ctx->count)) {
		wait_until(&t, next, &wait_mask);
		if (got_stop)
			break;
		t.prev = t.cur;
		take_sample(&t, &t.cur);
		draw(&t);
		t.shown++;
		next += step;
		if (next <
		    t.cur.t_ns) /* fell behind (stopped, slow): no burst */
			next = t.cur.t_ns + step;
		if (ferror(stdout))
			break;
	}
	if (t.tty)
		term_leave(&t);
	return TOOL_EXIT_OK;
}
