/*
 * test_hv.c - integration tests of the emulated hypervisor: a private
 * pvkit-hvd, Dom0 in this process, DomU kernels in forked children.
 */
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include <xen/sched.h>
#include <xen/memory.h>

#include "harness.h"
#include "hv/hc_wire.h"
#include "common/util.h"

static struct harness H;

/* ---- a counter a handler bumps and a thread waits on ---- */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t count;
	unsigned int last_vcpu;
};

static void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

static void on_event(struct pvk_rt *rt, evtchn_port_t port, unsigned int vcpu,
		     void *arg)
{
	struct waiter *w = arg;

	(void)rt;
	(void)port;
	pthread_mutex_lock(&w->lock);
	w->count++;
	w->last_vcpu = vcpu;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait until count >= n; 0, or -ETIMEDOUT after ms. */
static int waiter_wait(struct waiter *w, uint64_t n, int ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (w->count < n && rc == 0)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	pthread_mutex_unlock(&w->lock);
	return rc ? -ETIMEDOUT : 0;
}

static int setup(void **state)
{
	(void)state;
	return harness_start(&H);
}

static int teardown(void **state)
{
	(void)state;
	harness_stop(&H);
	return 0;
}

/* ---- ping-pong between two domains ---- */

struct pp_arg {
	struct chan up, down; /* child -> parent, parent -> child */
	int rounds;
	bool initiator;
};

/* A (listener) allocates an unbound port for the peer named by the parent
 * and reports (domid << 32 | port); B (initiator) binds to it and starts. */
static int pp_guest(struct pvk_rt *rt, void *p)
{
	struct pp_arg *a = p;
	struct waiter w;
	evtchn_port_t port;
	uint64_t v;
	int i;

	waiter_init(&w);
	if (chan_get(&a->down, &v))
		return 2;
	if (a->initiator) {
		if (pvk_evtchn_bind_interdomain(rt, (domid_t)(v >> 32),
						(evtchn_port_t)v, &port))
			return 3;
		pvk_evtchn_set_handler(rt, port, on_event, &w);
		/* Binding sets the local end pending once (as Xen does). */
		if (waiter_wait(&w, 1, 5000))
			return 4;
		w.count = 0;
	} else {
		if (pvk_evtchn_alloc_unbound(rt, (domid_t)v, &port))
			return 2;
		pvk_evtchn_set_handler(rt, port, on_event, &w);
		chan_put(&a->up, (uint64_t)pvk_rt_domid(rt) << 32 | port);
	}
	for (i = 0; i < a->rounds; i++) {
		if (a->initiator) {
			pvk_evtchn_send(rt, port, false);
			if (waiter_wait(&w, (uint64_t)i + 1, 5000))
				return 5;
		} else {
			if (waiter_wait(&w, (uint64_t)i + 1, 5000))
				return 6;
			pvk_evtchn_send(rt, port, false);
		}
	}
	chan_put(&a->up, 1);
	if (chan_get(&a->down, &v)) /* stay alive until told */
		return 7;
	return 0;
}

static void test_evtchn_pingpong(void **state)
{
	struct pp_arg a = {0}, b = {0};
	domid_t da, db;
	pid_t pa, pb;
	uint64_t v;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(chan_init(&b.up), 0);
	assert_int_equal(chan_init(&b.down), 0);
	a.rounds = b.rounds = 2000;
	b.initiator = true;
	assert_int_equal(harness_guest(&H, "pp-a", 1, 4096, pp_guest, &a, &da,
				       &pa), 0);
	assert_int_equal(harness_guest(&H, "pp-b", 1, 4096, pp_guest, &b, &db,
				       &pb), 0);
	chan_put(&a.down, db);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(v >> 32, da);
	chan_put(&b.down, v);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(chan_get(&b.up, &v), 0);
	chan_put(&a.down, 0);
	chan_put(&b.down, 0);
	assert_int_equal(harness_wait(pa), 0);
	assert_int_equal(harness_wait(pb), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, da), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evtchn_pingpong),
	};

	return cmocka_run_group_tests_name("hv-integration", tests, setup,
					   teardown);
}
