/*
 * test_spin.c - the busy-polling policy (src/common/spin.h): each of its
 * rules decides as documented.  No check depends on how fast the machine
 * is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/spin.h"

struct probe {
	unsigned int calls;
	unsigned int ready_at; /* call that finds work (0: never) */
	unsigned int stall_at; /* call that loses the CPU (0: never) */
};

static bool probe_ready(void *arg)
{
	struct probe *p = arg;

	p->calls++;
	if (p->stall_at && p->calls == p->stall_at) {
		struct timespec ts = {0, 3000000}; /* 3 ms off the CPU */

		nanosleep(&ts, NULL);
	}
	return p->ready_at && p->calls >= p->ready_at;
}

static void setup(struct pvk_spin *s, struct probe *p, uint64_t max_ns)
{
	(void)p;
	pvk_spin_init(s, max_ns, NULL);
}

/* A budget of 0 never watches. */
static void test_off(void **state)
{
	struct pvk_spin s;
	struct probe p = {.ready_at = 1};

	(void)state;
	setup(&s, &p, 0);
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(p.calls, 0);
	assert_false(pvk_spin_enabled(&s));
}

/* Work that comes while watching is a hit. */
static void test_hit(void **state)
{
	struct pvk_spin s;
	struct probe p = {.ready_at = 5};

	(void)state;
	setup(&s, &p, 50000000);
	assert_true(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(p.calls, 5);
	assert_int_equal(s.st->watches, 1);
	assert_int_equal(s.st->hits, 1);
}

/* Long sleeps close the window; a short one opens it again, and the
 * window grows by doubling up to the budget. */
static void test_window(void **state)
{
	const uint64_t max = 80000000;
	struct pvk_spin s;
	struct probe p = {.ready_at = 1};
	int i;

	(void)state;
	setup(&s, &p, max);
	for (i = 0; i < 8; i++)
		pvk_spin_slept(&s, 10 * max);
	assert_int_equal(s.win_ns, 0);
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(p.calls, 0);
	pvk_spin_slept(&s, max / 2);
	assert_int_equal(s.win_ns, max / 8);
	assert_true(pvk_spin_wait(&s, probe_ready, &p));
	for (i = 0; i < 8; i++)
		pvk_spin_slept(&s, max / 2);
	assert_int_equal(s.win_ns, max);
	/* one long sleep halves it */
	pvk_spin_slept(&s, 10 * max);
	assert_int_equal(s.win_ns, max / 2);
}

/* A watch that finds nothing is a miss; the sleep after it counts the
 * watch too.  The arithmetic is checked on a miss set by hand: a real
 * watch on a loaded machine (CI runs this under ASan beside other tests)
 * may be preempted, which is no miss (test_preempted). */
static void test_miss(void **state)
{
	const uint64_t max = 200000; /* 200 us */
	struct pvk_spin s;
	struct probe p = {0};

	(void)state;
	setup(&s, &p, max);
	s.win_ns = max / 8;
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_true(p.calls > 0);
	assert_int_equal(s.st->hits, 0);
	assert_true(s.watched == !s.st->preempted);
	/* 25 us watched + 150 us slept: a longer window would have caught
	 * it */
	s.win_ns = max / 8;
	s.watched = true;
	pvk_spin_slept(&s, 150000);
	assert_int_equal(s.win_ns, max / 4);
	assert_false(s.watched);
	/* 50 + 190 us: beyond the budget, the window shrinks */
	s.watched = true;
	pvk_spin_slept(&s, 190000);
	assert_int_equal(s.win_ns, max / 8);
	/* without the watch, 190 us alone is within it: grows */
	pvk_spin_slept(&s, 190000);
	assert_int_equal(s.win_ns, max / 4);
}

/* A watcher that loses its CPU stops, and watching stays off for a
 * back-off that doubles. */
static void test_preempted(void **state)
{
	struct pvk_spin s;
	struct probe p = {.stall_at = 40};
	uint64_t t0, backoff;

	(void)state;
	setup(&s, &p, 500000000); /* a window long enough to see the stall */
	s.win_ns = s.max_ns;
	backoff = s.backoff_ns;
	t0 = pvk_spin_now();
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(s.st->preempted, 1);
	assert_true(p.calls < 200); /* stopped at the next clock reading */
	assert_true(s.off_until >= t0 + backoff);
	assert_int_equal(s.backoff_ns, 2 * backoff);
	/* while backing off, no watch */
	s.off_until = pvk_spin_now() + 1000000000ull;
	p.calls = 0;
	p.ready_at = 1;
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(p.calls, 0);
	assert_int_equal(s.st->backed_off, 1);
	/* a hit after the back-off shortens the next one */
	s.off_until = 0;
	assert_true(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(s.backoff_ns, backoff);
	/* the back-off is capped */
	s.backoff_ns = PVK_SPIN_BACKOFF_MAX_NS;
	p.calls = 0;
	p.ready_at = 0;
	s.off_until = 0;
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(s.backoff_ns, PVK_SPIN_BACKOFF_MAX_NS);
}

/* Several policies may count into one set of counters. */
static void test_shared_stats(void **state)
{
	struct pvk_spin_stats st = {0};
	struct pvk_spin a, b;
	struct probe p = {.ready_at = 1};

	(void)state;
	pvk_spin_init(&a, 50000000, &st);
	pvk_spin_init(&b, 50000000, &st);
	assert_true(pvk_spin_wait(&a, probe_ready, &p));
	assert_true(pvk_spin_wait(&b, probe_ready, &p));
	assert_int_equal(pvk_spin_stat(&st.hits), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_off),
	    cmocka_unit_test(test_hit),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_miss),
	    cmocka_unit_test(test_preempted),
	    cmocka_unit_test(test_shared_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
