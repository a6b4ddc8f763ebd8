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

#include "common/spin.h"
#include "netif/netif.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus_backend.h"
#include "pvkit/xenbus_ring.h"
#include "pvkit/xs.h"

#define NB_MAX_QUEUES 8u
#define NB_DEFAULT_QUEUES 4u
#define NB_MAX_PKT 65535u /* netif's 16-bit size */
#define NB_MAX_MTU 65521u /* a TAP's: 65535 with the Ethernet header */

/* Busy-poll budget (src/common/spin.h): off by default.  Measured
 * (docs/benchmarks.md, networking): 50 us helped one queue per vif and
 * hurt four (four watchers on two CPUs), so it is opt-in. */
#define NB_DEFAULT_POLL_US 0u
#define NB_MAX_POLL_US 1000u
/* RX in place when packets average this much: below, pinning a window of
 * pages for each few small packets costs more than copying them. */
#define NB_DEFAULT_INPLACE_MIN 8192u

struct nb_config {
	unsigned int max_queues; /* multi-queue-max-queues */
	unsigned int poll_us;	 /* busy-poll budget; 0: never */
	/* Features offered (all by default; fewer to act as an older
	 * backend: --no-sg, --no-gso, --no-split-event-channels,
	 * --no-multicast, --no-ctrl-ring, --legacy for all of them). */
	bool sg, gso, split, mcast, ctrl;
	/* The toolstack runs each vif's hotplug script itself (libxl does,
	 * run_hotplug_scripts=1, its default): --no-scripts.  A vif with a
	 * script is then joined to its bridge by that script, not by us. */
	bool no_scripts;
	/* Copy through our buffers even where the platform pins the
	 * guest's pages for the TAP to read and write in place (--copy,
	 * $PVKIT_NET_COPY=1: for comparison). */
	bool copy;
	/* RX in place only while the vif's packets average this many bytes
	 * or more (--in-place-min; 0: always). */
	unsigned int inplace_min;
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
	uint64_t tx_inplace; /* written from the guest's pinned pages */
	uint64_t rx_inplace; /* read into the guest's pinned pages */
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
	uint64_t rx_drop_stall; /* queued while the guest posted nothing */
	uint64_t rx_drop_mcast; /* multicast it did not subscribe to */
	uint64_t rx_steered;	/* handed to the queue the hash names */
	uint64_t rx_steer_full; /* ... whose inbox was full: kept here */
	uint64_t tx_mcast;	/* multicast-control requests */
	uint64_t tx_throttled;	/* times the rate limit held TX back */
	uint64_t rx_stalls;	/* times the guest stopped taking packets */
	struct xenbus_spurious events;
	struct pvk_spin_stats poll; /* the queue thread's polling */
};

static inline void nb_stat_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static inline uint64_t nb_stat_get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* The multicast addresses the guest subscribed to (MCAST_ADD/DEL), one
 * list per vif shared by its queues. */
#define NB_MCAST_MAX 64u /* Linux's XEN_NETBK_MCAST_MAX */
struct nb_mcast {
	pthread_mutex_t lock;
	uint8_t addr[NB_MCAST_MAX][6];
	unsigned int n;
	/* request-multicast-control now (atomic: the frontend may change it
	 * while connected, feature-dynamic-multicast-control) */
	bool filter;
};
/* Add or remove one address: 0, -ENOSPC (full), -EINVAL (not
 * multicast). */
int nb_mcast_update(struct nb_mcast *m, const uint8_t addr[6], bool add);
/* Whether a frame to dst goes to a guest that filters multicast. */
bool nb_mcast_wanted(struct nb_mcast *m, const uint8_t dst[6]);

/* The hash the guest configured on the control ring, read by the queues
 * for every packet they hand it. */
struct nb_hash {
	pthread_mutex_t lock;
	struct netif_hash h;
};

/* RX steering (Linux's xenvif_select_queue): with the guest's hash on,
 * a packet goes to the queue its hash names (the mapping, or the hash
 * modulo the queues), whichever TAP queue the kernel put it on.  The
 * queues of a connection, for handing packets over; nq is 0 while they
 * are being started or stopped (no hand-off then). */
struct nb_steer {
	struct nb_queue *q[NB_MAX_QUEUES];
	unsigned int nq; /* atomic */
};

/* What the frontend asked for and the queues share. */
struct nb_vif_params {
	struct pvk_platform *plat;
	struct xenbus_device *dev;
	domid_t fe;
	bool sg;	 /* feature-sg: multi-slot packets towards it */
	bool gso4, gso6; /* it takes GSO packets (RX) */
	bool rx_csum4;	 /* it takes csum_blank IPv4 packets (RX) */
	bool rx_csum6;	 /* ... IPv6 (feature-ipv6-csum-offload) */
	bool rx_poll;	 /* no feature-rx-notify: look for RX requests */
	struct nb_hash *hash; /* NULL: no control ring */
	struct nb_steer *steer; /* the connection's queues */
	unsigned int poll_us; /* the queues' busy-poll budget */
	bool copy;	      /* nb_config's */
	unsigned int inplace_min; /* nb_config's */
	/* request-multicast-control: RX multicast filtered through mc (its
	 * filter says whether, now) */
	bool mcast_filter;
	struct nb_mcast *mc;
	/* rate=: credit_bytes per credit_us of guest TX (0: unlimited) */
	uint64_t credit_bytes, credit_us;
};

/* Guest TX rate limiting as Linux netback does it: a credit of
 * credit_bytes refilled every credit_us, bursts up to 128 KiB. */
#define NB_RATE_MIN_BURST 131072u
/* A guest that posts no RX requests: packets queued meanwhile are dropped
 * after 10 s, and the carrier goes off after 60 s (Linux's
 * rx_drain_timeout and rx_stall_timeout, XSA-392). */
#define NB_RX_DRAIN_NS 10000000000ull
#define NB_RX_STALL_NS 60000000000ull

struct nb_queue;

/* Start queue qid on an open TAP queue fd (the queue owns it from now on,
 * also on failure), the rings' grant refs and the event channel(s). */
int nb_queue_start(const struct nb_vif_params *vp, unsigned int qid, int tapfd,
		   grant_ref_t tx_ref, grant_ref_t rx_ref,
		   evtchn_port_t tx_port, evtchn_port_t rx_port,
		   struct nb_queue_stats *stats, struct nb_queue **out);
void nb_queue_stop(struct nb_queue *q);
/* Stop q's thread only (nb_queue_stop frees it): a connection's queues
 * are all halted before any is freed, as they hand packets to each
 * other. */
void nb_queue_halt(struct nb_queue *q);

/* The vif's control ring (ctrl.c): its own thread serving the hash
 * requests into *hash for a vif of nq queues. */
struct nb_ctrl;
int nb_ctrl_start(const struct nb_vif_params *vp, struct nb_hash *hash,
		  unsigned int nq, grant_ref_t ref, evtchn_port_t port,
		  struct nb_ctrl **out);
void nb_ctrl_stop(struct nb_ctrl *c);

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

/* Run a vif's hotplug script (hotplug.c): 0, or -errno with the
 * device's hotplug-error set. */
int nb_hotplug_run(struct xenbus_device *dev, const char *script,
		   const char *ifname, const char *action);

int nb_xenbus_start(struct nb *nb);
void nb_xenbus_stop(struct nb *nb);
void nb_xenbus_log_stats(struct nb *nb);

#endif
