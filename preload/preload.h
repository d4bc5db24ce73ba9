/*
 * preload.h - what the LD_PRELOAD shim (preload.c) shows its own tests.
 *
 * Not installed, not exported by libfstatcache-preload.so: the tests link
 * preload.c into their program, so that they run under the sanitizers
 * without preloading a second library into a sanitized process.
 */
#ifndef FSC_PRELOAD_H
#define FSC_PRELOAD_H

/*
 * Read the environment again and reopen the handle, as the constructor
 * does at load time.  For tests only: not safe while other threads stat.
 */
void fsc_preload_reinit(void);

/* Calls the calling thread had answered from the cache since load. */
unsigned long fsc_preload_served(void);

#endif /* FSC_PRELOAD_H */
