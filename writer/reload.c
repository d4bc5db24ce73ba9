/*
 * reload.c - SIGHUP: re-read the configuration file and apply what can
 * change while serving (the watch list by difference, allowed prefixes,
 * segment and socket access, log level); say which keys take effect only
 * at restart.  A file with any error changes nothing.  The table is never
 * cleared by a reload.
 */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "fstatcache/contract.h"
#include "log.h"
#include "notify.h"
#include "segment.h"
#include "sys.h"
#include "table.h"
#include "watches.h"
#include "writer.h"

/* ---- SIGHUP: reload the config file ---------------------------------- */

static gid_t config_gid(const struct fw_config *c)
{
	return (c->set & FW_CONF_GROUP) ? c->gid : getegid();
}

/* Segment objects and socket: mode and group from `c` unless fixed. */
static int apply_access(struct writer *w, const struct fw_config *c)
{
	mode_t mode = (w->o->cli_set & FW_CONF_SEGMENT_MODE) ? w->o->mode
							     : c->segment_mode;
	gid_t gid = config_gid(c);
	if (mode == w->mode && gid == w->gid)
		return 0;
	int r = fw_segment_set_access(&w->seg, mode, gid);
	if (!r)
		r = fw_control_set_access(w->ctl, mode, gid);
	if (r < 0) {
		fw_err("reload: cannot give the cache mode %04o, group %u: "
		       "%s",
		       (unsigned)mode, (unsigned)gid, strerror(-r));
		/* Back to what readers had, as far as it goes. */
		(void)fw_segment_set_access(&w->seg, w->mode, w->gid);
		(void)fw_control_set_access(w->ctl, w->mode, w->gid);
		return r;
	}
	fw_info("reload: cache shared as %04o, group %u", (unsigned)mode,
		(unsigned)gid);
	w->mode = mode;
	w->gid = gid;
	return 0;
}

/* Keys that shape the segment: a new value waits for a restart. */
static void note_restart_keys(struct writer *w, const struct fw_config *c)
{
	const struct fw_writer_opts *o = w->o;
	unsigned fixed = o->cli_set;
	if ((c->set & ~fixed & FW_CONF_NAME) && strcmp(c->name, o->name))
		fw_warn("reload: name %s takes effect at restart", c->name);
	if ((c->set & ~fixed & FW_CONF_CAPACITY) &&
	    c->capacity != o->max_entries)
		fw_warn("reload: capacity %u takes effect at restart "
			"(serving %u; the watch list is carried over)",
			c->capacity, o->max_entries);
	if ((c->set & ~fixed & FW_CONF_PATH_MAX) &&
	    (c->path_max + 8) / 8 * 8 != o->path_max)
		fw_warn("reload: path_max %u takes effect at restart",
			c->path_max);
	if ((c->set & ~fixed & FW_CONF_SOCKET) &&
	    strcmp(c->socket, o->socket_path))
		fw_warn("reload: socket %s takes effect at restart", c->socket);
}

struct reload_counts {
	struct writer *w;
	size_t added, removed;
};

static void reload_removed(void *ctx, const char *path)
{
	struct reload_counts *rc = ctx;
	if (fw_table_remove(&rc->w->table, path, (uint32_t)strlen(path)) >= 0)
		rc->removed++;
	fw_watches_remove(rc->w->watches, path);
}

static void reload_added(void *ctx, const char *path)
{
	struct reload_counts *rc = ctx;
	if (strlen(path) >= rc->w->table.path_max) {
		fw_warn("%s: longer than %u bytes, never cached", path,
			rc->w->table.path_max - 1);
		return;
	}
	fw_refresh_path(rc->w, path, 1);
	rc->added++;
}

/*
 * A config with any error changes nothing.  A good one is applied key by
 * key; the table is never cleared, so readers keep every answer they had
 * (only paths dropped from the watch list leave it).
 */
void fw_reload(struct writer *w)
{
	struct fw_config nc;
	char err[1024];
	if (!w->o->config_path) {
		fw_info("SIGHUP: no --config file to reload");
		return;
	}
	fw_notify_reloading();
	int r = fw_config_load(w->o->config_path, &nc, err, sizeof(err));
	if (r < 0)
		fw_err("reload: %s; keeping the configuration in force", err);
	else
		r = apply_access(w, &nc); /* says what went wrong */
	if (r < 0) {
		fw_config_free(&nc);
		fw_notify("READY=1\nSTATUS=reload failed (see the log); "
			  "serving with the previous configuration");
		return;
	}
	note_restart_keys(w, &nc);
	if (!(w->o->cli_set & FW_CONF_LOG_LEVEL))
		fw_log_set_level((enum fw_log_level)nc.log_level);
	struct reload_counts rc = { .w = w };
	if (fw_strv_diff(&w->cfg->watch, &nc.watch, &w->cli_paths,
			 reload_removed, reload_added, &rc) < 0)
		fw_err("reload: out of memory comparing watch lists");
	fw_config_free(w->cfg);
	*w->cfg = nc;
	fw_update_gauges(w);
	fw_info("reloaded %s: %zu paths added, %zu removed, %zu allowed "
		"prefixes",
		w->o->config_path, rc.added, rc.removed, w->cfg->allow.n);
	fw_notify("READY=1\nSTATUS=serving (configuration reloaded)");
}
