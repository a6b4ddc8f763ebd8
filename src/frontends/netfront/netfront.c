/*
 * netfront.c - the PV network frontend (see include/pvkit/netfront.h).
 *
 * Per queue: a tx ring and an rx ring (one page each), one or two event
 * channels, RING_SIZE transmit pages (shared read-only, one per tx id) and
 * RING_SIZE receive pages (shared writable, one per rx ring slot: an rx
 * request in slot s always posts page s, and its response comes back in
 * slot s, netif.h), and an event thread that reaps tx responses and wakes
 * receivers.
 *
 * Shared memory carries nothing but the rings and payload (XSA-403): a tx
 * page holds the fragment being sent and zeros (the part an earlier, longer
 * fragment left is cleared before the page is granted again).  Responses
 * are copied out of the ring once, then checked (nf_rx.c for rx chains;
 * tx ids must be in flight); ring indices beyond what was requested, a tx
 * id not in flight, or an rx slot answered out of place break the device.
 *
 * Locks: nf->lock (device state, users), then a queue's tx lock, or the
 * device's rx lock (every queue's rx side); never two of the latter.
 * Reconnection (a watch on the backend's state, the recovery thread):
 * recovering is set, waiters leave the queues, the queues are freed once
 * nobody uses them, and everything is negotiated again.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "nf_rx.h"
#include "pvkit/netfront.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus.h"
#include "pvkit/xenbus_frontend.h"
#include "pvkit/xenbus_ring.h"
#include "pvkit/xs.h"

#define NF_TX_RING __CONST_RING_SIZE(netif_tx, NF_PAGE_SIZE)
#define NF_RX_RING __CONST_RING_SIZE(netif_rx, NF_PAGE_SIZE)
#define NF_CHUNK 16u /* pages per share */
#define NF_PATH_MAX 160
/* Data slots of one transmitted frame: the first plus
 * XEN_NETIF_NR_SLOTS_MIN, what every backend must take (netif.h); 64 KiB
 * needs 16. */
#define NF_TX_MAX_SLOTS (XEN_NETIF_NR_SLOTS_MIN + 1)
_Static_assert((NETFRONT_MAX_FRAME + NF_PAGE_SIZE - 1) / NF_PAGE_SIZE <=
		   NF_TX_MAX_SLOTS,
	       "a largest frame copied from offset 0 fits the slots every "
	       "backend takes");

_Static_assert(NETFRONT_TX_MAX_PAGES *NF_PAGE_SIZE >= NETFRONT_MAX_FRAME,
	       "a reservation holds a largest frame");

#define ALOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ASTORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define AADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)

struct netfront;

/* The control ring: one page, its event channel, and a page for the key
 * or mapping a request names (shared read-only: the backend copies). */
struct nf_ctrl {
	void *sring, *data;
	grant_ref_t ref, data_ref;
	xen_netif_ctrl_front_ring_t r;
	struct pvk_evtchn *ev;
	evtchn_port_t port;
	uint16_t next_id;
};

struct nfq {
	struct netfront *nf;
	unsigned int id;

	/* transmit (tx_lock) */
	pthread_mutex_t tx_lock;
	pthread_cond_t tx_cond;
	netif_tx_front_ring_t tx;
	void *tx_sring;
	grant_ref_t tx_ref;
	uint8_t *tx_page[NF_TX_RING];
	grant_ref_t tx_gref[NF_TX_RING];
	uint16_t tx_dirty[NF_TX_RING]; /* bytes of the page not zero */
	bool tx_busy[NF_TX_RING];      /* in flight: the backend answers it */
	bool tx_resv[NF_TX_RING];      /* reserved: a caller fills its page */
	unsigned int ntx_resv;
	uint16_t tx_free[NF_TX_RING];
	unsigned int ntx_free;

	/* receive (nf->rx_lock) */
	netif_rx_front_ring_t rx;
	void *rx_sring;
	grant_ref_t rx_ref;
	uint8_t *rx_page[NF_RX_RING];
	grant_ref_t rx_gref[NF_RX_RING];
	union nf_rx_slot rx_copy[NF_RX_RING]; /* [rsp_cons, rx_seen) */
	RING_IDX rx_seen;

	/* shares: rings, then chunks of pages */
	void *chunk[2 * NF_TX_RING / NF_CHUNK];
	unsigned int nchunks;

	struct pvk_evtchn *ev;
	evtchn_port_t tx_port, rx_port; /* equal unless split */
	pthread_t thr;
	bool thr_started;
	int stopfd, kickfd; /* kick: look at the rings (netfront_resume) */
	struct xenbus_spurious spur;
};

struct netfront {
	struct pvk_platform *plat;
	struct xs_client *xs;
	struct netfront_opts o;
	struct netfront_info info;
	struct xenbus_fe x;
	struct xenbus_fe_monitor *mon; /* follows the backend's state */
	struct pvk_gntshr *shr;

	struct nfq *q[NETFRONT_MAX_QUEUES];
	unsigned int nq;

	pthread_mutex_t lock; /* the device state below */
	pthread_cond_t cond;
	bool broken, closing, recovering;
	bool suspended;	    /* send and recv wait (netfront_suspend) */
	unsigned int users; /* send/recv calls using the queues */

	pthread_mutex_t rx_lock; /* every queue's rx side, the handler */
	pthread_cond_t rx_cond;
	void (*rx_fn)(void *arg, const struct netfront_rx_frame *f);
	void *rx_arg;
	unsigned int rx_next; /* the queue recv looks at first */
	int rx_fd;	      /* eventfd: frames may be waiting */

	struct netfront_stats stats; /* atomic counters */

	/* the control ring (ctrl_lock; NULL when not connected) and the
	 * hashing it set up, to set again after a reconnection */
	pthread_mutex_t ctrl_lock;
	struct nf_ctrl *ctrl;
	struct netfront_hash hash;
	bool hash_set;

	/* multicast groups (mc_lock), whether filtering is wanted; changes
	 * one at a time (mc_op_lock, taken first) */
	pthread_mutex_t mc_op_lock, mc_lock;
	uint8_t mc[NETFRONT_MCAST_MAX][6];
	unsigned int nmc;
	bool mc_filter;
};

/* ---- small helpers ------------------------------------------------------ */

static void deadline_ts(struct timespec *ts, uint64_t deadline_ns)
{
	uint64_t now_mono = pvk_now_ns(), left;
	struct timespec rt;

	left = deadline_ns > now_mono ? deadline_ns - now_mono : 0;
	clock_gettime(CLOCK_REALTIME, &rt);
	left += (uint64_t)rt.tv_nsec;
	ts->tv_sec = rt.tv_sec + (time_t)(left / 1000000000ull);
	ts->tv_nsec = (long)(left % 1000000000ull);
}

/* Wait on c (m held) until deadline (ns, pvk_now_ns; 0: 100 ms). */
static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
			    uint64_t deadline)
{
	struct timespec ts;
	uint64_t cap = pvk_now_ns() + 100000000ull;

	/* Never sleep long: recovery and close are checked each time. */
	deadline_ts(&ts, deadline && deadline < cap ? deadline : cap);
	pthread_cond_timedwait(c, m, &ts);
}

/* The deadline timeout_ms from now (< 0: none, 0). */
static uint64_t deadline_in(int timeout_ms)
{
	return timeout_ms < 0
		   ? 0
		   : pvk_now_ns() + (uint64_t)timeout_ms * 1000000ull + 1;
}

/* Pages (tx slots) a frame of len bytes takes. */
static unsigned int nf_pages(size_t len)
{
	return (unsigned int)((len + NF_PAGE_SIZE - 1) / NF_PAGE_SIZE);
}

static void nf_wake_all(struct netfront *nf);
static void nf_kick(struct netfront *nf);

static void nf_break(struct netfront *nf, const char *why)
{
	bool was;

	pthread_mutex_lock(&nf->lock);
	was = nf->broken;
	nf->broken = true;
	pthread_cond_broadcast(&nf->cond);
	pthread_mutex_unlock(&nf->lock);
	if (!was && why)
		pvk_err("netfront %s: %s: device broken", nf->x.path, why);
	nf_wake_all(nf);
}

/* Whether send/recv must leave the queues now (a reconnection, close or
 * a broken device). */
static bool nf_leave_due(struct netfront *nf)
{
	return ALOAD(&nf->broken) || ALOAD(&nf->closing) ||
	       ALOAD(&nf->recovering);
}

/* Enter the queues: wait out a reconnection.  -EIO when broken/closing;
 * -ETIMEDOUT past deadline (0: none). */
static int nf_enter(struct netfront *nf, uint64_t deadline)
{
	int rc = 0;

	pthread_mutex_lock(&nf->lock);
	while ((nf->recovering || nf->suspended) && !nf->broken &&
	       !nf->closing) {
		if (deadline && pvk_now_ns() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		cond_wait_until(&nf->cond, &nf->lock, deadline);
	}
	if (!rc && (nf->broken || nf->closing))
		rc = -EIO;
	if (!rc)
		nf->users++;
	pthread_mutex_unlock(&nf->lock);
	return rc;
}

static void nf_exit(struct netfront *nf)
{
	pthread_mutex_lock(&nf->lock);
	if (--nf->users == 0)
		pthread_cond_broadcast(&nf->cond);
	pthread_mutex_unlock(&nf->lock);
}

/* ---- transmit ----------------------------------------------------------- */

/* Take the tx responses there are (tx_lock held).  Returns how many, or
 * -EPROTO (*why says what) when the backend violated the protocol. */
static int tx_reap(struct nfq *q, const char **why)
{
	struct netfront *nf = q->nf;
	RING_IDX prod, cons;
	int got = 0;

	prod = ALOAD(&q->tx.sring->rsp_prod);
	rmb();
	if (prod - q->tx.rsp_cons > q->tx.req_prod_pvt - q->tx.rsp_cons) {
		*why = "tx: more responses than requests";
		return -EPROTO;
	}
	for (cons = q->tx.rsp_cons; cons != prod; cons++) {
		struct netif_tx_response r = *RING_GET_RESPONSE(&q->tx, cons);

		got++;
		if (r.status == NETIF_RSP_NULL)
			continue; /* an extra-info slot's */
		if (r.id >= NF_TX_RING || !q->tx_busy[r.id]) {
			*why = "tx: response with an unknown or duplicate id";
			return -EPROTO;
		}
		q->tx_busy[r.id] = false;
		q->tx_free[q->ntx_free++] = r.id;
		if (r.status != NETIF_RSP_OKAY)
			AADD(&nf->stats.tx_errors, 1);
	}
	q->tx.rsp_cons = prod;
	/* Everything answered but ids still out: responses said NULL for
	 * data slots. */
	if (q->tx.rsp_cons == q->tx.req_prod_pvt &&
	    q->ntx_free + q->ntx_resv != NF_TX_RING) {
		*why = "tx: every request answered, some ids never";
		return -EPROTO;
	}
	if (got)
		pthread_cond_broadcast(&q->tx_cond);
	return got;
}

/* Reap and re-arm rsp_event (tx_lock held). */
static int tx_reap_arm(struct nfq *q, const char **why)
{
	int n, total = 0, more;

	do {
		n = tx_reap(q, why);
		if (n < 0)
			return n;
		total += n;
		RING_FINAL_CHECK_FOR_RESPONSES(&q->tx, more);
	} while (more);
	return total;
}

/* A flow hash, as Linux spreads flows over its queues: the MAC addresses,
 * for IPv4/IPv6 the addresses, and for TCP/UDP (not a fragment; an IPv6
 * transport header right after the fixed one) the ports. */
static unsigned int flow_queue(const struct netfront *nf, const uint8_t *f,
			       size_t len)
{
	uint32_t h = 2166136261u;
	size_t i, from = 0, to = 12, l4 = 0;

	if (nf->nq < 2)
		return 0;
	if (len >= 34 && f[12] == 0x08 && f[13] == 0x00) {
		size_t ihl = (size_t)(f[14] & 0xf) * 4;

		from = 26; /* IPv4 source and destination */
		to = 34;
		if ((f[23] == 6 || f[23] == 17) && ihl >= 20 &&
		    !(((f[20] << 8) | f[21]) & 0x3fff))
			l4 = 14 + ihl;
	} else if (len >= 54 && f[12] == 0x86 && f[13] == 0xdd) {
		from = 22; /* IPv6 */
		to = 54;
		if (f[20] == 6 || f[20] == 17)
			l4 = 54;
	}
	for (i = 0; i < 12; i++)
		h = (h ^ f[i]) * 16777619u;
	for (i = from; from && i < to; i++)
		h = (h ^ f[i]) * 16777619u;
	for (i = l4; l4 && i < l4 + 4 && i < len; i++)
		h = (h ^ f[i]) * 16777619u;
	h ^= h >> 16; /* the low bits pick the queue */
	return h % nf->nq;
}

/* Page id now holds n bytes of a fragment: clear what an earlier, longer
 * fragment left after them. */
static void tx_clean(struct nfq *q, uint16_t id, uint16_t n)
{
	if (q->tx_dirty[id] > n)
		memset(q->tx_page[id] + n, 0, q->tx_dirty[id] - n);
	q->tx_dirty[id] = n;
}

/* A free id, in flight (its request goes on the ring now) or reserved
 * (netfront_tx_reserve: the caller fills its page first). */
static uint16_t tx_take_id(struct nfq *q, bool reserve)
{
	uint16_t id = q->tx_free[--q->ntx_free];

	if (reserve) {
		q->tx_resv[id] = true;
		q->ntx_resv++;
	} else {
		q->tx_busy[id] = true;
	}
	return id;
}

/* A reserved id: in flight, or free again. */
static void tx_resv_end(struct nfq *q, uint16_t id, bool inflight)
{
	q->tx_resv[id] = false;
	q->ntx_resv--;
	if (inflight)
		q->tx_busy[id] = true;
	else
		q->tx_free[q->ntx_free++] = id;
}

/* What a frame's meta asks for, checked: its first slot's flags and
 * whether it takes a GSO extra.  -EINVAL. */
static int tx_meta(const struct netfront *nf, const struct netfront_meta *meta,
		   unsigned int *flags, bool *gso)
{
	*flags = 0;
	*gso = false;
	if (!meta)
		return 0;
	if (meta->flags & ~(NETFRONT_CSUM_BLANK | NETFRONT_DATA_VALIDATED))
		return -EINVAL;
	if ((meta->flags & NETFRONT_CSUM_BLANK) && !nf->info.csum_offload)
		return -EINVAL; /* feature-no-csum-offload */
	if (meta->flags & NETFRONT_CSUM_BLANK)
		*flags |= NETTXF_csum_blank;
	if (meta->flags & NETFRONT_DATA_VALIDATED)
		*flags |= NETTXF_data_validated;
	if (meta->gso_type != NETFRONT_GSO_NONE) {
		if ((meta->gso_type != NETFRONT_GSO_TCPV4 &&
		     meta->gso_type != NETFRONT_GSO_TCPV6) ||
		    !meta->gso_size || meta->gso_size > 0xffff)
			return -EINVAL;
		*gso = true;
	}
	return 0;
}

/* What the negotiated features refuse for a frame of slots pages. */
static int tx_allowed(const struct netfront *nf, unsigned int slots, bool gso,
		      const struct netfront_meta *meta)
{
	if (slots > 1 && !nf->info.sg)
		return -EMSGSIZE;
	if (gso && (!nf->info.sg || (meta->gso_type == NETFRONT_GSO_TCPV4
					 ? !nf->info.gso_tcpv4
					 : !nf->info.gso_tcpv6)))
		return -EOPNOTSUPP;
	return 0;
}

/* Wait (tx_lock held) until q has need free ring slots and ids free ids.
 * 0; -ETIMEDOUT past deadline; -EAGAIN when the queues must be left
 * (nf_leave_due); -EPROTO (*why) for a violation. */
static int tx_wait(struct nfq *q, unsigned int need, unsigned int ids,
		   uint64_t deadline, const char **why)
{
	struct netfront *nf = q->nf;
	int rc;

	while (RING_FREE_REQUESTS(&q->tx) < need || q->ntx_free < ids) {
		if (nf_leave_due(nf))
			return -EAGAIN;
		rc = tx_reap(q, why);
		if (rc < 0)
			return rc;
		if (RING_FREE_REQUESTS(&q->tx) >= need && q->ntx_free >= ids)
			break;
		if (deadline && pvk_now_ns() >= deadline)
			return -ETIMEDOUT;
		/* Make sure the backend tells us about answers. */
		rc = tx_reap_arm(q, why);
		if (rc < 0)
			return rc;
		if (RING_FREE_REQUESTS(&q->tx) < need || q->ntx_free < ids)
			cond_wait_until(&q->tx_cond, &q->tx_lock, deadline);
	}
	return nf_leave_due(nf) ? -EAGAIN : 0;
}

/* Put a frame of len bytes on q's ring (tx_lock held, room checked): page
 * id[i] holds bytes [i * page, ...) of it, cleaned. */
static void tx_post(struct nfq *q, const uint16_t *id, size_t len,
		    unsigned int flags, const struct netfront_meta *meta,
		    bool gso)
{
	struct netfront *nf = q->nf;
	unsigned int slots = nf_pages(len), i;
	size_t off;
	int notify;

	for (i = 0, off = 0; i < slots; i++) {
		struct netif_tx_request req;
		uint16_t n =
		    (uint16_t)(len - off < NF_PAGE_SIZE ? len - off
							: NF_PAGE_SIZE);

		memset(&req, 0, sizeof(req));
		req.gref = q->tx_gref[id[i]];
		req.offset = 0;
		req.id = id[i];
		req.size = i == 0 ? (uint16_t)len : n;
		req.flags = (uint16_t)(i == 0 ? flags : 0);
		if (i + 1 < slots)
			req.flags |= NETTXF_more_data;
		if (i == 0 && gso)
			req.flags |= NETTXF_extra_info;
		*RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt) = req;
		q->tx.req_prod_pvt++;
		if (i == 0 && gso) {
			union {
				struct netif_tx_request req;
				struct netif_extra_info e;
			} x;

			memset(&x, 0, sizeof(x));
			x.e.type = XEN_NETIF_EXTRA_TYPE_GSO;
			x.e.flags = 0;
			x.e.u.gso.size = (uint16_t)meta->gso_size;
			x.e.u.gso.type = (uint8_t)meta->gso_type;
			*RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt) = x.req;
			q->tx.req_prod_pvt++;
		}
		off += n;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		nf->plat->evtchn->notify(q->ev, q->tx_port);
	AADD(&nf->stats.tx_frames, 1);
	AADD(&nf->stats.tx_bytes, len);
	AADD(&nf->stats.tx_slots, slots + (gso ? 1u : 0u));
	AADD(&nf->stats.queue_tx_frames[q->id], 1);
}

/* Leave the queues after a failed wait: -EPROTO breaks the device. */
static int tx_leave(struct nfq *q, int rc, const char *why)
{
	struct netfront *nf = q->nf;

	pthread_mutex_unlock(&q->tx_lock);
	if (rc == -EPROTO)
		nf_break(nf, why); /* before leaving: the queues live */
	nf_exit(nf);
	return rc == -EPROTO ? -EIO : rc;
}

int netfront_send(struct netfront *nf, const void *frame, size_t len,
		  const struct netfront_meta *meta, int timeout_ms)
{
	const uint8_t *f = frame;
	uint16_t id[NF_TX_MAX_SLOTS];
	unsigned int slots, flags, i;
	uint64_t deadline = 0;
	const char *why = NULL;
	bool gso;
	struct nfq *q;
	int rc;

	if (!nf || !frame || len < NETFRONT_MIN_FRAME ||
	    len > NETFRONT_MAX_FRAME || tx_meta(nf, meta, &flags, &gso))
		return -EINVAL;
	slots = nf_pages(len);
	deadline = deadline_in(timeout_ms);
	for (;;) {
		rc = nf_enter(nf, deadline);
		if (rc)
			return rc;
		rc = tx_allowed(nf, slots, gso, meta);
		if (rc) {
			nf_exit(nf);
			return rc;
		}
		q = nf->q[flow_queue(nf, f, len)];
		pthread_mutex_lock(&q->tx_lock);
		rc = tx_wait(q, slots + (gso ? 1u : 0u), slots, deadline, &why);
		if (!rc)
			break; /* room: go on with tx_lock held */
		rc = tx_leave(q, rc, why);
		if (rc != -EAGAIN)
			return rc;
		/* Recovering: wait it out in nf_enter; broken: -EIO. */
	}
	for (i = 0; i < slots; i++) {
		size_t off = (size_t)i * NF_PAGE_SIZE;
		uint16_t n =
		    (uint16_t)(len - off < NF_PAGE_SIZE ? len - off
							: NF_PAGE_SIZE);

		id[i] = tx_take_id(q, false);
		memcpy(q->tx_page[id[i]], f + off, n);
		tx_clean(q, id[i], n);
	}
	tx_post(q, id, len, flags, meta, gso);
	pthread_mutex_unlock(&q->tx_lock);
	nf_exit(nf);
	return 0;
}

/* ---- the control ring ----------------------------------------------------
 */

/* One page shared with the backend: *addr NULL unless it is. */
static int share_page(struct netfront *nf, bool writable, grant_ref_t *ref,
		      void **addr)
{
	int rc = nf->plat->gntshr->share(nf->shr, nf->x.be_id, 1,
					 writable ? 1 : 0, ref, addr);

	if (rc)
		*addr = NULL;
	return rc;
}

static void ctrl_free(struct netfront *nf)
{
	struct nf_ctrl *c = nf->ctrl;
	uint64_t deadline = pvk_now_ns() + 1000000000ull;
	unsigned int left = 0;

	if (!c)
		return;
	nf->ctrl = NULL;
	nf->info.ctrl_ring = false;
	if (c->ev) {
		if (c->port)
			nf->plat->evtchn->unbind(c->ev, c->port);
		nf->plat->evtchn->close(c->ev);
	}
	if (c->sring)
		left +=
		    xenbus_fe_unshare(nf->plat, nf->shr, c->sring, 1, deadline);
	if (c->data)
		left +=
		    xenbus_fe_unshare(nf->plat, nf->shr, c->data, 1, deadline);
	if (left)
		pvk_warn("netfront %s: control ring: %u page(s) still mapped "
			 "by the backend; left shared",
			 nf->x.path, left);
	free(c);
}

static int ctrl_new(struct netfront *nf)
{
	const struct pvk_platform *plat = nf->plat;
	struct nf_ctrl *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	nf->ctrl = c;
	rc = share_page(nf, true, &c->ref, &c->sring);
	if (!rc)
		rc = share_page(nf, false, &c->data_ref, &c->data);
	if (rc)
		goto fail;
	SHARED_RING_INIT((xen_netif_ctrl_sring_t *)c->sring);
	FRONT_RING_INIT(&c->r, (xen_netif_ctrl_sring_t *)c->sring,
			NF_PAGE_SIZE);
	rc = plat->evtchn->open(nf->plat, &c->ev);
	if (!rc)
		rc = plat->evtchn->bind_unbound(c->ev, nf->x.be_id, &c->port);
	if (!rc) {
		nf->info.ctrl_ring = true;
		return 0;
	}
fail:
	pvk_err("netfront %s: control ring: %s", nf->x.path, strerror(-rc));
	ctrl_free(nf);
	return rc;
}

/* One request and its answer (ctrl_lock held; one at a time, so the
 * answer is the next response).  0 with *out, or -EOPNOTSUPP /
 * -EINVAL / -ENOSPC for the backend's status, -ETIMEDOUT, or -EPROTO
 * (*why) for a violation. */
static int ctrl_call(struct netfront *nf, uint16_t type, uint32_t d0,
		     uint32_t d1, uint32_t d2, uint32_t *out, const char **why)
{
	struct nf_ctrl *c = nf->ctrl;
	const struct pvk_evtchn_ops *evo = nf->plat->evtchn;
	uint64_t deadline =
	    pvk_now_ns() + (uint64_t)nf->o.timeout_ms * 1000000ull;
	struct xen_netif_ctrl_request *req;
	struct xen_netif_ctrl_response rsp;
	uint16_t id;
	int notify, more;

	if (!c)
		return -EOPNOTSUPP;
	id = c->next_id++;
	req = RING_GET_REQUEST(&c->r, c->r.req_prod_pvt);
	req->id = id;
	req->type = type;
	req->data[0] = d0;
	req->data[1] = d1;
	req->data[2] = d2;
	c->r.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&c->r, notify);
	if (notify)
		evo->notify(c->ev, c->port);
	for (;;) {
		RING_IDX prod = ALOAD(&c->r.sring->rsp_prod);
		struct pollfd p = {.fd = evo->fd(c->ev), .events = POLLIN};
		evtchn_port_t got;
		uint64_t now;

		rmb();
		if (prod - c->r.rsp_cons > c->r.req_prod_pvt - c->r.rsp_cons) {
			*why = "control ring: more responses than requests";
			return -EPROTO;
		}
		if (prod != c->r.rsp_cons) {
			rsp = *RING_GET_RESPONSE(&c->r, c->r.rsp_cons);
			c->r.rsp_cons++;
			break;
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&c->r, more);
		if (more)
			continue;
		now = pvk_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) < 0 &&
		    errno != EINTR)
			return -errno;
		while (evo->pending(c->ev, &got) == 0)
			evo->unmask(c->ev, got);
	}
	if (rsp.id != id || rsp.type != type) {
		*why = "control ring: an answer to another request";
		return -EPROTO;
	}
	switch (rsp.status) {
	case XEN_NETIF_CTRL_STATUS_SUCCESS:
		if (out)
			*out = rsp.data;
		return 0;
	case XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER:
		return -EINVAL;
	case XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW:
		return -ENOSPC;
	default:
		*why = "control ring: an unknown status";
		return -EPROTO;
	}
}

/* Hashing as h says, or off (ctrl_lock held). */
static int ctrl_hash(struct netfront *nf, const struct netfront_hash *h,
		     const char **why)
{
	struct nf_ctrl *c = nf->ctrl;
	int rc;

	if (!c)
		return -EOPNOTSUPP;
	if (!h)
		return ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
				 XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0, NULL,
				 why);
	rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		       XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL, why);
	if (!rc)
		rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, h->flags,
			       0, 0, NULL, why);
	if (!rc) {
		memset(c->data, 0, NF_PAGE_SIZE);
		memcpy(c->data, h->key, h->key_len);
		rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
			       c->data_ref, h->key_len, 0, NULL, why);
	}
	if (!rc && h->mapping_size) {
		rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			       h->mapping_size, 0, 0, NULL, why);
		memset(c->data, 0, NF_PAGE_SIZE);
		memcpy(c->data, h->mapping,
		       h->mapping_size * sizeof(h->mapping[0]));
		if (!rc)
			rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
				       c->data_ref, h->mapping_size, 0, NULL,
				       why);
	}
	memset(c->data, 0, NF_PAGE_SIZE); /* nothing left behind */
	return rc;
}

/* After a connection: hashing as it was set (the new backend has none). */
static void ctrl_replay(struct netfront *nf)
{
	const char *why = NULL;
	int rc;

	pthread_mutex_lock(&nf->ctrl_lock);
	rc = nf->hash_set && nf->ctrl ? ctrl_hash(nf, &nf->hash, &why) : 0;
	pthread_mutex_unlock(&nf->ctrl_lock);
	if (rc == -EPROTO)
		nf_break(nf, why);
	else if (rc)
		pvk_warn("netfront %s: hashing not set again: %s", nf->x.path,
			 strerror(-rc));
}

/* Enter the device for a control request: -EOPNOTSUPP without a ring. */
static int ctrl_enter(struct netfront *nf)
{
	int rc = nf_enter(nf, pvk_now_ns() +
				  (uint64_t)nf->o.timeout_ms * 1000000ull);

	if (rc)
		return rc == -ETIMEDOUT ? -EIO : rc;
	pthread_mutex_lock(&nf->ctrl_lock);
	if (!nf->ctrl) {
		pthread_mutex_unlock(&nf->ctrl_lock);
		nf_exit(nf);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int ctrl_exit(struct netfront *nf, int rc, const char *why)
{
	pthread_mutex_unlock(&nf->ctrl_lock);
	if (rc == -EPROTO)
		nf_break(nf, why);
	nf_exit(nf);
	return rc == -EPROTO ? -EIO : rc;
}

int netfront_hash_flags(struct netfront *nf, uint32_t *flags)
{
	const char *why = NULL;
	int rc;

	if (!nf || !flags)
		return -EINVAL;
	rc = ctrl_enter(nf);
	if (rc)
		return rc;
	/* Which flags depends on the algorithm, chosen first (Linux's
	 * netback says NOT_SUPPORTED until then): Toeplitz, hashing nothing
	 * while no flag is set. */
	if (!nf->hash_set)
		rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			       XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0,
			       NULL, &why);
	if (!rc)
		rc = ctrl_call(nf, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0,
			       flags, &why);
	return ctrl_exit(nf, rc, why);
}

int netfront_set_hash(struct netfront *nf, const struct netfront_hash *h)
{
	const char *why = NULL;
	int rc;

	if (!nf || (h && (h->key_len > NETFRONT_HASH_KEY_MAX ||
			  h->mapping_size > NETFRONT_HASH_MAPPING_MAX)))
		return -EINVAL;
	rc = ctrl_enter(nf);
	if (rc)
		return rc;
	rc = ctrl_hash(nf, h, &why);
	if (!rc) {
		nf->hash_set = h != NULL;
		if (h)
			nf->hash = *h;
	}
	return ctrl_exit(nf, rc, why);
}

/* ---- multicast control ---------------------------------------------------
 */

/* A multicast-control request on q (tx_lock held, 2 slots and an id
 * free): a dummy request of size 0 and its MCAST_ADD/DEL extra, which
 * the backend answers like a frame (netif.h). */
static void tx_mcast_post(struct nfq *q, const uint8_t mac[6], bool add)
{
	struct netfront *nf = q->nf;
	uint16_t id = tx_take_id(q, false);
	struct netif_tx_request req;
	union {
		struct netif_tx_request req;
		struct netif_extra_info e;
	} x;
	int notify;

	memset(&req, 0, sizeof(req));
	req.gref = q->tx_gref[id];
	req.id = id;
	req.flags = NETTXF_extra_info;
	*RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt) = req;
	q->tx.req_prod_pvt++;
	memset(&x, 0, sizeof(x));
	x.e.type = add ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD
		       : XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
	memcpy(x.e.u.mcast.addr, mac, 6);
	*RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt) = x.req;
	q->tx.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		nf->plat->evtchn->notify(q->ev, q->tx_port);
	AADD(&nf->stats.tx_slots, 2);
}

/* After a connection: the backend's list is empty; give it ours (the
 * queues are fresh: their rings have room for every group). */
static void mcast_replay(struct netfront *nf)
{
	struct nfq *q = nf->q[0];
	unsigned int i;

	if (!nf->info.mcast_control)
		return;
	pthread_mutex_lock(&nf->mc_lock);
	pthread_mutex_lock(&q->tx_lock);
	for (i = 0; i < nf->nmc; i++) {
		if (RING_FREE_REQUESTS(&q->tx) < 2 || !q->ntx_free) {
			pvk_warn("netfront %s: no room to give the backend "
				 "multicast group %u",
				 nf->x.path, i);
			break;
		}
		tx_mcast_post(q, nf->mc[i], true);
	}
	pthread_mutex_unlock(&q->tx_lock);
	pthread_mutex_unlock(&nf->mc_lock);
}

static int mcast_send(struct netfront *nf, const uint8_t mac[6], bool add)
{
	uint64_t deadline = pvk_now_ns() + 5000000000ull;
	const char *why = NULL;
	struct nfq *q;
	int rc;

	for (;;) {
		rc = nf_enter(nf, deadline);
		if (rc)
			return rc == -ETIMEDOUT ? 0 : rc; /* the replay will */
		if (!nf->info.mcast_control) {
			nf_exit(nf);
			return 0;
		}
		q = nf->q[0];
		pthread_mutex_lock(&q->tx_lock);
		rc = tx_wait(q, 2, 1, deadline, &why);
		if (!rc)
			break;
		rc = tx_leave(q, rc, why);
		if (rc == -ETIMEDOUT)
			return 0; /* kept: given again after a reconnection */
		if (rc != -EAGAIN)
			return rc;
	}
	tx_mcast_post(q, mac, add);
	pthread_mutex_unlock(&q->tx_lock);
	nf_exit(nf);
	return 0;
}

static int mcast_find(const struct netfront *nf, const uint8_t mac[6])
{
	unsigned int i;

	for (i = 0; i < nf->nmc; i++)
		if (!memcmp(nf->mc[i], mac, 6))
			return (int)i;
	return -1;
}

int netfront_mcast_add(struct netfront *nf, const uint8_t mac[6])
{
	int rc = 0;

	if (!nf || !mac || !(mac[0] & 1))
		return -EINVAL;
	if (ALOAD(&nf->broken))
		return -EIO;
	/* Changes are sent in the list's order (mc_op_lock); a replay
	 * meanwhile may send one twice, which the backend takes. */
	pthread_mutex_lock(&nf->mc_op_lock);
	pthread_mutex_lock(&nf->mc_lock);
	if (mcast_find(nf, mac) >= 0)
		rc = 1;
	else if (nf->nmc == NETFRONT_MCAST_MAX)
		rc = -ENOSPC;
	else
		memcpy(nf->mc[nf->nmc++], mac, 6);
	pthread_mutex_unlock(&nf->mc_lock);
	if (!rc)
		rc = mcast_send(nf, mac, true);
	pthread_mutex_unlock(&nf->mc_op_lock);
	return rc == 1 ? 0 : rc;
}

int netfront_mcast_del(struct netfront *nf, const uint8_t mac[6])
{
	int rc, i;

	if (!nf || !mac)
		return -EINVAL;
	if (ALOAD(&nf->broken))
		return -EIO;
	pthread_mutex_lock(&nf->mc_op_lock);
	pthread_mutex_lock(&nf->mc_lock);
	i = mcast_find(nf, mac);
	if (i >= 0) {
		memmove(nf->mc[i], nf->mc[i + 1],
			(nf->nmc - (unsigned int)i - 1) * 6);
		nf->nmc--;
	}
	pthread_mutex_unlock(&nf->mc_lock);
	rc = i < 0 ? -ENOENT : mcast_send(nf, mac, false);
	pthread_mutex_unlock(&nf->mc_op_lock);
	return rc;
}

int netfront_set_mcast_filter(struct netfront *nf, bool on)
{
	char path[NF_PATH_MAX + 32];
	int rc;

	if (!nf)
		return -EINVAL;
	/* mc_op_lock first, as add and del take it (a reconnection, which
	 * nf_enter waits for, does not) */
	pthread_mutex_lock(&nf->mc_op_lock);
	rc = nf_enter(nf, pvk_now_ns() + 5000000000ull);
	if (rc) {
		pthread_mutex_unlock(&nf->mc_op_lock);
		return rc;
	}
	if (!nf->info.mcast_control || !nf->info.mcast_dynamic) {
		rc = nf->info.mcast_filter == on ? 0 : -EOPNOTSUPP;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/request-multicast-control",
		 nf->x.path);
	rc = xs_printf(nf->xs, XS_TX_NONE, path, "%d", on ? 1 : 0);
	if (!rc) {
		nf->mc_filter = on;
		nf->info.mcast_filter = on;
	}
out:
	pthread_mutex_unlock(&nf->mc_op_lock);
	nf_exit(nf);
	return rc;
}

/* ---- zero-copy transmit --------------------------------------------------
 */

int netfront_tx_reserve(struct netfront *nf, unsigned int queue, size_t max_len,
			struct netfront_txbuf *b, int timeout_ms)
{
	unsigned int slots, i;
	uint64_t deadline = 0;
	const char *why = NULL;
	struct nfq *q;
	int rc;

	if (!nf || !b || max_len < NETFRONT_MIN_FRAME ||
	    max_len > NETFRONT_MAX_FRAME)
		return -EINVAL;
	slots = nf_pages(max_len);
	deadline = deadline_in(timeout_ms);
	for (;;) {
		rc = nf_enter(nf, deadline);
		if (rc)
			return rc;
		q = nf->q[queue % nf->nq];
		pthread_mutex_lock(&q->tx_lock);
		rc = tx_wait(q, 0, slots, deadline, &why);
		if (!rc)
			break;
		rc = tx_leave(q, rc, why);
		if (rc != -EAGAIN)
			return rc;
	}
	memset(b, 0, sizeof(*b));
	for (i = 0; i < slots; i++) {
		b->id_[i] = tx_take_id(q, true);
		b->iov[i].iov_base = q->tx_page[b->id_[i]];
		b->iov[i].iov_len = i + 1 < slots
					? NF_PAGE_SIZE
					: max_len - (size_t)i * NF_PAGE_SIZE;
	}
	pthread_mutex_unlock(&q->tx_lock);
	b->niov = slots;
	b->cap = max_len;
	b->q_ = q;
	return 0; /* a user of the queues until commit or abort */
}

/* Give back b's ids from the first unused one (tx_lock held); their
 * pages may hold anything the caller wrote: cleared. */
/* Give b's pages from the from'th on back; the caller wrote the first
 * written bytes of b, which are cleared (they were never sent: the
 * backend must not see them; what a page held before is what the backend
 * read already, and tx_dirty still covers it). */
static void tx_unreserve(struct nfq *q, struct netfront_txbuf *b,
			 unsigned int from, size_t written)
{
	unsigned int i;

	for (i = from; i < b->niov; i++) {
		size_t off = (size_t)i * NF_PAGE_SIZE;

		if (written > off)
			memset(q->tx_page[b->id_[i]], 0,
			       written - off < NF_PAGE_SIZE ? written - off
							    : NF_PAGE_SIZE);
		if (written - off >= NF_PAGE_SIZE && written > off)
			q->tx_dirty[b->id_[i]] = 0;
		tx_resv_end(q, b->id_[i], false);
	}
	b->niov = 0;
	b->q_ = NULL;
}

void netfront_tx_cancel(struct netfront *nf, struct netfront_txbuf *b,
			size_t written)
{
	struct nfq *q;

	if (!nf || !b || !b->q_)
		return;
	q = b->q_;
	pthread_mutex_lock(&q->tx_lock);
	tx_unreserve(q, b, 0, written < b->cap ? written : b->cap);
	pthread_mutex_unlock(&q->tx_lock);
	nf_exit(nf);
}

void netfront_tx_abort(struct netfront *nf, struct netfront_txbuf *b)
{
	netfront_tx_cancel(nf, b, SIZE_MAX);
}

int netfront_tx_commit(struct netfront *nf, struct netfront_txbuf *b,
		       size_t len, const struct netfront_meta *meta,
		       int timeout_ms)
{
	unsigned int slots, flags, i;
	uint64_t deadline = 0;
	const char *why = NULL;
	struct nfq *q;
	bool gso;
	int rc;

	if (!nf || !b || !b->q_)
		return -EINVAL;
	q = b->q_;
	rc = len < NETFRONT_MIN_FRAME || len > b->cap ||
		     tx_meta(nf, meta, &flags, &gso)
		 ? -EINVAL
		 : 0;
	slots = nf_pages(len);
	if (!rc)
		rc = tx_allowed(nf, slots, gso, meta);
	deadline = deadline_in(timeout_ms);
	pthread_mutex_lock(&q->tx_lock);
	if (!rc)
		rc = tx_wait(q, slots + (gso ? 1u : 0u), 0, deadline, &why);
	if (rc == -EAGAIN && (ALOAD(&nf->broken) || ALOAD(&nf->closing)))
		rc = -EIO;
	if (rc) {
		tx_unreserve(q, b, 0, len < b->cap ? len : b->cap);
		return tx_leave(q, rc, why);
	}
	for (i = 0; i < slots; i++) {
		size_t off = (size_t)i * NF_PAGE_SIZE;

		tx_clean(q, b->id_[i],
			 (uint16_t)(len - off < NF_PAGE_SIZE ? len - off
							     : NF_PAGE_SIZE));
	}
	for (i = 0; i < slots; i++)
		tx_resv_end(q, b->id_[i], true);
	tx_post(q, b->id_, len, flags, meta, gso);
	tx_unreserve(q, b, slots, 0); /* the caller wrote only the frame */
	pthread_mutex_unlock(&q->tx_lock);
	nf_exit(nf);
	return 0;
}

/* ---- receive ------------------------------------------------------------ */

/* Post an rx request in every free slot (rx_lock held). */
static void rx_refill(struct nfq *q)
{
	int notify;

	while (q->rx.req_prod_pvt - q->rx.rsp_cons < NF_RX_RING) {
		RING_IDX i = q->rx.req_prod_pvt;
		struct netif_rx_request *req = RING_GET_REQUEST(&q->rx, i);
		uint16_t slot = (uint16_t)(i & (NF_RX_RING - 1));

		req->id = slot;
		req->pad = 0;
		req->gref = q->rx_gref[slot];
		q->rx.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
	if (notify)
		q->nf->plat->evtchn->notify(q->ev, q->rx_port);
}

/* Copy the responses the backend produced since the last look (rx_lock
 * held).  -EPROTO when it produced more than was requested. */
static int rx_fetch(struct nfq *q)
{
	RING_IDX prod = ALOAD(&q->rx.sring->rsp_prod), i;

	rmb();
	if (prod - q->rx.rsp_cons > q->rx.req_prod_pvt - q->rx.rsp_cons)
		return -EPROTO;
	for (i = q->rx_seen; i != prod; i++)
		memcpy(&q->rx_copy[i & (NF_RX_RING - 1)],
		       RING_GET_RESPONSE(&q->rx, i), sizeof(union nf_rx_slot));
	q->rx_seen = prod;
	return 0;
}

/* The next complete, well-formed packet of q into *pkt (rx_lock held, or
 * the queue thread in handler mode).  Returns 1, -EAGAIN when none is
 * complete, -EPROTO (*why) for a violation.  Malformed packets are dropped
 * and counted and the next one is looked at. */
static int rx_next(struct nfq *q, struct nf_rx_pkt *pkt, const char **why)
{
	struct netfront *nf = q->nf;
	union nf_rx_slot chain[NF_RX_MAX_SLOTS];

	if (rx_fetch(q)) {
		*why = "rx: more responses than requests";
		return -EPROTO;
	}
	while (q->rx.rsp_cons != q->rx_seen) {
		unsigned int n = q->rx_seen - q->rx.rsp_cons, i;
		int rc;

		if (n > NF_RX_MAX_SLOTS)
			n = NF_RX_MAX_SLOTS;
		for (i = 0; i < n; i++)
			chain[i] =
			    q->rx_copy[(q->rx.rsp_cons + i) & (NF_RX_RING - 1)];
		rc = nf_rx_parse(chain, n, q->rx.rsp_cons, NF_RX_RING, pkt);
		if (rc < 0) {
			*why = "rx: a slot answered out of place or a chain "
			       "without end";
			return -EPROTO;
		}
		if (rc == 0) {
			/* The rest of the chain is on its way: unless the
			 * ring is full of it (it cannot come then). */
			if (q->rx_seen - q->rx.rsp_cons >= NF_RX_RING) {
				*why = "rx: a chain filling the ring";
				return -EPROTO;
			}
			return -EAGAIN;
		}
		AADD(&nf->stats.rx_slots, pkt->nslots);
		if (!pkt->err)
			return 1;
		AADD(&nf->stats.rx_errors, 1);
		q->rx.rsp_cons += pkt->nslots;
		rx_refill(q);
	}
	return -EAGAIN;
}

static void rx_meta(const struct nfq *q, const struct nf_rx_pkt *pkt,
		    struct netfront_meta *meta)
{
	memset(meta, 0, sizeof(*meta));
	if (pkt->flags & NETRXF_csum_blank)
		meta->flags |= NETFRONT_CSUM_BLANK;
	if (pkt->flags & NETRXF_data_validated)
		meta->flags |= NETFRONT_DATA_VALIDATED;
	meta->gso_type = pkt->gso_type;
	meta->gso_size = pkt->gso_size;
	meta->queue = q->id;
	meta->has_hash = pkt->has_hash;
	meta->hash_type = pkt->hash_type;
	meta->hash = pkt->hash;
}

/* pkt is done with: its pages are posted again. */
static void rx_consume(struct nfq *q, const struct nf_rx_pkt *pkt)
{
	struct netfront *nf = q->nf;

	q->rx.rsp_cons += pkt->nslots;
	rx_refill(q);
	AADD(&nf->stats.rx_frames, 1);
	AADD(&nf->stats.rx_bytes, pkt->len);
	AADD(&nf->stats.queue_rx_frames[q->id], 1);
}

/* Take one packet from q into buf (rx_lock held).  Returns its length,
 * -EAGAIN when none is complete, -EMSGSIZE (dropped: too big),
 * -EPROTO (*why) for a violation. */
static int rx_take(struct nfq *q, uint8_t *buf, size_t cap,
		   struct netfront_meta *meta, const char **why)
{
	struct nf_rx_pkt pkt;
	size_t off = 0;
	unsigned int i;
	int rc = rx_next(q, &pkt, why);

	if (rc < 0)
		return rc;
	if (pkt.len > cap) {
		AADD(&q->nf->stats.rx_too_big, 1);
		q->rx.rsp_cons += pkt.nslots;
		rx_refill(q);
		return -EMSGSIZE;
	}
	for (i = 0; i < pkt.nfrags; i++) {
		const struct nf_rx_frag *fr = &pkt.frag[i];

		memcpy(buf + off, q->rx_page[fr->slot] + fr->offset, fr->size);
		off += fr->size;
	}
	if (meta)
		rx_meta(q, &pkt, meta);
	rx_consume(q, &pkt);
	return (int)pkt.len;
}

/* Handler mode: hand every complete packet of q to the handler in place
 * (the queue thread; q's rx side is its own).  -EPROTO (*why). */
static int rx_deliver(struct nfq *q, const char **why)
{
	struct netfront *nf = q->nf;
	struct iovec iov[NF_RX_MAX_SLOTS];
	struct netfront_rx_frame f;
	struct nf_rx_pkt pkt;
	unsigned int i;
	int rc;

	while ((rc = rx_next(q, &pkt, why)) == 1) {
		if (pkt.len > NETFRONT_MAX_FRAME) {
			/* more than a frame can be (slots of a page each
			 * add up past 64 KiB): dropped, as recv would */
			AADD(&nf->stats.rx_too_big, 1);
			q->rx.rsp_cons += pkt.nslots;
			rx_refill(q);
			continue;
		}
		for (i = 0; i < pkt.nfrags; i++) {
			iov[i].iov_base =
			    q->rx_page[pkt.frag[i].slot] + pkt.frag[i].offset;
			iov[i].iov_len = pkt.frag[i].size;
		}
		f.iov = iov;
		f.niov = pkt.nfrags;
		f.len = pkt.len;
		rx_meta(q, &pkt, &f.meta);
		nf->rx_fn(nf->rx_arg, &f);
		rx_consume(q, &pkt);
	}
	return rc == -EAGAIN ? 0 : rc;
}

int netfront_recv(struct netfront *nf, void *buf, size_t cap,
		  struct netfront_meta *meta, int timeout_ms)
{
	uint64_t deadline = 0;
	const char *why = NULL;
	uint64_t junk;
	int rc;

	if (!nf || (!buf && cap))
		return -EINVAL;
	deadline = deadline_in(timeout_ms);
	for (;;) {
		unsigned int i;

		rc = nf_enter(nf, deadline);
		if (rc)
			return rc == -ETIMEDOUT && !timeout_ms ? -EAGAIN : rc;
		pthread_mutex_lock(&nf->rx_lock);
		for (;;) {
			bool more = false;

			if (nf->rx_fn) {
				rc = -EINVAL; /* frames go to the handler */
				break;
			}

			rc = -EAGAIN;
			for (i = 0; i < nf->nq && rc == -EAGAIN; i++) {
				struct nfq *q =
				    nf->q[(nf->rx_next + i) % nf->nq];

				rc = rx_take(q, buf, cap, meta, &why);
			}
			if (rc != -EAGAIN) {
				nf->rx_next = (nf->rx_next + 1) % nf->nq;
				break;
			}
			if (nf_leave_due(nf))
				break;
			/* Nothing: clear the fd, re-arm every queue's
			 * rsp_event and look once more before sleeping. */
			if (read(nf->rx_fd, &junk, sizeof(junk)) < 0 &&
			    errno != EAGAIN)
				pvk_warn("netfront: rx fd: %s",
					 strerror(errno));
			for (i = 0; i < nf->nq; i++) {
				int work;

				RING_FINAL_CHECK_FOR_RESPONSES(&nf->q[i]->rx,
							       work);
				if (work)
					more = true;
			}
			if (more)
				continue;
			if (deadline && pvk_now_ns() >= deadline) {
				rc = timeout_ms ? -ETIMEDOUT : -EAGAIN;
				break;
			}
			cond_wait_until(&nf->rx_cond, &nf->rx_lock, deadline);
		}
		pthread_mutex_unlock(&nf->rx_lock);
		if (rc == -EPROTO)
			nf_break(nf, why);
		nf_exit(nf);
		if (rc == -EPROTO)
			return -EIO;
		if (rc != -EAGAIN || !nf_leave_due(nf))
			return rc;
		/* Recovering: wait it out in nf_enter; broken: -EIO. */
	}
}

int netfront_rx_fd(const struct netfront *nf) { return nf->rx_fd; }

int netfront_set_rx_handler(struct netfront *nf,
			    void (*fn)(void *arg,
				       const struct netfront_rx_frame *f),
			    void *arg)
{
	if (!nf)
		return -EINVAL;
	pthread_mutex_lock(&nf->rx_lock);
	nf->rx_fn = fn;
	nf->rx_arg = arg;
	pthread_cond_broadcast(&nf->rx_cond); /* recv leaves */
	pthread_mutex_unlock(&nf->rx_lock);
	pthread_mutex_lock(&nf->lock);
	nf_kick(nf); /* what waits goes to the handler */
	pthread_mutex_unlock(&nf->lock);
	return 0;
}

/* ---- the event thread --------------------------------------------------- */

/* Handler mode: deliver what q has, re-arming rsp_event until nothing is
 * left (rx_lock held).  -EPROTO (*why). */
static int rx_handle(struct nfq *q, const char **why)
{
	struct netfront *nf = q->nf;
	int more, rc;

	do {
		if (ALOAD(&nf->suspended))
			return 0; /* netfront_resume kicks us */
		rc = rx_deliver(q, why);
		if (rc < 0)
			return rc;
		RING_FINAL_CHECK_FOR_RESPONSES(&q->rx, more);
	} while (more);
	return 0;
}

/* Tell the queue threads to look at their rings (nf->lock held). */
static void nf_kick(struct netfront *nf)
{
	uint64_t one = 1;
	unsigned int i;

	if (nf->recovering || nf->closing)
		return; /* new queues look anyway; none will */
	for (i = 0; i < nf->nq; i++)
		if (write(nf->q[i]->kickfd, &one, sizeof(one)) < 0)
			pvk_warn("netfront: cannot wake a queue thread");
}

/* One look at q's rings (an event or a kick): tx answers, rx frames. */
static void queue_look(struct nfq *q, bool event)
{
	struct netfront *nf = q->nf;
	const char *why = NULL;
	bool work;
	uint64_t one = 1, hold;
	int n;

	/* Take tx answers without asking for the next ones: the backend
	 * tells us again only when a sender waiting for space re-arms
	 * rsp_event. */
	pthread_mutex_lock(&q->tx_lock);
	n = tx_reap(q, &why);
	pthread_mutex_unlock(&q->tx_lock);
	if (n < 0) {
		nf_break(nf, why);
		return;
	}
	work = n > 0;
	pthread_mutex_lock(&nf->rx_lock);
	if (ALOAD(&q->rx.sring->rsp_prod) != q->rx.rsp_cons) {
		work = true;
		if (!nf->rx_fn) {
			pthread_cond_broadcast(&nf->rx_cond);
			if (write(nf->rx_fd, &one, sizeof(one)) < 0)
				pvk_warn("netfront: rx fd: %s",
					 strerror(errno));
		}
	}
	/* the handler's: also with nothing there, to leave rsp_event armed
	 * (recv, before it, arms it only when it waits) */
	if (nf->rx_fn)
		n = rx_handle(q, &why);
	pthread_mutex_unlock(&nf->rx_lock);
	if (n < 0) {
		nf_break(nf, why);
		return;
	}
	if (!event)
		return;
	if (!work)
		AADD(&nf->stats.spurious_events, 1);
	hold = xenbus_spurious_account(&q->spur, work);
	if (hold) {
		/* An event flood without work: hold the port masked a
		 * while (the lateeoi idea). */
		struct timespec ts = {0, (long)hold};

		AADD(&nf->stats.throttled, 1);
		nanosleep(&ts, NULL);
	}
}

static void *queue_thread(void *arg)
{
	struct nfq *q = arg;
	struct netfront *nf = q->nf;
	const struct pvk_evtchn_ops *evo = nf->plat->evtchn;
	struct pollfd p[3] = {
	    {.fd = evo->fd(q->ev), .events = POLLIN},
	    {.fd = q->stopfd, .events = POLLIN},
	    {.fd = q->kickfd, .events = POLLIN},
	};
	evtchn_port_t got;
	uint64_t junk;

	for (;;) {
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		if (p[2].revents & POLLIN) {
			if (read(q->kickfd, &junk, sizeof(junk)) < 0)
				pvk_warn("netfront: kick fd: %s",
					 strerror(errno));
			queue_look(q, false);
		}
		while (evo->pending(q->ev, &got) == 0) {
			AADD(&nf->stats.events, 1);
			queue_look(q, true);
			evo->unmask(q->ev, got);
		}
		p[0].revents = p[1].revents = p[2].revents = 0;
	}
	return NULL;
}

/* ---- queues: build and tear down ---------------------------------------- */

static void queue_stop(struct nfq *q)
{
	uint64_t one = 1;

	if (!q->thr_started)
		return;
	if (write(q->stopfd, &one, sizeof(one)) < 0)
		pvk_warn("netfront: cannot stop a queue thread");
	pthread_join(q->thr, NULL);
	q->thr_started = false;
}

static void queue_free(struct nfq *q)
{
	struct netfront *nf;
	uint64_t deadline = pvk_now_ns() + 1000000000ull;
	unsigned int i, left = 0;

	if (!q)
		return;
	nf = q->nf;
	queue_stop(q);
	if (q->ev) {
		if (q->tx_port)
			nf->plat->evtchn->unbind(q->ev, q->tx_port);
		if (q->rx_port && q->rx_port != q->tx_port)
			nf->plat->evtchn->unbind(q->ev, q->rx_port);
		nf->plat->evtchn->close(q->ev);
	}
	for (i = q->nchunks; i-- > 0;)
		left += xenbus_fe_unshare(nf->plat, nf->shr, q->chunk[i],
					  NF_CHUNK, deadline);
	left += xenbus_fe_unshare(nf->plat, nf->shr, q->rx_sring, 1, deadline);
	left += xenbus_fe_unshare(nf->plat, nf->shr, q->tx_sring, 1, deadline);
	if (left)
		pvk_warn("netfront %s: queue %u: %u page(s) still mapped by "
			 "the backend; left shared",
			 nf->x.path, q->id, left);
	if (q->stopfd >= 0)
		close(q->stopfd);
	if (q->kickfd >= 0)
		close(q->kickfd);
	pthread_mutex_destroy(&q->tx_lock);
	pthread_cond_destroy(&q->tx_cond);
	free(q);
}

/* Share count pages in chunks: tx (read-only) or rx (writable). */
static int queue_share_pages(struct nfq *q, unsigned int count, bool writable,
			     uint8_t **pages, grant_ref_t *refs)
{
	struct netfront *nf = q->nf;
	unsigned int i, j;
	int rc;

	for (i = 0; i < count; i += NF_CHUNK) {
		uint8_t *addr;

		rc = nf->plat->gntshr->share(nf->shr, nf->x.be_id, NF_CHUNK,
					     writable ? 1 : 0, &refs[i],
					     (void **)&addr);
		if (rc)
			return rc;
		q->chunk[q->nchunks++] = addr;
		for (j = 0; j < NF_CHUNK; j++)
			pages[i + j] = addr + (size_t)j * NF_PAGE_SIZE;
	}
	return 0;
}

static int queue_new(struct netfront *nf, unsigned int id, bool split,
		     struct nfq **out)
{
	const struct pvk_platform *plat = nf->plat;
	struct nfq *q = calloc(1, sizeof(*q));
	unsigned int i;
	int rc;

	if (!q)
		return -ENOMEM;
	q->nf = nf;
	q->id = id;
	q->stopfd = q->kickfd = -1;
	pthread_mutex_init(&q->tx_lock, NULL);
	pthread_cond_init(&q->tx_cond, NULL);
	rc = share_page(nf, true, &q->tx_ref, &q->tx_sring);
	if (!rc)
		rc = share_page(nf, true, &q->rx_ref, &q->rx_sring);
	if (rc)
		goto fail;
	SHARED_RING_INIT((netif_tx_sring_t *)q->tx_sring);
	FRONT_RING_INIT(&q->tx, (netif_tx_sring_t *)q->tx_sring, NF_PAGE_SIZE);
	SHARED_RING_INIT((netif_rx_sring_t *)q->rx_sring);
	FRONT_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rx_sring, NF_PAGE_SIZE);
	rc = queue_share_pages(q, NF_TX_RING, false, q->tx_page, q->tx_gref);
	if (!rc)
		rc = queue_share_pages(q, NF_RX_RING, true, q->rx_page,
				       q->rx_gref);
	if (rc) {
		pvk_err("netfront %s: cannot share the queue's pages: %s",
			nf->x.path, strerror(-rc));
		goto fail;
	}
	for (i = 0; i < NF_TX_RING; i++)
		q->tx_free[i] = (uint16_t)(NF_TX_RING - 1 - i);
	q->ntx_free = NF_TX_RING;
	rc = plat->evtchn->open(nf->plat, &q->ev);
	if (!rc)
		rc =
		    plat->evtchn->bind_unbound(q->ev, nf->x.be_id, &q->tx_port);
	if (!rc && split)
		rc =
		    plat->evtchn->bind_unbound(q->ev, nf->x.be_id, &q->rx_port);
	else
		q->rx_port = q->tx_port;
	if (rc)
		goto fail;
	/* The rx ring starts full of buffers. */
	pthread_mutex_lock(&nf->rx_lock);
	rx_refill(q);
	pthread_mutex_unlock(&nf->rx_lock);
	q->stopfd = eventfd(0, EFD_CLOEXEC);
	q->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stopfd < 0 || q->kickfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&q->thr, NULL, queue_thread, q);
	if (rc)
		goto fail;
	q->thr_started = true;
	*out = q;
	return 0;
fail:
	queue_free(q);
	return rc;
}

/* The queues and the control ring. */
static void queues_free(struct netfront *nf)
{
	unsigned int i;

	pthread_mutex_lock(&nf->ctrl_lock);
	ctrl_free(nf);
	pthread_mutex_unlock(&nf->ctrl_lock);

	for (i = 0; i < nf->nq; i++)
		queue_stop(nf->q[i]);
	for (i = nf->nq; i-- > 0;) {
		queue_free(nf->q[i]);
		nf->q[i] = NULL;
	}
	nf->nq = 0;
}

/* ---- xenbus: negotiating ------------------------------------------------ */

static int fe_write(struct xs_client *xs, xs_tx_t tx, const char *dir,
		    const char *node, unsigned int v)
{
	char path[NF_PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_printf(xs, tx, path, "%u", v);
}

static int fe_rm(struct xs_client *xs, xs_tx_t tx, const char *dir,
		 const char *node)
{
	char path[NF_PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	rc = xs_rm(xs, tx, path);
	return rc == -ENOENT ? 0 : rc;
}

static int publish_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct netfront *nf = arg;
	const char *fe = nf->x.path;
	char dir[NF_PATH_MAX];
	unsigned int i;
	int rc;

	/* What an earlier connection wrote goes first. */
	rc = xenbus_remove_rings(xs, tx, fe);
	if (!rc)
		rc = fe_rm(xs, tx, fe, "tx-ring-ref");
	if (!rc)
		rc = fe_rm(xs, tx, fe, "rx-ring-ref");
	if (!rc && nf->nq > 1)
		rc = fe_write(xs, tx, fe, "multi-queue-num-queues", nf->nq);
	for (i = 0; !rc && i < nf->nq; i++) {
		struct nfq *q = nf->q[i];

		rc = xenbus_queue_dir(dir, sizeof(dir), fe, nf->nq, i);
		if (!rc)
			rc = fe_write(xs, tx, dir, "tx-ring-ref", q->tx_ref);
		if (!rc)
			rc = fe_write(xs, tx, dir, "rx-ring-ref", q->rx_ref);
		if (!rc && nf->info.split_evtchn) {
			rc = xenbus_write_evtchn(
			    xs, tx, dir, "event-channel-tx", q->tx_port);
			if (!rc)
				rc = xenbus_write_evtchn(xs, tx, dir,
							 "event-channel-rx",
							 q->rx_port);
		} else if (!rc) {
			rc = xenbus_write_evtchn(xs, tx, dir, "event-channel",
						 q->tx_port);
		}
	}
	if (!rc)
		rc = fe_write(xs, tx, fe, "request-rx-copy", 1);
	if (!rc)
		rc = fe_write(xs, tx, fe, "feature-rx-notify", 1);
	if (!rc)
		rc = fe_write(xs, tx, fe, "feature-sg", nf->info.sg);
	if (!rc)
		rc = fe_write(xs, tx, fe, "feature-gso-tcpv4", nf->info.rx_gso);
	if (!rc)
		rc = fe_write(xs, tx, fe, "feature-gso-tcpv6", nf->info.rx_gso);
	if (!rc)
		rc = fe_write(xs, tx, fe, "feature-no-csum-offload",
			      !nf->info.csum_offload);
	if (!rc)
		rc = fe_write(xs, tx, fe, "feature-ipv6-csum-offload",
			      nf->info.ipv6_csum_offload);
	if (!rc)
		rc = fe_rm(xs, tx, fe, "ctrl-ring-ref");
	if (!rc)
		rc = fe_rm(xs, tx, fe, "event-channel-ctrl");
	if (!rc && nf->ctrl)
		rc = fe_write(xs, tx, fe, "ctrl-ring-ref", nf->ctrl->ref);
	if (!rc && nf->ctrl)
		rc = xenbus_write_evtchn(xs, tx, fe, "event-channel-ctrl",
					 nf->ctrl->port);
	if (!rc)
		rc = nf->info.mcast_control
			 ? fe_write(xs, tx, fe, "request-multicast-control",
				    nf->info.mcast_filter)
			 : fe_rm(xs, tx, fe, "request-multicast-control");
	return rc;
}

/* Negotiate with a backend in InitWait: pick the features, build the
 * queues, publish them, Connected (netif's order), wait for the backend's
 * Connected.  timeout_ms < 0: wait until cancelled. */
static int nf_connect(struct netfront *nf, int timeout_ms)
{
	const struct netfront_opts *o = &nf->o;
	uint64_t rx_copy, sg, gso4, gso6, split, maxq, mc, mcd, ctrl;
	enum xenbus_state st = XenbusStateUnknown;
	unsigned int i, nq;
	int rc;

	rc = xenbus_fe_be_u64(&nf->x, "feature-rx-copy", 0, 1, 0, &rx_copy);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "feature-sg", 0, 1, 0, &sg);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "feature-gso-tcpv4", 0, 1, 0,
				      &gso4);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "feature-gso-tcpv6", 0, 1, 0,
				      &gso6);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "feature-split-event-channels", 0,
				      1, 0, &split);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "multi-queue-max-queues", 0,
				      UINT32_MAX, 1, &maxq);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "feature-multicast-control", 0, 1,
				      0, &mc);
	if (!rc)
		rc = xenbus_fe_be_u64(
		    &nf->x, "feature-dynamic-multicast-control", 0, 1, 0, &mcd);
	if (!rc)
		rc = xenbus_fe_be_u64(&nf->x, "feature-ctrl-ring", 0, 1, 0,
				      &ctrl);
	if (rc)
		return rc;
	if (!rx_copy) {
		pvk_err("netfront %s: the backend offers no feature-rx-copy",
			nf->x.path);
		return -EOPNOTSUPP;
	}
	nq = o->num_queues ? o->num_queues : 1;
	if (nq > maxq)
		nq = maxq ? (unsigned int)maxq : 1;
	if (nq > NETFRONT_MAX_QUEUES)
		nq = NETFRONT_MAX_QUEUES;
	nf->info.sg = o->sg && sg;
	nf->info.gso_tcpv4 = nf->info.sg && gso4;
	nf->info.gso_tcpv6 = nf->info.sg && gso6;
	nf->info.rx_gso = nf->info.sg && o->gso;
	nf->info.split_evtchn = o->split_evtchn && split;
	nf->info.csum_offload = !o->no_csum_offload;
	nf->info.ipv6_csum_offload =
	    nf->info.csum_offload && !o->no_ipv6_csum_offload;
	nf->info.mcast_control = mc;
	nf->info.mcast_dynamic = mc && mcd;
	nf->info.mcast_filter = mc && nf->mc_filter;
	for (i = 0; i < nq; i++) {
		rc = queue_new(nf, i, nf->info.split_evtchn, &nf->q[i]);
		if (rc)
			return rc;
		nf->nq = i + 1;
	}
	nf->info.nr_queues = nq;
	if (ctrl && o->ctrl_ring) {
		pthread_mutex_lock(&nf->ctrl_lock);
		rc = ctrl_new(nf);
		pthread_mutex_unlock(&nf->ctrl_lock);
		if (rc)
			return rc;
	}
	rc = xs_transaction_run(nf->xs, publish_tx, nf);
	if (rc < 0)
		return rc;
	rc = xenbus_fe_switch(&nf->x, XenbusStateConnected);
	if (rc)
		return rc;
	rc = xenbus_fe_wait(&nf->x,
			    XENBUS_STATE_BIT(XenbusStateConnected) |
				XENBUS_STATE_BIT(XenbusStateClosing) |
				XENBUS_STATE_BIT(XenbusStateClosed) |
				XENBUS_STATE_BIT(XenbusStateUnknown),
			    timeout_ms, &st);
	if (!rc && st != XenbusStateConnected)
		rc = timeout_ms >= 0	       ? -ECONNREFUSED
		     : st == XenbusStateClosed ? -EAGAIN
					       : -ENODEV;
	if (rc) {
		pvk_err("netfront %s: backend did not connect (%s): %s",
			nf->x.path, xenbus_state_name(st), strerror(-rc));
		return rc;
	}
	/* Buffers were posted before it looked: tell it once. */
	for (i = 0; i < nf->nq; i++)
		nf->plat->evtchn->notify(nf->q[i]->ev, nf->q[i]->rx_port);
	mcast_replay(nf);
	ctrl_replay(nf);
	pvk_info("netfront %s: connected: %u queue(s), sg %d, split event "
		 "channels %d, gso tcpv4 %d tcpv6 %d, rx gso %d",
		 nf->x.path, nf->nq, nf->info.sg, nf->info.split_evtchn,
		 nf->info.gso_tcpv4, nf->info.gso_tcpv6, nf->info.rx_gso);
	return 0;
}

/* The toolstack's "mac": six hex pairs, unicast, not all zero. */
static int read_mac(struct netfront *nf)
{
	char path[NF_PATH_MAX], *v = NULL;
	unsigned int b[6], i;
	uint64_t mtu = 1500;
	size_t len;
	int rc, n = 0;

	snprintf(path, sizeof(path), "%s/mac", nf->x.path);
	rc = xs_read(nf->xs, XS_TX_NONE, path, &v, &len);
	if (rc)
		goto out;
	if (len != 17 ||
	    sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &n) != 6 ||
	    n != 17) {
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < 6; i++) {
		if (!strchr("0123456789abcdefABCDEF", v[3 * i]) ||
		    !strchr("0123456789abcdefABCDEF", v[3 * i + 1])) {
			rc = -EINVAL;
			goto out;
		}
		nf->info.mac[i] = (uint8_t)b[i];
	}
	if ((nf->info.mac[0] & 1) ||
	    !(nf->info.mac[0] | nf->info.mac[1] | nf->info.mac[2] |
	      nf->info.mac[3] | nf->info.mac[4] | nf->info.mac[5]))
		rc = -EINVAL;
	snprintf(path, sizeof(path), "%s/mtu", nf->x.path);
	if (!rc) {
		int m = xs_read_u64(nf->xs, XS_TX_NONE, path, 68, 65535, &mtu);

		if (m) {
			if (m != -ENOENT)
				pvk_warn("netfront %s: bad mtu node; using "
					 "1500",
					 nf->x.path);
			mtu = 1500;
		}
	}
	nf->info.mtu = (unsigned int)mtu;
out:
	if (rc)
		pvk_err("netfront %s: mac %s: %s", nf->x.path, v ? v : "",
			rc == -EINVAL ? "not a unicast MAC address"
				      : strerror(-rc));
	free(v);
	return rc;
}

/* ---- reconnection ------------------------------------------------------- */

/* Every waiter in send/recv looks at the device state again. */
static void nf_wake_all(struct netfront *nf)
{
	unsigned int i;

	pthread_mutex_lock(&nf->rx_lock);
	pthread_cond_broadcast(&nf->rx_cond);
	pthread_mutex_unlock(&nf->rx_lock);
	for (i = 0; i < nf->nq; i++) {
		pthread_mutex_lock(&nf->q[i]->tx_lock);
		pthread_cond_broadcast(&nf->q[i]->tx_cond);
		pthread_mutex_unlock(&nf->q[i]->tx_lock);
	}
}

static void nf_recover(struct netfront *nf)
{
	int rc;

	pthread_mutex_lock(&nf->lock);
	nf->recovering = true;
	pthread_mutex_unlock(&nf->lock);
	nf_wake_all(nf);
	pthread_mutex_lock(&nf->lock);
	while (nf->users)
		pthread_cond_wait(&nf->cond, &nf->lock);
	pthread_mutex_unlock(&nf->lock);
	for (;;) {
		for (unsigned int i = 0; i < nf->nq; i++)
			queue_stop(nf->q[i]);
		/* Once the backend is in InitWait it holds no mapping of
		 * ours (a dead one's went with it): end the sharing, then
		 * negotiate anew. */
		rc = xenbus_fe_restart(&nf->x);
		queues_free(nf);
		if (!rc)
			rc = nf_connect(nf, -1);
		if (!rc)
			xenbus_fe_monitor_connected(nf->mon);
		if (rc && rc != -ECANCELED && rc != -ENODEV &&
		    !ALOAD(&nf->closing)) {
			struct timespec ts = {0, 100000000};

			if (rc != -EAGAIN)
				pvk_warn("netfront %s: reconnecting: %s; again",
					 nf->x.path, strerror(-rc));
			nanosleep(&ts, NULL);
			continue;
		}
		break;
	}
	pthread_mutex_lock(&nf->lock);
	if (rc) {
		pvk_err("netfront %s: cannot reconnect: %s", nf->x.path,
			strerror(-rc));
		nf->broken = true;
	} else {
		pvk_info("netfront %s: reconnected", nf->x.path);
		AADD(&nf->stats.reconnects, 1);
	}
	nf->recovering = false;
	pthread_cond_broadcast(&nf->cond);
	pthread_mutex_unlock(&nf->lock);
}

/* The backend left Connected (the monitor's lost): a restarted backend
 * says InitWait, a stopped one Closed. */
static void nf_lost(void *arg)
{
	struct netfront *nf = arg;

	if (ALOAD(&nf->closing) || ALOAD(&nf->broken))
		return;
	pvk_info("netfront %s: reconnecting", nf->x.path);
	nf_recover(nf);
}

/* The backend fails or removes the device: no reconnection. */
static void nf_gone(void *arg, enum xenbus_state st)
{
	struct netfront *nf = arg;

	if (ALOAD(&nf->closing))
		return;
	nf_break(nf, st == XenbusStateClosing
			 ? "the backend closed the device"
			 : "the backend device was removed");
	xenbus_fe_switch(&nf->x, XenbusStateClosing);
}

static const struct xenbus_fe_monitor_ops nf_monitor_ops = {
    .lost = nf_lost,
    .gone = nf_gone,
};

/* ---- open and close ----------------------------------------------------- */

/* No more reconnections: unbounded waits give up, the monitor stops. */
static void nf_set_closing(struct netfront *nf)
{
	pthread_mutex_lock(&nf->lock);
	nf->closing = true;
	__atomic_store_n(&nf->x.cancel, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&nf->cond);
	pthread_mutex_unlock(&nf->lock);
	xenbus_fe_monitor_stop(nf->mon);
	nf->mon = NULL;
}

static void nf_free(struct netfront *nf)
{
	nf_set_closing(nf);
	queues_free(nf);
	if (nf->shr)
		nf->plat->gntshr->close(nf->shr);
	if (nf->rx_fd >= 0)
		close(nf->rx_fd);
	xenbus_fe_release(&nf->x);
	pthread_mutex_destroy(&nf->lock);
	pthread_cond_destroy(&nf->cond);
	pthread_mutex_destroy(&nf->rx_lock);
	pthread_cond_destroy(&nf->rx_cond);
	pthread_mutex_destroy(&nf->mc_lock);
	pthread_mutex_destroy(&nf->mc_op_lock);
	pthread_mutex_destroy(&nf->ctrl_lock);
	free(nf);
}

int netfront_open(struct pvk_platform *plat, struct xs_client *xs,
		  uint32_t devid, const struct netfront_opts *opts,
		  struct netfront **out)
{
	struct netfront *nf;
	int rc;

	if (!plat || !xs || !out)
		return -EINVAL;
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->o.sg = true;
	nf->o.split_evtchn = true;
	if (opts)
		nf->o = *opts;
	if (nf->o.timeout_ms <= 0)
		nf->o.timeout_ms = 10000;
	nf->plat = plat;
	nf->xs = xs;
	nf->rx_fd = -1;
	pthread_mutex_init(&nf->lock, NULL);
	pthread_cond_init(&nf->cond, NULL);
	pthread_mutex_init(&nf->rx_lock, NULL);
	pthread_cond_init(&nf->rx_cond, NULL);
	pthread_mutex_init(&nf->mc_lock, NULL);
	pthread_mutex_init(&nf->mc_op_lock, NULL);
	pthread_mutex_init(&nf->ctrl_lock, NULL);
	nf->mc_filter = nf->o.mcast_filter;
	nf->rx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nf->rx_fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = xenbus_fe_init(&nf->x, plat, xs, "vif", devid, nf->o.timeout_ms);
	if (rc)
		goto out_free;
	rc = read_mac(nf);
	if (rc)
		goto out_free;
	rc = xenbus_fe_begin(&nf->x);
	if (rc)
		goto fail;
	rc = plat->gntshr->open(plat, &nf->shr);
	if (!rc)
		rc = nf_connect(nf, nf->o.timeout_ms);
	if (rc)
		goto fail;
	rc = xenbus_fe_monitor_start(&nf->x, &nf_monitor_ops, nf, &nf->mon);
	if (rc)
		goto fail;
	*out = nf;
	return 0;
fail:
	if (nf->x.be_path)
		xenbus_fe_switch(&nf->x, XenbusStateClosed);
out_free:
	nf_free(nf);
	return rc;
}

void netfront_close(struct netfront *nf)
{
	if (!nf)
		return;
	nf_set_closing(nf);
	nf_wake_all(nf);
	pthread_mutex_lock(&nf->lock);
	while (nf->users)
		pthread_cond_wait(&nf->cond, &nf->lock);
	pthread_mutex_unlock(&nf->lock);
	xenbus_fe_close(&nf->x); /* it says so if the backend did not follow */
	nf_free(nf);
}

const struct netfront_info *netfront_info(const struct netfront *nf)
{
	return &nf->info;
}

void netfront_mac(const struct netfront *nf, uint8_t mac[6])
{
	memcpy(mac, nf->info.mac, 6);
}

bool netfront_broken(const struct netfront *nf) { return ALOAD(&nf->broken); }

void netfront_get_stats(const struct netfront *nf, struct netfront_stats *st)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*st = nf->stats;
}

/* ---- suspend and resume ------------------------------------------------- */

int netfront_suspend(struct netfront *nf)
{
	pthread_mutex_lock(&nf->lock);
	nf->suspended = true;
	pthread_mutex_unlock(&nf->lock);
	pvk_info("netfront %s: suspended", nf->x.path);
	return 0;
}

int netfront_resume(struct netfront *nf, bool cancelled)
{
	bool moved = false;
	int rc = 0;

	if (!cancelled) {
		/* A restored domain: the backend (maybe another one) holds
		 * nothing of ours.  Find it again and negotiate from
		 * scratch (the monitor follows the path it started on). */
		xenbus_fe_monitor_stop(nf->mon);
		nf->mon = NULL;
		rc = xenbus_fe_reread_backend(&nf->x, &moved);
		if (!rc && moved)
			pvk_info("netfront %s: the backend is now %s (domain "
				 "%u)",
				 nf->x.path, nf->x.be_path, nf->x.be_id);
		if (!rc)
			rc = xenbus_fe_monitor_start(&nf->x, &nf_monitor_ops,
						     nf, &nf->mon);
		if (!rc) {
			xenbus_fe_monitor_kick(nf->mon);
			/* Until it is done (the monitor's lost or gone). */
			while (xenbus_fe_monitor_busy(nf->mon) &&
			       !ALOAD(&nf->broken))
				usleep(10000);
		}
		if (!rc && ALOAD(&nf->broken))
			rc = -EIO;
		if (rc)
			pvk_err("netfront %s: resume: %s", nf->x.path,
				strerror(-rc));
	}
	pthread_mutex_lock(&nf->lock);
	nf->suspended = false;
	nf_kick(nf); /* frames left for a handler while suspended */
	pthread_cond_broadcast(&nf->cond);
	pthread_mutex_unlock(&nf->lock);
	pvk_info("netfront %s: resumed (%s)", nf->x.path,
		 cancelled ? "cancelled: in place" : "reconnected");
	return rc;
}

/* ---- netfront as a xenbus frontend driver ------------------------------- */

static int drv_probe(struct xenbus_bus *bus, const char *id, void **priv)
{
	uint64_t devid;
	int rc = pvk_parse_u64(id, 0, UINT32_MAX, &devid);

	/* What Linux's netfront asks for: every offload, a queue per CPU
	 * (at most 4). */
	struct netfront_opts o = {
	    .sg = true, .gso = true, .split_evtchn = true};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	const char *env;
	uint64_t v;

	if (rc)
		return rc;
	o.num_queues = cpus > 4 ? 4 : cpus > 1 ? (unsigned int)cpus : 1;
	env = getenv("PVKIT_NETFRONT_QUEUES");
	if (env && !pvk_parse_u64(env, 1, NETFRONT_MAX_QUEUES, &v))
		o.num_queues = (unsigned int)v;
	else if (env)
		pvk_warn("netfront: PVKIT_NETFRONT_QUEUES='%s' is not 1-%u: "
			 "ignored",
			 env, NETFRONT_MAX_QUEUES);
	env = getenv("PVKIT_NETFRONT_OFFLOAD");
	if (env && !strcmp(env, "0")) {
		o.sg = o.gso = false;
		o.no_csum_offload = true;
	}
	return netfront_open(xenbus_bus_platform(bus), xenbus_bus_xs(bus),
			     (uint32_t)devid, &o, (struct netfront **)priv);
}

static void drv_remove(void *priv) { netfront_close(priv); }

static int drv_suspend(void *priv) { return netfront_suspend(priv); }

static int drv_resume(void *priv, bool cancelled)
{
	return netfront_resume(priv, cancelled);
}

const struct xenbus_frontend_driver netfront_driver = {
    .type = "vif",
    .probe = drv_probe,
    .remove = drv_remove,
    .suspend = drv_suspend,
    .resume = drv_resume,
};
