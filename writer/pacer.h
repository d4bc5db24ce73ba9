/*
 * pacer.h - how long the writer pauses between two drains of events under
 * load, and how a CPU budget stretches that pause.
 *
 * Pure bookkeeping on the times the caller passes in (CLOCK_MONOTONIC and
 * the thread's CPU clock, in ns), so the policy is tested without clocks.
 */
#ifndef FW_PACER_H
#define FW_PACER_H

#include <stdbool.h>
#include <stdint.h>

/* The budget is judged over windows at least this long. */
#define FW_BUDGET_WINDOW_NS 100000000u
/* The longest pause a budget asks for (unless batch_ns is longer), and the
 * shortest one it grows from when batch_ns is shorter or 0. */
#define FW_PAUSE_MAX_NS 100000000u
#define FW_PAUSE_MIN_NS 100000u
/*
 * The longest pause a budget asks for when the source silences files that
 * keep changing (fanotify with marks on files).  A pause buys two things:
 * fewer wake-ups, and the kernel merging a file's repeated events while
 * they wait.  Silenced files bring no repeated events, so only wake-ups
 * are left to save, and beyond 10 ms those are at most 100 a second (well
 * under 0.1 % of a core); every ms more would only hold back the first
 * event of a file not yet marked changed, which readers wait for.
 */
#define FW_PAUSE_MAX_SILENCED_NS 10000000u

struct fw_pacer {
	uint64_t batch_ns;   /* least time between two drains when busy */
	uint64_t pause_ns;   /* the time now: batch_ns, or more (budget) */
	uint64_t budget_ppm; /* CPU budget, millionths of a core; 0: none */
	uint64_t window_ns, window_cpu_ns; /* start of the budget's window */
	uint64_t last_drain_ns;            /* the last drain; 0: none yet */
	uint64_t max_ns; /* the longest pause a budget asks for */
};

void fw_pacer_init(struct fw_pacer *p, uint64_t batch_ns, uint64_t budget_ppm,
		   uint64_t now, uint64_t cpu_ns);

/*
 * A drain starts at `now`: true when it comes less than two pauses after
 * the previous one, i.e. the writer is busy and should sleep the pause
 * (p->pause_ns, as fw_pacer_drained() leaves it) once it has drained.
 */
bool fw_pacer_busy(struct fw_pacer *p, uint64_t now);

/* The longest pause the budget may ask for (FW_PAUSE_MAX_NS after
 * fw_pacer_init(); a batch_ns longer than that is kept whole). */
void fw_pacer_set_max(struct fw_pacer *p, uint64_t max_ns);

/*
 * The drain that started at `now` is done and the thread has used `cpu_ns`
 * so far: at the end of a window, adapt the pause to the budget.  Returns
 * true when the pause changed.
 */
bool fw_pacer_drained(struct fw_pacer *p, uint64_t now, uint64_t cpu_ns);

#endif /* FW_PACER_H */
