/*
 * source.c - the two event sources of source.h: inotify, and fanotify in
 * directory-file-handle-and-name mode.
 *
 * inotify gives watch descriptors itself.  fanotify identifies a directory
 * by (fsid, file handle), so this file keeps the map between those keys
 * and descriptors of its own making: a directory is opened once when it
 * is watched, its handle taken with name_to_handle_at() and its fsid with
 * fstatfs(), both from the descriptor that the mark is then put through,
 * so the key and the mark are of one inode even if the path is renamed
 * meanwhile.  Events name their directory by that key; events of keys no
 * longer mapped (a mark left on a directory that moved away, see
 * fw_source_rm) are skipped.
 *
 * A directory is watched at one of three levels (source.h: its own
 * deletion or move; and its entries' names; and their changes), one
 * kernel watch (mark) per inode at the highest level asked for: inotify
 * adds masks (IN_MASK_ADD), fanotify adds mark bits, and only
 * fw_source_lower() takes them back, through a descriptor checked to be
 * of the same inode.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log.h"
#include "sys.h"

#define SOURCE_BUF (64 * 1024)
/* Descriptors of the inotify watches a fanotify source falls back to:
 * above any it makes itself (it counts up from 0). */
#define INO_WD_BASE (1 << 30)
#define KEY_MAX (8 + 8 + MAX_HANDLE_SZ) /* fsid, type and size, handle */

/* The directory events both sources deliver (inotify's IN_* names), by
 * level (source.h): each level's mask holds the one below it.  inotify
 * watches are added with IN_MASK_ADD, so asking for a lower level never
 * lowers a watch; fw_source_lower() does that. */
#define INOTIFY_SELF_MASK \
	(IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR | \
	 IN_EXCL_UNLINK)
#define INOTIFY_NAMES_MASK \
	(INOTIFY_SELF_MASK | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
	 IN_MOVED_TO)
#define INOTIFY_DIR_MASK \
	(INOTIFY_NAMES_MASK | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE)
/* FAN_ONDIR at every level: a directory's own events, and those of
 * entries that are directories, are reported only with it.  Attribute
 * changes at every level: a chmod, chown or ACL change of a directory on
 * a path's way changes whether the path can be looked up at all (its
 * search permission), so it re-resolves the paths below (events.c).
 * inotify reports its entries' attribute changes too (one mask for both,
 * the named ones are dropped unless a path depends on the name); fanotify
 * only the directory's own, until FAN_EVENT_ON_CHILD at NAMES: there a
 * watched directory's name must report its chmod even once the directory
 * itself cannot be watched any more (it was made unreadable). */
#define FANOTIFY_SELF_MASK \
	(FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ATTRIB | FAN_ONDIR)
#define FANOTIFY_NAMES_MASK \
	(FANOTIFY_SELF_MASK | FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | \
	 FAN_MOVED_TO | FAN_EVENT_ON_CHILD)
#define FANOTIFY_DIR_MASK (FANOTIFY_NAMES_MASK | FAN_MODIFY | FAN_CLOSE_WRITE)
/* A watched file's own mark: what a write or chmod through any of its
 * names, or a link added or removed (its nlink), does to it. */
#define FANOTIFY_FILE_MASK (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE)

/* One watched directory under fanotify; chained in two buckets. */
struct fan_dir {
	struct fan_dir *by_key, *by_wd;
	int wd;
	uint32_t gen;  /* fw_source.mount_gen when it was last marked */
	bool file;     /* a file's own mark (fw_source_add_file) */
	uint8_t level; /* a directory's: the level its mark has now */
	/* Open on the file while its content events are ignored
	 * (fw_source_quiet), else -1; and what fstat() of it said last. */
	int quiet_fd;
	uint64_t quiet_stamp;
	uint32_t keylen;
	unsigned char key[];
};

struct fw_source {
	enum fw_source_kind kind;
	int fd;
	size_t nwatches;
	uint64_t limit;
	/* fanotify: key -> descriptor and back; nbuckets a power of two */
	struct fan_dir **keys, **wds;
	size_t nbuckets;
	int next_wd;
	/* fanotify: inotify for the directories fanotify cannot mark (a
	 * filesystem without file handles), its descriptors offset by
	 * INO_WD_BASE; and the epoll set over both that the loop polls. */
	int ino_fd, poll_fd;
	bool ino_said;
	uint64_t orphans;   /* marks left on directories that moved away */
	uint32_t mount_gen; /* mount table changes seen */
	bool file_marks;    /* events carry the file's own handle too */
	_Alignas(8) unsigned char buf[SOURCE_BUF];
};

static const char *const kind_names[] = {
	[FW_SOURCE_AUTO] = "auto",
	[FW_SOURCE_INOTIFY] = "inotify",
	[FW_SOURCE_FANOTIFY] = "fanotify",
};

int fw_source_parse(const char *s)
{
	for (int k = 0; k < 3; k++)
		if (strcmp(s, kind_names[k]) == 0)
			return k;
	return -1;
}

const char *fw_source_kind_name(enum fw_source_kind k)
{
	return (unsigned)k < 3 ? kind_names[k] : "?";
}

static uint64_t read_limit(const char *file)
{
	unsigned long long v = 0;
	FILE *f = fopen(file, "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Filesystems whose changes events cannot (all) report (source.h). */
bool fw_fstype_incomplete(long type)
{
	static const unsigned long types[] = {
		0x6969,     /* NFS */
		0x517B,     /* SMB */
		0xFF534D42, /* CIFS */
		0xFE534D42, /* SMB2 */
		0x65735546, /* FUSE */
		0x01021997, /* 9P */
		0x9fa0,     /* proc */
		0x62656572, /* sysfs */
		0x794c7630, /* overlayfs: lower layers change unseen */
		0x00c36400, /* ceph */
		0x5346414F, /* AFS */
		0x0027e0eb, /* cgroup */
		0x63677270, /* cgroup2 */
		0x64626720, /* debugfs */
		0x74726163, /* tracefs */
		0x73757245, /* coda */
		0x01161970, /* GFS2 */
		0x7461636f, /* OCFS2 */
		0x0BD00BD0, /* Lustre */
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((unsigned long)type == types[i])
			return true;
	return false;
}

/* ---- the fanotify key map ------------------------------------------------ */

static size_t key_bucket(const struct fw_source *s, const void *key, size_t len)
{
	return (size_t)XXH3_64bits(key, len) & (s->nbuckets - 1);
}

static size_t wd_bucket(const struct fw_source *s, int wd)
{
	return (size_t)wd & (s->nbuckets - 1);
}

static struct fan_dir *by_key(const struct fw_source *s, const void *key,
			      size_t len)
{
	struct fan_dir *d = s->nbuckets ? s->keys[key_bucket(s, key, len)]
					: NULL;

	while (d && (d->keylen != len || memcmp(d->key, key, len) != 0))
		d = d->by_key;
	return d;
}

static void link_dir(struct fw_source *s, struct fan_dir *d)
{
	size_t kb = key_bucket(s, d->key, d->keylen), wb = wd_bucket(s, d->wd);

	d->by_key = s->keys[kb];
	s->keys[kb] = d;
	d->by_wd = s->wds[wb];
	s->wds[wb] = d;
}

/* Twice the buckets once there are as many directories as buckets. */
static int grow(struct fw_source *s)
{
	size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
	struct fan_dir **keys = calloc(n, sizeof(*keys));
	struct fan_dir **wds = calloc(n, sizeof(*wds));
	struct fan_dir **old = s->keys;
	size_t oldn = s->nbuckets;

	if (!keys || !wds) {
		free(keys);
		free(wds);
		return -ENOMEM;
	}
	free(s->wds);
	s->keys = keys;
	s->wds = wds;
	s->nbuckets = n;
	for (size_t b = 0; b < oldn; b++) {
		struct fan_dir *d = old[b], *next;

		for (; d; d = next) {
			next = d->by_key;
			link_dir(s, d);
		}
	}
	free(old);
	return 0;
}

static struct fan_dir *by_wd(const struct fw_source *s, int wd)
{
	struct fan_dir *d = s->nbuckets ? s->wds[wd_bucket(s, wd)] : NULL;

	while (d && d->wd != wd)
		d = d->by_wd;
	return d;
}

/* Unlink and return the directory of `wd`, NULL if none. */
static struct fan_dir *unlink_wd(struct fw_source *s, int wd)
{
	struct fan_dir **pw, **pk, *d;

	if (!s->nbuckets)
		return NULL;
	for (pw = &s->wds[wd_bucket(s, wd)]; *pw && (*pw)->wd != wd;
	     pw = &(*pw)->by_wd)
		;
	d = *pw;
	if (!d)
		return NULL;
	*pw = d->by_wd;
	pk = &s->keys[key_bucket(s, d->key, d->keylen)];
	while (*pk != d)
		pk = &(*pk)->by_key;
	*pk = d->by_key;
	return d;
}

/* The key of the directory open at fd: fsid, handle type and size, handle. */
static int dir_key(int fd, unsigned char *key, uint32_t *len)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	struct statfs sf;
	int mnt;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) < 0 ||
	    fstatfs(fd, &sf) < 0)
		return -errno;
	memcpy(key, &sf.f_fsid, 8);
	memcpy(key + 8, &h.fh.handle_type, 4);
	memcpy(key + 12, &h.fh.handle_bytes, 4);
	memcpy(key + 16, h.fh.f_handle, h.fh.handle_bytes);
	*len = 16 + h.fh.handle_bytes;
	return 0;
}

/* What a mark of a directory, or of a file, is set with and opened by. */
static unsigned mark_flags(bool file)
{
	return file ? FAN_MARK_ADD : FAN_MARK_ADD | FAN_MARK_ONLYDIR;
}

static uint64_t fan_level_mask(enum fw_watch_level level)
{
	return level == FW_WATCH_SELF    ? FANOTIFY_SELF_MASK
	       : level == FW_WATCH_NAMES ? FANOTIFY_NAMES_MASK
					 : FANOTIFY_DIR_MASK;
}

static uint32_t ino_level_mask(enum fw_watch_level level)
{
	return level == FW_WATCH_SELF    ? INOTIFY_SELF_MASK
	       : level == FW_WATCH_NAMES ? INOTIFY_NAMES_MASK
					 : INOTIFY_DIR_MASK;
}

static uint64_t mark_mask(bool file, enum fw_watch_level level)
{
	return file ? FANOTIFY_FILE_MASK : fan_level_mask(level);
}

static int mark_open(const char *path, bool file, bool nofollow)
{
	return open(path, file ? O_PATH | O_CLOEXEC
			       : O_RDONLY | O_DIRECTORY | O_CLOEXEC |
					  (nofollow ? O_NOFOLLOW : 0));
}

/*
 * Mark (or unmark) what fd is open on.  A file is open with O_PATH, which
 * fanotify_mark() does not take as the object: it is named through
 * /proc/self/fd, so the mark lands on the inode the key was taken from
 * even if the path was renamed over meanwhile; without /proc, by path
 * (a file put in its place meanwhile brings a directory event, and the
 * path is resolved and marked again).
 */
static int mark(struct fw_source *s, unsigned flags, uint64_t mask, bool file,
		int fd, const char *path)
{
	char self[40];
	int r;

	if (!file)
		return fanotify_mark(s->fd, flags, mask, fd, NULL);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	r = fanotify_mark(s->fd, flags, mask, AT_FDCWD, self);
	if (r < 0 && errno == ENOENT && path)
		r = fanotify_mark(s->fd, flags, mask, AT_FDCWD, path);
	return r;
}

static int fan_add(struct fw_source *s, const char *dir, bool file,
		   enum fw_watch_level level, bool nofollow)
{
	unsigned char key[KEY_MAX];
	uint32_t len = 0; /* set by dir_key(); GCC -O3 cannot tell */
	struct fan_dir *d;
	struct stat st;
	int fd = mark_open(dir, file, nofollow);
	int err, wd;

	if (fd < 0)
		return -1;
	if (file && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EOPNOTSUPP; /* only regular files have writes */
		return -1;
	}
	err = dir_key(fd, key, &len);
	if (err == 0 && (d = by_key(s, key, len)) != NULL) {
		enum fw_watch_level want =
			level > d->level ? level
					 : (enum fw_watch_level)d->level;

		/* Marked before; but since the mounts changed, the inode may
		 * have been unmounted, its mark dropped with no event, and
		 * mounted again: mark it again (the kernel merges marks).
		 * Or marked at a lower level: add what this one adds. */
		if ((d->gen != s->mount_gen || want != d->level) &&
		    mark(s, mark_flags(file), mark_mask(file, want), file, fd,
			 dir) < 0) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		d->gen = s->mount_gen;
		d->level = (uint8_t)want;
		close(fd);
		return d->wd;
	}
	if (err == 0 && s->nwatches >= s->nbuckets)
		err = grow(s);
	if (err == 0 && !file && fw_sys_fault_fires(FW_SYS_INOTIFY_ADD_WATCH))
		err = -errno;
	if (err == 0 && mark(s, mark_flags(file), mark_mask(file, level), file,
			     fd, dir) < 0)
		err = -errno;
	close(fd);
	if (err == 0 && !(d = malloc(sizeof(*d) + len)))
		err = -ENOMEM;
	if (err < 0) {
		errno = err == -EOPNOTSUPP || err == -EXDEV || err == -ENODEV
				? EOPNOTSUPP /* no file handles there */
				: -err;
		return -1;
	}
	wd = s->next_wd++;
	d->wd = wd;
	d->gen = s->mount_gen;
	d->file = file;
	d->level = (uint8_t)level;
	d->quiet_fd = -1;
	d->keylen = len;
	memcpy(d->key, key, len);
	link_dir(s, d);
	s->nwatches++;
	return wd;
}

/* What a quiet file does not report: what a re-stat reads anyway. */
#define FANOTIFY_QUIET_MASK (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE)

/* Its content events heard again, through the descriptor the ignore mask
 * was set by: the same inode, whatever its names now. */
static void quiet_end(struct fw_source *s, struct fan_dir *d)
{
	if (d->quiet_fd < 0)
		return;
	if (mark(s, FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK,
		 FANOTIFY_QUIET_MASK, true, d->quiet_fd, NULL) < 0)
		fw_warn("fanotify: cannot hear a quieted file again: %s",
			strerror(errno));
	close(d->quiet_fd);
	d->quiet_fd = -1;
}

/* fanotify removes a mark by object: only if `dir` still names it. */
static void fan_rm(struct fw_source *s, int wd, const char *dir, bool rm)
{
	struct fan_dir *d = unlink_wd(s, wd);
	unsigned char key[KEY_MAX];
	uint32_t len = 0; /* set by dir_key(); GCC -O3 cannot tell */
	int fd;

	if (!d)
		return;
	s->nwatches--;
	quiet_end(s, d); /* never leave an inode deaf behind */
	fd = rm && dir ? mark_open(dir, d->file, false) : -1;
	if (fd >= 0 && dir_key(fd, key, &len) == 0 && len == d->keylen &&
	    memcmp(key, d->key, len) == 0) {
		(void)mark(s, FAN_MARK_REMOVE,
			   mark_mask(d->file, FW_WATCH_FULL), d->file, fd, dir);
	} else if (rm && !d->file) {
		/* Moved away: its mark stays until the directory is gone,
		 * and its events find no key. */
		s->orphans++;
		fw_debug("fanotify: %s moved away; its mark stays",
			 dir ? dir : "a directory");
	}
	/* A file's mark not found by its path went with the file, or stays
	 * on it renamed away (a rotated log) until it is deleted: not
	 * counted, as which of the two is not known. */
	if (fd >= 0)
		close(fd);
	free(d);
}

/*
 * One fanotify event, `len` bytes at `p`: its directory's descriptor and
 * the name in it.  Records are only 4-byte aligned (the metadata's 64-bit
 * mask is not), and every length comes from the kernel: each field is
 * copied out, each record checked against the event's end.
 */
static void fan_event(struct fw_source *s, const unsigned char *p, size_t len,
		      void (*fn)(void *, const struct fw_event *), void *ctx)
{
	struct fanotify_event_metadata m;
	const unsigned char *end = p + len;
	struct fw_event ev = { -1, 0, "", 0 };

	memcpy(&m, p, sizeof(m));
	ev.mask = (uint32_t)m.mask;
	if (m.mask & FAN_Q_OVERFLOW) {
		fn(ctx, &ev);
		return;
	}
	for (p += m.metadata_len;
	     p + sizeof(struct fanotify_event_info_header) <= end;) {
		struct fanotify_event_info_header hdr;
		/* fsid (8), then struct file_handle: bytes, type, handle */
		const size_t fixed = sizeof(hdr) + 8 + 8;
		uint32_t hbytes;
		unsigned char key[KEY_MAX];
		struct fan_dir *d;

		memcpy(&hdr, p, sizeof(hdr));
		if (hdr.len < sizeof(hdr) || hdr.len > (size_t)(end - p))
			return; /* malformed: nothing to trust */
		if ((hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
		     hdr.info_type != FAN_EVENT_INFO_TYPE_FID) ||
		    hdr.len < fixed) {
			p += hdr.len;
			continue;
		}
		memcpy(&hbytes, p + sizeof(hdr) + 8, 4);
		if (hbytes > MAX_HANDLE_SZ || fixed + hbytes > hdr.len ||
		    (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
		     fixed + hbytes == hdr.len))
			return; /* no room for the handle (and a name) */
		memcpy(key, p + sizeof(hdr), 8);          /* fsid */
		memcpy(key + 8, p + sizeof(hdr) + 12, 4); /* handle_type */
		memcpy(key + 12, &hbytes, 4);
		memcpy(key + 16, p + fixed, hbytes);
		d = by_key(s, key, 16 + hbytes);
		if (hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
			/* The object itself: news only for a marked file (a
			 * write through a name no directory mark sees). */
			if (d && d->file) {
				struct fw_event fe = { d->wd, ev.mask, "", 0 };
				fn(ctx, &fe);
			}
		} else if (d && !d->file) {
			ev.wd = d->wd;
			ev.name = (const char *)p + fixed + hbytes;
			ev.len = strnlen(ev.name, hdr.len - fixed - hbytes);
			if (ev.len == 1 && ev.name[0] == '.')
				ev.len = 0, ev.name = ""; /* the directory */
			fn(ctx, &ev);
		} else if (!d && (m.mask & FAN_ATTRIB) &&
			   (m.mask & FAN_ONDIR) &&
			   hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			/* A directory's own attributes, named by its own
			 * handle, through its parent's mark or one left on
			 * it: one we no longer map (made unreadable). */
			struct fw_event ue = { FW_EVENT_WD_UNMAPPED, ev.mask,
					       "", 0 };
			fn(ctx, &ue);
		} /* else forgotten meanwhile */
		p += hdr.len;
	}
}

static void fan_parse(struct fw_source *s, size_t n,
		      void (*fn)(void *, const struct fw_event *), void *ctx)
{
	size_t off = 0;

	while (n - off >= FAN_EVENT_METADATA_LEN) {
		struct fanotify_event_metadata m;

		memcpy(&m, s->buf + off, sizeof(m));
		if (m.event_len < FAN_EVENT_METADATA_LEN ||
		    m.event_len > n - off)
			return;
		if (m.vers == FANOTIFY_METADATA_VERSION &&
		    m.metadata_len >= FAN_EVENT_METADATA_LEN &&
		    m.metadata_len <= m.event_len)
			fan_event(s, s->buf + off, m.event_len, fn, ctx);
		off += m.event_len;
	}
}

/* ---- inotify ---------------------------------------------------------------- */

static void ino_parse(struct fw_source *s, size_t n, int base,
		      void (*fn)(void *, const struct fw_event *), void *ctx)
{
	const unsigned char *pos = s->buf;

	while (pos < s->buf + n) {
		const struct inotify_event *ie = (const void *)pos;
		struct fw_event ev = { ie->wd + base, ie->mask, ie->name,
				       strnlen(ie->name, ie->len) };

		if (ie->mask & IN_Q_OVERFLOW)
			ev.wd = -1;
		fn(ctx, &ev);
		pos += sizeof(*ie) + ie->len;
	}
}

/* ---- public ------------------------------------------------------------------ */

/* Directory handles and names, and where the kernel has it (5.9) the
 * object's own handle too, for marks on files. */
static int open_fanotify(bool *file_marks)
{
	const unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
			       FAN_REPORT_DFID_NAME;
	int fd = fanotify_init(flags | FAN_REPORT_FID, O_RDONLY | O_CLOEXEC);

	*file_marks = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = fanotify_init(flags, O_RDONLY | O_CLOEXEC);
	return fd;
}

int fw_source_open(struct fw_source **out, enum fw_source_kind kind, char *why,
		   size_t why_size)
{
	struct fw_source *s = calloc(1, sizeof(*s));
	int err = 0;

	if (!s)
		return -ENOMEM;
	if (why_size)
		why[0] = '\0';
	s->fd = s->ino_fd = s->poll_fd = -1;
	if (kind != FW_SOURCE_INOTIFY) {
		s->fd = open_fanotify(&s->file_marks);
		err = s->fd < 0 ? errno : 0;
		if (s->fd >= 0)
			s->kind = FW_SOURCE_FANOTIFY;
		else if (kind == FW_SOURCE_AUTO)
			snprintf(why, why_size, "fanotify_init: %s%s",
				 strerror(err),
				 err == EPERM ? " (unprivileged fanotify "
						"needs Linux 5.13)"
					      : "");
	}
	if (s->fd < 0 && kind != FW_SOURCE_FANOTIFY) {
		s->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		err = s->fd < 0 ? errno : 0;
		s->kind = FW_SOURCE_INOTIFY;
	}
	if (s->fd >= 0 && s->kind == FW_SOURCE_FANOTIFY) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->fd };

		s->poll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (s->poll_fd < 0 ||
		    epoll_ctl(s->poll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
			err = errno;
			if (s->poll_fd >= 0)
				close(s->poll_fd);
			close(s->fd);
			s->fd = -1;
		}
	}
	if (s->fd < 0) {
		free(s);
		return -err;
	}
	s->limit =
		read_limit(s->kind == FW_SOURCE_FANOTIFY
				   ? "/proc/sys/fs/fanotify/max_user_marks"
				   : "/proc/sys/fs/inotify/max_user_watches");
	*out = s;
	return 0;
}

void fw_source_close(struct fw_source *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct fan_dir *d = s->keys[b], *next;

		for (; d; d = next) {
			next = d->by_key;
			if (d->quiet_fd >= 0)
				close(d->quiet_fd);
			free(d);
		}
	}
	free(s->keys);
	free(s->wds);
	close(s->fd);
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	if (s->poll_fd >= 0)
		close(s->poll_fd);
	free(s);
}

enum fw_source_kind fw_source_kind(const struct fw_source *s)
{
	return s->kind;
}

int fw_source_fd(const struct fw_source *s)
{
	return s->poll_fd >= 0 ? s->poll_fd : s->fd;
}

size_t fw_source_nwatches(const struct fw_source *s)
{
	return s->nwatches;
}

uint64_t fw_source_orphans(const struct fw_source *s)
{
	return s->orphans;
}

uint64_t fw_source_limit(const struct fw_source *s)
{
	return s->limit;
}

/* What changes with every write, truncation, chmod, chown or link count
 * change of the file open as fd (its ctime, with its size and mtime for
 * filesystems whose timestamps are coarse), folded into one number; 0 if
 * fstat() fails. */
static uint64_t stamp(int fd)
{
	struct stat st;
	uint64_t v[6];

	if (fstat(fd, &st) < 0)
		return 0;
	v[0] = (uint64_t)st.st_size;
	v[1] = (uint64_t)st.st_mtim.tv_sec;
	v[2] = (uint64_t)st.st_mtim.tv_nsec;
	v[3] = (uint64_t)st.st_ctim.tv_sec;
	v[4] = (uint64_t)st.st_ctim.tv_nsec;
	v[5] = (uint64_t)st.st_nlink;
	return XXH3_64bits(v, sizeof(v)) | 1;
}

int fw_source_quiet_changed(struct fw_source *s, int wd)
{
	struct fan_dir *d = s->kind == FW_SOURCE_FANOTIFY ? by_wd(s, wd) : NULL;
	uint64_t now;

	if (!d || d->quiet_fd < 0)
		return -EINVAL;
	now = stamp(d->quiet_fd);
	if (!now)
		return -errno;
	if (now == d->quiet_stamp)
		return 0;
	d->quiet_stamp = now;
	return 1;
}

int fw_source_quiet(struct fw_source *s, int wd, const char *path, bool on)
{
	unsigned char key[KEY_MAX];
	uint32_t len;
	struct fan_dir *d = s->kind == FW_SOURCE_FANOTIFY ? by_wd(s, wd) : NULL;
	int fd, err;

	if (!d || !d->file)
		return -EINVAL;
	if (!on) {
		quiet_end(s, d);
		return 0;
	}
	if (d->quiet_fd >= 0)
		return 0;
	/* The ignore mask must be taken off the inode it was put on, so
	 * the inode is held open meanwhile; `path` must still name it. */
	fd = mark_open(path, true, false);
	if (fd < 0)
		return -errno;
	err = dir_key(fd, key, &len);
	if (!err && (len != d->keylen || memcmp(key, d->key, len) != 0))
		err = -ESTALE;
	if (!err && mark(s,
			 FAN_MARK_ADD | FAN_MARK_IGNORED_MASK |
				 FAN_MARK_IGNORED_SURV_MODIFY,
			 FANOTIFY_QUIET_MASK, true, fd, NULL) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	d->quiet_fd = fd;
	/* After the mask: a write from now on changes what this says. */
	d->quiet_stamp = stamp(fd);
	return 0;
}

void fw_source_mounts_changed(struct fw_source *s)
{
	s->mount_gen++;
}

/*
 * fanotify cannot mark a directory on a filesystem without file handles
 * (ramfs, some FUSE and older kernels' tmpfs...): watch it with inotify,
 * which needs none, in the same epoll set, rather than answer every path
 * there by stat().
 */
static int ino_fallback_add(struct fw_source *s, const char *dir, uint32_t mask)
{
	int wd, err;

	if (s->ino_fd < 0) {
		struct epoll_event ev = { .events = EPOLLIN };

		s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (s->ino_fd < 0)
			return -1;
		ev.data.fd = s->ino_fd;
		if (epoll_ctl(s->poll_fd, EPOLL_CTL_ADD, s->ino_fd, &ev) < 0) {
			err = errno;
			close(s->ino_fd);
			s->ino_fd = -1;
			errno = err;
			return -1;
		}
	}
	wd = fw_sys_inotify_add_watch(s->ino_fd, dir, mask);
	if (wd < 0)
		return -1;
	if (wd >= INO_WD_BASE) { /* after a billion watches: give up */
		(void)inotify_rm_watch(s->ino_fd, wd);
		errno = EOVERFLOW;
		return -1;
	}
	if (!s->ino_said) {
		s->ino_said = true;
		fw_info("fanotify cannot mark %s (no file handles there): "
			"such directories are watched with inotify",
			dir);
	}
	return INO_WD_BASE + wd;
}

int fw_source_watch(struct fw_source *s, const char *dir,
		    enum fw_watch_level level, bool nofollow)
{
	uint32_t mask = ino_level_mask(level) | IN_MASK_ADD |
			(nofollow ? IN_DONT_FOLLOW : 0);

	if (s->kind == FW_SOURCE_FANOTIFY) {
		int wd = fan_add(s, dir, false, level, nofollow);

		if (wd < 0 && errno == EOPNOTSUPP)
			wd = ino_fallback_add(s, dir, mask);
		return wd;
	}
	return fw_sys_inotify_add_watch(s->fd, dir, mask);
}

int fw_source_add(struct fw_source *s, const char *dir)
{
	return fw_source_watch(s, dir, FW_WATCH_FULL, false);
}

/*
 * inotify changes a watch's mask only through a path, and replaces it
 * whole: through /proc/self/fd of a descriptor open on `dir`, the inode
 * cannot change between the two calls.  The first only adds the bits
 * every watch of ours has (a no-op on any of them) and tells whose watch
 * it is; only if it is `kwd` is the mask replaced.  Without /proc, no.
 */
static int ino_lower(int ifd, int kwd, const char *dir,
		     enum fw_watch_level level, int *made)
{
	char self[40];
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int got, r = -1;

	if (fd < 0)
		return -1;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	got = inotify_add_watch(ifd, self, INOTIFY_SELF_MASK | IN_MASK_ADD);
	if (got == kwd)
		r = inotify_add_watch(ifd, self, ino_level_mask(level)) == kwd
			    ? 0
			    : -1;
	else if (got >= 0)
		*made = got;
	close(fd);
	return r;
}

/* fanotify removes mask bits: only if `dir` still names the inode. */
static int fan_lower(struct fw_source *s, int wd, const char *dir,
		     enum fw_watch_level level)
{
	struct fan_dir *d = by_wd(s, wd);
	unsigned char key[KEY_MAX];
	uint32_t len = 0;
	int fd, r = -1;

	if (!d || d->file)
		return -1;
	if (d->level <= level)
		return 0;
	fd = mark_open(dir, false, true);
	if (fd < 0)
		return -1;
	if (dir_key(fd, key, &len) == 0 && len == d->keylen &&
	    memcmp(key, d->key, len) == 0 &&
	    /* Every bit above the level, not only those the record says
	     * it has: a mark merged into one an earlier record left behind
	     * (an orphan of a renamed directory) may hold more. */
	    fanotify_mark(s->fd, FAN_MARK_REMOVE,
			  FANOTIFY_DIR_MASK & ~fan_level_mask(level), fd,
			  NULL) == 0) {
		d->level = (uint8_t)level;
		r = 0;
	}
	close(fd);
	return r;
}

int fw_source_lower(struct fw_source *s, int wd, const char *dir,
		    enum fw_watch_level level, int *made)
{
	int r;

	*made = -1;
	if (s->kind == FW_SOURCE_FANOTIFY && wd < INO_WD_BASE)
		return fan_lower(s, wd, dir, level);
	if (s->kind == FW_SOURCE_FANOTIFY) {
		r = ino_lower(s->ino_fd, wd - INO_WD_BASE, dir, level, made);
		if (*made >= 0)
			*made += INO_WD_BASE;
		return r;
	}
	return ino_lower(s->fd, wd, dir, level, made);
}

bool fw_source_file_marks(const struct fw_source *s)
{
	return s->kind == FW_SOURCE_FANOTIFY && s->file_marks;
}

int fw_source_add_file(struct fw_source *s, const char *path)
{
	if (!fw_source_file_marks(s)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return fan_add(s, path, true, FW_WATCH_FULL, false);
}

void fw_source_rm(struct fw_source *s, int wd, const char *dir, bool rm)
{
	if (s->kind == FW_SOURCE_FANOTIFY && wd >= INO_WD_BASE) {
		if (rm) /* EINVAL if the kernel dropped it first */
			(void)inotify_rm_watch(s->ino_fd, wd - INO_WD_BASE);
	} else if (s->kind == FW_SOURCE_FANOTIFY)
		fan_rm(s, wd, dir, rm);
	else if (rm) /* EINVAL if the kernel dropped it first */
		(void)inotify_rm_watch(s->fd, wd);
}

/* Read one descriptor until it is empty. */
static int read_all(struct fw_source *s, int fd, bool fan,
		    void (*fn)(void *ctx, const struct fw_event *ev), void *ctx)
{
	for (;;) {
		ssize_t n = read(fd, s->buf, sizeof(s->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		if (fan)
			fan_parse(s, (size_t)n, fn, ctx);
		else
			ino_parse(s, (size_t)n, fd == s->fd ? 0 : INO_WD_BASE,
				  fn, ctx);
	}
}

int fw_source_read(struct fw_source *s,
		   void (*fn)(void *ctx, const struct fw_event *ev), void *ctx)
{
	bool fan = s->kind == FW_SOURCE_FANOTIFY;
	int r = read_all(s, s->fd, fan, fn, ctx);

	if (r == 0 && fan && s->ino_fd >= 0)
		r = read_all(s, s->ino_fd, false, fn, ctx);
	return r;
}
