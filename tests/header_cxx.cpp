// The public headers compile on their own as strict C++11 with only what
// `pkg-config --cflags fstatcache` gives (tests/header_build.sh), and work.
#include <fstatcache/fstatcache.h>
#include <fstatcache/admin.h>

int main()
{
	fsc_handle *h;
	struct fsc_stat st;
	if (fsc_open(&h, "header-cxx", 0) < 0)
		return 1;
	int r = fsc_stat(h, "/", &st);
	struct fsc_listing l;
	int s = fsc_entries_scan(h, 1, &l);
	fsc_listing_free(&l);
	fsc_close(h);
	return r < 0 || s != -ENOTCONN || fsc_strerror(FSC_MISS) == nullptr;
}
