/*
 * netfront.h - the PV network frontend for guest-native programs: open a
 * vif of this domain by its device id, then send and receive whole
 * Ethernet frames (Xen's netif protocol, <xen/io/netif.h>).  It runs in a
 * DomU: the platform's gntshr and evtchn ops and a xenstore client
 * (usually over the domain's ring).
 *
 * Functions return 0 (or a length) or a negative errno.  A backend that
 * violates the protocol (bogus ring indices, unknown or duplicate
 * response ids, a response chain that never ends) marks the device
 * broken: everything after fails with -EIO; nothing crashes.  A malformed
 * received packet (bad offset or size, bad extra info) is dropped and
 * counted (rx_errors), as Linux's netfront does.
 *
 * Frames are copied (netfront_send, netfront_recv) or written and read
 * in place (netfront_tx_reserve/commit, netfront_set_rx_handler): through
 * pages shared read-only with the backend on transmit (holding nothing
 * but the frame being sent, XSA-403) and writable pages posted on the
 * receive ring.  Multicast control and the control ring's hashing are
 * kept by the device and given again to every backend it connects to.  With several queues, a frame
 * goes on the queue its flow (addresses, ports) hashes to, so one flow
 * stays in order; frames may come in on any queue.
 *
 * A backend that goes away (its state leaves Connected: InitWait from a
 * restarted backend, Closed) is reconnected: the rings are torn down and
 * renegotiated from scratch; frames in flight may be lost (it is
 * Ethernet); send and recv wait meanwhile.  A backend that closes the
 * device (Closing) or whose directory goes breaks it.
 */
#ifndef PVKIT_NETFRONT_H
#define PVKIT_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <xen/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_platform;
struct xs_client;
struct netfront;

#define NETFRONT_MAX_QUEUES 8u
#define NETFRONT_MAX_FRAME 65535u /* netif's 16-bit packet size */
#define NETFRONT_MIN_FRAME 14u	  /* an Ethernet header */
#define NETFRONT_MAX_IOV 64u	  /* fragments of a received frame */

/* Per-frame metadata: on send what the frame asks the backend to do, on
 * receive what the backend said. */
#define NETFRONT_CSUM_BLANK 1u	   /* the L4 checksum is not filled in */
#define NETFRONT_DATA_VALIDATED 2u /* the checksum is known good */
#define NETFRONT_GSO_NONE 0u
#define NETFRONT_GSO_TCPV4 1u /* XEN_NETIF_GSO_TYPE_TCPV4 */
#define NETFRONT_GSO_TCPV6 2u /* XEN_NETIF_GSO_TYPE_TCPV6 */
struct netfront_meta {
	unsigned int flags;    /* NETFRONT_CSUM_BLANK, _DATA_VALIDATED */
	unsigned int gso_type; /* NETFRONT_GSO_* */
	unsigned int gso_size; /* the MSS, 1..65535, with a gso_type */
	unsigned int queue;    /* recv: the queue it came on */
	/* recv: the backend's Toeplitz hash of the frame (netfront_set_hash
	 * asked for it), hash_type one of _XEN_NETIF_CTRL_HASH_TYPE_* */
	bool has_hash;
	unsigned int hash_type;
	uint32_t hash;
};

/* A received frame in place (netfront_opts.rx_handler): its bytes are
 * the iov fragments, in the pages posted to the backend. */
struct netfront_rx_frame {
	const struct iovec *iov;
	unsigned int niov;
	size_t len; /* sum of the fragments, at most NETFRONT_MAX_FRAME */
	struct netfront_meta meta;
};

struct netfront_opts {
	/* Queues wanted; the backend's multi-queue-max-queues caps it.
	 * 0: 1. */
	unsigned int num_queues;
	/* Ask for scatter-gather (feature-sg) when the backend offers it:
	 * frames up to 64 KiB span several slots both ways.  Without it
	 * only frames fitting one page (4096 bytes) are sent or received. */
	bool sg;
	/* Separate tx and rx event channels per queue when the backend
	 * offers feature-split-event-channels. */
	bool split_evtchn;
	/* Receive GSO frames (feature-gso-tcpv4/-tcpv6 written; needs sg). */
	bool gso;
	int timeout_ms; /* for each xenbus step; 0: 10 s */
	/* feature-no-csum-offload: checksums are complete both ways (send
	 * refuses NETFRONT_CSUM_BLANK); QEMU-style operation with sg and gso
	 * off. */
	bool no_csum_offload;
	/* Take partial checksums on IPv4 only: feature-ipv6-csum-offload not
	 * written, so the backend completes IPv6 ones (as for a frontend
	 * older than IPv6 checksum offload). */
	bool no_ipv6_csum_offload;
	/* Ask the backend to filter multicast (request-multicast-control)
	 * when it offers feature-multicast-control: only the groups added
	 * with netfront_mcast_add come through (broadcast always does). */
	bool mcast_filter;
	/* Use the control ring (feature-ctrl-ring) when the backend offers
	 * it: netfront_set_hash. */
	bool ctrl_ring;
};

struct netfront_info {
	uint8_t mac[6];		   /* the toolstack's "mac" */
	unsigned int mtu;	   /* the toolstack's "mtu", default 1500 */
	unsigned int nr_queues;	   /* negotiated */
	bool sg, split_evtchn;	   /* negotiated */
	bool gso_tcpv4, gso_tcpv6; /* the backend takes GSO frames */
	bool rx_gso;		   /* we asked for GSO frames */
	bool csum_offload;	   /* partial checksums allowed both ways */
	bool ipv6_csum_offload;	   /* ... also IPv6 ones towards us */
	bool mcast_control; /* the backend takes multicast-control requests */
	bool mcast_dynamic; /* ... and filtering switched while connected */
	bool mcast_filter;  /* filtering asked for (and offered) */
	bool ctrl_ring;	    /* the control ring is connected */
};

/* Connect vif devid of this domain.  plat and xs stay the caller's and
 * must outlive the device.  opts may be NULL (defaults).  -EOPNOTSUPP
 * when the backend does not offer feature-rx-copy; -EINVAL for a missing
 * or bad "mac" node (unicast, not all zero). */
int netfront_open(struct pvk_platform *plat, struct xs_client *xs,
		  uint32_t devid, const struct netfront_opts *opts,
		  struct netfront **out);
/* Close the device (Closing/Closed handshake) and free it; a send or
 * recv still waiting returns -EIO.  NULL allowed. */
void netfront_close(struct netfront *nf);
const struct netfront_info *netfront_info(const struct netfront *nf);
void netfront_mac(const struct netfront *nf, uint8_t mac[6]);
/* True once the backend violated the protocol or the device failed. */
bool netfront_broken(const struct netfront *nf);

/* Queue one frame of len bytes (NETFRONT_MIN_FRAME..NETFRONT_MAX_FRAME)
 * for transmission; the frame is copied, so it may be reused at once.
 * meta may be NULL.  Waits up to timeout_ms (< 0: forever) for ring
 * space.  0 once queued (the backend reports drops only as counters);
 * -EMSGSIZE: larger than a page without scatter-gather; -EOPNOTSUPP: a
 * GSO type the backend does not take; -EINVAL: bad length or meta;
 * -ETIMEDOUT: no space in time; -EIO: broken or closing. */
int netfront_send(struct netfront *nf, const void *frame, size_t len,
		  const struct netfront_meta *meta, int timeout_ms);
/* Multicast groups this vif wants (at most NETFRONT_MCAST_MAX, the
 * backend's list: Linux's limit).  The list is kept here and given to
 * the backend (XEN_NETIF_EXTRA_TYPE_MCAST_ADD/DEL on queue 0) when it
 * takes multicast-control requests, again after every reconnection; a
 * backend without them delivers every group anyway.  add: 0 (also when
 * already there), -EINVAL (not a multicast address), -ENOSPC; del: 0 or
 * -ENOENT; both -EIO when broken. */
#define NETFRONT_MCAST_MAX 64u
int netfront_mcast_add(struct netfront *nf, const uint8_t mac[6]);
int netfront_mcast_del(struct netfront *nf, const uint8_t mac[6]);
/* Switch filtering on or off while connected (the backend must offer
 * feature-dynamic-multicast-control: -EOPNOTSUPP otherwise, or without
 * feature-multicast-control).  Kept across reconnections.  0 or -errno. */
int netfront_set_mcast_filter(struct netfront *nf, bool on);

/* Receive-side hashing in the backend, over the control ring (netif.h's
 * "Control messages"; opts.ctrl_ring): the Toeplitz hash of the header
 * fields flags name (XEN_NETIF_CTRL_HASH_TYPE_*), with key, reported with
 * each frame (netfront_meta.hash) and, with a mapping, choosing the queue
 * (mapping[hash % mapping_size]).  Kept and set again after every
 * reconnection. */
#define NETFRONT_HASH_KEY_MAX 40u      /* Linux netback's */
#define NETFRONT_HASH_MAPPING_MAX 128u /* Linux netback's */
struct netfront_hash {
	uint32_t flags;
	uint8_t key[NETFRONT_HASH_KEY_MAX];
	unsigned int key_len;
	uint32_t mapping[NETFRONT_HASH_MAPPING_MAX]; /* queue numbers */
	unsigned int mapping_size;		     /* 0: none */
};
/* The hash types the backend can compute (GET_HASH_FLAGS).  0; -EOPNOTSUPP
 * without a control ring; -EIO broken (a backend breaking the control
 * ring's protocol breaks the device); -ETIMEDOUT no answer in the open
 * timeout. */
int netfront_hash_flags(struct netfront *nf, uint32_t *flags);
/* Set hashing up as h says (NULL: off, algorithm NONE).  0; -EINVAL a
 * value the backend refused (a flag it lacks, a key or mapping too long,
 * a queue beyond the connected ones) or h out of bounds; otherwise as
 * netfront_hash_flags. */
int netfront_set_hash(struct netfront *nf, const struct netfront_hash *h);

/* Zero-copy transmit: a frame written straight into the pages shared
 * with the backend.  netfront_tx_reserve takes room for a frame of up to
 * max_len bytes on queue queue (modulo the queues negotiated; frames of
 * one flow belong on one queue) and fills b->iov with where its bytes go,
 * in order (pages, the last one shorter).  Write the frame from the start
 * of b->iov and nothing else (the pages are the backend's to read:
 * whatever is written there may be seen; bytes an earlier frame left
 * after this one are cleared), then netfront_tx_commit it with its length
 * and meta, or netfront_tx_abort (everything reserved is cleared), or
 * netfront_tx_cancel saying how many bytes from the start were written
 * (those are cleared: 0 after a read that found nothing costs nothing).
 * Between the two the caller holds the device (a reconnection waits for
 * it): commit or abort promptly, from any thread.  reserve: 0, -EINVAL,
 * -ETIMEDOUT (no room in time), -EIO (broken or closing).  commit: as
 * netfront_send, and -EAGAIN when the device began reconnecting (the
 * frame is not sent); on any error the reservation is given back. */
#define NETFRONT_TX_MAX_PAGES 16u
struct netfront_txbuf {
	struct iovec iov[NETFRONT_TX_MAX_PAGES];
	unsigned int niov;
	size_t cap; /* max_len */
	/* netfront's own */
	void *q_;
	uint16_t id_[NETFRONT_TX_MAX_PAGES];
};
int netfront_tx_reserve(struct netfront *nf, unsigned int queue, size_t max_len,
			struct netfront_txbuf *b, int timeout_ms);
int netfront_tx_commit(struct netfront *nf, struct netfront_txbuf *b,
		       size_t len, const struct netfront_meta *meta,
		       int timeout_ms);
void netfront_tx_abort(struct netfront *nf, struct netfront_txbuf *b);
void netfront_tx_cancel(struct netfront *nf, struct netfront_txbuf *b,
			size_t written);

/* Take one received frame into buf (cap bytes).  meta (may be NULL) gets
 * its flags, GSO information and queue.  Waits up to timeout_ms (< 0:
 * forever, 0: not at all).  Returns the frame's length, or -EAGAIN (0
 * timeout) / -ETIMEDOUT when none came, -EMSGSIZE when the frame was
 * larger than cap (it is dropped), -EIO when broken or closing. */
int netfront_recv(struct netfront *nf, void *buf, size_t cap,
		  struct netfront_meta *meta, int timeout_ms);
/* Zero-copy receive: from now on each frame received is handed to
 * fn(arg, frame) on its queue's event thread, in place (no copy), and its
 * pages go back to the backend when fn returns; frames already waiting
 * are handed over at once.  netfront_recv then fails (-EINVAL).  fn NULL
 * goes back to netfront_recv; once this returns, fn is not running and
 * will not be called.  The backend can still write the pages while fn
 * runs: parse headers from a copy (the payload is the backend's word
 * anyway).  fn is called under the device's receive lock, one frame at a
 * time; it must not call into this device.  While the device is suspended
 * frames stay in the ring.  0, or -EINVAL. */
int netfront_set_rx_handler(struct netfront *nf,
			    void (*fn)(void *arg,
				       const struct netfront_rx_frame *f),
			    void *arg);
/* A descriptor that is readable while frames may be waiting (poll it,
 * then netfront_recv with timeout 0 until -EAGAIN).  Owned by nf. */
int netfront_rx_fd(const struct netfront *nf);

struct netfront_stats {
	uint64_t tx_frames, tx_bytes, tx_slots, tx_errors; /* errors: the
			    backend answered ERROR or DROPPED */
	uint64_t rx_frames, rx_bytes, rx_slots, rx_errors; /* errors:
			    malformed or error responses, dropped */
	uint64_t rx_too_big; /* frames larger than recv's cap, dropped */
	uint64_t events, spurious_events, throttled;
	uint64_t reconnects;
	uint64_t queue_tx_frames[NETFRONT_MAX_QUEUES];
	uint64_t queue_rx_frames[NETFRONT_MAX_QUEUES];
};
void netfront_get_stats(const struct netfront *nf, struct netfront_stats *st);

/* Suspend (the control driver's suspend, or a save): new sends and
 * receives wait; what is in flight stays in the rings.  0. */
int netfront_suspend(struct netfront *nf);
/* Resume after netfront_suspend.  cancelled (the same domain goes on):
 * in place, nothing renegotiated.  Not cancelled (a restored domain):
 * the backend is looked up again (its path or domain may have changed)
 * and everything is negotiated from scratch; frames in flight are lost.
 * Then the waiting calls go on.  0, or -errno (the device is broken). */
int netfront_resume(struct netfront *nf, bool cancelled);

/* netfront as a frontend driver for the xenbus bus
 * (include/pvkit/xenbus_frontend.h): type "vif"; probe opens the device
 * as Linux's netfront does (SG, GSO, split event channels, a queue per
 * CPU up to 4; $PVKIT_NETFRONT_QUEUES 1-8 overrides the count,
 * $PVKIT_NETFRONT_OFFLOAD=0 turns SG, GSO and checksum offload off)
 * (priv is its struct netfront *), remove closes it, suspend and
 * resume as above. */
struct xenbus_frontend_driver;
extern const struct xenbus_frontend_driver netfront_driver;

#ifdef __cplusplus
}
#endif

#endif
