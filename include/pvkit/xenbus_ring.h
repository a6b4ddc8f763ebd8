/*
 * xenbus_ring.h - the ring nodes every split driver publishes and reads,
 * one implementation for all device types:
 *
 *   ring-page-order = N          (frontend's top level; multi-page rings)
 *   ring-ref        = R          (one page)   or   ring-ref0..ring-ref<2^N-1>
 *   event-channel   = P          or (split)  event-channel-tx / -rx
 *   multi-queue-num-queues = Q   (Q > 1: each queue's nodes in queue-<q>/)
 *
 * and the bounded throttling of events that bring no work (XSA-391's
 * lesson: a peer must not make us spin by notifying in a loop).
 *
 * Everything read from a peer is range-checked; functions return 0 or a
 * negative errno (-ENOENT for a missing node, -EINVAL/-ERANGE for a bad
 * one).
 */
#ifndef PVKIT_XENBUS_RING_H
#define PVKIT_XENBUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/xen.h>

#include "pvkit/xs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XENBUS_MAX_RING_ORDER 4u /* 16 pages, as Linux's blkback/netback */
#define XENBUS_MAX_QUEUES 64u

/* ---- reading (backend side) ------------------------------------------- */

/* The queue count the frontend asked for: multi-queue-num-queues in fe,
 * 1 when missing; -ERANGE outside 1..max. */
int xenbus_read_num_queues(struct xs_client *xs, const char *fe,
			   unsigned int max, unsigned int *nq);
/* The directory holding queue q's nodes: fe itself for a single queue,
 * "<fe>/queue-<q>" otherwise.  -ENAMETOOLONG when buf is too small. */
int xenbus_queue_dir(char *buf, size_t size, const char *fe, unsigned int nq,
		     unsigned int q);
/* A ring: ring-page-order from fe (at most max_order; missing: 0 and a
 * single "ring-ref"), the refs from qdir.  refs needs 1 << max_order
 * entries; *nr_pages gets the count. */
int xenbus_read_ring(struct xs_client *xs, const char *fe, const char *qdir,
		     unsigned int max_order, grant_ref_t *refs,
		     unsigned int *nr_pages);
/* An event channel node (port >= 1) in dir. */
int xenbus_read_evtchn(struct xs_client *xs, const char *dir, const char *node,
		       evtchn_port_t *port);
/* One or split event channels in dir: event-channel-tx and -rx when both
 * exist (*split true), else event-channel for both. */
int xenbus_read_evtchns(struct xs_client *xs, const char *dir,
			evtchn_port_t *tx, evtchn_port_t *rx, bool *split);

/* ---- writing (frontend side) ------------------------------------------ */

/* ring-ref (order 0) or ring-ref0..N in qdir. */
int xenbus_write_ring(struct xs_client *xs, xs_tx_t tx, const char *qdir,
		      const grant_ref_t *refs, unsigned int order);
int xenbus_write_evtchn(struct xs_client *xs, xs_tx_t tx, const char *dir,
			const char *node, evtchn_port_t port);
/* Remove what an earlier connection published in fe: ring-ref*,
 * ring-page-order, event-channel*, multi-queue-num-queues, queue-*. */
int xenbus_remove_rings(struct xs_client *xs, xs_tx_t tx, const char *fe);

/* ---- spurious events -------------------------------------------------- */

#define XENBUS_SPURIOUS_LIMIT 64u     /* events in a row without work */
#define XENBUS_THROTTLE_NS 1000000ull /* then hold the port masked 1 ms */

struct xenbus_spurious {
	unsigned int run;  /* events in a row that brought nothing */
	uint64_t spurious; /* counters, for stats */
	uint64_t throttled;
};
/* Account one event: work says whether it brought any.  Returns how long
 * (ns) to keep the port masked before unmasking it: 0, or
 * XENBUS_THROTTLE_NS once XENBUS_SPURIOUS_LIMIT events in a row brought
 * nothing (the lateeoi idea: a flood costs us one wake-up per ms). */
uint64_t xenbus_spurious_account(struct xenbus_spurious *s, bool work);
/* Account, and sleep the returned time if any. */
void xenbus_spurious_throttle(struct xenbus_spurious *s, bool work);

#ifdef __cplusplus
}
#endif

#endif
