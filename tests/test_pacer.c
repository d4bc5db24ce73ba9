/*
 * test_pacer.c - the pause between busy drains and the CPU budget
 * (writer/pacer.c), driven with made-up clocks.
 */
#include <criterion/criterion.h>

#include "pacer.h"

#define MS 1000000u
#define US 1000u

/* A drain at `*now` costing `cpu` ns of CPU; the clock then moves on by
 * the pause when busy, and by `gap` ns more. */
static bool drain(struct fw_pacer *p, uint64_t *now, uint64_t *cpu,
		  uint64_t cost, uint64_t gap)
{
	bool busy = fw_pacer_busy(p, *now);

	*cpu += cost;
	fw_pacer_drained(p, *now, *cpu);
	if (busy)
		*now += p->pause_ns;
	*now += gap;
	return busy;
}

Test(pacer, without_a_budget_the_pause_is_the_batch)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	fw_pacer_init(&p, 1 * MS, 0, now, cpu);
	cr_assert_not(drain(&p, &now, &cpu, 1 * MS, 10 * US),
		      "the first drain does not pause");
	for (int i = 0; i < 1000; i++) {
		cr_assert(drain(&p, &now, &cpu, 1 * MS, 10 * US));
		cr_assert_eq(p.pause_ns, 1 * MS);
	}
	now += 3 * MS; /* quiet for more than two pauses */
	cr_assert_not(drain(&p, &now, &cpu, 1 * MS, 0));
}

Test(pacer, over_budget_doubles_up_to_the_cap)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0, last = 1 * MS;

	fw_pacer_init(&p, 1 * MS, 10000 /* 1 % */, now, cpu);
	for (int i = 0; i < 2000; i++) {
		drain(&p, &now, &cpu, 5 * MS, 100 * US);
		cr_assert_geq(p.pause_ns, last, "the pause never shrinks");
		cr_assert_leq(p.pause_ns, FW_PAUSE_MAX_NS);
		cr_assert(p.pause_ns == last || p.pause_ns == 2 * last ||
			  p.pause_ns == FW_PAUSE_MAX_NS);
		last = p.pause_ns;
	}
	cr_assert_eq(p.pause_ns, FW_PAUSE_MAX_NS);
}

/* Reach the cap, then calm down: the pause must come back. */
static void at_the_cap(struct fw_pacer *p, uint64_t batch, uint64_t *now,
		       uint64_t *cpu)
{
	fw_pacer_init(p, batch, 10000, *now, *cpu);
	for (int i = 0; i < 10000 && p->pause_ns < FW_PAUSE_MAX_NS; i++)
		drain(p, now, cpu, 5 * MS, 50 * US);
	cr_assert_eq(p->pause_ns, FW_PAUSE_MAX_NS);
}

Test(pacer, light_load_after_the_cap_shrinks_the_pause)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	at_the_cap(&p, 1 * MS, &now, &cpu);
	/* One cheap event every 150 ms: each drain comes within two pauses
	 * of the last, a window apart, far under the budget. */
	for (int i = 0; i < 20; i++)
		drain(&p, &now, &cpu, 10 * US, 150 * MS - p.pause_ns);
	cr_assert_eq(p.pause_ns, 1 * MS, "pause stuck at %llu ns",
		     (unsigned long long)p.pause_ns);
}

Test(pacer, one_drain_after_a_quiet_second_restores_the_batch)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	at_the_cap(&p, 1 * MS, &now, &cpu);
	now += 1000 * MS;
	cr_assert_not(drain(&p, &now, &cpu, 10 * US, 0));
	cr_assert_eq(p.pause_ns, 1 * MS);
}

Test(pacer, a_zero_batch_grows_and_returns_to_zero)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	at_the_cap(&p, 0, &now, &cpu);
	now += 1000 * MS;
	drain(&p, &now, &cpu, 10 * US, 0);
	cr_assert_eq(p.pause_ns, 0);
	cr_assert_not(drain(&p, &now, &cpu, 10 * US, 0),
		      "no pause: never busy");
}

Test(pacer, a_batch_longer_than_the_cap_is_never_shortened)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	fw_pacer_init(&p, 1000 * MS, 10000, now, cpu);
	for (int i = 0; i < 50; i++) {
		drain(&p, &now, &cpu, 50 * MS, 10 * US);
		cr_assert_eq(p.pause_ns, 1000 * MS);
	}
	now += 10000 * MS;
	drain(&p, &now, &cpu, 10 * US, 0);
	cr_assert_eq(p.pause_ns, 1000 * MS);
}

Test(pacer, within_the_budget_the_pause_holds)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	fw_pacer_init(&p, 1 * MS, 10000, now, cpu);
	p.pause_ns = 8 * MS;
	/* 0.75 % of a core: between half the budget and the budget. */
	for (int i = 0; i < 500; i++)
		drain(&p, &now, &cpu, 60 * US, 0);
	cr_assert_eq(p.pause_ns, 8 * MS);
}

/* Where files that keep changing are silenced, the budget stretches the
 * pause only up to FW_PAUSE_MAX_SILENCED_NS: a longer one would merge
 * nothing more and hold back the first event of a file not yet known
 * changed. */
Test(pacer, silenced_files_cap_the_pause_lower)
{
	struct fw_pacer p;
	uint64_t now = 5000 * MS, cpu = 0;

	fw_pacer_init(&p, 1 * MS, 10000 /* 1 % */, now, cpu);
	fw_pacer_set_max(&p, FW_PAUSE_MAX_SILENCED_NS);
	for (int i = 0; i < 2000; i++) {
		drain(&p, &now, &cpu, 5 * MS, 100 * US);
		cr_assert_leq(p.pause_ns, FW_PAUSE_MAX_SILENCED_NS);
	}
	cr_assert_eq(p.pause_ns, FW_PAUSE_MAX_SILENCED_NS);
	/* A batch longer than the cap is kept whole. */
	fw_pacer_init(&p, 50 * MS, 10000, now, cpu);
	fw_pacer_set_max(&p, FW_PAUSE_MAX_SILENCED_NS);
	cr_assert_eq(p.pause_ns, 50 * MS);
	for (int i = 0; i < 200; i++)
		drain(&p, &now, &cpu, 50 * MS, 100 * US);
	cr_assert_eq(p.pause_ns, 50 * MS);
}
