/*
 * xenbus_frontend.c - the frontend side of xenbus for every device type
 * (include/pvkit/xenbus_frontend.h): one device's handshake with its
 * backend, and a bus that enumerates, hot-plugs, suspends and resumes the
 * devices of a table of drivers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus.h"
#include "pvkit/xenbus_frontend.h"

#define FE_POLL_MS 200 /* unbounded waits look at cancel this often */
#define FE_DEFAULT_TIMEOUT_MS 10000

/* ---- one device's handshake ------------------------------------------------
 */

int xenbus_fe_init(struct xenbus_fe *fe, const struct pvk_platform *plat,
		   struct xs_client *xs, const char *type, uint32_t devid,
		   int timeout_ms)
{
	domid_t self = plat->self;
	int rc;

	memset(fe, 0, sizeof(*fe));
	fe->xs = xs;
	fe->devid = devid;
	fe->timeout_ms = timeout_ms > 0 ? timeout_ms : FE_DEFAULT_TIMEOUT_MS;
	/* On real Xen the platform knows itself only as DOMID_SELF. */
	if (self == DOMID_SELF && (rc = xenbus_read_domid(xs, &self)) < 0) {
		pvk_err("%s %u: cannot read this domain's id: %s", type, devid,
			strerror(-rc));
		return rc;
	}
	rc =
	    xenbus_frontend_path(fe->path, sizeof(fe->path), self, type, devid);
	if (!rc)
		rc = xenbus_read_backend(xs, XS_TX_NONE, fe->path, &fe->be_path,
					 &fe->be_id);
	return rc;
}

void xenbus_fe_release(struct xenbus_fe *fe)
{
	free(fe->be_path);
	fe->be_path = NULL;
}

int xenbus_fe_reread_backend(struct xenbus_fe *fe, bool *changed)
{
	char *be = NULL;
	domid_t id;
	int rc;

	rc = xenbus_read_backend(fe->xs, XS_TX_NONE, fe->path, &be, &id);
	if (rc)
		return rc;
	if (changed)
		*changed = strcmp(be, fe->be_path) || id != fe->be_id;
	free(fe->be_path);
	fe->be_path = be;
	fe->be_id = id;
	return 0;
}

int xenbus_fe_switch(struct xenbus_fe *fe, enum xenbus_state s)
{
	return xenbus_switch_state(fe->xs, fe->path, s);
}

int xenbus_fe_wait(struct xenbus_fe *fe, uint32_t want, int timeout_ms,
		   enum xenbus_state *got)
{
	uint64_t until = pvk_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int rc;

	for (;;) {
		int step = FE_POLL_MS;

		if (timeout_ms >= 0) {
			uint64_t now = pvk_now_ns();

			if (now >= until)
				return -ETIMEDOUT;
			if ((until - now) / 1000000 < (uint64_t)step)
				step = (int)((until - now) / 1000000) + 1;
		}
		rc =
		    xenbus_wait_for_state(fe->xs, fe->be_path, want, step, got);
		if (rc != -ETIMEDOUT)
			return rc;
		if (__atomic_load_n(&fe->cancel, __ATOMIC_ACQUIRE))
			return -ECANCELED;
	}
}

int xenbus_fe_be_u64(struct xenbus_fe *fe, const char *node, uint64_t min,
		     uint64_t max, uint64_t def, uint64_t *out)
{
	char path[XENBUS_FE_PATH_MAX + 128];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", fe->be_path, node);
	rc = xs_read_u64(fe->xs, XS_TX_NONE, path, min, max, out);
	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	if (rc)
		pvk_warn("%s: %s: %s", fe->path, path, strerror(-rc));
	return rc;
}

/* Closing, then Closed, each time waiting for the backend to follow.  A
 * backend that does not follow in time may still be connected to the old
 * rings: Linux's backends ignore a frontend that says Initialised while
 * they are Connected, so a new connection must not start. */
int xenbus_fe_close(struct xenbus_fe *fe)
{
	enum xenbus_state st = XenbusStateUnknown;
	int rc;

	xenbus_fe_switch(fe, XenbusStateClosing);
	rc = xenbus_wait_for_state(fe->xs, fe->be_path,
				   XENBUS_STATE_BIT(XenbusStateClosing) |
				       XENBUS_STATE_BIT(XenbusStateClosed) |
				       XENBUS_STATE_BIT(XenbusStateUnknown),
				   fe->timeout_ms, &st);
	xenbus_fe_switch(fe, XenbusStateClosed);
	if (!rc)
		rc = xenbus_wait_for_state(
		    fe->xs, fe->be_path,
		    XENBUS_STATE_BIT(XenbusStateClosed) |
			XENBUS_STATE_BIT(XenbusStateUnknown),
		    fe->timeout_ms, &st);
	if (rc)
		pvk_warn("%s: the backend did not follow to Closed (it is %s): "
			 "%s",
			 fe->path, xenbus_state_name(st), strerror(-rc));
	return rc;
}

int xenbus_fe_begin(struct xenbus_fe *fe)
{
	enum xenbus_state st;
	int rc = 0;

	/* A device an earlier program closed, or left connected when it
	 * died: close it properly first; Linux's backends then stay Closed
	 * until the frontend says Initialising again. */
	if (xenbus_read_state(fe->xs, XS_TX_NONE, fe->path, &st) == 0 &&
	    st != XenbusStateInitialising && st != XenbusStateUnknown) {
		if (st != XenbusStateClosed) {
			pvk_warn("%s: found %s: closing it first", fe->path,
				 xenbus_state_name(st));
			rc = xenbus_fe_close(fe);
		} else {
			/* Closed by an earlier program; the backend may
			 * still be on its way there from the old rings. */
			rc = xenbus_wait_for_state(
			    fe->xs, fe->be_path,
			    XENBUS_STATE_BIT(XenbusStateClosed) |
				XENBUS_STATE_BIT(XenbusStateInitWait) |
				XENBUS_STATE_BIT(XenbusStateUnknown),
			    fe->timeout_ms, &st);
			if (rc)
				pvk_err("%s: the backend is still %s after the "
					"frontend closed: %s",
					fe->path, xenbus_state_name(st),
					strerror(-rc));
		}
		if (!rc)
			rc = xenbus_fe_switch(fe, XenbusStateInitialising);
		if (rc)
			return rc;
	}
	/* The backend publishes its features, then InitWait.  Connected
	 * here would be a connection to somebody else's rings. */
	rc = xenbus_wait_for_state(fe->xs, fe->be_path,
				   XENBUS_STATE_BIT(XenbusStateInitWait),
				   fe->timeout_ms, &st);
	if (rc)
		pvk_err("%s: backend not ready (%s): %s", fe->path,
			xenbus_state_name(st), strerror(-rc));
	return rc;
}

int xenbus_fe_restart(struct xenbus_fe *fe)
{
	enum xenbus_state st;
	int rc;

	xenbus_fe_switch(fe, XenbusStateInitialising);
	for (;;) {
		if (__atomic_load_n(&fe->cancel, __ATOMIC_ACQUIRE))
			return -ECANCELED;
		rc = xenbus_read_state(fe->xs, XS_TX_NONE, fe->be_path, &st);
		if (rc)
			return rc;
		switch (st) {
		case XenbusStateInitWait:
			return 0;
		case XenbusStateClosing:
			return -ENODEV; /* the backend closes the device */
		case XenbusStateClosed:
			/* Ask for a new connection. */
			xenbus_fe_switch(fe, XenbusStateInitialising);
			break;
		case XenbusStateUnknown:
			return -ENODEV; /* the device was removed */
		default:
			break; /* a dead backend's Connected: wait */
		}
		rc = xenbus_fe_wait(fe, ~XENBUS_STATE_BIT(st), -1, &st);
		if (rc)
			return rc;
	}
}

unsigned int xenbus_fe_unshare(const struct pvk_platform *plat,
			       struct pvk_gntshr *shr, void *addr,
			       unsigned int count, uint64_t deadline)
{
	int rc = 0;

	while (addr) {
		rc = plat->gntshr->unshare(shr, addr, count);
		if (rc != -EBUSY || pvk_now_ns() >= deadline)
			break;
		usleep(10000);
	}
	return rc ? count : 0;
}

/* ---- following a connected backend ----------------------------------------
 */

struct xenbus_fe_monitor {
	struct xenbus_fe *fe;
	const struct xenbus_fe_monitor_ops *ops;
	void *arg;
	char token[XENBUS_FE_PATH_MAX + 16];
	bool watching;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool req, force, busy, stop;
	pthread_t thr;
	bool thr_started;
};

static void monitor_watch(struct xs_client *xs, const char *path,
			  const char *token, void *arg)
{
	struct xenbus_fe_monitor *m = arg;
	enum xenbus_state st;

	(void)path;
	(void)token;
	/* Read under the lock: the driver clears a request only once it saw
	 * Connected, so a state read before that cannot outlive it. */
	pthread_mutex_lock(&m->lock);
	if (xenbus_read_state(xs, XS_TX_NONE, m->fe->be_path, &st) == 0 &&
	    st != XenbusStateConnected) {
		if (!m->req && !m->busy && !m->stop)
			pvk_info("%s: backend %s", m->fe->path,
				 xenbus_state_name(st));
		m->req = true;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
}

static void *monitor_thread(void *arg)
{
	struct xenbus_fe_monitor *m = arg;

	for (;;) {
		enum xenbus_state st;
		bool force;

		pthread_mutex_lock(&m->lock);
		while (!m->req && !m->stop)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->stop) {
			pthread_mutex_unlock(&m->lock);
			break;
		}
		force = m->force;
		m->req = m->force = false;
		m->busy = true;
		pthread_mutex_unlock(&m->lock);
		if (xenbus_read_state(m->fe->xs, XS_TX_NONE, m->fe->be_path,
				      &st))
			st = XenbusStateUnknown;
		if (st == XenbusStateClosing || st == XenbusStateUnknown) {
			m->ops->gone(m->arg, st);
			pthread_mutex_lock(&m->lock);
			m->busy = false;
			pthread_cond_broadcast(&m->cond);
			pthread_mutex_unlock(&m->lock);
			break;
		}
		/* Connected: a change seen late, nothing to do. */
		if (st != XenbusStateConnected || force)
			m->ops->lost(m->arg);
		pthread_mutex_lock(&m->lock);
		m->busy = false;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
	}
	return NULL;
}

void xenbus_fe_monitor_stop(struct xenbus_fe_monitor *m)
{
	if (!m)
		return;
	if (m->watching)
		xs_unwatch(m->fe->xs, m->fe->be_path, m->token);
	if (m->thr_started) {
		pthread_mutex_lock(&m->lock);
		m->stop = true;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thr, NULL);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

int xenbus_fe_monitor_start(struct xenbus_fe *fe,
			    const struct xenbus_fe_monitor_ops *ops, void *arg,
			    struct xenbus_fe_monitor **out)
{
	struct xenbus_fe_monitor *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		return -ENOMEM;
	m->fe = fe;
	m->ops = ops;
	m->arg = arg;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	rc = -pthread_create(&m->thr, NULL, monitor_thread, m);
	if (!rc) {
		m->thr_started = true;
		snprintf(m->token, sizeof(m->token), "fe-mon:%s", fe->path);
		rc = xs_watch(fe->xs, fe->be_path, m->token, monitor_watch, m);
	}
	if (rc) {
		xenbus_fe_monitor_stop(m);
		return rc;
	}
	m->watching = true;
	*out = m;
	return 0;
}

void xenbus_fe_monitor_kick(struct xenbus_fe_monitor *m)
{
	pthread_mutex_lock(&m->lock);
	m->force = m->req = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

bool xenbus_fe_monitor_busy(struct xenbus_fe_monitor *m)
{
	bool busy;

	pthread_mutex_lock(&m->lock);
	busy = m->req || m->busy;
	pthread_mutex_unlock(&m->lock);
	return busy;
}

bool xenbus_fe_monitor_pending(struct xenbus_fe_monitor *m)
{
	bool req;

	pthread_mutex_lock(&m->lock);
	req = m->req;
	pthread_mutex_unlock(&m->lock);
	return req;
}

void xenbus_fe_monitor_connected(struct xenbus_fe_monitor *m)
{
	pthread_mutex_lock(&m->lock);
	if (!m->force)
		m->req = false;
	pthread_mutex_unlock(&m->lock);
}

/* ---- the bus ---------------------------------------------------------------
 */

#define BUS_TOKEN "xenbus-bus"
#define ID_MAX 16

struct fdev {
	struct fdev *next;
	const struct xenbus_frontend_driver *drv;
	char id[ID_MAX];
	char online[XENBUS_FE_PATH_MAX + 16]; /* backend's online, watched */
	void *priv;
};

struct xenbus_bus {
	struct pvk_platform *plat;
	struct xs_client *xs;
	const struct xenbus_frontend_driver *const *drivers;
	unsigned int ndrivers;
	struct xenbus_bus_hooks hooks;
	void *arg;
	unsigned int flags;

	pthread_mutex_t lock; /* the flags below */
	pthread_cond_t cond;
	bool changed, stop, suspended, scanning;
	pthread_t thr;
	bool thr_started;

	/* Changed by the bus thread only (or with it stopped/suspended). */
	struct fdev *devs;
	unsigned int count;
};

struct pvk_platform *xenbus_bus_platform(const struct xenbus_bus *bus)
{
	return bus->plat;
}

struct xs_client *xenbus_bus_xs(const struct xenbus_bus *bus)
{
	return bus->xs;
}

unsigned int xenbus_bus_count(struct xenbus_bus *bus)
{
	return __atomic_load_n(&bus->count, __ATOMIC_ACQUIRE);
}

static void bus_watch(struct xs_client *xs, const char *path, const char *token,
		      void *arg)
{
	struct xenbus_bus *bus = arg;

	(void)xs;
	(void)path;
	(void)token;
	pthread_mutex_lock(&bus->lock);
	bus->changed = true;
	pthread_cond_broadcast(&bus->cond);
	pthread_mutex_unlock(&bus->lock);
}

static bool read_is(struct xs_client *xs, const char *path, const char *val)
{
	char *v = NULL;
	bool is = false;

	if (xs_read(xs, XS_TX_NONE, path, &v, NULL) == 0)
		is = !strcmp(v, val);
	free(v);
	return is;
}

static bool node_exists(struct xs_client *xs, const char *path)
{
	char *v = NULL;
	int rc = xs_read(xs, XS_TX_NONE, path, &v, NULL);

	free(v);
	return rc == 0;
}

static struct fdev *dev_find(struct xenbus_bus *bus,
			     const struct xenbus_frontend_driver *drv,
			     const char *id)
{
	struct fdev *d;

	for (d = bus->devs; d; d = d->next)
		if (d->drv == drv && !strcmp(d->id, id))
			return d;
	return NULL;
}

static void dev_add(struct xenbus_bus *bus,
		    const struct xenbus_frontend_driver *drv, const char *id)
{
	char path[XENBUS_FE_PATH_MAX], *be = NULL;
	struct fdev *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return;
	d->drv = drv;
	snprintf(d->id, sizeof(d->id), "%s", id);
	rc = drv->probe(bus, id, &d->priv);
	if (rc) {
		pvk_err("%s %s: %s", drv->type, id, strerror(-rc));
		free(d);
		return;
	}
	/* Hot-unplug: the toolstack says online=0 on the backend. */
	snprintf(path, sizeof(path), "device/%s/%s/backend", drv->type, id);
	if (!(bus->flags & XENBUS_BUS_NO_HOTPLUG) &&
	    xs_read(bus->xs, XS_TX_NONE, path, &be, NULL) == 0 &&
	    strlen(be) < XENBUS_FE_PATH_MAX) {
		snprintf(d->online, sizeof(d->online), "%s/online", be);
		if (xs_watch(bus->xs, d->online, BUS_TOKEN, bus_watch, bus))
			d->online[0] = 0;
	}
	free(be);
	d->next = bus->devs;
	bus->devs = d;
	__atomic_add_fetch(&bus->count, 1, __ATOMIC_ACQ_REL);
	if (bus->hooks.added)
		bus->hooks.added(bus, drv->type, id, d->priv, bus->arg);
}

static void dev_remove(struct xenbus_bus *bus, struct fdev *d)
{
	struct fdev **pp;

	for (pp = &bus->devs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	__atomic_sub_fetch(&bus->count, 1, __ATOMIC_ACQ_REL);
	if (d->online[0])
		xs_unwatch(bus->xs, d->online, BUS_TOKEN);
	if (bus->hooks.removing)
		bus->hooks.removing(bus, d->drv->type, d->id, d->priv,
				    bus->arg);
	d->drv->remove(d->priv);
	free(d);
}

/* Remove the devices that went (directory gone, backend online=0), then
 * probe those that appeared: all of them at start (initial), later only
 * those the toolstack just wrote (Initialising), so that a device whose
 * probe failed is not tried again until it is set up anew. */
static void bus_scan(struct xenbus_bus *bus, bool initial)
{
	char path[XENBUS_FE_PATH_MAX], **ids;
	struct fdev *d, *next;
	unsigned int i, j, n;

	for (d = bus->devs; d; d = next) {
		next = d->next;
		snprintf(path, sizeof(path), "device/%s/%s/state", d->drv->type,
			 d->id);
		if (node_exists(bus->xs, path) &&
		    !(d->online[0] && read_is(bus->xs, d->online, "0")))
			continue;
		pvk_info("%s %s: removed", d->drv->type, d->id);
		dev_remove(bus, d);
	}
	for (i = 0; i < bus->ndrivers; i++) {
		const struct xenbus_frontend_driver *drv = bus->drivers[i];

		snprintf(path, sizeof(path), "device/%s", drv->type);
		ids = NULL;
		if (xs_directory(bus->xs, XS_TX_NONE, path, &ids, &n))
			continue;
		for (j = 0; j < n; j++) {
			uint64_t v;

			if (dev_find(bus, drv, ids[j]))
				continue;
			/* A name the toolstack would never write: said once,
			 * at start. */
			if (pvk_parse_u64(ids[j], 0, UINT32_MAX, &v) ||
			    strlen(ids[j]) >= ID_MAX) {
				if (initial)
					pvk_warn("device/%s/%s: not a device "
						 "id: ignored",
						 drv->type, ids[j]);
				continue;
			}
			snprintf(path, sizeof(path), "device/%s/%s/state",
				 drv->type, ids[j]);
			if (!initial && !read_is(bus->xs, path, "1"))
				continue;
			if (!initial)
				pvk_info("%s %s: hot-plugged", drv->type,
					 ids[j]);
			dev_add(bus, drv, ids[j]);
		}
		free(ids);
	}
}

static void *bus_thread(void *arg)
{
	struct xenbus_bus *bus = arg;

	pthread_mutex_lock(&bus->lock);
	for (;;) {
		while (!bus->stop && (!bus->changed || bus->suspended))
			pthread_cond_wait(&bus->cond, &bus->lock);
		if (bus->stop)
			break;
		bus->changed = false;
		bus->scanning = true;
		pthread_mutex_unlock(&bus->lock);
		bus_scan(bus, false);
		pthread_mutex_lock(&bus->lock);
		bus->scanning = false;
		pthread_cond_broadcast(&bus->cond);
	}
	pthread_mutex_unlock(&bus->lock);
	return NULL;
}

static void bus_unwatch_types(struct xenbus_bus *bus, unsigned int n)
{
	char path[XENBUS_FE_PATH_MAX];
	unsigned int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "device/%s",
			 bus->drivers[i]->type);
		xs_unwatch(bus->xs, path, BUS_TOKEN);
	}
}

int xenbus_bus_open(struct pvk_platform *plat, struct xs_client *xs,
		    const struct xenbus_frontend_driver *const *drivers,
		    unsigned int ndrivers, const struct xenbus_bus_hooks *hooks,
		    void *arg, unsigned int flags, struct xenbus_bus **out)
{
	struct xenbus_bus *bus;
	char path[XENBUS_FE_PATH_MAX];
	unsigned int i, watched = 0;
	int rc = 0;

	for (i = 0; i < ndrivers; i++)
		if (!drivers[i] || !xenbus_type_valid(drivers[i]->type) ||
		    !drivers[i]->probe || !drivers[i]->remove)
			return -EINVAL;
	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->plat = plat;
	bus->xs = xs;
	bus->drivers = drivers;
	bus->ndrivers = ndrivers;
	if (hooks)
		bus->hooks = *hooks;
	bus->arg = arg;
	bus->flags = flags;
	pthread_mutex_init(&bus->lock, NULL);
	pthread_cond_init(&bus->cond, NULL);
	bus_scan(bus, true);
	if (flags & XENBUS_BUS_NO_HOTPLUG)
		goto done;
	rc = -pthread_create(&bus->thr, NULL, bus_thread, bus);
	if (rc)
		goto fail;
	bus->thr_started = true;
	for (i = 0; i < ndrivers; i++, watched++) {
		snprintf(path, sizeof(path), "device/%s", drivers[i]->type);
		rc = xs_watch(xs, path, BUS_TOKEN, bus_watch, bus);
		if (rc) {
			pvk_err("cannot watch %s: %s", path, strerror(-rc));
			goto fail;
		}
	}
done:
	*out = bus;
	return 0;
fail:
	bus_unwatch_types(bus, watched);
	bus->flags |= XENBUS_BUS_NO_HOTPLUG; /* watched nothing more */
	xenbus_bus_close(bus);
	return rc;
}

void xenbus_bus_close(struct xenbus_bus *bus)
{
	if (!bus)
		return;
	if (!(bus->flags & XENBUS_BUS_NO_HOTPLUG))
		bus_unwatch_types(bus, bus->ndrivers);
	if (bus->thr_started) {
		pthread_mutex_lock(&bus->lock);
		bus->stop = true;
		pthread_cond_broadcast(&bus->cond);
		pthread_mutex_unlock(&bus->lock);
		pthread_join(bus->thr, NULL);
	}
	while (bus->devs)
		dev_remove(bus, bus->devs);
	pthread_mutex_destroy(&bus->lock);
	pthread_cond_destroy(&bus->cond);
	free(bus);
}

int xenbus_bus_suspend(struct xenbus_bus *bus)
{
	struct fdev *d;
	int rc = 0, r;

	pthread_mutex_lock(&bus->lock);
	bus->suspended = true;
	while (bus->scanning)
		pthread_cond_wait(&bus->cond, &bus->lock);
	pthread_mutex_unlock(&bus->lock);
	for (d = bus->devs; d; d = d->next) {
		if (!d->drv->suspend)
			continue;
		r = d->drv->suspend(d->priv);
		if (r) {
			pvk_warn("%s %s: suspend: %s", d->drv->type, d->id,
				 strerror(-r));
			if (!rc)
				rc = r;
		}
	}
	return rc;
}

int xenbus_bus_resume(struct xenbus_bus *bus, bool cancelled)
{
	struct fdev *d;
	int rc = 0, r;

	for (d = bus->devs; d; d = d->next) {
		if (!d->drv->resume)
			continue;
		r = d->drv->resume(d->priv, cancelled);
		if (r) {
			pvk_warn("%s %s: resume: %s", d->drv->type, d->id,
				 strerror(-r));
			if (!rc)
				rc = r;
		}
	}
	pthread_mutex_lock(&bus->lock);
	bus->suspended = false;
	bus->changed = true; /* what changed meanwhile */
	pthread_cond_broadcast(&bus->cond);
	pthread_mutex_unlock(&bus->lock);
	return rc;
}
