/*
 * gen_xxh3.c - print the key-hash test vectors (tests/vectors/xxh3.txt).
 *
 * The segment's key hash is XXH3_64bits_withSeed(path, path_len,
 * hash_seed) (docs/FORMAT.md, "Hashing and probing").  A reader written
 * in another language implements it from the xxHash specification; these
 * vectors, computed here by libxxhash itself, are what it is checked
 * against.  Two kinds of line:
 *
 *   buf SEED LEN HASH   the hash of the first LEN bytes of the vector
 *                       buffer, byte i = ((i * 0x9E3779B1) mod 2^32) >> 24,
 *                       so every length class of XXH3 (0, 1-3, 4-8, 9-16,
 *                       17-128, 129-240, longer: stripes and 1024-byte
 *                       blocks) is covered without storing the input;
 *   path SEED HASH PATH a key as the writer hashes it.
 *
 * SEED and HASH are 16 hex digits.  `meson test xxh3_vectors` regenerates
 * the file and compares it with the committed one.
 *
 * Usage: gen_xxh3 > tests/vectors/xxh3.txt
 *        gen_xxh3 check tests/vectors/xxh3.txt   (exit 1 if it differs)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define BUF_MAX 4200

static const uint64_t all_len_seeds[] = { 0, UINT64_C(0x0123456789abcdef) };
static const uint64_t edge_seeds[] = { 1, UINT64_C(0xffffffffffffffff),
				       UINT64_C(0x9e3779b97f4a7c15),
				       UINT64_C(0x8000000000000000) };
static const unsigned edge_lens[] = {
	0,    1,    2,    3,    4,    5,    7,    8,    9,    15,   16,
	17,   31,   32,   33,   63,   64,   65,   127,  128,  129,  130,
	200,  239,  240,  241,  242,  255,  256,  257,  511,  512,  1023,
	1024, 1025, 1087, 1088, 1089, 1535, 1536, 1537, 2047, 2048, 2049,
	3071, 3072, 3073, 4095, 4096, 4097, 4200
};
static const char *const paths[] = {
	"/",
	"/a",
	"/var/log/syslog",
	"/var/log/nginx/access.log",
	"/var/lib/docker/containers/0123456789abcdef0123456789abcdef"
	"0123456789abcdef0123456789abcdef/0123456789abcdef0123456789abcdef"
	"0123456789abcdef0123456789abcdef-json.log",
	"/tmp/fsct.XXXXXX/dir/file.txt",
};
static const uint64_t path_seeds[] = { 0, UINT64_C(0x5eed5eed5eed5eed),
				       UINT64_C(0xfedcba9876543210) };

static void print_vectors(FILE *out)
{
	static unsigned char buf[BUF_MAX];
	for (uint32_t i = 0; i < BUF_MAX; i++)
		buf[i] = (unsigned char)((uint32_t)(i * UINT32_C(0x9E3779B1)) >>
					 24);
	fprintf(out, "# fstatcache key-hash vectors: XXH3_64bits_withSeed() by "
		     "libxxhash\n");
	fprintf(out,
		"# made by tests/vectors/gen_xxh3.c; see its top comment\n");
	for (size_t s = 0; s < sizeof(all_len_seeds) / sizeof(*all_len_seeds);
	     s++)
		for (unsigned n = 0; n <= 1100; n++)
			fprintf(out, "buf %016" PRIx64 " %u %016" PRIx64 "\n",
				all_len_seeds[s], n,
				(uint64_t)XXH3_64bits_withSeed(
					buf, n, all_len_seeds[s]));
	for (size_t s = 0; s < sizeof(edge_seeds) / sizeof(*edge_seeds); s++)
		for (size_t k = 0; k < sizeof(edge_lens) / sizeof(*edge_lens);
		     k++)
			fprintf(out, "buf %016" PRIx64 " %u %016" PRIx64 "\n",
				edge_seeds[s], edge_lens[k],
				(uint64_t)XXH3_64bits_withSeed(
					buf, edge_lens[k], edge_seeds[s]));
	for (size_t s = 0; s < sizeof(path_seeds) / sizeof(*path_seeds); s++)
		for (size_t k = 0; k < sizeof(paths) / sizeof(*paths); k++)
			fprintf(out, "path %016" PRIx64 " %016" PRIx64 " %s\n",
				path_seeds[s],
				(uint64_t)XXH3_64bits_withSeed(paths[k],
							       strlen(paths[k]),
							       path_seeds[s]),
				paths[k]);
}

int main(int argc, char **argv)
{
	if (argc == 1) {
		print_vectors(stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: gen_xxh3 [check FILE]\n");
		return 2;
	}
	char *want = NULL, *had = NULL;
	size_t want_len = 0;
	FILE *mem = open_memstream(&want, &want_len);
	if (!mem)
		return 2;
	print_vectors(mem);
	fclose(mem);
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	had = malloc(want_len + 1);
	size_t n = had ? fread(had, 1, want_len + 1, f) : 0;
	fclose(f);
	int same = had && n == want_len && memcmp(had, want, n) == 0;
	if (!same)
		fprintf(stderr,
			"%s differs from what libxxhash computes now: "
			"re-make it with gen_xxh3\n",
			argv[2]);
	free(had);
	free(want);
	return same ? 0 : 1;
}
