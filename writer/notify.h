/*
 * notify.h - the systemd readiness protocol (sd_notify(3)), without
 * libsystemd: one datagram of "KEY=value" lines to $NOTIFY_SOCKET.
 * Under `Type=notify` systemd then knows when the cache is serving, when
 * a reload starts and ends, and when the writer is stopping.
 */
#ifndef FSC_WRITER_NOTIFY_H
#define FSC_WRITER_NOTIFY_H

/*
 * Send `state` (e.g. "READY=1\nSTATUS=serving") when $NOTIFY_SOCKET is
 * set; otherwise do nothing.  Returns 0, or -errno (logged once).
 */
int fsc_notify(const char *state);

/* "RELOADING=1" with the MONOTONIC_USEC= systemd wants beside it. */
int fsc_notify_reloading(void);

#endif /* FSC_WRITER_NOTIFY_H */
