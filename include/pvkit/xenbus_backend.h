/*
 * xenbus_backend.h - the backend side of xenbus for every device type: a
 * driver table on a shared framework (Linux's struct xenbus_driver, QEMU's
 * XenDeviceClass).
 *
 * The framework watches /local/domain/<self>/backend/<type>, waits until a
 * device's toolstack nodes are complete (frontend, frontend-id, state and
 * the driver's own list), validates the frontend path (same type, domain
 * and device id, never another domain's), probes the device, writes
 * hotplug-status, advertises the driver's features in one transaction,
 * says InitWait and follows the frontend's state with Xen's rules:
 *
 *   frontend Initialising   -> disconnect if connected, InitWait again
 *   frontend Initialised or
 *            Connected      -> connect(), then Connected (once)
 *   frontend Closing        -> disconnect, Closing
 *   frontend Closed/Unknown -> disconnect, Closed; with online=0 the
 *                              device is released (remove()) until the
 *                              toolstack deletes its directory
 *
 * A frontend may skip states, go back to Initialising at any time, or
 * delete its nodes mid-connect; a frontend found Connected when the
 * device is probed (this service restarted) talks to rings that are gone,
 * so the backend says Closed and waits until the frontend starts over
 * (Initialising), then InitWait.  A device whose
 * driver fails (probe, connect, or xenbus_device_fail from any thread)
 * goes to Closing (or Closed with hotplug-error when probe failed) with
 * the reason logged; the process and every other device carry on.
 *
 * Every driver callback runs on the xenstore client's dispatch thread with
 * the backend's lock held, so device state changes are serialised.
 * Functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef PVKIT_XENBUS_BACKEND_H
#define PVKIT_XENBUS_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xenbus.h>
#include <xen/xen.h>

#include "pvkit/xs.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_platform;
struct xenbus_backend;
struct xenbus_device;

struct xenbus_backend_driver {
	const char *type; /* "vbd", "vif", ... */
	/* Toolstack nodes below the backend directory that must exist
	 * before probe (NULL-terminated; may be NULL). */
	const char *const *required;
	/* The device is complete: take its resources (xenbus_device_set_priv).
	 * A negative errno fails it: hotplug-error "<why>: <strerror>"
	 * (or the message given to xenbus_device_set_error), hotplug-status
	 * error, state Closed; it is kept failed until its directory goes. */
	int (*probe)(struct xenbus_device *dev);
	/* Write the advertised nodes (features, sizes) inside tx, before
	 * InitWait.  May run several times (transaction retries).  Optional. */
	int (*advertise)(struct xenbus_device *dev, xs_tx_t tx);
	/* The frontend published its rings (Initialised or Connected): read
	 * them and start serving.  0 moves the backend to Connected; a
	 * negative errno fails the device to Closing. */
	int (*connect)(struct xenbus_device *dev);
	/* Stop serving: unmap, unbind, join threads.  Called only after a
	 * successful connect(), once per connection. */
	void (*disconnect)(struct xenbus_device *dev);
	/* Optional: after the framework handled a frontend state change. */
	void (*frontend_changed)(struct xenbus_device *dev,
				 enum xenbus_state fs);
	/* The device goes (directory removed, online=0 and closed, or the
	 * service stops), after disconnect: release what probe took.  Also
	 * called for a device whose probe failed. */
	void (*remove)(struct xenbus_device *dev);
};

/* Start serving drv's devices of this domain (plat->self, 0 when unknown)
 * through xs.  plat and xs stay the caller's and must outlive the backend;
 * arg is handed back by xenbus_backend_arg().  *out is the caller's
 * (xenbus_backend_close). */
int xenbus_backend_open(struct pvk_platform *plat, struct xs_client *xs,
			const struct xenbus_backend_driver *drv, void *arg,
			struct xenbus_backend **out);
/* Stop watching, disconnect every device, say Closed and remove them;
 * not from a watch callback.  NULL is allowed. */
void xenbus_backend_close(struct xenbus_backend *be);
void *xenbus_backend_arg(const struct xenbus_backend *be);
/* "/local/domain/<self>/backend/<type>" */
const char *xenbus_backend_base(const struct xenbus_backend *be);
/* Run fn for every device, with the backend's lock held (so the devices
 * are at rest); not from a watch callback. */
void xenbus_backend_foreach(struct xenbus_backend *be,
			    void (*fn)(struct xenbus_device *dev, void *arg),
			    void *arg);

/* ---- a device --------------------------------------------------------- */

const struct xenbus_backend_driver *
xenbus_device_driver(const struct xenbus_device *dev);
struct xenbus_backend *xenbus_device_backend(const struct xenbus_device *dev);
struct xs_client *xenbus_device_xs(const struct xenbus_device *dev);
struct pvk_platform *xenbus_device_platform(const struct xenbus_device *dev);
void *xenbus_device_priv(const struct xenbus_device *dev);
void xenbus_device_set_priv(struct xenbus_device *dev, void *priv);
/* The backend directory, e.g. /local/domain/0/backend/vbd/3/51712. */
const char *xenbus_device_path(const struct xenbus_device *dev);
/* "vbd/3/51712": the path below /local/domain/<self>/backend, for logs. */
const char *xenbus_device_name(const struct xenbus_device *dev);
const char *xenbus_device_frontend_path(const struct xenbus_device *dev);
domid_t xenbus_device_frontend_id(const struct xenbus_device *dev);
uint32_t xenbus_device_devid(const struct xenbus_device *dev);
bool xenbus_device_connected(const struct xenbus_device *dev);

/* Read a node of the backend directory (*val malloc()ed). */
int xenbus_device_read(struct xenbus_device *dev, const char *node, char **val);
/* Write a node of the backend directory (tx may be XS_TX_NONE). */
int xenbus_device_printf(struct xenbus_device *dev, xs_tx_t tx,
			 const char *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Read a whole number in [min, max] from the frontend directory (dir NULL)
 * or from dir (e.g. "<fe>/queue-1").  -ENOENT when missing; other errors
 * are logged (debug) and returned. */
int xenbus_device_fe_u64(struct xenbus_device *dev, const char *dir,
			 const char *node, uint64_t min, uint64_t max,
			 uint64_t *out);
/* From probe: the hotplug-error text to write if probe fails. */
void xenbus_device_set_error(struct xenbus_device *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The peer misbehaved or the device cannot go on: log why and move the
 * device to Closing.  Any thread; the device is disconnected when the
 * frontend follows (or when it is removed). */
void xenbus_device_fail(struct xenbus_device *dev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool xenbus_device_failed(const struct xenbus_device *dev);

#ifdef __cplusplus
}
#endif

#endif
