/*
 * notify.c - sd_notify(3) by hand (see notify.h).  The address is a path,
 * or an abstract name when it starts with '@'.
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int fw_notify(const char *state)
{
	static int warned;
	const char *addr = getenv("NOTIFY_SOCKET");
	if (!addr || !*addr)
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(addr);
	if ((addr[0] != '/' && addr[0] != '@') || n >= sizeof(sa.sun_path)) {
		if (!warned++)
			fw_warn("NOTIFY_SOCKET '%s': not a socket address",
				addr);
		return -EINVAL;
	}
	memcpy(sa.sun_path, addr, n);
	if (addr[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
				    (addr[0] == '/'));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			     (const struct sockaddr *)&sa, len) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err && !warned++)
		fw_warn("NOTIFY_SOCKET %s: %s", addr, strerror(-err));
	return err;
}

int fw_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
			 (unsigned long long)ts.tv_nsec / 1000);
	return fw_notify(msg);
}
