// The public header compiles on its own as strict C++11 (see meson.build).
#include <fstatcache/fstatcache.h>

int main()
{
	fsc_handle *h;
	struct fsc_stat st;
	if (fsc_open(&h, "header-cxx", 0) < 0)
		return 1;
	int r = fsc_stat(h, "/", &st);
	fsc_close(h);
	return r < 0 || fsc_strerror(FSC_MISS) == nullptr;
}
