/*
 * netback.h - pvkit-netback internals: a backend service (nb) holds vif
 * devices found under /local/domain/<self>/backend/vif; each has a TAP
 * interface (vif<domid>.<devid>) opened with a virtio-net header, and each
 * connected vif one queue per netif queue: its TX and RX rings, event
 * channel(s), TAP queue and thread.  All data moves by batched grant copy.
 */
#ifndef PVKIT_NETBACK_H
#define PVKIT_NETBACK_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>

#include "netif/netif.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus_backend.h"
#include "pvkit/xenbus_ring.h"
#include "pvkit/xs.h"

#define NB_MAX_QUEUES 8u
#define NB_DEFAULT_QUEUES 4u
#define NB_MAX_PKT 65535u /* netif's 16-bit size */

struct nb_config {
	unsigned int max_queues; /* multi-queue-max-queues */
};

struct nb {
	struct pvk_platform *plat;
	struct xs_client *xs;
	struct nb_config cfg;
	struct xenbus_backend *be; /* the vif devices (xenbus.c) */
};

/* One queue's counters for one connection, in the device so they outlive
 * the queue.  Written by the queue's thread only; read by anyone. */
struct nb_queue_stats {
	uint64_t tx_packets, tx_bytes; /* guest -> TAP */
	uint64_t tx_gso, tx_csum;      /* GSO packets, csum_blank packets */
	uint64_t rx_packets, rx_bytes; /* TAP -> guest */
	uint64_t rx_gso, rx_csum;
	/* drops by reason */
	uint64_t tx_drop[NETIF_TX_DROP_MAX];
	uint64_t tx_drop_copy; /* a grant copy failed (bad gref) */
	uint64_t tx_drop_tap;  /* the TAP refused the frame */
	uint64_t tx_drop_csum; /* csum_blank on a packet we cannot parse */
	uint64_t rx_drop_big;  /* larger than the frontend can take */
	uint64_t rx_drop_copy; /* a grant copy into the guest failed */
	uint64_t rx_drop_csum; /* a partial checksum we cannot finish */
	struct xenbus_spurious events;
};

static inline void nb_stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static inline uint64_t nb_stat_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* What the frontend asked for and the queues share. */
struct nb_vif_params {
	struct pvk_platform *plat;
	struct xenbus_device *dev;
	domid_t fe;
	bool sg;	 /* feature-sg: multi-slot packets towards it */
	bool gso4, gso6; /* it takes GSO packets (RX) */
	bool rx_csum4;	 /* it takes csum_blank IPv4 packets (RX) */
	bool rx_csum6;	 /* ... IPv6 (feature-ipv6-csum-offload) */
};

struct nb_queue;

/* Start queue qid on an open TAP queue fd (the queue owns it from now on,
 * also on failure), the rings' grant refs and the event channel(s). */
int nb_queue_start(const struct nb_vif_params *vp, unsigned int qid, int tapfd,
		   grant_ref_t tx_ref, grant_ref_t rx_ref,
		   evtchn_port_t tx_port, evtchn_port_t rx_port,
		   struct nb_queue_stats *stats, struct nb_queue **out);
void nb_queue_stop(struct nb_queue *q);

/* TAP interfaces (tap.c). */
struct nb_tap {
	char name[IFNAMSIZ];
	int fd; /* queue 0 */
};
/* Create (or attach to) a multi-queue TAP named name with a virtio-net
 * header, its MAC fe:ff:ff:ff:ff:ff, MTU mtu, up; join bridge (may be
 * NULL or empty). */
int nb_tap_open(struct nb_tap *t, const char *name, unsigned int mtu,
		const char *bridge);
/* Another queue's fd of the same interface. */
int nb_tap_queue(const struct nb_tap *t, int *fd);
/* What the kernel may hand us: TUN_F_* (TUNSETOFFLOAD). */
int nb_tap_offload(const struct nb_tap *t, unsigned int flags);
void nb_tap_close(struct nb_tap *t);

int nb_xenbus_start(struct nb *nb);
void nb_xenbus_stop(struct nb *nb);
void nb_xenbus_log_stats(struct nb *nb);

#endif
