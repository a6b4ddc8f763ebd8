/*
 * xenbus_frontend.h - the frontend side of xenbus for every device type.
 *
 * Two layers:
 *
 * 1. One device's handshake (struct xenbus_fe), what every frontend
 *    driver does around its own negotiation: find the device's backend
 *    (validated: same type, domain and id), close properly what an earlier
 *    program left open, say Initialising and wait for InitWait (a backend
 *    that is still Connected then is connected to somebody else's rings and
 *    is never taken), the Closing/Closed handshake, and the reconnection
 *    step after the backend went away or the domain was restored.
 *
 * 2. A bus (struct xenbus_bus): enumeration and hot-plug of
 *    device/<type>/<id> for a table of drivers, and suspend/resume of
 *    every device (Linux's xenbus frontend bus).  Devices are probed and
 *    removed on the bus's own thread, never on the xenstore dispatch
 *    thread, so a driver may wait on xenstore in probe and remove.
 *
 * Functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef PVKIT_XENBUS_FRONTEND_H
#define PVKIT_XENBUS_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xenbus.h>
#include <xen/xen.h>

#include "pvkit/xs.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_platform;

/* ---- one device's handshake ------------------------------------------- */

#define XENBUS_FE_PATH_MAX 128

struct xenbus_fe {
	struct xs_client *xs;
	char
	    path[XENBUS_FE_PATH_MAX]; /* /local/domain/<self>/device/<t>/<id> */
	char *be_path;		      /* its backend directory */
	domid_t be_id;
	uint32_t devid;
	int timeout_ms; /* each handshake step */
	/* Set (atomically) by the driver when the device is being closed:
	 * waits that could last forever give up with -ECANCELED. */
	bool cancel;
};

/* Find device <type>/<devid> of this domain and its backend.  The domain
 * id is plat->self, or the relative node "domid" where the platform only
 * knows DOMID_SELF (a Linux DomU).  timeout_ms <= 0: 10 s. */
int xenbus_fe_init(struct xenbus_fe *fe, const struct pvk_platform *plat,
		   struct xs_client *xs, const char *type, uint32_t devid,
		   int timeout_ms);
/* Free what init allocated (not the struct). */
void xenbus_fe_release(struct xenbus_fe *fe);
/* Read the backend nodes again (a restored domain's backend may live
 * elsewhere).  *changed (may be NULL): whether path or domain differ. */
int xenbus_fe_reread_backend(struct xenbus_fe *fe, bool *changed);
/* Open: close properly what an earlier program left (Closing, Closed,
 * each time waiting for the backend), or wait out a backend still on its
 * way to Closed; then Initialising, and wait for InitWait. */
int xenbus_fe_begin(struct xenbus_fe *fe);
/* Closing, then Closed, each time waiting for the backend to follow.
 * -ETIMEDOUT (logged) when it did not: it may still hold our rings. */
int xenbus_fe_close(struct xenbus_fe *fe);
/* Reconnection: say Initialising (the backend drops a connection it still
 * has) and wait, without a time limit but until cancel, for InitWait.
 * -ENODEV when the backend closes (Closing) or removes the device;
 * -ECANCELED on cancel. */
int xenbus_fe_restart(struct xenbus_fe *fe);
/* Wait for the backend's state to be in want (XENBUS_STATE_BITs);
 * timeout_ms < 0: forever, until cancel (-ECANCELED). */
int xenbus_fe_wait(struct xenbus_fe *fe, uint32_t want, int timeout_ms,
		   enum xenbus_state *got);
int xenbus_fe_switch(struct xenbus_fe *fe, enum xenbus_state s);
/* Read a whole number in [min, max] from the backend directory; a
 * missing node gives def. */
int xenbus_fe_be_u64(struct xenbus_fe *fe, const char *node, uint64_t min,
		     uint64_t max, uint64_t def, uint64_t *out);

/* End foreign access to count pages at addr shared through shr (a
 * frontend's rings and payload pages), retrying while the backend still
 * maps them (it may, a moment after it left Connected; a dead backend's
 * mappings go with its process) until deadline (pvk_now_ns-style
 * CLOCK_MONOTONIC ns).  Returns 0, or count when they stay mapped: they
 * are left shared and must never be reused.  addr NULL: 0. */
struct pvk_gntshr;
unsigned int xenbus_fe_unshare(const struct pvk_platform *plat,
			       struct pvk_gntshr *shr, void *addr,
			       unsigned int count, uint64_t deadline);

/* ---- following a connected backend ------------------------------------ */

/* What a connected frontend does when its backend leaves Connected
 * (Linux's otherend_changed): a watch on the backend's state and a thread
 * that calls the driver, one call at a time, never on the xenstore
 * dispatch thread:
 *   lost(arg)     the backend left Connected otherwise (InitWait from a
 *                 restarted backend, Closed from a stopped one): the
 *                 driver reconnects (xenbus_fe_restart, then negotiates
 *                 again), returning once connected or given up;
 *   gone(arg, st) the backend closes the device (Closing) or its
 *                 directory went (Unknown): the driver breaks the device
 *                 (Linux's blkfront_closing); no call follows.
 * After each call the state is read again: a backend that left meanwhile
 * is followed again, one found Connected is left alone. */
struct xenbus_fe_monitor;
struct xenbus_fe_monitor_ops {
	void (*lost)(void *arg);
	void (*gone)(void *arg, enum xenbus_state st);
};
/* Start following fe's backend (fe and ops stay the caller's). */
int xenbus_fe_monitor_start(struct xenbus_fe *fe,
			    const struct xenbus_fe_monitor_ops *ops, void *arg,
			    struct xenbus_fe_monitor **out);
/* No new calls: unwatch, let a call in progress return (set fe->cancel
 * first when it may wait for ever) and free.  NULL allowed. */
void xenbus_fe_monitor_stop(struct xenbus_fe_monitor *m);
/* Call lost() even if the backend says Connected (a restored domain
 * whose backend holds nothing of its rings). */
void xenbus_fe_monitor_kick(struct xenbus_fe_monitor *m);
/* Whether a call is due or running. */
bool xenbus_fe_monitor_busy(struct xenbus_fe_monitor *m);
/* Whether the backend changed state since lost() began or the driver
 * last said it saw it Connected (xenbus_fe_monitor_connected): inside
 * lost(), a sign to start over. */
bool xenbus_fe_monitor_pending(struct xenbus_fe_monitor *m);
/* The driver saw the backend Connected (inside lost()): what changed
 * before is stale. */
void xenbus_fe_monitor_connected(struct xenbus_fe_monitor *m);

/* ---- the bus ------------------------------------------------------------ */

struct xenbus_bus;
struct xenbus_fdev;

struct xenbus_frontend_driver {
	const char *type; /* "vbd", "vif", ... */
	/* Connect device id ("51712") of this type; *priv is the driver's
	 * handle.  A negative errno leaves the device unconnected (logged);
	 * it is tried again when its nodes change. */
	int (*probe)(struct xenbus_bus *bus, const char *id, void **priv);
	/* Close it (the toolstack removes it, or the bus closes). */
	void (*remove)(void *priv);
	/* Quiesce for a suspend: stop taking new work, wait a bounded time
	 * for what is in flight, keep what is left to finish or replay.
	 * Optional. */
	int (*suspend)(void *priv);
	/* After the suspend: cancelled (the same domain goes on: continue
	 * in place) or not (a restored domain: reconnect, possibly to
	 * another backend, and replay what was kept before new work).
	 * Optional. */
	int (*resume)(void *priv, bool cancelled);
};

/* What the bus's owner hears about (optional; arg as given to open). */
struct xenbus_bus_hooks {
	/* A device connected (after probe); runs on the bus thread. */
	void (*added)(struct xenbus_bus *bus, const char *type, const char *id,
		      void *priv, void *arg);
	/* A device is about to be removed (before remove). */
	void (*removing)(struct xenbus_bus *bus, const char *type,
			 const char *id, void *priv, void *arg);
};

#define XENBUS_BUS_NO_HOTPLUG (1u << 0) /* probe once at open, no watch */

/* Probe every device/<type>/<id> of the drivers' types (on the calling
 * thread), then follow hot-plug: devices that appear (frontend state
 * Initialising) are probed, devices whose directory goes or whose
 * backend says online=0 are removed.  plat and xs stay the caller's. */
int xenbus_bus_open(struct pvk_platform *plat, struct xs_client *xs,
		    const struct xenbus_frontend_driver *const *drivers,
		    unsigned int ndrivers, const struct xenbus_bus_hooks *hooks,
		    void *arg, unsigned int flags, struct xenbus_bus **out);
/* Remove every device (newest first) and free the bus.  NULL allowed. */
void xenbus_bus_close(struct xenbus_bus *bus);
struct pvk_platform *xenbus_bus_platform(const struct xenbus_bus *bus);
struct xs_client *xenbus_bus_xs(const struct xenbus_bus *bus);
/* Suspend every device (hot-plug paused); returns the first error, but
 * suspends them all.  Then resume them all (hot-plug goes on). */
int xenbus_bus_suspend(struct xenbus_bus *bus);
int xenbus_bus_resume(struct xenbus_bus *bus, bool cancelled);
/* Number of connected devices. */
unsigned int xenbus_bus_count(struct xenbus_bus *bus);

#ifdef __cplusplus
}
#endif

#endif
