/* The public header compiles on its own as strict C11 (see meson.build). */
#include <fstatcache/fstatcache.h>

int main(void)
{
	fsc_handle *h = NULL;
	struct fsc_stat st;
	(void)fsc_lookup(h, "/", &st);
	return fsc_strerror(FSC_MISS) == NULL;
}
