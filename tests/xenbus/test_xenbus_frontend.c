/*
 * test_xenbus_frontend.c - the frontend framework against the fake
 * xenstored: one device's handshake with a backend the test plays, well
 * and badly (a backend path of another domain or type, a backend-id that
 * disagrees, a backend still Connected to somebody else's rings, one that
 * never follows a close, one that closes or vanishes during a
 * reconnection, garbage in its nodes), the monitor of a connected
 * backend, and the bus: enumeration, hot-plug,
 * bad ids, online=0 and removal, a probe that fails, suspend/resume with
 * hot-plug held meanwhile.
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
#include "pvkit/xenbus_frontend.h"

#define FE "/local/domain/5/device/tst/7"
#define BE "/local/domain/0/backend/tst/5/7"
#define SHORT_MS 300

struct env {
	struct fake_xsd *fake;
	struct xs_client *xs;
	struct pvk_platform plat;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_int_equal(fake_xsd_socketpair(&e->fake, &e->xs), 0);
	e->plat.name = "test";
	e->plat.self = 5;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	xs_client_close(e->xs);
	fake_xsd_stop(e->fake);
	free(e);
	return 0;
}

static void w(struct env *e, const char *path, const char *val)
{
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, path, val), 0);
}

static void st(struct env *e, const char *dir, enum xenbus_state s)
{
	char path[160], v[8];

	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(v, sizeof(v), "%d", (int)s);
	w(e, path, v);
}

static enum xenbus_state rd_state(struct env *e, const char *dir)
{
	enum xenbus_state s = XenbusStateUnknown;

	assert_int_equal(xenbus_read_state(e->xs, XS_TX_NONE, dir, &s), 0);
	return s;
}

static void device(struct env *e, const char *be, const char *be_id)
{
	w(e, FE "/backend", be);
	w(e, FE "/backend-id", be_id);
	st(e, FE, XenbusStateInitialising);
}

/* The device with its backend in state bs; fe initialised for it. */
static void fe_open(struct env *e, enum xenbus_state bs, int timeout_ms,
		    struct xenbus_fe *fe)
{
	device(e, BE, "0");
	st(e, BE, bs);
	assert_int_equal(
	    xenbus_fe_init(fe, &e->plat, e->xs, "tst", 7, timeout_ms), 0);
}

/* ---- the handshake ------------------------------------------------------ */

static void test_init_validates_backend(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;

	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0),
			 -ENOENT);
	xenbus_fe_release(&fe);
	device(e, BE, "0");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0), 0);
	assert_string_equal(fe.path, FE);
	assert_string_equal(fe.be_path, BE);
	assert_int_equal(fe.be_id, 0);
	xenbus_fe_release(&fe);
	/* another frontend domain's backend directory */
	device(e, "/local/domain/0/backend/tst/6/7", "0");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0),
			 -EINVAL);
	xenbus_fe_release(&fe);
	/* another type, another device */
	device(e, "/local/domain/0/backend/vbd/5/7", "0");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0),
			 -EINVAL);
	xenbus_fe_release(&fe);
	device(e, "/local/domain/0/backend/tst/5/8", "0");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0),
			 -EINVAL);
	xenbus_fe_release(&fe);
	/* backend-id disagrees with the path */
	device(e, BE, "3");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0),
			 -EINVAL);
	xenbus_fe_release(&fe);
	device(e, BE "/../x", "0");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0),
			 -EINVAL);
	xenbus_fe_release(&fe);
}

static void test_begin_ready_backend(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;

	fe_open(e, XenbusStateInitWait, 0, &fe);
	assert_int_equal(xenbus_fe_begin(&fe), 0);
	assert_int_equal(rd_state(e, FE), XenbusStateInitialising);
	xenbus_fe_release(&fe);
}

/* A backend still Connected (to an earlier program's rings) is never
 * taken for a connection. */
static void test_begin_stale_connected_backend(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;

	fe_open(e, XenbusStateConnected, SHORT_MS, &fe);
	assert_int_equal(xenbus_fe_begin(&fe), -ETIMEDOUT);
	xenbus_fe_release(&fe);
}

/* The test plays a backend that follows the frontend as Linux's does. */
struct follower {
	struct env *e;
	bool stop;
	pthread_t t;
};

static void *follow(void *p)
{
	struct follower *f = p;
	enum xenbus_state fs, bs;

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		if (xenbus_read_state(f->e->xs, XS_TX_NONE, FE, &fs) ||
		    xenbus_read_state(f->e->xs, XS_TX_NONE, BE, &bs))
			break;
		if (fs == XenbusStateClosing && bs != XenbusStateClosing &&
		    bs != XenbusStateClosed)
			st(f->e, BE, XenbusStateClosing);
		else if (fs == XenbusStateClosed && bs != XenbusStateClosed)
			st(f->e, BE, XenbusStateClosed);
		else if (fs == XenbusStateInitialising &&
			 bs == XenbusStateClosed)
			st(f->e, BE, XenbusStateInitWait);
		usleep(5000);
	}
	return NULL;
}

static void follower_start(struct follower *f, struct env *e)
{
	f->e = e;
	f->stop = false;
	assert_int_equal(pthread_create(&f->t, NULL, follow, f), 0);
}

static void follower_stop(struct follower *f)
{
	__atomic_store_n(&f->stop, true, __ATOMIC_RELEASE);
	pthread_join(f->t, NULL);
}

/* An earlier program left the device Connected: closed properly, then
 * Initialising, then InitWait. */
static void test_begin_closes_leftover(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;
	struct follower f;

	device(e, BE, "0");
	st(e, FE, XenbusStateConnected);
	st(e, BE, XenbusStateConnected);
	follower_start(&f, e);
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0), 0);
	assert_int_equal(xenbus_fe_begin(&fe), 0);
	follower_stop(&f);
	assert_int_equal(rd_state(e, FE), XenbusStateInitialising);
	assert_int_equal(rd_state(e, BE), XenbusStateInitWait);
	xenbus_fe_release(&fe);
}

/* A backend that does not follow a close: reported, frontend Closed. */
static void test_close_unfollowed(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;

	fe_open(e, XenbusStateConnected, SHORT_MS, &fe);
	assert_int_equal(xenbus_fe_close(&fe), -ETIMEDOUT);
	assert_int_equal(rd_state(e, FE), XenbusStateClosed);
	xenbus_fe_release(&fe);
}

struct later {
	struct env *e;
	const char *dir;
	enum xenbus_state s;
	bool remove;
	bool *cancel;
};

static void *act_later(void *p)
{
	struct later *l = p;

	usleep(100000);
	if (l->cancel)
		__atomic_store_n(l->cancel, true, __ATOMIC_RELEASE);
	else if (l->remove)
		xs_rm(l->e->xs, XS_TX_NONE, l->dir);
	else
		st(l->e, l->dir, l->s);
	return NULL;
}

static int restart_with(struct env *e, struct later *l)
{
	struct xenbus_fe fe;
	pthread_t t;
	int rc;

	device(e, BE, "0");
	st(e, BE, XenbusStateConnected); /* a dead backend's */
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0), 0);
	l->e = e;
	if (l->cancel == (bool *)1)
		l->cancel = &fe.cancel;
	assert_int_equal(pthread_create(&t, NULL, act_later, l), 0);
	rc = xenbus_fe_restart(&fe);
	pthread_join(t, NULL);
	xenbus_fe_release(&fe);
	return rc;
}

/* Reconnection: InitWait comes; the backend closes the device; the
 * device is removed; the frontend gives up (cancel). */
static void test_restart_outcomes(void **state)
{
	struct env *e = *state;
	struct later ok = {.dir = BE, .s = XenbusStateInitWait};
	struct later closing = {.dir = BE, .s = XenbusStateClosing};
	struct later gone = {.dir = BE, .remove = true};
	struct later cancel = {.cancel = (bool *)1};

	assert_int_equal(restart_with(e, &ok), 0);
	assert_int_equal(rd_state(e, FE), XenbusStateInitialising);
	assert_int_equal(restart_with(e, &closing), -ENODEV);
	assert_int_equal(restart_with(e, &gone), -ENODEV);
	assert_int_equal(restart_with(e, &cancel), -ECANCELED);
}

/* A backend that went Closed is asked again (Initialising). */
static void test_restart_after_closed(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;
	struct follower f;

	device(e, BE, "0");
	st(e, BE, XenbusStateClosed);
	st(e, FE, XenbusStateConnected);
	follower_start(&f, e);
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0), 0);
	assert_int_equal(xenbus_fe_restart(&fe), 0);
	follower_stop(&f);
	assert_int_equal(rd_state(e, BE), XenbusStateInitWait);
	xenbus_fe_release(&fe);
}

static void test_backend_nodes(void **state)
{
	struct env *e = *state;
	struct xenbus_fe fe;
	uint64_t v;
	bool moved;

	device(e, BE, "0");
	assert_int_equal(xenbus_fe_init(&fe, &e->plat, e->xs, "tst", 7, 0), 0);
	assert_int_equal(xenbus_fe_be_u64(&fe, "sectors", 0, 100, 42, &v), 0);
	assert_int_equal(v, 42); /* missing: the default */
	w(e, BE "/sectors", "7x");
	assert_int_equal(xenbus_fe_be_u64(&fe, "sectors", 0, 100, 42, &v),
			 -EINVAL);
	w(e, BE "/sectors", "101");
	assert_int_equal(xenbus_fe_be_u64(&fe, "sectors", 0, 100, 42, &v),
			 -ERANGE);
	/* A restored domain's backend may live elsewhere. */
	assert_int_equal(xenbus_fe_reread_backend(&fe, &moved), 0);
	assert_false(moved);
	w(e, FE "/backend", "/local/domain/2/backend/tst/5/7");
	w(e, FE "/backend-id", "2");
	assert_int_equal(xenbus_fe_reread_backend(&fe, &moved), 0);
	assert_true(moved);
	assert_int_equal(fe.be_id, 2);
	w(e, FE "/backend-id", "3"); /* disagrees: refused, kept */
	assert_int_equal(xenbus_fe_reread_backend(&fe, &moved), -EINVAL);
	assert_string_equal(fe.be_path, "/local/domain/2/backend/tst/5/7");
	xenbus_fe_release(&fe);
}

/* ---- the bus --------------------------------------------------------------
 */

struct rec {
	pthread_mutex_t m;
	int probes, removes, suspends, resumes, cancelled;
	int added, removing;
	int fail_id; /* probe of this id fails */
};

static struct rec R; /* the driver table cannot carry an argument */

static int count(int *c)
{
	int v;

	pthread_mutex_lock(&R.m);
	v = *c;
	pthread_mutex_unlock(&R.m);
	return v;
}

static void count_wait(int *c, int n)
{
	int i;

	for (i = 0; i < 3000 && count(c) < n; i++)
		usleep(1000);
	assert_int_equal(count(c), n);
}

static int t_probe(struct xenbus_bus *bus, const char *id, void **priv)
{
	int n;

	pthread_mutex_lock(&R.m);
	R.probes++;
	n = atoi(id);
	pthread_mutex_unlock(&R.m);
	if (n == R.fail_id) {
		/* As blkfront does: a failed open leaves the device
		 * Closed, before probe returns. */
		char path[64];

		snprintf(path, sizeof(path), "device/tst/%s/state", id);
		xs_write_str(xenbus_bus_xs(bus), XS_TX_NONE, path, "6");
		return -EIO;
	}
	*priv = strdup(id);
	return 0;
}

static void t_remove(void *priv)
{
	pthread_mutex_lock(&R.m);
	R.removes++;
	pthread_mutex_unlock(&R.m);
	free(priv);
}

static int t_suspend(void *priv)
{
	(void)priv;
	pthread_mutex_lock(&R.m);
	R.suspends++;
	pthread_mutex_unlock(&R.m);
	return 0;
}

static int t_resume(void *priv, bool cancelled)
{
	(void)priv;
	pthread_mutex_lock(&R.m);
	R.resumes++;
	R.cancelled += cancelled;
	pthread_mutex_unlock(&R.m);
	return 0;
}

static void h_added(struct xenbus_bus *bus, const char *type, const char *id,
		    void *priv, void *arg)
{
	(void)bus, (void)type, (void)arg;
	assert_string_equal(id, priv);
	pthread_mutex_lock(&R.m);
	R.added++;
	pthread_mutex_unlock(&R.m);
}

static void h_removing(struct xenbus_bus *bus, const char *type, const char *id,
		       void *priv, void *arg)
{
	(void)bus, (void)type, (void)arg;
	assert_string_equal(id, priv);
	pthread_mutex_lock(&R.m);
	R.removing++;
	pthread_mutex_unlock(&R.m);
}

static const struct xenbus_frontend_driver t_driver = {
    .type = "tst",
    .probe = t_probe,
    .remove = t_remove,
    .suspend = t_suspend,
    .resume = t_resume,
};
static const struct xenbus_frontend_driver *const t_drivers[] = {&t_driver};
static const struct xenbus_bus_hooks t_hooks = {.added = h_added,
						.removing = h_removing};

/* device/tst/<id> (relative paths: the fake's connection is Dom0's) */
static void bus_dev(struct env *e, const char *id, const char *state)
{
	char path[160], be[96];

	snprintf(be, sizeof(be), "/local/domain/0/backend/tst/0/%s", id);
	snprintf(path, sizeof(path), "%s/online", be);
	w(e, path, "1");
	snprintf(path, sizeof(path), "device/tst/%s/backend", id);
	w(e, path, be);
	snprintf(path, sizeof(path), "device/tst/%s/state", id);
	w(e, path, state);
}

static void rec_reset(void)
{
	memset(&R, 0, sizeof(R));
	pthread_mutex_init(&R.m, NULL);
	R.fail_id = -1;
}

static void test_bus_enumerate_hotplug_remove(void **state)
{
	struct env *e = *state;
	struct xenbus_bus *bus = NULL;

	rec_reset();

	bus_dev(e, "1", "1");
	bus_dev(e, "2", "4"); /* any state at start: connected as found */
	w(e, "device/tst/abc/state", "1"); /* not a device id */
	assert_int_equal(xenbus_bus_open(&e->plat, e->xs, t_drivers, 1,
					 &t_hooks, NULL, 0, &bus),
			 0);
	assert_int_equal(count(&R.probes), 2);
	assert_int_equal(xenbus_bus_count(bus), 2);
	count_wait(&R.added, 2);
	/* Hot-plug: only what the toolstack just wrote (Initialising). */
	bus_dev(e, "3", "1");
	count_wait(&R.probes, 3);
	bus_dev(e, "4", "6");
	usleep(100000);
	assert_int_equal(count(&R.probes), 3);
	/* Removal: the directory goes; the backend says online=0. */
	assert_int_equal(xs_rm(e->xs, XS_TX_NONE, "device/tst/1"), 0);
	count_wait(&R.removes, 1);
	w(e, "/local/domain/0/backend/tst/0/2/online", "0");
	count_wait(&R.removes, 2);
	assert_int_equal(count(&R.removing), 2);
	assert_int_equal(xenbus_bus_count(bus), 1);
	xenbus_bus_close(bus);
	assert_int_equal(count(&R.removes), 3);
}

/* A probe that fails is not retried on every change, only when the
 * toolstack sets the device up anew. */
static void test_bus_probe_failure(void **state)
{
	struct env *e = *state;
	struct xenbus_bus *bus = NULL;

	rec_reset();

	R.fail_id = 5;
	bus_dev(e, "5", "1");
	assert_int_equal(xenbus_bus_open(&e->plat, e->xs, t_drivers, 1,
					 &t_hooks, NULL, 0, &bus),
			 0);
	assert_int_equal(count(&R.probes), 1);
	assert_int_equal(xenbus_bus_count(bus), 0);
	w(e, "device/tst/5/junk", "x"); /* any change: no retry */
	usleep(100000);
	assert_int_equal(count(&R.probes), 1);
	R.fail_id = -1;
	w(e, "device/tst/5/state", "1");
	count_wait(&R.added, 1); /* probed, then counted, then added */
	assert_int_equal(count(&R.probes), 2);
	assert_int_equal(xenbus_bus_count(bus), 1);
	xenbus_bus_close(bus);
}

/* Suspend/resume reach every device; hot-plug waits meanwhile. */
static void test_bus_suspend_resume(void **state)
{
	struct env *e = *state;
	struct xenbus_bus *bus = NULL;

	rec_reset();

	bus_dev(e, "1", "1");
	bus_dev(e, "2", "1");
	assert_int_equal(xenbus_bus_open(&e->plat, e->xs, t_drivers, 1,
					 &t_hooks, NULL, 0, &bus),
			 0);
	usleep(50000); /* the watches' first firing */
	assert_int_equal(xenbus_bus_suspend(bus), 0);
	assert_int_equal(count(&R.suspends), 2);
	bus_dev(e, "3", "1");
	usleep(100000);
	assert_int_equal(count(&R.probes), 2); /* held */
	assert_int_equal(xenbus_bus_resume(bus, true), 0);
	assert_int_equal(count(&R.resumes), 2);
	assert_int_equal(count(&R.cancelled), 2);
	count_wait(&R.probes, 3);
	assert_int_equal(xenbus_bus_suspend(bus), 0);
	assert_int_equal(xenbus_bus_resume(bus, false), 0);
	assert_int_equal(count(&R.resumes), 5);
	assert_int_equal(count(&R.cancelled), 2);
	xenbus_bus_close(bus);
}

static void test_bus_bad_driver_table(void **state)
{
	struct env *e = *state;
	struct xenbus_frontend_driver bad = t_driver;
	const struct xenbus_frontend_driver *const drivers[] = {&bad};
	struct xenbus_bus *bus = NULL;

	bad.type = "Bad/Type";
	assert_int_equal(
	    xenbus_bus_open(&e->plat, e->xs, drivers, 1, NULL, NULL, 0, &bus),
	    -EINVAL);
	bad = t_driver;
	bad.probe = NULL;
	assert_int_equal(
	    xenbus_bus_open(&e->plat, e->xs, drivers, 1, NULL, NULL, 0, &bus),
	    -EINVAL);
}

/* ---- following a connected backend ------------------------------------- */

struct mon_rec {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned int lost, gone;
	enum xenbus_state gone_st;
	struct xenbus_fe_monitor **mon;
	bool pending_at_entry;
};

static void rec_lost(void *arg)
{
	struct mon_rec *r = arg;

	pthread_mutex_lock(&r->m);
	r->pending_at_entry |= xenbus_fe_monitor_pending(*r->mon);
	r->lost++;
	pthread_cond_broadcast(&r->c);
	pthread_mutex_unlock(&r->m);
}

static void rec_gone(void *arg, enum xenbus_state s)
{
	struct mon_rec *r = arg;

	pthread_mutex_lock(&r->m);
	r->gone++;
	r->gone_st = s;
	pthread_cond_broadcast(&r->c);
	pthread_mutex_unlock(&r->m);
}

/* Wait (up to 2 s) for *n to reach want, then a little more for a call
 * that should not come; returns *n. */
static unsigned int rec_wait(struct mon_rec *r, unsigned int *n,
			     unsigned int want)
{
	unsigned int i, got;

	for (i = 0; i < 200; i++) {
		pthread_mutex_lock(&r->m);
		got = *n;
		pthread_mutex_unlock(&r->m);
		if (got >= want)
			break;
		usleep(10000);
	}
	usleep(50000);
	pthread_mutex_lock(&r->m);
	got = *n;
	pthread_mutex_unlock(&r->m);
	return got;
}

/* The monitor calls lost() when the backend leaves Connected (InitWait,
 * Closed) or when kicked, nothing for Connected, gone() once for Closing,
 * and nothing after that. */
static void test_monitor(void **state)
{
	static const struct xenbus_fe_monitor_ops ops = {rec_lost, rec_gone};
	struct env *e = *state;
	struct xenbus_fe_monitor *mon = NULL;
	struct mon_rec r = {.m = PTHREAD_MUTEX_INITIALIZER,
			    .c = PTHREAD_COND_INITIALIZER,
			    .mon = &mon};
	struct xenbus_fe fe;

	fe_open(e, XenbusStateConnected, SHORT_MS, &fe);
	assert_int_equal(xenbus_fe_monitor_start(&fe, &ops, &r, &mon), 0);
	st(e, BE, XenbusStateConnected);
	assert_int_equal(rec_wait(&r, &r.lost, 0), 0);
	st(e, BE, XenbusStateInitWait);
	assert_int_equal(rec_wait(&r, &r.lost, 1), 1);
	assert_false(r.pending_at_entry);
	st(e, BE, XenbusStateConnected);
	assert_int_equal(rec_wait(&r, &r.lost, 1), 1);
	assert_false(xenbus_fe_monitor_busy(mon));
	xenbus_fe_monitor_kick(mon); /* even though Connected */
	assert_int_equal(rec_wait(&r, &r.lost, 2), 2);
	st(e, BE, XenbusStateClosed);
	assert_int_equal(rec_wait(&r, &r.lost, 3), 3);
	st(e, BE, XenbusStateClosing);
	assert_int_equal(rec_wait(&r, &r.gone, 1), 1);
	assert_int_equal(r.gone_st, XenbusStateClosing);
	st(e, BE, XenbusStateInitWait);
	assert_int_equal(rec_wait(&r, &r.lost, 4), 3);
	assert_int_equal(r.gone, 1);
	xenbus_fe_monitor_stop(mon);
	xenbus_fe_release(&fe);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_init_validates_backend),
	    T(test_begin_ready_backend),
	    T(test_begin_stale_connected_backend),
	    T(test_begin_closes_leftover),
	    T(test_close_unfollowed),
	    T(test_restart_outcomes),
	    T(test_restart_after_closed),
	    T(test_monitor),
	    T(test_backend_nodes),
	    T(test_bus_enumerate_hotplug_remove),
	    T(test_bus_probe_failure),
	    T(test_bus_suspend_resume),
	    T(test_bus_bad_driver_table),
	};

	return cmocka_run_group_tests_name("xenbus_frontend", tests, NULL,
					   NULL);
}
