/*
 * replay.c - run a fuzz target without libFuzzer: over every file of the
 * corpus directories (or files) given, then over deterministic mutations
 * of each (bit flips, byte overwrites, truncations, extensions), so a gcc
 * build with ASan/UBSan still exercises the targets in the default test
 * suite.  `--mutations N` sets mutations per file (default 200); the seed
 * is fixed, so a failure reproduces.  Exit 0 when every input returned.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX (64 * 1024)

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned long ninputs;

static void mutate_and_run(const uint8_t *seed, size_t n, long mutations)
{
	static uint8_t buf[REPLAY_MAX];
	for (long i = 0; i < mutations; i++) {
		size_t len = n;
		memcpy(buf, seed, n);
		int edits = 1 + (int)(next_rand() % 8);
		for (int e = 0; e < edits; e++) {
			uint64_t r = next_rand();
			switch (r % 5) {
			case 0: /* flip a bit */
				if (len)
					buf[(r >> 8) % len] ^=
						(uint8_t)(1u << ((r >> 4) % 8));
				break;
			case 1: /* an interesting byte */
				if (len) {
					static const uint8_t v[] = {
						0, 1, 0x7f, 0x80, 0xff, '/', '.'
					};
					buf[(r >> 8) % len] =
						v[(r >> 3) % sizeof(v)];
				}
				break;
			case 2: /* truncate */
				len = len ? (size_t)((r >> 8) % (len + 1)) : 0;
				break;
			case 3: /* extend with random bytes */
				for (int k = (int)((r >> 8) % 64);
				     k > 0 && len < REPLAY_MAX; k--)
					buf[len++] = (uint8_t)next_rand();
				break;
			default: /* overwrite a 32-bit word with a boundary value */
				if (len >= 4) {
					static const uint32_t v[] = {
						0,           1,
						7,           8,
						15,          16,
						63,          64,
						255,         256,
						4095,        4096,
						4097,        0x7fffffff,
						0x80000000u, 0xffffffffu
					};
					uint32_t w = v[(r >> 3) % 16];
					memcpy(buf + ((r >> 8) % (len - 3)), &w,
					       4);
				}
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
		ninputs++;
	}
}

static int run_file(const char *path, long mutations)
{
	static uint8_t buf[REPLAY_MAX];
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	ninputs++;
	mutate_and_run(buf, n, mutations);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's files in name order, so every run is the same. */
static int run_dir(const char *dir, long mutations)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v)
				abort();
			names = v;
		}
		size_t len = strlen(dir) + strlen(de->d_name) + 2;
		names[n] = malloc(len);
		if (!names[n])
			abort();
		snprintf(names[n++], len, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	int err = 0;
	for (size_t i = 0; i < n; i++) {
		err |= run_file(names[i], mutations);
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	long mutations = 200;
	int err = 0, files = 0;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--mutations"))
			mutations = strtol(argv[i + 1], NULL, 10);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mutations")) {
			i++;
			continue;
		}
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 2;
		}
		err |= S_ISDIR(st.st_mode) ? run_dir(argv[i], mutations)
					   : run_file(argv[i], mutations);
		files++;
	}
	if (!files) {
		fprintf(stderr,
			"usage: %s [--mutations N] CORPUS_DIR|FILE...\n",
			argv[0]);
		return 2;
	}
	printf("%lu inputs replayed\n", ninputs);
	return err ? 1 : 0;
}
