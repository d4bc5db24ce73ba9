/*
 * control.c - receive and answer control datagrams.
 *
 * The socket is bound under a restrictive umask and then given its mode,
 * so no other user can connect in between.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct fw_control {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Only a socket may be replaced: never clobber a file put there by mistake. */
static int check_replaceable(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISSOCK(st.st_mode) ? 0 : -EEXIST;
}

/*
 * Bind a temporary name, set its mode, then rename it over the final path:
 * the path never names a socket with the wrong mode, and a socket left by a
 * killed writer (whose segment take-over already proved it dead, though its
 * file descriptors may still be closing) is replaced atomically.
 */
static mode_t socket_mode(mode_t mode)
{
	/* Group members send requests only if the operator shared the cache. */
	return (mode & 0660) | ((mode & 0040) ? 0020 : 0);
}

/* Owner-only first, then the group, then the mode that lets it in. */
static int set_path_access(const char *path, mode_t mode, gid_t gid)
{
	if (gid != (gid_t)-1 &&
	    (chmod(path, 0600) < 0 ||
	     fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0))
		return -errno;
	return chmod(path, socket_mode(mode)) < 0 ? -errno : 0;
}

static int bind_at(int fd, const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.%d.tmp",
			 path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	unlink(addr.sun_path);
	mode_t old = umask(0177);
	int r = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
	int err = -errno;
	umask(old);
	if (r < 0)
		return err;
	err = set_path_access(addr.sun_path, mode, gid);
	if (!err && rename(addr.sun_path, path) < 0)
		err = -errno;
	if (err)
		unlink(addr.sun_path);
	return err;
}

int fw_control_set_access(struct fw_control *c, mode_t mode, gid_t gid)
{
	return set_path_access(c->path, mode, gid);
}

int fw_control_open(struct fw_control **out, const char *path, mode_t mode,
		    gid_t gid)
{
	if (strlen(path) + 16 >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    path[0] != '/')
		return -ENAMETOOLONG;
	int err = check_replaceable(path);
	if (err)
		return err;
	struct fw_control *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	strcpy(c->path, path);
	c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (c->fd < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		err = -errno;
	else
		err = bind_at(c->fd, path, mode, gid);
	if (err) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

int fw_control_fd(const struct fw_control *c)
{
	return c->fd;
}

/* Check the datagram in full before believing any of it. */
int fw_request_parse(const unsigned char *buf, size_t n, struct fw_ctl_msg *m)
{
	struct fsc_request rq;
	m->op = 0;
	m->cookie = 0;
	m->path_len = 0;
	m->path[0] = '\0';
	if (n > FSC_REQUEST_MAX)
		return -EMSGSIZE;
	if (n < sizeof(rq))
		return -EBADMSG;
	memcpy(&rq, buf, sizeof(rq));
	m->op = rq.op;
	m->cookie = rq.cookie;
	if (rq.magic != FSC_MSG_MAGIC || rq.version != FSC_PROTO_VERSION)
		return -EPROTO;
	if (rq.op < FSC_OP_MISS || rq.op >= FSC_OP_LIMIT || rq.flags)
		return -EINVAL;
	if (rq.path_len > FSC_PATH_MAX_MAX || rq.path_len != n - sizeof(rq))
		return -EBADMSG;
	memcpy(m->path, buf + sizeof(rq), rq.path_len);
	m->path[rq.path_len] = '\0';
	if (strlen(m->path) != rq.path_len)
		return -EINVAL; /* embedded NUL */
	m->path_len = rq.path_len;
	return 0;
}

static void read_creds(struct msghdr *mh, struct fw_ctl_msg *m)
{
	m->uid = (uid_t)-1;
	m->pid = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			m->uid = cred.uid;
			m->pid = cred.pid;
		}
	}
}

int fw_control_recv(struct fw_control *c, struct fw_ctl_msg *m)
{
	unsigned char buf[FSC_REQUEST_MAX + 1];
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = {
		.msg_name = &m->from,
		.msg_namelen = sizeof(m->from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n = recvmsg(c->fd, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	m->from_len = mh.msg_namelen;
	read_creds(&mh, m);
	int err = fw_request_parse(buf, (size_t)n, m);
	if (err) {
		fw_control_reply(c, m, err, "malformed request: %s",
				 strerror(-err));
		return -EBADMSG;
	}
	return 1;
}

void fw_control_reply(struct fw_control *c, const struct fw_ctl_msg *m,
		      int status, const char *fmt, ...)
{
	unsigned char buf[FSC_REPLY_MAX];
	struct fsc_reply rp = {
		.magic = FSC_MSG_MAGIC,
		.version = FSC_PROTO_VERSION,
		.op = m->op,
		.cookie = m->cookie,
		.status = status,
	};
	if (m->op == FSC_OP_MISS || m->op == FSC_OP_DOORBELL ||
	    m->from_len <= sizeof(sa_family_t))
		return; /* fire-and-forget, or nobody to answer */
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf((char *)buf + sizeof(rp), FSC_REPLY_MSG_MAX, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	rp.msg_len = k < (int)FSC_REPLY_MSG_MAX ? (uint32_t)k
						: FSC_REPLY_MSG_MAX - 1;
	memcpy(buf, &rp, sizeof(rp));
	/* Never block the writer on a slow client: drop if its queue is full. */
	if (sendto(c->fd, buf, sizeof(rp) + rp.msg_len,
		   MSG_DONTWAIT | MSG_NOSIGNAL,
		   (const struct sockaddr *)&m->from, m->from_len) < 0)
		fw_debug("reply to pid %d dropped: %s", (int)m->pid,
			 strerror(errno));
}

void fw_control_close(struct fw_control *c)
{
	if (!c)
		return;
	close(c->fd);
	unlink(c->path);
	free(c);
}
