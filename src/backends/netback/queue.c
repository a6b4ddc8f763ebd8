/*
 * queue.c - one netif queue of a vif: its TX ring (what the guest sends:
 * grant-copied out, written to the TAP with a virtio-net header) and its
 * RX ring (what the TAP hands us: grant-copied into the pages the guest
 * posted, answered in each request's slot), on one thread.
 *
 * Both directions batch: up to NB_BATCH packets per grant-copy call.  A
 * packet the guest sends that breaks the protocol disables the vif
 * (xenbus_device_fail, Linux's fatal_tx_err); one we cannot deliver is
 * dropped and counted by reason.  The thread reads the TAP only when the
 * guest has posted enough RX requests for the largest packet it may get
 * (XSA-392: nothing is queued here; the kernel's TAP queue is bounded and
 * drops), otherwise it asks for an event when there are.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netback.h"

#define NB_BATCH 32u
#define NB_BUF_SIZE (17u * NETIF_PAGE_SIZE) /* >= NB_MAX_PKT, page multiple */
/* TX: each fragment (<= a page) lands across at most two of our pages. */
#define NB_TX_COPS (NB_BATCH * NETIF_TX_MAX_SLOTS * 2u)
#define NB_RX_COPS (NB_BATCH * 17u)
#define NB_RX_WIN 64u	/* RX in place: requests pinned at most at once */
#define NB_RX_HEAD 256u /* ... and bytes parsed from a copy */

struct txp {
	struct netif_tx_pkt pkt;
	unsigned int cop, ncop; /* its copy ops */
};

struct rxslot {
	RING_IDX idx;
	uint16_t id, size;
};

struct rxp {
	struct virtio_net_hdr vh;
	uint32_t len;
	bool handed;	     /* came from another queue (steered) */
	unsigned int target; /* the queue its hash names */
	uint16_t flags; /* NETRXF_* of the first response */
	/* extra infos (GSO, HASH), answered in the slots after the first */
	struct netif_extra_info extra[2];
	RING_IDX extra_idx[2];
	unsigned int nextra;
	struct rxslot slot[17]; /* the data slots */
	unsigned int nslot;
	unsigned int cop, ncop;
};

/* A packet another queue read for us (RX steering): its header and bytes
 * in one allocation. */
struct steered {
	struct virtio_net_hdr vh;
	uint32_t len;
	uint8_t data[];
};
#define NB_INBOX 64u /* packets handed over and waiting */

struct nb_queue {
	struct nb_vif_params vp;
	/* packets handed to us by the other queues (inbox_lock); inbox_fd
	 * is readable while some wait */
	pthread_mutex_t inbox_lock;
	struct steered *inbox[NB_INBOX];
	unsigned int inbox_head, inbox_n;
	bool inbox_sig; /* inbox_fd written since emptied */
	int inbox_fd;
	unsigned int qid;
	char name[48]; /* "vif/<fe>/<devid> q<n>" for logs */
	int tapfd, stopfd;
	struct pvk_gnttab *gt;
	struct pvk_evtchn *ev;
	evtchn_port_t tx_port, rx_port; /* equal unless split */
	void *tx_sring, *rx_sring;
	struct netif_tx_back tx;
	struct netif_rx_back rx;
	struct nb_queue_stats *st;
	uint8_t *txbuf, *rxbuf; /* NB_BATCH buffers of NB_BUF_SIZE each */
	struct txp txp[NB_BATCH];
	struct rxp rxp[NB_BATCH];
	struct gnttab_copy *cops;
	/* TX in place (tx_pinned): the batch's slots and their bytes */
	bool tx_pin;
	struct pvk_gnt_seg tx_seg[NB_BATCH * NETIF_TX_MAX_SLOTS];
	struct iovec tx_iov[NB_BATCH * NETIF_TX_MAX_SLOTS];
	/* RX in place (rx_pinned): a window of requests and their pages,
	 * and how many to pin next time */
	bool rx_pin;
	unsigned int rx_win;
	uint32_t rx_avg; /* packet length, a moving average (in place when
			  * large: pinning a window for small ones costs more
			  * than their copies) */
	struct netif_rx_request rx_req[NB_RX_WIN];
	struct pvk_gnt_seg rx_seg[NB_RX_WIN];
	struct iovec rx_iov[NB_RX_WIN];
	unsigned int rx_worst; /* RX slots the largest packet needs */
	/* rate limiting: credit left in the window ending window_end; TX
	 * held back until tx_hold (0: not held) */
	uint64_t remaining, window_end, tx_hold;
	/* since when the guest leaves TAP packets waiting for RX slots (0:
	 * not stalled); the carrier we turned off */
	uint64_t stall_since;
	bool carrier_off;
	struct pvk_spin spin; /* the polling policy (common/spin.h) */
	bool failed, thr_started, stopping;
	pthread_t thr;
};

/* The guest broke the protocol on ring dir ("TX"/"RX"): disable the vif
 * (Linux's fatal_tx_err); this thread serves nothing more. */
static void q_fail(struct nb_queue *q, const char *dir, const char *why)
{
	q->failed = true;
	xenbus_device_fail(q->vp.dev, "q%u: %s: %s", q->qid, dir, why);
}

/* A copy op between the guest's gref and our memory at p. */
static void cop_set(struct gnttab_copy *c, bool to_guest, domid_t fe,
		    grant_ref_t ref, uint16_t goff, uint8_t *p, uint16_t len)
{
	uintptr_t a = (uintptr_t)p;
	struct gnttab_copy_ptr *g = to_guest ? &c->dest : &c->source;
	struct gnttab_copy_ptr *l = to_guest ? &c->source : &c->dest;

	memset(c, 0, sizeof(*c));
	g->u.ref = ref;
	g->domid = fe;
	g->offset = goff;
	l->u.gmfn = a >> 12;
	l->domid = DOMID_SELF;
	l->offset = (uint16_t)(a & (NETIF_PAGE_SIZE - 1));
	c->len = len;
	c->flags = to_guest ? GNTCOPY_dest_gref : GNTCOPY_source_gref;
}

static int run_copies(struct nb_queue *q, unsigned int n)
{
	int rc;

	if (!n)
		return 0;
	rc = q->vp.plat->gnttab->copy(q->gt, q->cops, n);
	if (rc)
		pvk_warn("%s: grant copy: %s", q->name, strerror(-rc));
	return rc;
}

static bool cops_ok(const struct nb_queue *q, unsigned int first,
		    unsigned int n, int rc)
{
	unsigned int i;

	if (rc)
		return false;
	for (i = first; i < first + n; i++)
		if (q->cops[i].status != GNTST_okay)
			return false;
	return true;
}

/* ---- TX: guest -> TAP -----------------------------------------------------
 */

/* The virtio-net header for a guest's packet, whose first have bytes are
 * copied to buf (its headers are parsed there and its pseudo-header sum
 * written there).  False: offload asked for on a packet whose headers we
 * cannot parse in those bytes. */
static bool tx_vnet(struct nb_queue *q, const struct netif_tx_pkt *p,
		    uint8_t *buf, uint32_t have, struct virtio_net_hdr *vh)
{
	const struct netif_extra_info *gso =
	    p->has_extra & (1u << XEN_NETIF_EXTRA_TYPE_GSO)
		? &p->extra[XEN_NETIF_EXTRA_TYPE_GSO - 1]
		: NULL;
	struct netif_l4 l4;

	memset(vh, 0, sizeof(*vh));
	if (!(p->req[0].flags & NETTXF_csum_blank) && !gso) {
		if (p->req[0].flags & NETTXF_data_validated)
			vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
		return true;
	}
	if (netif_parse_l4(buf, have, &l4))
		return false;
	/* A GSO packet is partially checksummed whatever its flags say
	 * (as Linux netback does); without csum_blank its field holds no
	 * pseudo-header sum yet. */
	if (!(p->req[0].flags & NETTXF_csum_blank))
		netif_csum_pseudo(buf, p->len, &l4);
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = l4.csum_start;
	vh->csum_offset = l4.csum_offset;
	if (gso) {
		if (l4.proto != 6 ||
		    l4.ipv6 != (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6))
			return false;
		vh->gso_type = l4.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6
				       : VIRTIO_NET_HDR_GSO_TCPV4;
		vh->gso_size = gso->u.gso.size;
		vh->hdr_len = l4.hdr_len;
		nb_stat_add(&q->st->tx_gso, 1);
	}
	if (p->req[0].flags & NETTXF_csum_blank)
		nb_stat_add(&q->st->tx_csum, 1);
	return true;
}

/* Write packet t to the TAP: its first have bytes from buf (our copy),
 * the rest from rest[] (nrest entries; NULL when have is all of it). */
static void tx_write(struct nb_queue *q, struct txp *t, uint8_t *buf,
		     uint32_t have, const struct iovec *rest,
		     unsigned int nrest)
{
	struct netif_tx_pkt *p = &t->pkt;
	struct virtio_net_hdr vh;
	struct iovec iov[2 + NETIF_TX_MAX_SLOTS];
	int16_t status = NETIF_RSP_OKAY;

	if (!tx_vnet(q, p, buf, have, &vh)) {
		nb_stat_add(&q->st->tx_drop_csum, 1);
		status = NETIF_RSP_ERROR;
	} else {
		iov[0].iov_base = &vh;
		iov[0].iov_len = sizeof(vh);
		iov[1].iov_base = buf;
		iov[1].iov_len = have;
		if (nrest)
			memcpy(iov + 2, rest, nrest * sizeof(*rest));
		if (writev(q->tapfd, iov, (int)(2 + nrest)) !=
		    (ssize_t)(sizeof(vh) + p->len))
			nb_stat_add(&q->st->tx_drop_tap, 1);
		else {
			nb_stat_add(&q->st->tx_packets, 1);
			nb_stat_add(&q->st->tx_bytes, p->len);
		}
	}
	netif_tx_respond(&q->tx, p, status);
}

static void tx_deliver(struct nb_queue *q, struct txp *t, uint8_t *buf, int rc)
{
	if (!cops_ok(q, t->cop, t->ncop, rc)) {
		nb_stat_add(&q->st->tx_drop_copy, 1);
		netif_tx_respond(&q->tx, &t->pkt, NETIF_RSP_ERROR);
		return;
	}
	tx_write(q, t, buf, t->pkt.len, NULL, 0);
}

/* Copy ops for packet t into buf (page-aligned): each fragment split at
 * our page boundaries. */
static unsigned int tx_plan(struct nb_queue *q, struct txp *t, uint8_t *buf,
			    unsigned int cop)
{
	const struct netif_tx_pkt *p = &t->pkt;
	uint32_t pos = 0;
	unsigned int i;

	t->cop = cop;
	for (i = 0; i < p->nreq; i++) {
		uint32_t left = p->frag[i], goff = p->req[i].offset;

		while (left) {
			uint32_t room =
			    NETIF_PAGE_SIZE - (pos % NETIF_PAGE_SIZE);
			uint32_t n = left < room ? left : room;

			cop_set(&q->cops[cop++], false, q->vp.fe,
				p->req[i].gref, (uint16_t)goff, buf + pos,
				(uint16_t)n);
			pos += n;
			goff += n;
			left -= n;
		}
	}
	t->ncop = cop - t->cop;
	return cop;
}

/* A multicast-control request: the list changes whether or not the
 * guest asked for filtering (as Linux); answered OKAY, or ERROR when the
 * list is full or the address is no multicast one. */
static void tx_mcast(struct nb_queue *q, const struct netif_tx_pkt *p)
{
	const struct netif_extra_info *x;
	int rc = 0;

	if (p->has_extra & (1u << XEN_NETIF_EXTRA_TYPE_MCAST_ADD)) {
		x = &p->extra[XEN_NETIF_EXTRA_TYPE_MCAST_ADD - 1];
		rc = nb_mcast_update(q->vp.mc, x->u.mcast.addr, true);
	}
	if (!rc && (p->has_extra & (1u << XEN_NETIF_EXTRA_TYPE_MCAST_DEL))) {
		x = &p->extra[XEN_NETIF_EXTRA_TYPE_MCAST_DEL - 1];
		rc = nb_mcast_update(q->vp.mc, x->u.mcast.addr, false);
	}
	nb_stat_add(&q->st->tx_mcast, 1);
	netif_tx_respond(&q->tx, p, rc ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
}

/* Whether the rate limit lets the next packet go (Linux's
 * tx_credit_exceeded): a new window refills the credit, bursting up to
 * 128 KiB (or the packet, if larger).  When not, TX is held until the
 * window ends. */
static bool tx_credit(struct nb_queue *q)
{
	uint64_t now, burst;
	uint16_t size;

	if (!q->vp.credit_bytes || !netif_tx_peek_size(&q->tx, &size) ||
	    size <= q->remaining)
		return true;
	now = pvk_now_ns();
	if (now >= q->window_end) {
		burst = q->vp.credit_bytes > NB_RATE_MIN_BURST
			    ? q->vp.credit_bytes
			    : NB_RATE_MIN_BURST;
		if (size > burst)
			burst = size;
		q->remaining += q->vp.credit_bytes;
		if (q->remaining > burst)
			q->remaining = burst;
		q->window_end = now + q->vp.credit_us * 1000;
		if (size <= q->remaining)
			return true;
	}
	q->tx_hold = q->window_end;
	nb_stat_add(&q->st->tx_throttled, 1);
	return false;
}

/*
 * TX in place, where the platform lets us pin the guest's pages
 * (pinned(): emulated Dom0): the TAP reads each packet from them, saving
 * the copy.  Its first NB_TX_HEAD bytes are copied here first and written
 * from the copy: what we parse (and the kernel takes as headers) is read
 * once, whatever the guest writes meanwhile (XSA-155); the payload the
 * guest may change under the kernel's one copy is its own affair.
 */
#define NB_TX_HEAD 256u

/* Gather want bytes of iov[0..n) into dst; rest[] the bytes after them
 * (empty ones left out).  Returns the number of rest entries. */
static unsigned int iov_split(uint8_t *dst, const struct iovec *iov,
			      unsigned int n, uint32_t want,
			      struct iovec *rest)
{
	unsigned int i, nrest = 0;

	for (i = 0; i < n; i++) {
		size_t len = iov[i].iov_len, k = want < len ? want : len;

		memcpy(dst, iov[i].iov_base, k);
		dst += k;
		want -= (uint32_t)k;
		if (k < len) {
			rest[nrest].iov_base = (uint8_t *)iov[i].iov_base + k;
			rest[nrest++].iov_len = len - k;
		}
	}
	return nrest;
}

static void tx_pinned_one(struct nb_queue *q, struct txp *t, uint8_t *buf,
			  const struct iovec *iov)
{
	const struct netif_tx_pkt *p = &t->pkt;
	struct iovec rest[NETIF_TX_MAX_SLOTS];
	uint32_t have = p->len < NB_TX_HEAD ? p->len : NB_TX_HEAD;
	unsigned int i, nrest;
	struct netif_l4 l4;

	for (i = 0; i < t->ncop; i++)
		if (q->tx_seg[t->cop + i].status != GNTST_okay) {
			nb_stat_add(&q->st->tx_drop_copy, 1);
			netif_tx_respond(&q->tx, p, NETIF_RSP_ERROR);
			return;
		}
	nrest = iov_split(buf, iov, t->ncop, have, rest);
	/* headers longer than that (IPv6 options): all of it copied */
	if (have < p->len &&
	    (p->req[0].flags & NETTXF_csum_blank ||
	     p->has_extra & (1u << XEN_NETIF_EXTRA_TYPE_GSO)) &&
	    netif_parse_l4(buf, have, &l4) == -EINVAL) {
		have = p->len;
		nrest = iov_split(buf, iov, t->ncop, have, rest);
	}
	nb_stat_add(&q->st->tx_inplace, 1);
	tx_write(q, t, buf, have, rest, nrest);
}

static int tx_pinned_batch(void *arg, struct iovec *iov, uint32_t count)
{
	struct nb_queue *q = arg;
	unsigned int i;

	(void)count;
	for (i = 0; i < NB_BATCH && q->txp[i].ncop; i++)
		tx_pinned_one(q, &q->txp[i], q->txbuf + (size_t)i * NB_BUF_SIZE,
			      iov + q->txp[i].cop);
	return 0;
}

/* The batch's n packets in place; false: the platform cannot (copy). */
static bool tx_pinned(struct nb_queue *q, unsigned int n)
{
	unsigned int i, j, nseg = 0;
	int rc;

	for (i = 0; i < n; i++) {
		struct txp *t = &q->txp[i];

		t->cop = nseg;
		for (j = 0; j < t->pkt.nreq; j++) {
			struct pvk_gnt_seg *sg = &q->tx_seg[nseg++];

			sg->ref = t->pkt.req[j].gref;
			sg->offset = t->pkt.req[j].offset;
			sg->len = t->pkt.frag[j];
		}
		t->ncop = nseg - t->cop;
	}
	if (n < NB_BATCH)
		q->txp[n].ncop = 0; /* where tx_pinned_batch stops */
	rc = q->vp.plat->gnttab->pinned(q->gt, q->vp.fe, q->tx_seg, q->tx_iov,
					nseg, false, tx_pinned_batch, q);
	if (rc == -EOPNOTSUPP) {
		pvk_info("%s: TX copied (the guest's pages cannot be pinned "
			 "here)",
			 q->name);
		q->tx_pin = false;
		return false;
	}
	return true;
}

/* One batch of packets from the TX ring; true if it took any. */
static bool tx_batch(struct nb_queue *q)
{
	unsigned int n = 0, cop = 0, i;
	const char *why = NULL;
	bool took = false;
	int rc;

	while (n < NB_BATCH && tx_credit(q)) {
		struct txp *t = &q->txp[n];

		rc = netif_tx_take(&q->tx, &t->pkt, &why);
		if (rc < 0) {
			q_fail(q, "TX", why);
			break;
		}
		if (!rc)
			break;
		took = true;
		if (t->pkt.mcast) {
			tx_mcast(q, &t->pkt);
			continue;
		}
		if (q->vp.credit_bytes)
			q->remaining -= t->pkt.len < q->remaining
					    ? t->pkt.len
					    : q->remaining;
		if (t->pkt.drop) {
			nb_stat_add(&q->st->tx_drop[t->pkt.drop], 1);
			netif_tx_respond(&q->tx, &t->pkt, NETIF_RSP_ERROR);
			continue;
		}
		n++;
	}
	if (n && (!q->tx_pin || !tx_pinned(q, n))) {
		for (i = 0; i < n; i++)
			cop = tx_plan(q, &q->txp[i],
				      q->txbuf + (size_t)i * NB_BUF_SIZE, cop);
		rc = run_copies(q, cop);
		for (i = 0; i < n; i++)
			tx_deliver(q, &q->txp[i],
				   q->txbuf + (size_t)i * NB_BUF_SIZE, rc);
	}
	if (netif_tx_back_push(&q->tx))
		q->vp.plat->evtchn->notify(q->ev, q->tx_port);
	return took;
}

/* ---- RX: TAP -> guest -----------------------------------------------------
 */

/* A new extra info for r, chained after the ones it has. */
static struct netif_extra_info *rx_extra(struct rxp *r, uint8_t type)
{
	struct netif_extra_info *x = &r->extra[r->nextra];

	if (r->nextra)
		r->extra[r->nextra - 1].flags |= XEN_NETIF_EXTRA_FLAG_MORE;
	memset(x, 0, sizeof(*x));
	x->type = type;
	r->nextra++;
	r->flags |= NETRXF_extra_info;
	return x;
}

/* The packet's hash as the guest asked for it on the control ring. */
static bool rx_hash(struct nb_queue *q, struct rxp *r, const uint8_t *buf,
		    uint32_t have)
{
	struct netif_extra_info *x;
	uint32_t v;
	unsigned int nq = __atomic_load_n(&q->vp.steer->nq, __ATOMIC_ACQUIRE);
	uint8_t type;
	bool ok;

	r->target = q->qid;
	if (!q->vp.hash)
		return true;
	pthread_mutex_lock(&q->vp.hash->lock);
	ok = netif_hash_frame(&q->vp.hash->h, buf, have, &v, &type);
	if (ok && nq)
		r->target = netif_hash_queue(&q->vp.hash->h, v, nq);
	pthread_mutex_unlock(&q->vp.hash->lock);
	if (!ok)
		return true;
	x = rx_extra(r, XEN_NETIF_EXTRA_TYPE_HASH);
	x->u.hash.type = type;
	x->u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	x->u.hash.value[0] = (uint8_t)v; /* little endian, as netif.h says */
	x->u.hash.value[1] = (uint8_t)(v >> 8);
	x->u.hash.value[2] = (uint8_t)(v >> 16);
	x->u.hash.value[3] = (uint8_t)(v >> 24);
	return true;
}

/* Flags and extra info for a packet from the TAP whose first have bytes
 * are at buf: 1, or 0 to drop it, or -EAGAIN when its checksum is to be
 * finished here and have is not all of it. */
static int rx_classify(struct nb_queue *q, struct rxp *r, uint8_t *buf,
		       uint32_t have)
{
	const struct virtio_net_hdr *vh = &r->vh;
	unsigned int gso = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	struct netif_extra_info *x;

	r->flags = 0;
	r->nextra = 0;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		struct netif_l4 l4;
		/* one parse: the header the guest will find, its family */
		bool ok = !netif_parse_l4(buf, have, &l4) &&
			  l4.csum_start == vh->csum_start &&
			  l4.csum_offset == vh->csum_offset &&
			  (l4.ipv6 ? q->vp.rx_csum6 : q->vp.rx_csum4);

		if (ok) {
			/* netif has no csum_start: the guest finds the
			 * header it can parse */
			r->flags |= NETRXF_csum_blank | NETRXF_data_validated;
			nb_stat_add(&q->st->rx_csum, 1);
		} else if (have < r->len) {
			return -EAGAIN; /* parsed again with all of it */
		} else if (gso == VIRTIO_NET_HDR_GSO_NONE &&
			   !netif_csum_finish(buf, r->len, vh->csum_start,
					      vh->csum_offset)) {
			r->flags |= NETRXF_data_validated;
		} else {
			nb_stat_add(&q->st->rx_drop_csum, 1);
			return 0;
		}
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		r->flags |= NETRXF_data_validated;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return rx_hash(q, r, buf, have);
	if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && !q->vp.gso4) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !q->vp.gso6) ||
	    (gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
	     gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
	    !vh->gso_size || !(r->flags & NETRXF_csum_blank)) {
		nb_stat_add(&q->st->rx_drop_csum, 1);
		return 0;
	}
	x = rx_extra(r, XEN_NETIF_EXTRA_TYPE_GSO);
	x->u.gso.size = vh->gso_size;
	x->u.gso.type = gso == VIRTIO_NET_HDR_GSO_TCPV4
			    ? XEN_NETIF_GSO_TYPE_TCPV4
			    : XEN_NETIF_GSO_TYPE_TCPV6;
	nb_stat_add(&q->st->rx_gso, 1);
	return rx_hash(q, r, buf, have);
}

/* Take the RX requests for r and plan its copies from buf. */
static unsigned int rx_plan(struct nb_queue *q, struct rxp *r, uint8_t *buf,
			    unsigned int cop)
{
	uint32_t pos = 0, left = r->len;
	unsigned int i = 0, k;
	struct netif_rx_request req;
	RING_IDX idx;

	r->cop = cop;
	r->nslot = 0;
	do {
		uint16_t n =
		    (uint16_t)(left < NETIF_PAGE_SIZE ? left : NETIF_PAGE_SIZE);

		netif_rx_take(&q->rx, &req, &idx);
		r->slot[i].idx = idx;
		r->slot[i].id = req.id;
		r->slot[i].size = n;
		if (n)
			cop_set(&q->cops[cop++], true, q->vp.fe, req.gref, 0,
				buf + pos, n);
		pos += n;
		left -= n;
		i++;
		if (i == 1) /* the extra infos' slots, after the first */
			for (k = 0; k < r->nextra; k++)
				netif_rx_take(&q->rx, &req, &r->extra_idx[k]);
	} while (left);
	r->nslot = i;
	r->ncop = cop - r->cop;
	return cop;
}

static void rx_answer(struct nb_queue *q, struct rxp *r, int rc)
{
	unsigned int i;

	if (!cops_ok(q, r->cop, r->ncop, rc)) {
		nb_stat_add(&q->st->rx_drop_copy, 1);
		for (i = 0; i < r->nslot; i++)
			netif_rx_respond(&q->rx, r->slot[i].idx, r->slot[i].id,
					 0, 0, NETIF_RSP_ERROR);
		for (i = 0; i < r->nextra; i++) /* their requests too */
			netif_rx_respond(&q->rx, r->extra_idx[i], 0, 0, 0,
					 NETIF_RSP_ERROR);
		return;
	}
	for (i = 0; i < r->nslot; i++) {
		uint16_t f = i ? 0 : r->flags;

		if (i + 1 < r->nslot)
			f |= NETRXF_more_data;
		netif_rx_respond(&q->rx, r->slot[i].idx, r->slot[i].id, 0, f,
				 (int16_t)r->slot[i].size);
	}
	for (i = 0; i < r->nextra; i++)
		netif_rx_respond_extra(&q->rx, r->extra_idx[i], &r->extra[i]);
	nb_stat_add(&q->st->rx_packets, 1);
	nb_stat_add(&q->st->rx_bytes, r->len);
	q->rx_avg = q->rx_avg - (q->rx_avg >> 3) + (r->len >> 3);
}

/* Hand r (its bytes in buf) to queue t's inbox: false when it is full
 * (or gone), and r stays ours. */
static bool rx_hand_over(struct nb_queue *q, unsigned int t,
			 const struct rxp *r, const uint8_t *buf)
{
	struct nb_steer *st = q->vp.steer;
	struct nb_queue *to;
	struct steered *p;
	uint64_t one = 1;
	bool ok = false, wake = false;

	if (t >= __atomic_load_n(&st->nq, __ATOMIC_ACQUIRE))
		return false;
	to = st->q[t];
	p = malloc(sizeof(*p) + r->len);
	if (!p)
		return false;
	p->vh = r->vh;
	p->len = r->len;
	memcpy(p->data, buf, r->len);
	pthread_mutex_lock(&to->inbox_lock);
	if (to->inbox_n < NB_INBOX) {
		to->inbox[(to->inbox_head + to->inbox_n++) % NB_INBOX] = p;
		ok = true;
		wake = !to->inbox_sig;
		to->inbox_sig = true;
	}
	pthread_mutex_unlock(&to->inbox_lock);
	if (!ok) {
		free(p);
		return false;
	}
	if (wake && write(to->inbox_fd, &one, sizeof(one)) < 0)
		pvk_warn("%s: cannot wake queue %u", q->name, t);
	return true;
}

/* The next packet for the guest: one handed over first, else the TAP's.
 * Its length (with the header), or -1 when there is none. */
static ssize_t rx_read(struct nb_queue *q, struct rxp *r, uint8_t *buf)
{
	struct iovec iov[2] = {{&r->vh, sizeof(r->vh)}, {buf, NB_BUF_SIZE}};
	struct steered *p = NULL;
	uint64_t junk;
	ssize_t n;

	pthread_mutex_lock(&q->inbox_lock);
	if (q->inbox_n) {
		p = q->inbox[q->inbox_head];
		q->inbox_head = (q->inbox_head + 1) % NB_INBOX;
		q->inbox_n--;
	} else if (q->inbox_sig) {
		q->inbox_sig = false;
		if (read(q->inbox_fd, &junk, sizeof(junk)) < 0 &&
		    errno != EAGAIN)
			pvk_warn("%s: inbox: %s", q->name, strerror(errno));
	}
	pthread_mutex_unlock(&q->inbox_lock);
	r->handed = p != NULL;
	if (p) {
		r->vh = p->vh;
		memcpy(buf, p->data, p->len);
		n = (ssize_t)(sizeof(r->vh) + p->len);
		free(p);
		return n;
	}
	return readv(q->tapfd, iov, 2);
}

/*
 * RX in place, where the platform lets us pin the guest's pages and the
 * vif has no control ring (no hashing, so no steering: a packet stays on
 * the queue that read it): the TAP writes each packet straight into the
 * pages the guest posted, saving the copy.  A window of the next requests
 * is copied out of the ring once and their pages pinned writable; each
 * packet is read into the window's next requests laid out as the ring
 * will answer them: the first page, the GSO extra's slot skipped when the
 * guest takes GSO, then the pages after.  A packet of several pages that
 * has no extra after all (not GSO) is moved up a slot.  What we parse is
 * copied first.  A packet dropped leaves its bytes in a page the guest
 * posted and gets back with another packet (its own traffic).
 */
struct rx_win {
	struct nb_queue *q;
	unsigned int n, next; /* requests in the window; the first unused */
	unsigned int gap;     /* slots after the first left for extras */
	unsigned int npkt;    /* packets read, in q->rxp[] */
	bool empty, stop;     /* the TAP was empty; a request not pinned */
};

/* Copy r's bytes, laid out from window slot k, to buf (back: from buf). */
static void rx_gather(const struct rx_win *w, const struct iovec *pg,
		      unsigned int k, const struct rxp *r, uint8_t *buf,
		      bool back)
{
	uint32_t off = 0, n;
	unsigned int i;

	for (i = 0; off < r->len; i++, off += n) {
		uint8_t *p = pg[i ? k + w->gap + i : k].iov_base;

		n = r->len - off < NETIF_PAGE_SIZE ? r->len - off
						   : NETIF_PAGE_SIZE;
		if (back)
			memcpy(p, buf + off, n);
		else
			memcpy(buf + off, p, n);
	}
}

/* Take r's requests from window slot k: its first, its extras', then
 * the pages its data went to (moved up to follow the extras). */
static void rx_take_window(struct rx_win *w, const struct iovec *pg,
			   unsigned int k, struct rxp *r)
{
	struct nb_queue *q = w->q;
	unsigned int nd = netif_rx_slots(r->len, 0), i;

	for (i = 1; i < nd && r->nextra < w->gap; i++)
		memmove(pg[k + r->nextra + i].iov_base,
			pg[k + w->gap + i].iov_base,
			i + 1 < nd ? NETIF_PAGE_SIZE
				   : r->len - i * NETIF_PAGE_SIZE);
	for (i = 0; i < nd; i++) {
		unsigned int slot = i ? k + r->nextra + i : k;

		netif_rx_consume(&q->rx, &r->slot[i].idx);
		r->slot[i].id = q->rx_req[slot].id;
		r->slot[i].size =
		    (uint16_t)(i + 1 < nd ? NETIF_PAGE_SIZE
					  : r->len - i * NETIF_PAGE_SIZE);
		if (i == 0) {
			unsigned int x;

			for (x = 0; x < r->nextra; x++)
				netif_rx_consume(&q->rx, &r->extra_idx[x]);
		}
	}
	r->nslot = nd;
	r->cop = r->ncop = 0;
	w->next += nd + r->nextra;
}

static int rx_pinned_read(void *arg, struct iovec *pg, uint32_t count)
{
	struct rx_win *w = arg;
	struct nb_queue *q = w->q;
	unsigned int data = q->rx_worst - w->gap, i, ni;
	/* the header, the data pages, what does not fit (dropped) */
	struct iovec iov[3 + NB_MAX_PKT / NETIF_PAGE_SIZE];
	uint8_t *head = q->rxbuf;
	uint8_t *over = q->rxbuf + NB_BUF_SIZE;
	ssize_t got;
	uint32_t have;
	int c;

	(void)count;
	while (w->npkt < NB_BATCH && w->n - w->next >= q->rx_worst) {
		struct rxp *r = &q->rxp[w->npkt];
		unsigned int k = w->next;

		for (i = 0; i < q->rx_worst; i++)
			if (q->rx_seg[k + i].status != GNTST_okay) {
				w->stop = true; /* the copy path says why */
				return 0;
			}
		ni = 0;
		iov[ni].iov_base = &r->vh;
		iov[ni++].iov_len = sizeof(r->vh);
		iov[ni++] = pg[k];
		for (i = 1; i < data; i++)
			iov[ni++] = pg[k + w->gap + i];
		iov[ni].iov_base = over;
		iov[ni++].iov_len = NETIF_PAGE_SIZE;
		got = readv(q->tapfd, iov, (int)ni);
		if (got < (ssize_t)sizeof(r->vh)) {
			w->empty = true;
			break;
		}
		r->len = (uint32_t)(got - (ssize_t)sizeof(r->vh));
		r->handed = false;
		if (r->len > NB_MAX_PKT || r->len > data * NETIF_PAGE_SIZE) {
			nb_stat_add(&q->st->rx_drop_big, 1);
			continue;
		}
		have = r->len < NB_RX_HEAD ? r->len : NB_RX_HEAD;
		memcpy(head, pg[k].iov_base, have);
		if (__atomic_load_n(&q->vp.mc->filter, __ATOMIC_RELAXED) &&
		    !nb_mcast_wanted(q->vp.mc, head)) {
			nb_stat_add(&q->st->rx_drop_mcast, 1);
			continue;
		}
		c = rx_classify(q, r, head, have);
		if (c == -EAGAIN) { /* all of it, and the sum written back */
			rx_gather(w, pg, k, r, head, false);
			c = rx_classify(q, r, head, r->len);
			if (c == 1)
				rx_gather(w, pg, k, r, head, true);
		}
		if (c != 1)
			continue;
		if (r->nextra > w->gap) { /* not expected: no room left */
			nb_stat_add(&q->st->rx_drop_csum, 1);
			continue;
		}
		rx_take_window(w, pg, k, r);
		nb_stat_add(&q->st->rx_inplace, 1);
		w->npkt++;
	}
	return 0;
}

/* As rx_batch, in place; -ENOTSUP: not here (the copy path's turn). */
static int rx_pinned(struct nb_queue *q)
{
	struct rx_win w = {.q = q};
	unsigned int avail, i;
	const char *why = NULL;
	int rc;

	if (netif_rx_avail(&q->rx, &avail, &why)) {
		q_fail(q, "RX", why);
		return 0;
	}
	if (avail < q->rx_worst)
		return -EAGAIN;
	w.gap = q->vp.gso4 || q->vp.gso6 ? 1 : 0;
	w.n = avail < q->rx_win ? avail : q->rx_win;
	for (i = 0; i < w.n; i++) {
		netif_rx_peek(&q->rx, i, &q->rx_req[i]);
		q->rx_seg[i].ref = q->rx_req[i].gref;
		q->rx_seg[i].offset = 0;
		q->rx_seg[i].len = NETIF_PAGE_SIZE;
	}
	rc = q->vp.plat->gnttab->pinned(q->gt, q->vp.fe, q->rx_seg, q->rx_iov,
					w.n, true, rx_pinned_read, &w);
	if (rc == -EOPNOTSUPP) {
		pvk_info("%s: RX copied (the guest's pages cannot be pinned "
			 "here)",
			 q->name);
		q->rx_pin = false;
		return -ENOTSUP;
	}
	for (i = 0; i < w.npkt; i++)
		rx_answer(q, &q->rxp[i], 0);
	if (w.npkt && netif_rx_back_push(&q->rx, q->rx.r.req_cons))
		q->vp.plat->evtchn->notify(q->ev, q->rx_port);
	/* next time: about twice what this window used */
	q->rx_win = 2 * w.next < q->rx_worst	? q->rx_worst
		    : 2 * w.next > NB_RX_WIN ? NB_RX_WIN
					     : 2 * w.next;
	if (w.npkt)
		return 1;
	return w.stop ? -ENOTSUP : 0;
}

/* One batch from the TAP while the guest has room.  Returns 1 when it
 * took packets, 0 when the TAP is empty, -EAGAIN when the guest has too
 * few RX requests posted. */
static int rx_batch(struct nb_queue *q)
{
	unsigned int n = 0, cop = 0, avail, used = 0, i;
	const char *why = NULL;
	int rc, ret = 0;

	if (q->rx_pin && !q->vp.hash && !q->inbox_n &&
	    q->rx_avg >= q->vp.inplace_min) {
		rc = rx_pinned(q);
		if (rc != -ENOTSUP)
			return rc;
	}
	if (netif_rx_avail(&q->rx, &avail, &why)) {
		q_fail(q, "RX", why);
		return 0;
	}
	while (n < NB_BATCH) {
		struct rxp *r = &q->rxp[n];
		uint8_t *buf = q->rxbuf + (size_t)n * NB_BUF_SIZE;
		ssize_t got;

		if (avail - used < q->rx_worst) {
			ret = -EAGAIN;
			break;
		}
		got = rx_read(q, r, buf);
		if (got < (ssize_t)sizeof(r->vh))
			break; /* EAGAIN: empty */
		ret = 1;
		r->len = (uint32_t)(got - (ssize_t)sizeof(r->vh));
		if (r->len > NB_MAX_PKT ||
		    (!q->vp.sg && r->len > NETIF_PAGE_SIZE)) {
			nb_stat_add(&q->st->rx_drop_big, 1);
			continue;
		}
		if (__atomic_load_n(&q->vp.mc->filter, __ATOMIC_RELAXED) &&
		    !nb_mcast_wanted(q->vp.mc, buf)) {
			nb_stat_add(&q->st->rx_drop_mcast, 1);
			continue;
		}
		if (rx_classify(q, r, buf, r->len) != 1)
			continue;
		if (!r->handed && r->target != q->qid) {
			if (rx_hand_over(q, r->target, r, buf)) {
				nb_stat_add(&q->st->rx_steered, 1);
				continue;
			}
			nb_stat_add(&q->st->rx_steer_full, 1);
		}
		cop = rx_plan(q, r, buf, cop);
		used += r->nslot + r->nextra;
		n++;
	}
	if (n) {
		rc = run_copies(q, cop);
		for (i = 0; i < n; i++)
			rx_answer(q, &q->rxp[i], rc);
		if (netif_rx_back_push(&q->rx, q->rx.r.req_cons))
			q->vp.plat->evtchn->notify(q->ev, q->rx_port);
	}
	return ret;
}

/* ---- the thread -----------------------------------------------------------
 */

/* Packets wait in the TAP while the guest posts no RX requests: after
 * NB_RX_DRAIN_NS they are dropped, after NB_RX_STALL_NS the carrier goes
 * off (the kernel stops queueing), and both end when requests come. */
static void rx_stall(struct nb_queue *q, bool waiting, uint64_t now)
{
	struct pollfd tp = {.fd = q->tapfd, .events = POLLIN};
	uint8_t hdr[sizeof(struct virtio_net_hdr)];
	int on;

	if (waiting && !q->stall_since) {
		if (poll(&tp, 1, 0) == 1) { /* packets are waiting */
			q->stall_since = now;
			nb_stat_add(&q->st->rx_stalls, 1);
		}
		return;
	}
	if (!waiting) {
		if (q->carrier_off) {
			on = 1;
			ioctl(q->tapfd, TUNSETCARRIER, &on);
			q->carrier_off = false;
			pvk_info("%s: the guest takes packets again: carrier "
				 "on",
				 q->name);
		}
		q->stall_since = 0;
		return;
	}
	if (now - q->stall_since >= NB_RX_DRAIN_NS) {
		struct iovec iov[2] = {{hdr, sizeof(hdr)},
				       {q->rxbuf, NB_BUF_SIZE}};

		while (readv(q->tapfd, iov, 2) >= 0)
			nb_stat_add(&q->st->rx_drop_stall, 1);
	}
	if (now - q->stall_since >= NB_RX_STALL_NS && !q->carrier_off) {
		on = 0;
		if (ioctl(q->tapfd, TUNSETCARRIER, &on) < 0)
			pvk_warn("%s: carrier off: %s", q->name,
				 strerror(errno));
		q->carrier_off = true;
		pvk_warn("%s: the guest has taken no packet for %llu s: "
			 "carrier off",
			 q->name, NB_RX_STALL_NS / 1000000000ull);
	}
}

/* Busy-polling: guest TX, or the queue is being stopped. */
static bool tx_ready(void *arg)
{
	struct nb_queue *q = arg;

	return netif_tx_back_peek(&q->tx) ||
	       __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE);
}

/* Work that must not wait for a watch: a stop. */
static bool work_pending(struct nb_queue *q)
{
	return __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE);
}

static void *queue_thread(void *arg)
{
	struct nb_queue *q = arg;
	const struct pvk_evtchn_ops *evo = q->vp.plat->evtchn;
	struct pollfd p[4] = {
	    {.fd = evo->fd(q->ev), .events = POLLIN},
	    {.fd = q->stopfd, .events = POLLIN},
	    {.fd = q->tapfd, .events = POLLIN},
	    {.fd = q->inbox_fd, .events = POLLIN},
	};
	evtchn_port_t got;
	bool events, work, rx_wait;
	uint64_t now, t0;
	int rx, timeout;

	for (;;) {
		events = false;
		while (evo->pending(q->ev, &got) == 0) {
			evo->unmask(q->ev, got);
			events = true;
		}
		if (__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE))
			break;
		now = pvk_now_ns();
		work = false;
		rx = 0;
		if (q->tx_hold && now >= q->tx_hold)
			q->tx_hold = 0;
		while (!q->failed && !q->tx_hold && tx_batch(q))
			work = true;
		while (!q->failed && (rx = rx_batch(q)) == 1)
			work = true;
		if (events)
			xenbus_spurious_throttle(&q->st->events, work);
		timeout = -1;
		if (q->failed) {
			/* only the stop matters now */
			p[0].events = p[2].events = p[3].events = 0;
		} else {
			/* Idle: watch the TX ring a while with req_event left
			 * behind (the guest does not notify meanwhile) before
			 * re-arming it and sleeping (src/common/spin.h). */
			if (!q->tx_hold && !work_pending(q) &&
			    pvk_spin_wait(&q->spin, tx_ready, q))
				continue;
			if (!q->tx_hold && netif_tx_back_final_check(&q->tx))
				continue;
			/* Too few RX requests: ask for an event when there
			 * are enough, and leave the TAP alone meanwhile. */
			rx_wait = rx == -EAGAIN &&
				  !netif_rx_back_want(&q->rx, q->rx_worst);
			if (rx == -EAGAIN && !rx_wait)
				continue;
			if (!q->vp.rx_poll)
				rx_stall(q, rx_wait, now);
			p[2].events = p[3].events = rx_wait ? 0 : POLLIN;
			if (q->stall_since)
				timeout = 1000;
			if (rx_wait && q->vp.rx_poll)
				timeout = 30; /* it will not tell us */
			if (q->tx_hold) {
				int ms = (int)((q->tx_hold - now) / 1000000) + 1;

				timeout = timeout < 0 || ms < timeout ? ms
								      : timeout;
			}
		}
		t0 = pvk_spin_enabled(&q->spin) ? pvk_spin_now() : 0;
		if (poll(p, 4, timeout) < 0 && errno != EINTR)
			break;
		if (t0)
			pvk_spin_slept(&q->spin, pvk_spin_now() - t0);
		if (p[1].revents)
			break;
	}
	/* answers given are published */
	if (netif_tx_back_push(&q->tx))
		evo->notify(q->ev, q->tx_port);
	return NULL;
}

/* ---- start / stop ---------------------------------------------------------
 */

void nb_queue_halt(struct nb_queue *q)
{
	uint64_t one = 1;

	if (!q || !q->thr_started)
		return;
	__atomic_store_n(&q->stopping, true, __ATOMIC_RELEASE);
	if (write(q->stopfd, &one, sizeof(one)) < 0)
		pvk_warn("%s: cannot stop the queue thread", q->name);
	pthread_join(q->thr, NULL);
	q->thr_started = false;
}

void nb_queue_stop(struct nb_queue *q)
{
	const struct pvk_platform *plat;

	if (!q)
		return;
	plat = q->vp.plat;
	nb_queue_halt(q);
	while (q->inbox_n) { /* handed over, never taken: dropped */
		free(q->inbox[q->inbox_head]);
		q->inbox_head = (q->inbox_head + 1) % NB_INBOX;
		q->inbox_n--;
	}
	if (q->inbox_fd >= 0)
		close(q->inbox_fd);
	pthread_mutex_destroy(&q->inbox_lock);
	if (q->ev) {
		if (q->tx_port)
			plat->evtchn->unbind(q->ev, q->tx_port);
		if (q->rx_port && q->rx_port != q->tx_port)
			plat->evtchn->unbind(q->ev, q->rx_port);
		plat->evtchn->close(q->ev);
	}
	if (q->tx_sring)
		plat->gnttab->unmap(q->gt, q->tx_sring, 1);
	if (q->rx_sring)
		plat->gnttab->unmap(q->gt, q->rx_sring, 1);
	if (q->gt)
		plat->gnttab->close(q->gt);
	if (q->txbuf)
		munmap(q->txbuf, (size_t)NB_BATCH * NB_BUF_SIZE);
	if (q->rxbuf)
		munmap(q->rxbuf, (size_t)NB_BATCH * NB_BUF_SIZE);
	free(q->cops);
	if (q->tapfd >= 0)
		close(q->tapfd);
	if (q->stopfd >= 0)
		close(q->stopfd);
	free(q);
}

static void *buf_alloc(void)
{
	void *p =
	    mmap(NULL, (size_t)NB_BATCH * NB_BUF_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int nb_queue_start(const struct nb_vif_params *vp, unsigned int qid, int tapfd,
		   grant_ref_t tx_ref, grant_ref_t rx_ref,
		   evtchn_port_t tx_port, evtchn_port_t rx_port,
		   struct nb_queue_stats *stats, struct nb_queue **out)
{
	const struct pvk_platform *plat = vp->plat;
	struct nb_queue *q;
	int rc;

	q = calloc(1, sizeof(*q));
	if (!q) {
		close(tapfd);
		return -ENOMEM;
	}
	q->vp = *vp;
	q->qid = qid;
	q->tapfd = tapfd;
	q->st = stats;
	snprintf(q->name, sizeof(q->name), "%s q%u",
		 xenbus_device_name(vp->dev), qid);
	/* data (one page without SG), a GSO extra, a HASH extra */
	q->rx_worst = (vp->sg ? netif_rx_slots(NB_MAX_PKT, 0) : 1) +
		      (vp->gso4 || vp->gso6 ? 1 : 0) + (vp->hash ? 1 : 0);
	pvk_spin_init(&q->spin, (uint64_t)vp->poll_us * 1000, &stats->poll);
	q->tx_pin = q->rx_pin = plat->gnttab->pinned && !vp->copy;
	q->rx_win = NB_RX_WIN;
	q->remaining = vp->credit_bytes;
	q->window_end = pvk_now_ns() + vp->credit_us * 1000;
	q->stopfd = eventfd(0, EFD_CLOEXEC);
	q->inbox_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&q->inbox_lock, NULL);
	q->cops = calloc(NB_TX_COPS > NB_RX_COPS ? NB_TX_COPS : NB_RX_COPS,
			 sizeof(*q->cops));
	q->txbuf = buf_alloc();
	q->rxbuf = buf_alloc();
	if (q->stopfd < 0 || q->inbox_fd < 0 || !q->cops || !q->txbuf ||
	    !q->rxbuf) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = plat->gnttab->open(vp->plat, &q->gt);
	if (!rc) {
		rc = plat->gnttab->map(q->gt, vp->fe, &tx_ref, 1, 1,
				       &q->tx_sring, NULL);
		if (rc)
			q->tx_sring = NULL;
	}
	if (!rc) {
		rc = plat->gnttab->map(q->gt, vp->fe, &rx_ref, 1, 1,
				       &q->rx_sring, NULL);
		if (rc)
			q->rx_sring = NULL;
	}
	if (rc) {
		pvk_err("%s: cannot map the rings (tx-ring-ref %u, rx-ring-ref "
			"%u): %s",
			q->name, tx_ref, rx_ref, strerror(-rc));
		goto fail;
	}
	netif_tx_back_init(&q->tx, q->tx_sring);
	netif_rx_back_init(&q->rx, q->rx_sring);
	rc = plat->evtchn->open(vp->plat, &q->ev);
	if (!rc)
		rc = plat->evtchn->bind_interdomain(q->ev, vp->fe, tx_port,
						    &q->tx_port);
	if (!rc && rx_port != tx_port)
		rc = plat->evtchn->bind_interdomain(q->ev, vp->fe, rx_port,
						    &q->rx_port);
	else if (!rc)
		q->rx_port = q->tx_port;
	if (rc) {
		pvk_err("%s: cannot bind event channels %u/%u: %s", q->name,
			tx_port, rx_port, strerror(-rc));
		goto fail;
	}
	rc = pthread_create(&q->thr, NULL, queue_thread, q);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	q->thr_started = true;
	*out = q;
	return 0;
fail:
	nb_queue_stop(q);
	return rc;
}
