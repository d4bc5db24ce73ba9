/*
 * fsc_bench.c - fsc-bench, the benchmark suite of fstatcache: options, the
 * order of the sections, the targets summary and the JSON file.
 *
 *   fsc-bench [--out FILE] [--quick] [--files N] [--rounds R] ...
 *
 * Runs, against real fstatcached processes it starts itself (found as
 * $FSTATCACHED, else next to this program's build directory, else on
 * PATH), in this order:
 *
 *   build       cold build of 1/10, 1x and the big number of paths; the
 *               writer's RSS at each; segment bytes per entry
 *   idle        the writer's wake-ups during --idle seconds of idleness
 *   lookup      the classic workload at --files and --big-files
 *   miss        first-time misses against stat()
 *   parallel    1, 2, 4 reader processes while updates apply
 *   throughput  inotify events absorbed per second at full append speed
 *   fresh       append-to-visible latency, idle and under load
 *   busy        agents polling F files at 4 Hz under W writes/s: total CPU
 *               (agents + writer) with the cache against stat() polling
 *   feed        the change feed (fsc_changes()) against fsc_lookup_many(),
 *               stat() and Watchman: poll cost at --files (10 and 0
 *               changed) and --big-files (1 % changed), and an idle
 *               agent's CPU at 4 Hz
 *
 * then prints the targets with the figures and whether each holds.
 * See bench.h for the ground rules.  --quick (the smoke test) shrinks every
 * count and window but runs every code path.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_FILES 10000u
#define DEFAULT_BIG 100000u

enum {
	O_FILES = 256,
	O_ROUNDS,
	O_BIG,
	O_DIRS,
	O_TRIALS,
	O_LOAD,
	O_DEPTH,
	O_REPEATS,
	O_WINDOW,
	O_IDLE,
	O_GAP,
	O_PHASE,
	O_FEED_POLLS,
	O_FEED_WINDOW,
	O_QUICK,
	O_OUT,
	O_DIR,
	O_KEY_LEN,
	O_ONLY,
	O_EVENTS,
	O_BUSY_FILES,
	O_BUSY_HOT,
	O_BUSY_WRITES,
	O_BUSY_AGENTS,
	O_HELP,
	O_COUNT
};

static const struct option options[] = {
	{ "files", required_argument, NULL, O_FILES },
	{ "rounds", required_argument, NULL, O_ROUNDS },
	{ "big-files", required_argument, NULL, O_BIG },
	{ "dirs", required_argument, NULL, O_DIRS },
	{ "key-len", required_argument, NULL, O_KEY_LEN },
	{ "trials", required_argument, NULL, O_TRIALS },
	{ "load-files", required_argument, NULL, O_LOAD },
	{ "uring-depth", required_argument, NULL, O_DEPTH },
	{ "repeats", required_argument, NULL, O_REPEATS },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "idle", required_argument, NULL, O_IDLE },
	{ "gap-us", required_argument, NULL, O_GAP },
	{ "phase-max", required_argument, NULL, O_PHASE },
	{ "feed-polls", required_argument, NULL, O_FEED_POLLS },
	{ "feed-window", required_argument, NULL, O_FEED_WINDOW },
	{ "quick", no_argument, NULL, O_QUICK },
	{ "out", required_argument, NULL, O_OUT },
	{ "json", required_argument, NULL, O_OUT },
	{ "dir", required_argument, NULL, O_DIR },
	{ "only", required_argument, NULL, O_ONLY },
	{ "events", required_argument, NULL, O_EVENTS },
	{ "busy-files", required_argument, NULL, O_BUSY_FILES },
	{ "busy-hot", required_argument, NULL, O_BUSY_HOT },
	{ "busy-writes", required_argument, NULL, O_BUSY_WRITES },
	{ "busy-agents", required_argument, NULL, O_BUSY_AGENTS },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	printf("Usage: fsc-bench [OPTION]...\n"
	       "The fstatcache benchmark suite: prints a table, --out writes it as JSON.\n"
	       "  --out FILE         write the results as JSON (\"-\": stdout)\n"
	       "  --quick            tiny counts and windows (the smoke test)\n"
	       "  --files N          classic workload size (default %u)\n"
	       "  --rounds R         lookups per file (default 100)\n"
	       "  --big-files N      the large version, 0 to skip (default %u)\n"
	       "  --dirs N           directories the files are spread over (default 100)\n"
	       "  --key-len N        pad the looked-up files' names so their paths are\n"
	       "                     N bytes, as long log paths are (default: ~45)\n"
	       "  --trials N         freshness trials per phase (default 10000)\n"
	       "  --load-files N     files appended by the load process (default 1000)\n"
	       "  --uring-depth N    statx SQEs per io_uring submission (default 1024)\n"
	       "  --repeats N        cold builds per size (default 3)\n"
	       "  --window S         throughput / parallel window, seconds (default 3)\n"
	       "  --idle S           idle wake-up window, seconds (default 10)\n"
	       "  --gap-us US        pause between freshness trials (default 500)\n"
	       "  --phase-max S      longest freshness phase, seconds (default 100)\n"
	       "  --feed-polls N     change feed: polls per method (default 200)\n"
	       "  --feed-window S    change feed: idle CPU window, seconds (default 5)\n"
	       "  --dir DIR          where to make the temporary tree (default $TMPDIR, /tmp)\n"
	       "  --only LIST        comma-separated sections: build,idle,lookup,miss,\n"
	       "                     parallel,throughput,fresh,busy,feed,grow\n"
	       "  --events SOURCE    the writers' event source: fanotify, inotify or\n"
	       "                     auto (default: the writer's own choice)\n"
	       "  --busy-files LIST  busy: only these file counts (1000, 10000)\n"
	       "  --busy-hot LIST    busy: only these hot-file counts (e.g. 100,1000)\n"
	       "  --busy-writes LIST busy: only these writes/s (e.g. 10000)\n"
	       "  --busy-agents LIST busy: only these agent counts (1, 4)\n"
	       "The feed section measures Watchman too when it is installed\n"
	       "($WATCHMAN, else watchman on PATH).\n"
	       "The writer is $FSTATCACHED, else ../fstatcached next to this program,\n"
	       "else fstatcached on PATH.\n",
	       DEFAULT_FILES, DEFAULT_BIG);
}

static double parse_seconds(const char *name, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 3600)
		fb_die("--%s: expected 0..3600, got '%s'", name, s);
	return v;
}

/* Defaults, then --quick's, then what was given explicitly. */
static void parse_args(int argc, char **argv)
{
	struct fb_opts *o = &FB.o;
	int given[O_COUNT] = { 0 }, c;
	*o = (struct fb_opts){ .files = DEFAULT_FILES,
			       .rounds = 100,
			       .big_files = DEFAULT_BIG,
			       .dirs = 100,
			       .trials = 10000,
			       .load_files = 1000,
			       .uring_depth = 1024,
			       .repeats = 3,
			       .window_s = 3.0,
			       .idle_s = 10.0,
			       .gap_s = 500e-6,
			       .phase_max_s = 100.0,
			       .feed_polls = 200,
			       .feed_window_s = 5.0 };
	struct fb_opts in = *o;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c > 0 && c < O_COUNT)
			given[c] = 1;
		switch (c) {
		case O_EVENTS:
			if (strcmp(optarg, "fanotify") &&
			    strcmp(optarg, "inotify") && strcmp(optarg, "auto"))
				fb_die("--events: expected fanotify, inotify "
				       "or auto, got '%s'",
				       optarg);
			FB.events = optarg;
			break;
		case O_FILES:
			in.files = fb_parse_count("files", optarg, 16, 4000000);
			break;
		case O_ROUNDS:
			in.rounds = fb_parse_count("rounds", optarg, 1, 100000);
			break;
		case O_BIG:
			in.big_files =
				fb_parse_count("big-files", optarg, 0, 4000000);
			break;
		case O_DIRS:
			in.dirs = fb_parse_count("dirs", optarg, 1, 1000);
			break;
		case O_KEY_LEN:
			in.key_len = fb_parse_count("key-len", optarg, 1, 255);
			break;
		case O_TRIALS:
			in.trials =
				fb_parse_count("trials", optarg, 1, 10000000);
			break;
		case O_LOAD:
			in.load_files =
				fb_parse_count("load-files", optarg, 1, 10000);
			break;
		case O_DEPTH:
			in.uring_depth =
				fb_parse_count("uring-depth", optarg, 1, 4096);
			break;
		case O_REPEATS:
			in.repeats = fb_parse_count("repeats", optarg, 1, 100);
			break;
		case O_WINDOW:
			in.window_s = parse_seconds("window", optarg);
			break;
		case O_IDLE:
			in.idle_s = parse_seconds("idle", optarg);
			break;
		case O_GAP:
			in.gap_s = parse_seconds("gap-us", optarg) / 1e6;
			break;
		case O_PHASE:
			in.phase_max_s = parse_seconds("phase-max", optarg);
			break;
		case O_FEED_POLLS:
			in.feed_polls = fb_parse_count("feed-polls", optarg, 1,
						       1000000);
			break;
		case O_FEED_WINDOW:
			in.feed_window_s = parse_seconds("feed-window", optarg);
			break;
		case O_QUICK:
			o->quick = 1;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_DIR:
			o->base = optarg;
			break;
		case O_ONLY:
			o->only = optarg;
			break;
		case O_BUSY_FILES:
			o->busy_files = optarg;
			break;
		case O_BUSY_HOT:
			o->busy_hot = optarg;
			break;
		case O_BUSY_WRITES:
			o->busy_writes = optarg;
			break;
		case O_BUSY_AGENTS:
			o->busy_agents = optarg;
			break;
		case O_HELP:
			usage();
			exit(0);
		default:
			fprintf(stderr, "Try 'fsc-bench --help'.\n");
			exit(2);
		}
	}
	if (optind < argc)
		fb_die("unexpected argument '%s'", argv[optind]);
	if (o->quick) {
		o->trials = 100;
		o->load_files = 50;
		o->repeats = 1;
		o->window_s = 0.2;
		o->idle_s = 0.2;
		o->gap_s = 100e-6;
		o->phase_max_s = 10;
		o->dirs = 10;
		o->feed_polls = 5;
		o->feed_window_s = 0.3;
	}
#define TAKE(opt, field) \
	do { \
		if (given[opt]) \
			o->field = in.field; \
	} while (0)
	TAKE(O_FILES, files);
	TAKE(O_ROUNDS, rounds);
	TAKE(O_BIG, big_files);
	TAKE(O_DIRS, dirs);
	TAKE(O_KEY_LEN, key_len);
	TAKE(O_TRIALS, trials);
	TAKE(O_LOAD, load_files);
	TAKE(O_DEPTH, uring_depth);
	TAKE(O_REPEATS, repeats);
	TAKE(O_WINDOW, window_s);
	TAKE(O_IDLE, idle_s);
	TAKE(O_GAP, gap_s);
	TAKE(O_PHASE, phase_max_s);
	TAKE(O_FEED_POLLS, feed_polls);
	TAKE(O_FEED_WINDOW, feed_window_s);
#undef TAKE
	if (o->quick && !given[O_BIG])
		o->big_files = 2 * o->files;
	if (o->big_files && o->big_files <= o->files)
		fb_die("--big-files must exceed --files (or be 0)");
	if (o->window_s <= 0)
		fb_die("--window must be positive");
	if (o->feed_window_s <= 0)
		fb_die("--feed-window must be positive");
}

/* The 1-minute load average: how busy the (shared) machine was. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "re");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static json_t *meta(int argc, char **argv)
{
	char date[64], cpu[256] = "?", line[512];
	time_t now = time(NULL);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	FILE *f = fopen("/proc/cpuinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(cpu, sizeof(cpu), "%s", strchr(line, ':') + 2);
			cpu[strcspn(cpu, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	struct utsname u;
	uname(&u);
	struct statfs sf;
	long fstype = statfs(FB.dir, &sf) == 0 ? (long)sf.f_type : 0;
	json_t *args = json_array();
	for (int i = 0; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	const struct fb_opts *o = &FB.o;
	printf("fsc-bench %s: %s, %s %s, %ld CPUs, tree in %s (fs 0x%lx)\n",
	       FSC_VERSION_STRING, cpu, u.sysname, u.release,
	       sysconf(_SC_NPROCESSORS_ONLN), FB.dir, fstype);
	printf("date %s; load average %.2f; writer %s%s%s%s\n", date, loadavg(),
	       FB.writer_bin, FB.events ? " --events " : "",
	       FB.events ? FB.events : "",
	       o->quick ? "; --quick (smoke run: figures not meaningful)" : "");
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:I, s:f, s:s, s:I, s:o, s:b, "
		"s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, "
		"s:f, s:f, s:I, s:f}}",
		"version", FSC_VERSION_STRING, "date", date, "cpu", cpu,
		"kernel", u.release, "cpus",
		(json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
		"loadavg_1min_before", loadavg(), "writer", FB.writer_bin,
		"fs_type", (json_int_t)fstype, "argv", args, "quick", o->quick,
		"options", "files", (json_int_t)o->files, "rounds",
		(json_int_t)o->rounds, "big_files", (json_int_t)o->big_files,
		"dirs", (json_int_t)o->dirs, "key_len", (json_int_t)o->key_len,
		"trials", (json_int_t)o->trials, "load_files",
		(json_int_t)o->load_files, "uring_depth",
		(json_int_t)o->uring_depth, "repeats", (json_int_t)o->repeats,
		"window_s", o->window_s, "idle_s", o->idle_s, "gap_us",
		o->gap_s * 1e6, "phase_max_s", o->phase_max_s, "feed_polls",
		(json_int_t)o->feed_polls, "feed_window_s", o->feed_window_s);
}

static void print_targets(void)
{
	fb_title("Targets");
	printf("%-34s %12s  %-5s %s\n", "target", "figure", "holds", "how");
	size_t i;
	json_t *t;
	json_array_foreach(FB.targets, i, t) {
		const char *unit =
			json_string_value(json_object_get(t, "unit"));
		char fig[48];
		snprintf(fig, sizeof(fig), "%.1f %s",
			 json_real_value(json_object_get(t, "figure")), unit);
		printf("%-34s %12s  %-5s %s\n",
		       json_string_value(json_object_get(t, "target")), fig,
		       json_is_true(json_object_get(t, "holds")) ? "yes" : "NO",
		       json_string_value(json_object_get(t, "detail")));
	}
}

static void write_json(void)
{
	if (!FB.o.out)
		return;
	int flags = JSON_INDENT(2) | JSON_REAL_PRECISION(6);
	int r = strcmp(FB.o.out, "-") ? json_dump_file(FB.root, FB.o.out, flags)
				      : json_dumpf(FB.root, stdout, flags);
	if (r < 0)
		fb_die("%s: cannot write the JSON results", FB.o.out);
	if (strcmp(FB.o.out, "-"))
		printf("\nresults written to %s\n", FB.o.out);
}

static void run_section(const char *name, void (*fn)(void), json_t *secs)
{
	if (!fb_section_on(name) &&
	    !(!strcmp(name, "build") && fb_section_on("idle")))
		return;
	uint64_t t0 = fb_now_ns();
	fn();
	double dt = (double)(fb_now_ns() - t0) / 1e9, la = loadavg();
	printf("(%s: %.1f s; load average %.2f)\n", name, dt, la);
	json_object_set_new(secs, name,
			    json_pack("{s:f, s:f}", "seconds", dt,
				      "loadavg_1min_after", la));
}

int main(int argc, char **argv)
{
	FB.main_pid = getpid();
	parse_args(argc, argv);
	FB.writer_bin = fb_find_writer();
	atexit(fb_cleanup);
	unsigned npool = FB.o.big_files > FB.o.files ? FB.o.big_files
						     : FB.o.files;
	/* Fresh paths per miss method: 2/3 for the burst, 1/3 isolated. */
	unsigned per_miss = FB.o.files * 3 / 10 > 60 ? FB.o.files * 3 / 10 : 60;
	uint64_t t0 = fb_now_ns();
	fb_pool_create(npool, 3 * per_miss, FB.o.load_files);
	FB.root = json_object();
	FB.targets = json_array();
	json_object_set_new(FB.root, "meta", meta(argc, argv));
	printf("made %u + %u + %u files in %.1f s\n", npool, 3 * per_miss,
	       FB.o.load_files, (double)(fb_now_ns() - t0) / 1e9);

	json_t *secs = json_object();
	run_section("build", fb_run_build, secs);
	run_section("lookup", fb_run_lookup, secs);
	run_section("miss", fb_run_miss, secs);
	run_section("parallel", fb_run_parallel, secs);
	run_section("throughput", fb_run_throughput, secs);
	run_section("fresh", fb_run_fresh, secs);
	run_section("busy", fb_run_busy, secs);
	run_section("feed", fb_run_feed, secs);
	run_section("grow", fb_run_grow, secs);
	json_object_set_new(FB.root, "section_seconds", secs);

	print_targets();
	json_object_set_new(FB.root, "targets", FB.targets);
	json_object_set_new(FB.root, "seconds",
			    json_real((double)(fb_now_ns() - t0) / 1e9));
	write_json();
	printf("total %.0f s; removing the %u files...\n",
	       (double)(fb_now_ns() - t0) / 1e9,
	       npool + 3 * per_miss + FB.o.load_files + 1);
	fflush(stdout);
	json_decref(FB.root);
	FB.root = FB.targets = NULL;
	return 0;
}
