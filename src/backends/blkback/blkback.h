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
#include "common/spin.h"
#include "common/vbd_stats.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"
#include "pvkit/xenbus_backend.h"
#include "pvkit/xenbus_ring.h"
#include "storage.h"

#define BK_PATH_MAX 256
#define BK_MAX_QUEUES 16u
#define BK_DEFAULT_INDIRECT_SEGS 256u
#define BK_DEFAULT_PERSISTENT 1056u /* grants per ring, as Linux */
#define BK_DEFAULT_POLL_US 50u /* busy-poll budget (src/common/spin.h) */
#define BK_MAX_POLL_US 1000u
#define BK_CLAIM_WAIT_MS 10000u /* default storage claim wait */

struct bk_config {
	unsigned int max_indirect_segs; /* 0: no BLKIF_OP_INDIRECT */
	bool persistent;                /* offer feature-persistent */
	unsigned int max_persistent;    /* mapped grants kept per ring */
	unsigned int max_ring_order;    /* max-ring-page-order */
	unsigned int max_queues;        /* multi-queue-max-queues */
	unsigned int poll_us;           /* busy-poll budget; 0: never */
	unsigned int claim_wait_ms;     /* storage claim (bk_storage_ops) */
	const char *stats_dir; /* counters published here, or NULL */
};

struct bk {
	struct pvk_platform *plat;
	struct xs_client *xs;
	struct bk_config cfg;
	struct xenbus_backend *be; /* the vbd devices (xenbus.c) */
};

struct vbd;
struct bk_ring;

/* One queue's counters for one connection, kept in the device (struct
 * vbd) so they outlive the ring.  Only that queue's ring thread writes
 * them (bk_stat_inc/bk_stat_max: single-writer updates, no lock, no
 * atomic read-modify-write); any thread may read them (bk_stat_get). */
struct bk_ring_stats {
	/* first: what `pvkit top` reads (common/vbd_stats.h) */
	struct pvk_vbd_qstats x;
	uint64_t reqs;          /* requests taken from the ring */
	uint64_t indirect;      /* of which BLKIF_OP_INDIRECT */
	uint64_t pers_segs;     /* segments found or put in the persistent
				   table (hits = pers_segs - pers_maps) */
	uint64_t pers_maps;     /* grants newly mapped into it */
	uint64_t peak_inflight; /* most requests taken, not yet answered */
	uint64_t flush;         /* FLUSH_DISKCACHE and WRITE_BARRIER */
	uint64_t discard;
	uint64_t errors;        /* answered with a status other than OKAY */
	/* Events that brought no request, and how often a run of them held
	 * the ring thread back (xenbus_ring.h). */
	struct xenbus_spurious events;
	struct pvk_spin_stats poll; /* the ring thread's polling */
};

static inline void bk_stat_inc(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

static inline void bk_stat_max(uint64_t *c, uint64_t v)
{
	if (v > *c)
		__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static inline uint64_t bk_stat_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

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
 * thread, which counts into *stats (the caller's, kept alive until
 * bk_ring_stop returns).  *out is owned by the caller (bk_ring_stop). */
int bk_ring_start(const struct vbd_disk *d, enum blkif_abi abi,
		  const grant_ref_t *refs, unsigned int nr_pages,
		  evtchn_port_t port, unsigned int qid,
		  struct bk_ring_stats *stats, struct bk_ring **out);
/* Stop the thread, wait for I/O in flight, unmap everything, free. */
void bk_ring_stop(struct bk_ring *r);
/* Log the ring's indices and slots (name: the device's) at info level. */
void bk_ring_log_state(const struct bk_ring *r, const char *name);

/* ---- xenbus.c: the device side of xenbus --------------------------------- */
int bk_xenbus_start(struct bk *bk);
void bk_xenbus_stop(struct bk *bk);
/* Log one counters line per device (its current or last connection's):
 *   vbd/<fe>/<devid> stats: queues=N reqs=q0:A,q1:B indirect=N
 *   persistent-hits=N persistent-maps=N peak-inflight=q0:A,q1:B flush=N
 *   discard=N errors=N spurious-events=N throttled=N polls=N
 *   poll-hits=N poll-preempted=N poll-backed-off=N
 *   state=connected|disconnected
 * Callable from any thread but the xenstore dispatch thread. */
void bk_xenbus_log_stats(struct bk *bk);
/* A ring found the frontend misbehaving: log why and move the device to
 * Closing (from any thread). */
void bk_vbd_fail(struct vbd *v, const char *why);

#endif
