// The public header compiles on its own as strict C++11 (see meson.build).
#include <fstatcache/fstatcache.h>

int main()
{
	fsc_handle *h = nullptr;
	struct fsc_stat st;
	(void)fsc_lookup(h, "/", &st);
	return fsc_strerror(FSC_MISS) == nullptr;
}
