/*
 * pacer.c - the pause between busy drains and the CPU budget (pacer.h).
 *
 * Under load, drains are spaced a pause apart: after a drain that came
 * less than two pauses after the previous one, the writer sleeps the
 * pause before it looks for events again, so the next read takes all
 * that came meanwhile in one system call, with one wake-up.  The first
 * event after a quiet spell is read at once, so an idle writer's
 * freshness is untouched.
 *
 * The pause is batch_ns, or longer under a CPU budget, up to a cap:
 * FW_PAUSE_MAX_NS, or FW_PAUSE_MAX_SILENCED_NS where files that keep
 * changing are silenced instead (pacer.h says why).  Each window
 * judges the CPU used since the previous one over all the wall time
 * since, quiet spells included: over the budget doubles the pause (up to
 * FW_PAUSE_MAX_NS), under half of it halves the pause once for every
 * window gone by (down to batch_ns), so a writer that was quiet for a
 * second is back at batch_ns by its next drain.  A window is only closed
 * at a drain: a quiet writer makes no wake-up to shrink its pause.
 */
#include "pacer.h"

void fw_pacer_init(struct fw_pacer *p, uint64_t batch_ns, uint64_t budget_ppm,
		   uint64_t now, uint64_t cpu_ns)
{
	*p = (struct fw_pacer){ .batch_ns = batch_ns,
				.pause_ns = batch_ns,
				.budget_ppm = budget_ppm,
				.window_ns = now,
				.window_cpu_ns = cpu_ns,
				.max_ns = FW_PAUSE_MAX_NS };
}

void fw_pacer_set_max(struct fw_pacer *p, uint64_t max_ns)
{
	p->max_ns = max_ns;
	if (p->pause_ns > max_ns && p->pause_ns > p->batch_ns)
		p->pause_ns = max_ns > p->batch_ns ? max_ns : p->batch_ns;
}

bool fw_pacer_busy(struct fw_pacer *p, uint64_t now)
{
	bool busy = p->last_drain_ns && p->pause_ns &&
		    now - p->last_drain_ns < 2 * p->pause_ns;

	p->last_drain_ns = now;
	return busy;
}

static uint64_t pause_max(const struct fw_pacer *p)
{
	return p->batch_ns > p->max_ns ? p->batch_ns : p->max_ns;
}

bool fw_pacer_drained(struct fw_pacer *p, uint64_t now, uint64_t cpu_ns)
{
	uint64_t wall = now - p->window_ns, pause = p->pause_ns, use_ppm;
	bool changed;

	if (!p->budget_ppm || now < p->window_ns || wall < FW_BUDGET_WINDOW_NS)
		return false;
	use_ppm = (uint64_t)((double)(cpu_ns - p->window_cpu_ns) * 1e6 /
			     (double)wall);
	if (use_ppm > p->budget_ppm) {
		pause = pause < FW_PAUSE_MIN_NS ? FW_PAUSE_MIN_NS : pause * 2;
		if (pause > pause_max(p))
			pause = pause_max(p);
	} else if (use_ppm < p->budget_ppm / 2) {
		for (uint64_t k = wall / FW_BUDGET_WINDOW_NS;
		     k-- && pause > p->batch_ns;)
			pause /= 2;
		if (pause < p->batch_ns || pause < FW_PAUSE_MIN_NS)
			pause = p->batch_ns;
	}
	changed = pause != p->pause_ns;
	p->pause_ns = pause;
	p->window_ns = now;
	p->window_cpu_ns = cpu_ns;
	return changed;
}
