/*
 * notify.h - the systemd readiness protocol (sd_notify(3)), without
 * libsystemd: one datagram of "KEY=value" lines to $NOTIFY_SOCKET.
 * Under `Type=notify` systemd then knows when the cache is serving, when
 * a reload starts and ends, and when the writer is stopping.
 */
#ifndef FW_NOTIFY_H
#define FW_NOTIFY_H

/*
 * Send `state` (e.g. "READY=1\nSTATUS=serving") when $NOTIFY_SOCKET is
 * set; otherwise do nothing.  Returns 0, or -errno (logged once).
 */
int fw_notify(const char *state);

/* "RELOADING=1" with the MONOTONIC_USEC= systemd wants beside it. */
int fw_notify_reloading(void);

#endif /* FW_NOTIFY_H */
