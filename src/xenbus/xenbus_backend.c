/*
 * xenbus_backend.c - the backend side of xenbus for every device type
 * (include/pvkit/xenbus_backend.h): finding devices under
 * /local/domain/<self>/backend/<type>, probing them once their toolstack
 * nodes are complete, and following each frontend's state.
 *
 * Locking: be->lock guards the device list and every device's state; the
 * watch callbacks (the xenstore client's dispatch thread) and
 * xenbus_backend_foreach take it.  xenbus_device_fail may run on any
 * thread, including one that disconnect() joins while the lock is held,
 * so it takes no lock: it sets an atomic flag and writes the state node.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus.h"
#include "pvkit/xenbus_backend.h"

#define BE_PATH_MAX 256
#define ERR_MAX 512

struct xenbus_device {
	struct xenbus_device *next;
	struct xenbus_backend *be;
	char path[BE_PATH_MAX];
	const char *name; /* within path: "<type>/<fe>/<devid>" */
	char *fe_path;
	domid_t fe_id;
	uint32_t devid;
	char fe_token[BE_PATH_MAX + 4];
	bool watching;
	void *priv;
	bool probed;	   /* probe() ran: remove() is due */
	bool probe_failed; /* failed for good: only its removal matters */
	bool connected;
	bool failed; /* atomic: xenbus_device_fail */
	/* Found with its frontend already Connected (this service was
	 * restarted): the rings it names belonged to the old one, so wait
	 * until the frontend starts over (leaves Connected). */
	bool stale;
	bool released; /* online=0 and closed: remove() ran */
	char error[ERR_MAX];
};

struct xenbus_backend {
	struct pvk_platform *plat;
	struct xs_client *xs;
	const struct xenbus_backend_driver *drv;
	void *arg;
	char base[96]; /* /local/domain/<self>/backend/<type> */
	char token[48];
	pthread_mutex_t lock;
	struct xenbus_device *devs;
};

/* ---- accessors ------------------------------------------------------------
 */

const struct xenbus_backend_driver *
xenbus_device_driver(const struct xenbus_device *dev)
{
	return dev->be->drv;
}

struct xenbus_backend *xenbus_device_backend(const struct xenbus_device *dev)
{
	return dev->be;
}

struct xs_client *xenbus_device_xs(const struct xenbus_device *dev)
{
	return dev->be->xs;
}

struct pvk_platform *xenbus_device_platform(const struct xenbus_device *dev)
{
	return dev->be->plat;
}

void *xenbus_device_priv(const struct xenbus_device *dev) { return dev->priv; }

void xenbus_device_set_priv(struct xenbus_device *dev, void *priv)
{
	dev->priv = priv;
}

const char *xenbus_device_path(const struct xenbus_device *dev)
{
	return dev->path;
}

const char *xenbus_device_name(const struct xenbus_device *dev)
{
	return dev->name;
}

const char *xenbus_device_frontend_path(const struct xenbus_device *dev)
{
	return dev->fe_path;
}

domid_t xenbus_device_frontend_id(const struct xenbus_device *dev)
{
	return dev->fe_id;
}

uint32_t xenbus_device_devid(const struct xenbus_device *dev)
{
	return dev->devid;
}

bool xenbus_device_connected(const struct xenbus_device *dev)
{
	return dev->connected;
}

bool xenbus_device_failed(const struct xenbus_device *dev)
{
	return __atomic_load_n(&dev->failed, __ATOMIC_ACQUIRE);
}

void *xenbus_backend_arg(const struct xenbus_backend *be) { return be->arg; }

const char *xenbus_backend_base(const struct xenbus_backend *be)
{
	return be->base;
}

/* ---- nodes ----------------------------------------------------------------
 */

int xenbus_device_read(struct xenbus_device *dev, const char *node, char **val)
{
	char path[BE_PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dev->path, node);
	*val = NULL;
	return xs_read(dev->be->xs, XS_TX_NONE, path, val, NULL);
}

int xenbus_device_printf(struct xenbus_device *dev, xs_tx_t tx,
			 const char *node, const char *fmt, ...)
{
	char path[BE_PATH_MAX + 64], val[ERR_MAX + 64];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dev->path, node);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write_str(dev->be->xs, tx, path, val);
}

int xenbus_device_fe_u64(struct xenbus_device *dev, const char *dir,
			 const char *node, uint64_t min, uint64_t max,
			 uint64_t *out)
{
	char path[BE_PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : dev->fe_path, node);
	rc = xs_read_u64(dev->be->xs, XS_TX_NONE, path, min, max, out);
	if (rc && rc != -ENOENT)
		pvk_debug("%s: %s: %s", dev->name, path, strerror(-rc));
	return rc;
}

static void set_state(struct xenbus_device *dev, enum xenbus_state s)
{
	int rc = xenbus_switch_state(dev->be->xs, dev->path, s);

	if (rc && rc != -ENOENT)
		pvk_warn("%s: cannot switch to %s: %s", dev->name,
			 xenbus_state_name(s), strerror(-rc));
}

void xenbus_device_set_error(struct xenbus_device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dev->error, sizeof(dev->error), fmt, ap);
	va_end(ap);
}

void xenbus_device_fail(struct xenbus_device *dev, const char *fmt, ...)
{
	char why[ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pvk_err("%s: %s", dev->name, why);
	__atomic_store_n(&dev->failed, true, __ATOMIC_RELEASE);
	set_state(dev, XenbusStateClosing);
}

/* ---- connecting -----------------------------------------------------------
 */

static void dev_disconnect(struct xenbus_device *dev)
{
	if (!dev->connected)
		return;
	dev->connected = false;
	dev->be->drv->disconnect(dev);
	pvk_info("%s: disconnected", dev->name);
}

static void dev_connect(struct xenbus_device *dev)
{
	int rc = dev->be->drv->connect(dev);

	if (rc) {
		xenbus_device_fail(dev,
				   "cannot connect: %s (connection "
				   "parameters refused)",
				   strerror(-rc));
		return;
	}
	dev->connected = true;
	set_state(dev, XenbusStateConnected);
}

/* The toolstack's online node: false only when it says 0 (detaching). */
static bool dev_online(struct xenbus_device *dev)
{
	char *v = NULL;
	bool on = true;

	if (xenbus_device_read(dev, "online", &v) == 0)
		on = strcmp(v, "0") != 0;
	free(v);
	return on;
}

/* online=0 and closed: let go of the device (Linux unregisters it); its
 * nodes stay until the toolstack removes them. */
static void dev_release(struct xenbus_device *dev)
{
	if (dev->released)
		return;
	dev->released = true;
	if (dev->probed && dev->be->drv->remove)
		dev->be->drv->remove(dev);
	dev->probed = false;
	dev->priv = NULL;
	pvk_info("%s: released (offline)", dev->name);
}

static void frontend_changed_locked(struct xenbus_device *dev)
{
	const struct xenbus_backend_driver *drv = dev->be->drv;
	struct xs_client *xs = dev->be->xs;
	enum xenbus_state fs, bs;

	if (dev->probe_failed || dev->released)
		return;
	if (xenbus_read_state(xs, XS_TX_NONE, dev->fe_path, &fs))
		fs = XenbusStateUnknown; /* malformed: as gone */
	if (xenbus_read_state(xs, XS_TX_NONE, dev->path, &bs))
		return;
	pvk_debug("%s: frontend %s, backend %s", dev->name,
		  xenbus_state_name(fs), xenbus_state_name(bs));
	if (fs != XenbusStateConnected && dev->stale) {
		pvk_info("%s: the frontend starts over (%s)", dev->name,
			 xenbus_state_name(fs));
		dev->stale = false;
	}
	switch (fs) {
	case XenbusStateInitialising:
		/* The frontend reconnects, or starts over while we are
		 * connected (it tore its rings down): back to InitWait. */
		if (bs == XenbusStateClosed || dev->connected) {
			dev_disconnect(dev);
			__atomic_store_n(&dev->failed, false, __ATOMIC_RELEASE);
			set_state(dev, XenbusStateInitWait);
		}
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (dev->connected || xenbus_device_failed(dev) || dev->stale ||
		    bs == XenbusStateClosing || bs == XenbusStateClosed)
			break;
		dev_connect(dev);
		break;
	case XenbusStateClosing:
		dev_disconnect(dev);
		set_state(dev, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
		dev_disconnect(dev);
		set_state(dev, XenbusStateClosed);
		if (!dev_online(dev))
			dev_release(dev);
		break;
	default:
		break; /* Reconfiguring/Reconfigured: no driver uses them */
	}
	if (!dev->released && drv->frontend_changed)
		drv->frontend_changed(dev, fs);
}

static void frontend_changed(struct xs_client *xs, const char *path,
			     const char *token, void *arg)
{
	struct xenbus_device *dev = arg;
	struct xenbus_backend *be = dev->be;

	(void)xs;
	(void)path;
	(void)token;
	pthread_mutex_lock(&be->lock);
	frontend_changed_locked(dev);
	pthread_mutex_unlock(&be->lock);
}

/* ---- probing and removal --------------------------------------------------
 */

static struct xenbus_device *dev_find(struct xenbus_backend *be,
				      const char *path)
{
	struct xenbus_device *dev;

	for (dev = be->devs; dev; dev = dev->next)
		if (!strcmp(dev->path, path))
			return dev;
	return NULL;
}

/* Unlink, stop watching, disconnect, remove, free. */
static void dev_destroy(struct xenbus_backend *be, struct xenbus_device *dev,
			bool closed)
{
	struct xenbus_device **pp;

	for (pp = &be->devs; *pp; pp = &(*pp)->next)
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	if (dev->watching)
		xs_unwatch(be->xs, dev->fe_path, dev->fe_token);
	dev_disconnect(dev);
	if (closed)
		set_state(dev, XenbusStateClosed);
	if (dev->probed && be->drv->remove)
		be->drv->remove(dev);
	pvk_info("%s: removed", dev->name);
	free(dev->fe_path);
	free(dev);
}

static bool node_exists(struct xs_client *xs, const char *dir, const char *node)
{
	char path[BE_PATH_MAX + 64], *v = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	rc = xs_read(xs, XS_TX_NONE, path, &v, NULL);
	free(v);
	return rc == 0;
}

static int advertise_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct xenbus_device *dev = arg;
	int rc = 0;

	(void)xs;
	if (dev->be->drv->advertise)
		rc = dev->be->drv->advertise(dev, tx);
	if (!rc)
		rc = xenbus_device_printf(dev, tx, "hotplug-status",
					  "connected");
	return rc;
}

/* A probe that failed: say why where the toolstack looks (Xen's hotplug
 * scripts write hotplug-error and hotplug-status), then Closed. */
static void dev_probe_failed(struct xenbus_device *dev, int rc)
{
	if (!dev->error[0])
		snprintf(dev->error, sizeof(dev->error), "%s", strerror(-rc));
	pvk_err("%s: %s", dev->name, dev->error);
	xenbus_device_printf(dev, XS_TX_NONE, "hotplug-error", "%s",
			     dev->error);
	xenbus_device_printf(dev, XS_TX_NONE, "hotplug-status", "error");
	dev->probe_failed = true;
	set_state(dev, XenbusStateClosed);
}

/* A device directory appeared or changed: probe it once its toolstack
 * nodes are all there. */
static void dev_probe(struct xenbus_backend *be, const char *path,
		      uint32_t devid)
{
	const struct xenbus_backend_driver *drv = be->drv;
	const char *const *req;
	struct xenbus_device *dev;
	enum xenbus_state fs;
	char *fe_path = NULL;
	domid_t fe_id = 0;
	int rc;

	rc = xenbus_read_frontend(be->xs, XS_TX_NONE, path, &fe_path, &fe_id);
	if (rc == -ENOENT)
		return; /* not complete yet: wait */
	for (req = drv->required; !rc && req && *req; req++)
		if (!node_exists(be->xs, path, *req))
			goto out; /* not complete yet: wait */
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		goto out;
	dev->be = be;
	snprintf(dev->path, sizeof(dev->path), "%s", path);
	dev->name = dev->path + strlen(be->base) - strlen(drv->type);
	dev->devid = devid;
	dev->fe_id = fe_id;
	dev->fe_path = fe_path;
	fe_path = NULL;
	snprintf(dev->fe_token, sizeof(dev->fe_token), "fe:%s", path);
	dev->next = be->devs;
	be->devs = dev;
	if (rc) {
		/* A frontend path of another form, type, device or domain:
		 * a confused or hostile toolstack.  Kept failed so that our
		 * own writes do not probe it again. */
		xenbus_device_set_error(dev,
					"bad frontend/frontend-id nodes "
					"(%s)",
					strerror(-rc));
		dev_probe_failed(dev, rc);
		goto out;
	}
	dev->probed = true;
	rc = drv->probe(dev);
	if (!rc)
		rc = xs_transaction_run(be->xs, advertise_tx, dev);
	if (rc < 0) {
		dev_probe_failed(dev, rc);
		goto out;
	}
	/* A frontend still Connected talks to a backend that is gone (this
	 * service restarted).  Closed asks it to start over: it says
	 * Initialising, and only then InitWait lets it on.  (InitWait at
	 * once would let a quick frontend go from Initialising to Connected
	 * before we read its state: its new Connected would pass for the
	 * stale one.) */
	if (xenbus_read_state(be->xs, XS_TX_NONE, dev->fe_path, &fs) == 0 &&
	    fs == XenbusStateConnected) {
		dev->stale = true;
		pvk_info("%s: frontend still connected to a previous backend: "
			 "asking it to reconnect",
			 dev->name);
	}
	set_state(dev, dev->stale ? XenbusStateClosed : XenbusStateInitWait);
	rc = xs_watch(be->xs, dev->fe_path, dev->fe_token, frontend_changed,
		      dev);
	if (rc) {
		pvk_err("%s: cannot watch %s: %s", dev->name, dev->fe_path,
			strerror(-rc));
		dev_destroy(be, dev, true);
		goto out;
	}
	dev->watching = true;
out:
	free(fe_path);
}

/* Look at <base>/<fe>/<devid>: probe it, or remove it when gone. */
static void scan_one(struct xenbus_backend *be, const char *fe,
		     const char *devstr)
{
	char path[BE_PATH_MAX];
	uint64_t fe_id, devid;
	struct xenbus_device *dev;
	enum xenbus_state bs;

	if (pvk_parse_u64(fe, 1, DOMID_FIRST_RESERVED - 1, &fe_id) ||
	    pvk_parse_u64(devstr, 0, UINT32_MAX, &devid))
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", be->base, fe,
			     devstr) >= sizeof(path))
		return;
	dev = dev_find(be, path);
	if (!node_exists(be->xs, path, "state")) {
		if (dev)
			dev_destroy(be, dev, false);
		return;
	}
	/* Initialising is the toolstack's alone (a device we hold is past
	 * it): the directory was removed and written again before we saw it
	 * go (a detach and an attach of the same device in quick
	 * succession).  The device we hold is gone; this one is new. */
	if (dev && xenbus_read_state(be->xs, XS_TX_NONE, path, &bs) == 0 &&
	    bs == XenbusStateInitialising) {
		pvk_info("%s: written again by the toolstack: starting over",
			 dev->name);
		dev_destroy(be, dev, false);
		dev = NULL;
	}
	if (!dev)
		dev_probe(be, path, (uint32_t)devid);
}

static void scan_all(struct xenbus_backend *be)
{
	char **fes = NULL, **devs = NULL, path[BE_PATH_MAX];
	unsigned int nf = 0, nd, i, j;
	struct xenbus_device *dev, *next;

	if (xs_directory(be->xs, XS_TX_NONE, be->base, &fes, &nf))
		nf = 0;
	for (i = 0; i < nf; i++) {
		snprintf(path, sizeof(path), "%s/%s", be->base, fes[i]);
		if (xs_directory(be->xs, XS_TX_NONE, path, &devs, &nd))
			continue;
		for (j = 0; j < nd; j++)
			scan_one(be, fes[i], devs[j]);
		free(devs);
	}
	free(fes);
	/* Devices whose directory went away with a whole subtree. */
	for (dev = be->devs; dev; dev = next) {
		next = dev->next;
		if (!node_exists(be->xs, dev->path, "state"))
			dev_destroy(be, dev, false);
	}
}

static void backend_changed(struct xs_client *xs, const char *path,
			    const char *token, void *arg)
{
	struct xenbus_backend *be = arg;
	size_t n = strlen(be->base);
	char fe[16], dev[16];
	int k;

	(void)xs;
	(void)token;
	if (strncmp(path, be->base, n) || (path[n] && path[n] != '/'))
		return;
	pthread_mutex_lock(&be->lock);
	if (!path[n] ||
	    sscanf(path + n, "/%15[0-9]/%15[0-9]%n", fe, dev, &k) != 2)
		scan_all(be);
	else
		scan_one(be, fe, dev);
	pthread_mutex_unlock(&be->lock);
}

/* ---- the backend ----------------------------------------------------------
 */

int xenbus_backend_open(struct pvk_platform *plat, struct xs_client *xs,
			const struct xenbus_backend_driver *drv, void *arg,
			struct xenbus_backend **out)
{
	struct xenbus_backend *be;
	int rc;

	if (!drv || !xenbus_type_valid(drv->type) || !drv->probe ||
	    !drv->connect || !drv->disconnect)
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->plat = plat;
	be->xs = xs;
	be->drv = drv;
	be->arg = arg;
	pthread_mutex_init(&be->lock, NULL);
	snprintf(be->base, sizeof(be->base), "/local/domain/%u/backend/%s",
		 !plat || plat->self == DOMID_SELF ? 0 : plat->self, drv->type);
	snprintf(be->token, sizeof(be->token), "be:%s", drv->type);
	rc = xs_watch(xs, be->base, be->token, backend_changed, be);
	if (rc) {
		pthread_mutex_destroy(&be->lock);
		free(be);
		return rc;
	}
	*out = be;
	return 0;
}

void xenbus_backend_close(struct xenbus_backend *be)
{
	struct xenbus_device *dev;

	if (!be)
		return;
	xs_unwatch(be->xs, be->base, be->token);
	for (;;) {
		/* Unlocked while unwatching: xs_unwatch waits for a running
		 * frontend_changed, which takes the lock. */
		pthread_mutex_lock(&be->lock);
		dev = be->devs;
		if (dev)
			be->devs = dev->next;
		pthread_mutex_unlock(&be->lock);
		if (!dev)
			break;
		if (dev->watching)
			xs_unwatch(be->xs, dev->fe_path, dev->fe_token);
		dev->watching = false;
		dev_destroy(be, dev, true); /* (already unlinked) */
	}
	pthread_mutex_destroy(&be->lock);
	free(be);
}

void xenbus_backend_foreach(struct xenbus_backend *be,
			    void (*fn)(struct xenbus_device *dev, void *arg),
			    void *arg)
{
	struct xenbus_device *dev;

	pthread_mutex_lock(&be->lock);
	for (dev = be->devs; dev; dev = dev->next)
		fn(dev, arg);
	pthread_mutex_unlock(&be->lock);
}
