/*
 * test_spin.c - the busy-polling policy (src/common/spin.h): each of its
 * rules decides as documented.  The host's load is a stand-in, and no
 * check depends on how fast the machine is.
 */
#include <fcntl.h>
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
	int runnable;	       /* the stand-in host's runnable tasks */
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

static int probe_runnable(void *arg) { return ((struct probe *)arg)->runnable; }

static void setup(struct pvk_spin *s, struct probe *p, uint64_t max_ns)
{
	pvk_spin_init(s, max_ns, NULL);
	s->host_runnable = probe_runnable;
	s->host_arg = p;
	p->runnable = 1;
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
	pvk_spin_destroy(&s);
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
	pvk_spin_destroy(&s);
}

/* More runnable tasks than CPUs: no watching at all; as many: watching. */
static void test_host_busy(void **state)
{
	struct pvk_spin s;
	struct probe p = {.ready_at = 1};

	(void)state;
	setup(&s, &p, 50000000);
	p.runnable = (int)s.ncpus + 1;
	assert_false(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(p.calls, 0);
	assert_int_equal(s.st->host_busy, 1);
	/* the host is looked at again only after PVK_SPIN_HOST_NS */
	p.runnable = (int)s.ncpus;
	s.host_at -= PVK_SPIN_HOST_NS;
	assert_true(pvk_spin_wait(&s, probe_ready, &p));
	assert_int_equal(p.calls, 1);
	/* unknown load (no /proc): the other rules decide */
	p.runnable = -1;
	s.host_at -= PVK_SPIN_HOST_NS;
	assert_true(pvk_spin_wait(&s, probe_ready, &p));
	pvk_spin_destroy(&s);
}

/* The real /proc/loadavg is read and counts at least this thread. */
static void test_loadavg(void **state)
{
	struct pvk_spin s;
	struct probe p = {.ready_at = 1};

	(void)state;
	pvk_spin_init(&s, 50000000, NULL);
	if (s.loadavg_fd < 0)
		skip();
	pvk_spin_wait(&s, probe_ready, &p);
	assert_true(s.st->watches + s.st->host_busy == 1);
	pvk_spin_destroy(&s);
	assert_int_equal(s.loadavg_fd, -1);
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
	pvk_spin_destroy(&s);
}

/* A watch that finds nothing is a miss; the sleep after it counts the
 * watch too. */
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
	/* 25 us watched + 150 us slept: a longer window would have caught
	 * it (unless the watch itself was preempted on a loaded machine) */
	pvk_spin_slept(&s, 150000);
	if (!s.st->preempted)
		assert_int_equal(s.win_ns, max / 4);
	/* 25 + 190 us: beyond the budget, the window shrinks */
	s.win_ns = max / 4;
	s.off_until = 0;
	pvk_spin_wait(&s, probe_ready, &p);
	pvk_spin_slept(&s, 190000);
	assert_int_equal(s.win_ns, max / 8);
	pvk_spin_destroy(&s);
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
	pvk_spin_destroy(&s);
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
	a.host_runnable = b.host_runnable = probe_runnable;
	a.host_arg = b.host_arg = &p;
	p.runnable = 1;
	assert_true(pvk_spin_wait(&a, probe_ready, &p));
	assert_true(pvk_spin_wait(&b, probe_ready, &p));
	assert_int_equal(pvk_spin_stat(&st.hits), 2);
	pvk_spin_destroy(&a);
	pvk_spin_destroy(&b);
}

/* A zeroed policy (never initialised) is destroyed without harm. */
static void test_zeroed(void **state)
{
	struct pvk_spin s = {0};
	int before = fcntl(0, F_GETFD);

	(void)state;
	pvk_spin_destroy(&s); /* its loadavg_fd is 0: not ours to close */
	assert_int_equal(fcntl(0, F_GETFD), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_off),
	    cmocka_unit_test(test_hit),
	    cmocka_unit_test(test_host_busy),
	    cmocka_unit_test(test_loadavg),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_miss),
	    cmocka_unit_test(test_preempted),
	    cmocka_unit_test(test_shared_stats),
	    cmocka_unit_test(test_zeroed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
