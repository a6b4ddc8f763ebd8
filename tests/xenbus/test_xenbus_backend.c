/*
 * test_xenbus_backend.c - the backend framework's state machine against
 * the fake xenstored, with a recording driver and a frontend that the test
 * plays, well-behaved and hostile: skipping states, starting over while
 * connected, deleting its nodes mid-connect, naming another domain's path,
 * writing garbage into its state node, still Connected from an earlier
 * backend; plus online=0 release, directory removal, probe failure and a
 * failure raised from another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_xsd.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus.h"
#include "pvkit/xenbus_backend.h"
#include "pvkit/xenbus_ring.h"

#define BE "/local/domain/0/backend/tst/5/7"
#define FE "/local/domain/5/device/tst/7"
#define WAIT_MS 3000

struct rec {
	int probes, connects, disconnects, removes, fe_changes;
	int probe_rc, connect_rc;
	bool read_ring; /* connect reads ring-ref/event-channel */
	struct xenbus_device *last;
};

static int t_probe(struct xenbus_device *dev)
{
	struct rec *r = xenbus_backend_arg(xenbus_device_backend(dev));

	__atomic_add_fetch(&r->probes, 1, __ATOMIC_SEQ_CST);
	r->last = dev;
	if (r->probe_rc)
		xenbus_device_set_error(dev, "no such thing");
	return r->probe_rc;
}

static int t_advertise(struct xenbus_device *dev, xs_tx_t tx)
{
	return xenbus_device_printf(dev, tx, "feature-test", "%d", 1);
}

static int t_connect(struct xenbus_device *dev)
{
	struct rec *r = xenbus_backend_arg(xenbus_device_backend(dev));
	grant_ref_t refs[1u << XENBUS_MAX_RING_ORDER];
	evtchn_port_t port;
	unsigned int n;
	int rc = r->connect_rc;

	if (!rc && r->read_ring) {
		rc = xenbus_read_ring(
		    xenbus_device_xs(dev), xenbus_device_frontend_path(dev),
		    xenbus_device_frontend_path(dev), 2, refs, &n);
		if (!rc)
			rc =
			    xenbus_read_evtchn(xenbus_device_xs(dev),
					       xenbus_device_frontend_path(dev),
					       "event-channel", &port);
	}
	__atomic_add_fetch(&r->connects, 1, __ATOMIC_SEQ_CST);
	return rc;
}

static void t_disconnect(struct xenbus_device *dev)
{
	struct rec *r = xenbus_backend_arg(xenbus_device_backend(dev));

	__atomic_add_fetch(&r->disconnects, 1, __ATOMIC_SEQ_CST);
}

static void t_fe_changed(struct xenbus_device *dev, enum xenbus_state fs)
{
	struct rec *r = xenbus_backend_arg(xenbus_device_backend(dev));

	(void)fs;
	__atomic_add_fetch(&r->fe_changes, 1, __ATOMIC_SEQ_CST);
}

static void t_remove(struct xenbus_device *dev)
{
	struct rec *r = xenbus_backend_arg(xenbus_device_backend(dev));

	__atomic_add_fetch(&r->removes, 1, __ATOMIC_SEQ_CST);
}

static const char *const t_required[] = {"params", NULL};

static const struct xenbus_backend_driver t_driver = {
    .type = "tst",
    .required = t_required,
    .probe = t_probe,
    .advertise = t_advertise,
    .connect = t_connect,
    .disconnect = t_disconnect,
    .frontend_changed = t_fe_changed,
    .remove = t_remove,
};

struct env {
	struct fake_xsd *fake;
	struct xs_client *xs;
	struct pvk_platform plat;
	struct xenbus_backend *be;
	struct rec rec;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_int_equal(fake_xsd_socketpair(&e->fake, &e->xs), 0);
	e->plat.name = "test";
	e->plat.self = 0;
	assert_int_equal(
	    xenbus_backend_open(&e->plat, e->xs, &t_driver, &e->rec, &e->be),
	    0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	xenbus_backend_close(e->be);
	xs_client_close(e->xs);
	fake_xsd_stop(e->fake);
	free(e);
	return 0;
}

static void w(struct env *e, const char *path, const char *val)
{
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, path, val), 0);
}

static void fe_state(struct env *e, enum xenbus_state s)
{
	char v[8];

	snprintf(v, sizeof(v), "%d", (int)s);
	w(e, FE "/state", v);
}

static void be_wait(struct env *e, enum xenbus_state want)
{
	enum xenbus_state got = XenbusStateUnknown;
	int rc = xenbus_wait_for_state(e->xs, BE, XENBUS_STATE_BIT(want),
				       WAIT_MS, &got);

	if (rc)
		fprintf(stderr, "backend is %s, wanted %s\n",
			xenbus_state_name(got), xenbus_state_name(want));
	assert_int_equal(rc, 0);
}

static int count(int *c) { return __atomic_load_n(c, __ATOMIC_SEQ_CST); }

/* Wait until *c reaches n (callbacks run on the dispatch thread). */
static void count_wait(int *c, int n)
{
	int i;

	for (i = 0; i < WAIT_MS && count(c) < n; i++)
		usleep(1000);
	assert_int_equal(count(c), n);
}

static char *rd(struct env *e, const char *path)
{
	char *v = NULL;

	if (xs_read(e->xs, XS_TX_NONE, path, &v, NULL))
		return NULL;
	return v;
}

/* What a toolstack writes: the frontend first, then the backend, whose
 * state node comes last in one go. */
static void toolstack_add(struct env *e, const char *fe_path)
{
	w(e, FE "/backend", BE);
	w(e, FE "/backend-id", "0");
	fe_state(e, XenbusStateInitialising);
	w(e, BE "/frontend", fe_path);
	w(e, BE "/frontend-id", "5");
	w(e, BE "/online", "1");
	w(e, BE "/params", "x");
	w(e, BE "/state", "1");
}

static void fe_publish(struct env *e)
{
	w(e, FE "/ring-ref", "8");
	w(e, FE "/event-channel", "9");
}

/* Probe, advertise, hotplug-status, InitWait; then the whole dance. */
static void test_normal_lifecycle(void **state)
{
	struct env *e = *state;
	char *v;

	e->rec.read_ring = true;
	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	assert_int_equal(count(&e->rec.probes), 1);
	v = rd(e, BE "/feature-test");
	assert_non_null(v);
	assert_string_equal(v, "1");
	free(v);
	v = rd(e, BE "/hotplug-status");
	assert_non_null(v);
	assert_string_equal(v, "connected");
	free(v);
	fe_publish(e);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	assert_int_equal(count(&e->rec.connects), 1);
	fe_state(e, XenbusStateConnected); /* no second connect */
	fe_state(e, XenbusStateClosing);
	be_wait(e, XenbusStateClosing);
	count_wait(&e->rec.disconnects, 1);
	fe_state(e, XenbusStateClosed);
	be_wait(e, XenbusStateClosed);
	/* A reconnection. */
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateConnected); /* skips Initialised */
	be_wait(e, XenbusStateConnected);
	assert_int_equal(count(&e->rec.connects), 2);
	assert_int_equal(count(&e->rec.disconnects), 1);
	assert_true(count(&e->rec.fe_changes) >= 5);
	/* The toolstack removes the device: disconnect and remove. */
	assert_int_equal(xs_rm(e->xs, XS_TX_NONE, BE), 0);
	count_wait(&e->rec.removes, 1);
	assert_int_equal(count(&e->rec.disconnects), 2);
}

/* Initialising while connected: the frontend tore its rings down. */
static void test_restart_while_connected(void **state)
{
	struct env *e = *state;

	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
	assert_int_equal(count(&e->rec.disconnects), 1);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	assert_int_equal(count(&e->rec.connects), 2);
}

/* The frontend says Initialised without the nodes it should have
 * written (or deleted them): the device fails to Closing, once, and is
 * not connected again until the frontend closes and starts over. */
static void test_nodes_deleted_mid_connect(void **state)
{
	struct env *e = *state;

	e->rec.read_ring = true;
	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateInitialised); /* no ring-ref */
	be_wait(e, XenbusStateClosing);
	assert_int_equal(count(&e->rec.connects), 1);
	assert_int_equal(count(&e->rec.disconnects), 0);
	fe_publish(e);
	fe_state(e, XenbusStateConnected);
	usleep(100000);
	assert_int_equal(count(&e->rec.connects), 1); /* failed: no retry */
	fe_state(e, XenbusStateClosing);
	fe_state(e, XenbusStateClosed);
	be_wait(e, XenbusStateClosed);
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	assert_int_equal(count(&e->rec.connects), 2);
}

/* A ring-ref that is not a number, an order beyond the maximum. */
static void test_bad_ring_nodes(void **state)
{
	struct env *e = *state;

	e->rec.read_ring = true;
	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	w(e, FE "/ring-ref", "12abc");
	w(e, FE "/event-channel", "9");
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateClosing);
	fe_state(e, XenbusStateClosed);
	be_wait(e, XenbusStateClosed);
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
	w(e, FE "/ring-page-order", "9");
	fe_publish(e);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateClosing);
	assert_int_equal(count(&e->rec.disconnects), 0);
}

/* frontend names another domain's device: never probed, Closed, the
 * reason in hotplug-error. */
static void test_frontend_of_another_domain(void **state)
{
	struct env *e = *state;
	char *v;

	toolstack_add(e, "/local/domain/6/device/tst/7");
	be_wait(e, XenbusStateClosed);
	assert_int_equal(count(&e->rec.probes), 0);
	v = rd(e, BE "/hotplug-error");
	assert_non_null(v);
	assert_non_null(strstr(v, "frontend"));
	free(v);
	v = rd(e, BE "/hotplug-status");
	assert_non_null(v);
	assert_string_equal(v, "error");
	free(v);
	fe_state(e, XenbusStateInitialised);
	usleep(100000);
	assert_int_equal(count(&e->rec.connects), 0);
}

/* Garbage in the frontend's state node reads as gone: Closed. */
static void test_garbage_state(void **state)
{
	struct env *e = *state;

	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	w(e, FE "/state", "banana");
	be_wait(e, XenbusStateClosed);
	count_wait(&e->rec.disconnects, 1);
	w(e, FE "/state", "99");
	w(e, FE "/state", "-1");
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
}

/* A frontend still Connected when the device is probed (the service was
 * restarted): its rings belong to the old backend; wait until it starts
 * over. */
static void test_stale_connected_frontend(void **state)
{
	struct env *e = *state;

	w(e, FE "/backend", BE);
	w(e, FE "/backend-id", "0");
	fe_state(e, XenbusStateConnected);
	w(e, BE "/frontend", FE);
	w(e, BE "/frontend-id", "5");
	w(e, BE "/params", "x");
	w(e, BE "/state", "4"); /* the old backend's */
	/* Closed: start over; InitWait only once it does (so its new
	 * Connected cannot pass for the stale one) */
	be_wait(e, XenbusStateClosed);
	usleep(100000);
	assert_int_equal(count(&e->rec.connects), 0);
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
	assert_int_equal(count(&e->rec.connects), 0);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	assert_int_equal(count(&e->rec.connects), 1);
}

/* The toolstack waits for its nodes: no probe until params exists. */
static void test_incomplete_nodes_wait(void **state)
{
	struct env *e = *state;

	w(e, BE "/frontend", FE);
	w(e, BE "/state", "1");
	usleep(100000);
	assert_int_equal(count(&e->rec.probes), 0);
	w(e, FE "/state", "1");
	w(e, BE "/frontend-id", "5");
	usleep(100000);
	assert_int_equal(count(&e->rec.probes), 0);
	w(e, BE "/params", "x");
	be_wait(e, XenbusStateInitWait);
	assert_int_equal(count(&e->rec.probes), 1);
}

/* Probe fails: Closed, hotplug-error from the driver, and nothing the
 * frontend does brings it back. */
static void test_probe_failure(void **state)
{
	struct env *e = *state;
	char *v;

	e->rec.probe_rc = -ENOENT;
	toolstack_add(e, FE);
	be_wait(e, XenbusStateClosed);
	v = rd(e, BE "/hotplug-error");
	assert_non_null(v);
	assert_string_equal(v, "no such thing");
	free(v);
	fe_state(e, XenbusStateInitialised);
	fe_state(e, XenbusStateInitialising);
	usleep(100000);
	assert_int_equal(count(&e->rec.connects), 0);
	assert_int_equal(xs_rm(e->xs, XS_TX_NONE, BE), 0);
	count_wait(&e->rec.removes, 1);
}

/* Detach: online=0, the frontend closes: the device is released. */
static void test_offline_release(void **state)
{
	struct env *e = *state;

	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateConnected);
	be_wait(e, XenbusStateConnected);
	w(e, BE "/online", "0");
	fe_state(e, XenbusStateClosing);
	be_wait(e, XenbusStateClosing);
	assert_int_equal(count(&e->rec.removes), 0);
	fe_state(e, XenbusStateClosed);
	count_wait(&e->rec.removes, 1);
	assert_int_equal(count(&e->rec.disconnects), 1);
	fe_state(e, XenbusStateInitialised); /* released: ignored */
	usleep(100000);
	assert_int_equal(count(&e->rec.connects), 1);
	assert_int_equal(xs_rm(e->xs, XS_TX_NONE, BE), 0);
	usleep(100000);
	assert_int_equal(count(&e->rec.removes), 1);
}

/* Detach and attach of the same device faster than the backend sees the
 * directory go: what it finds is a directory the toolstack wrote afresh
 * (state Initialising, which a backend never writes) under the device it
 * holds.  That device is removed and the new one probed (before: the new
 * one was never taken, and its toolstack waited in vain). */
static void test_readded_before_seen(void **state)
{
	struct env *e = *state;

	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateConnected);
	be_wait(e, XenbusStateConnected);
	w(e, BE "/params", "y");
	w(e, BE "/state", "1");
	count_wait(&e->rec.removes, 1);
	count_wait(&e->rec.probes, 2);
	/* the frontend was left Connected here: the new device says Closed
	 * and waits for it to start over */
	be_wait(e, XenbusStateClosed);
	assert_int_equal(count(&e->rec.disconnects), 1);
	/* and it connects as any new one once the frontend does */
	fe_state(e, XenbusStateInitialising);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateConnected);
	be_wait(e, XenbusStateConnected);
	assert_int_equal(count(&e->rec.connects), 2);
}

struct fail_arg {
	struct xenbus_device *dev;
};

static void *fail_thread(void *arg)
{
	struct fail_arg *a = arg;

	xenbus_device_fail(a->dev, "the ring went bad (%d)", 42);
	return NULL;
}

/* A ring thread fails the device: Closing; disconnected when the frontend
 * follows. */
static void test_fail_from_thread(void **state)
{
	struct env *e = *state;
	struct fail_arg a;
	pthread_t t;

	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	a.dev = e->rec.last;
	assert_int_equal(pthread_create(&t, NULL, fail_thread, &a), 0);
	pthread_join(t, NULL);
	be_wait(e, XenbusStateClosing);
	assert_true(xenbus_device_failed(a.dev));
	fe_state(e, XenbusStateClosing);
	count_wait(&e->rec.disconnects, 1);
}

/* Closing the backend disconnects, says Closed and removes. */
static void test_close_service(void **state)
{
	struct env *e = *state;

	toolstack_add(e, FE);
	be_wait(e, XenbusStateInitWait);
	fe_state(e, XenbusStateInitialised);
	be_wait(e, XenbusStateConnected);
	xenbus_backend_close(e->be);
	e->be = NULL;
	assert_int_equal(count(&e->rec.disconnects), 1);
	assert_int_equal(count(&e->rec.removes), 1);
	be_wait(e, XenbusStateClosed);
}

/* The ring helpers, both sides, on the fake store. */
static void test_ring_helpers(void **state)
{
	struct env *e = *state;
	grant_ref_t refs[16], out[16];
	evtchn_port_t tx, rx;
	unsigned int i, n, nq;
	bool split;
	char dir[128];

	for (i = 0; i < 16; i++)
		refs[i] = 100 + i;
	w(e, FE "/ring-page-order", "2");
	assert_int_equal(xenbus_queue_dir(dir, sizeof(dir), FE, 2, 1), 0);
	assert_string_equal(dir, FE "/queue-1");
	assert_int_equal(xenbus_write_ring(e->xs, XS_TX_NONE, dir, refs, 2), 0);
	assert_int_equal(xenbus_read_ring(e->xs, FE, dir, 4, out, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(refs, out, 4 * sizeof(refs[0]));
	/* order above the reader's maximum */
	assert_int_equal(xenbus_read_ring(e->xs, FE, dir, 1, out, &n), -ERANGE);
	assert_int_equal(
	    xenbus_write_evtchn(e->xs, XS_TX_NONE, dir, "event-channel-tx", 5),
	    0);
	assert_int_equal(xenbus_read_evtchns(e->xs, dir, &tx, &rx, &split),
			 -ENOENT);
	assert_int_equal(
	    xenbus_write_evtchn(e->xs, XS_TX_NONE, dir, "event-channel-rx", 6),
	    0);
	assert_int_equal(xenbus_read_evtchns(e->xs, dir, &tx, &rx, &split), 0);
	assert_true(split);
	assert_int_equal(tx, 5);
	assert_int_equal(rx, 6);
	w(e, FE "/event-channel", "0"); /* port 0 is never valid */
	assert_int_equal(xenbus_read_evtchn(e->xs, FE, "event-channel", &tx),
			 -ERANGE);
	w(e, FE "/multi-queue-num-queues", "3");
	assert_int_equal(xenbus_read_num_queues(e->xs, FE, 2, &nq), -ERANGE);
	assert_int_equal(xenbus_read_num_queues(e->xs, FE, 4, &nq), 0);
	assert_int_equal(nq, 3);
	assert_int_equal(xenbus_remove_rings(e->xs, XS_TX_NONE, FE), 0);
	assert_int_equal(xenbus_read_num_queues(e->xs, FE, 4, &nq), 0);
	assert_int_equal(nq, 1);
	assert_null(rd(e, FE "/queue-1/ring-ref0"));
	assert_null(rd(e, FE "/ring-page-order"));
}

static void test_spurious_throttle(void **state)
{
	struct xenbus_spurious s = {0};
	unsigned int i;

	(void)state;
	for (i = 0; i < XENBUS_SPURIOUS_LIMIT; i++)
		assert_int_equal(xenbus_spurious_account(&s, false), 0);
	assert_int_equal(xenbus_spurious_account(&s, false),
			 XENBUS_THROTTLE_NS);
	assert_int_equal(s.throttled, 1);
	assert_int_equal(xenbus_spurious_account(&s, true), 0);
	assert_int_equal(xenbus_spurious_account(&s, false), 0);
	assert_int_equal(s.spurious, XENBUS_SPURIOUS_LIMIT + 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_normal_lifecycle),
	    T(test_restart_while_connected),
	    T(test_nodes_deleted_mid_connect),
	    T(test_bad_ring_nodes),
	    T(test_frontend_of_another_domain),
	    T(test_garbage_state),
	    T(test_stale_connected_frontend),
	    T(test_incomplete_nodes_wait),
	    T(test_probe_failure),
	    T(test_offline_release),
	    T(test_readded_before_seen),
	    T(test_fail_from_thread),
	    T(test_close_service),
	    T(test_ring_helpers),
	    cmocka_unit_test(test_spurious_throttle),
	};

	return cmocka_run_group_tests_name("xenbus_backend", tests, NULL, NULL);
}
