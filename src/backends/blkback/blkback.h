/*
 * blkback.h - pvkit-blkback internals: a backend service (bk) holds vbd
 * devices found under /local/domain/<self>/backend/vbd; each connected
 * device has one ring per queue, each ring its own thread, event channel,
 * storage instance (io_uring) and persistent-grant table.
 */
#ifndef PVKIT_BLKBACK_H
#define PVKIT_BLKBACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xenbus.h>

#include "blkif/blkif.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"
#include "storage.h"

#define BK_PATH_MAX 256
#define BK_MAX_QUEUES 16u
#define BK_DEFAULT_INDIRECT_SEGS 256u
#define BK_DEFAULT_PERSISTENT 1056u /* grants per ring, as Linux */
#define BK_DEFAULT_POLL_US 50u /* busy-poll budget (src/common/spin.h) */
#define BK_MAX_POLL_US 1000u

struct bk_config {
	unsigned int max_indirect_segs; /* 0: no BLKIF_OP_INDIRECT */
	bool persistent;                /* offer feature-persistent */
	unsigned int max_persistent;    /* mapped grants kept per ring */
	unsigned int max_ring_order;    /* max-ring-page-order */
	unsigned int max_queues;        /* multi-queue-max-queues */
	unsigned int poll_us;           /* busy-poll budget; 0: never */
};

struct bk {
	struct pvk_platform *plat;
	struct xs_client *xs;
	struct bk_config cfg;
	char base[64]; /* /local/domain/<self>/backend/vbd */
	pthread_mutex_t lock;
	struct vbd *vbds;
};

struct vbd;
struct bk_ring;

/* What the device serves, shared by its rings. */
struct vbd_disk {
	const struct bk_storage_ops *ops;
	char *params;
	struct blkif_limits lim;
	bool persistent;   /* negotiated */
	domid_t fe;
	struct vbd *vbd;   /* for failing the device */
	const struct bk_config *cfg;
	struct pvk_platform *plat;
};

/* ---- ring.c: one queue --------------------------------------------------- */
/* Map the ring (refs[nr_pages]), bind the event channel and start the ring
 * thread.  *out is owned by the caller (bk_ring_stop). */
int bk_ring_start(const struct vbd_disk *d, enum blkif_abi abi,
		  const grant_ref_t *refs, unsigned int nr_pages,
		  evtchn_port_t port, unsigned int qid, struct bk_ring **out);
/* Stop the thread, wait for I/O in flight, unmap everything, free. */
void bk_ring_stop(struct bk_ring *r);

/* ---- xenbus.c: the device side of xenbus --------------------------------- */
int bk_xenbus_start(struct bk *bk);
void bk_xenbus_stop(struct bk *bk);
/* A ring found the frontend misbehaving: log why and move the device to
 * Closing (from any thread). */
void bk_vbd_fail(struct vbd *v, const char *why);

#endif
