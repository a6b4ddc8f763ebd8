/*
 * blkfront.c - the PV block frontend (see include/pvkit/blkfront.h).
 *
 * Shared memory carries nothing but the ring and payload (XSA-403): each
 * ring slot owns dedicated granted data pages (and indirect pages), user
 * data is copied in and out of them.  Responses are copied out of the ring
 * once and checked (id names a request in flight with that operation, the
 * producer index stays within what was requested); a violation marks the
 * device broken.  Events that bring no responses are counted and, past a
 * threshold, rate-limited before the port is unmasked (XSA-391).
 *
 * Queues: one ring, event channel, payload area, slot table, lock and
 * completion thread each; a submitting thread keeps to one queue.  Lock
 * order: the device lock, then one queue lock (never two queue locks).
 *
 * Zero-copy buffers (blkfront_buf_alloc): runs of guest pages shared with
 * the backend for the device's lifetime, holding nothing but what the
 * caller puts there as payload (XSA-403 as for the slots' pages).  A
 * request on one is granted straight from it: no copy on either side.
 * Freed buffers are zeroed and kept for reuse (the backend may hold
 * persistent mappings of their pages); blkfront_close ends the sharing.
 *
 * Recovery (blkfront_recover's idea): a watch on the backend's state wakes
 * the recovery thread when the backend leaves Connected.  It stops the
 * queues, takes the answers already in the rings, keeps a shadow of every
 * request still unanswered (operation, sectors, the caller's buffer,
 * submission number), ends foreign access to everything, renegotiates from
 * scratch and queues the shadows again in submission order on queue 0
 * before letting new submissions in.
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

#include "blkif/blkif.h"
#include "common/log.h"
#include "common/spin.h"
#include "common/util.h"
#include "pvkit/blkfront.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus.h"
#include "pvkit/xenbus_frontend.h"
#include "pvkit/xenbus_ring.h"
#include "pvkit/xs.h"

#define BF_PATH_MAX 128
#define BF_DEFAULT_INDIRECT 32u
/* A request on a zero-copy buffer needs no pages of its slot: it may be as
 * large as the backend allows, up to 1 MiB (Linux blkback's limit). */
#define BF_ZC_MAX_SEGS 256u
#define BF_DEFAULT_QUEUES 4u
#define BF_DEFAULT_POLL_US 50u
#define BF_MAX_POLL_US 1000u
#define BF_POLL_MS 200 /* recovery re-checks for close this often */

#define ALOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ASTORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define AADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)

/* Wait on c (m held) for at most ms milliseconds. */
static void cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, unsigned int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000;
	while (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(c, m, &ts);
}

struct blkfront;

struct bfbuf { /* a zero-copy buffer */
	uint8_t *addr;
	size_t pages;
	grant_ref_t *refs;
	domid_t dom;	   /* the backend domain it is shared with */
	bool live;	   /* allocated (else kept for reuse) */
	unsigned int busy; /* operations in flight on it, atomic */
};

struct ureq { /* one user operation, maybe several ring requests */
	blkfront_done_fn done;
	void *arg;
	struct blkfront *bf;
	unsigned int parts; /* atomic */
	int status;	    /* first error, atomic */
	bool gate;	    /* a multi-queue barrier holding the gate */
	struct bfbuf *zb;   /* the zero-copy buffer it uses, or NULL */
};

/* What a ring request was for: enough to send it again. */
struct shadow {
	struct ureq *u;
	enum blkfront_op op;
	uint64_t sector;
	uint32_t nsect;
	uint8_t *ubuf;		/* the caller's buffer (NULL: no data) */
	const struct bfbuf *zb; /* ubuf lies in this zero-copy buffer */
	uint64_t seq;		/* submission order */
};

struct bslot {
	bool busy;
	uint16_t gen;
	uint8_t operation; /* on the wire (BLKIF_OP_INDIRECT maybe) */
	struct shadow sh;
	struct bslot *next;
	uint8_t *check; /* PVKIT_BLKFRONT_CHECK: the data as queued */
};

struct bqueue {
	struct blkfront *bf;
	unsigned int id;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool dead;	    /* being torn down: submitters start over */
	unsigned int users; /* submitters inside; teardown waits for them */

	struct blkif_front f;
	void *sring;
	unsigned int nr_pages;
	grant_ref_t refs[BLKIF_MAX_RING_PAGES];
	struct pvk_evtchn *ev;
	evtchn_port_t port;

	/* Per slot: segs data pages then ind indirect pages, each page its
	 * own share (no contiguous runs needed: guest memory fragments over
	 * reconnections). */
	uint8_t **data;
	grant_ref_t *data_refs;
	unsigned int slot_pages;
	struct bslot *slots;
	unsigned int nslots;
	struct bslot *free;
	unsigned int inflight;

	pthread_t thr;
	bool thr_started;
	int stopfd;
	bool stopping; /* atomic: the thread is asked to end */
	struct xenbus_spurious spur;
	struct pvk_spin spin;
};

struct blkfront {
	struct pvk_platform *plat;
	struct xs_client *xs;
	struct blkfront_opts o;
	unsigned int poll_us; /* each queue's busy-poll budget */
	struct pvk_spin_stats poll; /* the queues' polling, together */
	/* $PVKIT_BLKFRONT_CHECK=1 (a diagnostic): a copied write keeps a
	 * copy of its data; when it is answered, the caller's buffer and the
	 * slot pages are compared with it and any change is logged. */
	bool check_pages;
	enum blkif_abi abi;
	struct blkfront_info info;
	struct xenbus_fe x; /* the device's xenbus handshake and paths */
	struct xenbus_fe_monitor *mon; /* follows the backend's state */
	struct pvk_gntshr *shr;

	/* The connection: set up with every queue stopped.  segs: pages
	 * per request through the slots' pages; zsegs: on a zero-copy buffer
	 * (>= segs); ind: indirect pages per slot, for the larger. */
	unsigned int segs, zsegs, ind;
	struct bqueue *q[BLKFRONT_MAX_QUEUES];
	unsigned int nq;

	pthread_mutex_t lock; /* the device state below */
	pthread_cond_t cond;
	bool broken, closing, recovering, gate;
	bool suspended;	       /* new submissions wait (blkfront_suspend) */
	unsigned int inflight; /* over all queues, atomic */
	uint64_t seq;	       /* atomic */
	struct shadow *pend;   /* shadows waiting to be sent again */
	unsigned int npend;
	struct blkfront_stats stats; /* atomic counters */

	pthread_mutex_t buf_lock; /* the zero-copy buffers, by address */
	struct bfbuf **bufs;
	unsigned int nbufs, bufs_cap;
};

/* ---- vdev names --------------------------------------------------------- */

int blkfront_vdev_parse(const char *vdev, uint32_t *devid)
{
	uint64_t v;
	size_t n;
	unsigned int disk;

	if (!vdev)
		return -EINVAL;
	if (pvk_parse_u64(vdev, 0, UINT32_MAX, &v) == 0) {
		*devid = (uint32_t)v;
		return 0;
	}
	n = strlen(vdev);
	if (strncmp(vdev, "xvd", 3) || n < 4 || n > 5)
		return -EINVAL;
	if (vdev[3] < 'a' || vdev[3] > 'z')
		return -EINVAL;
	disk = (unsigned int)(vdev[3] - 'a');
	if (n == 5) {
		if (vdev[4] < 'a' || vdev[4] > 'z')
			return -EINVAL;
		disk = (disk + 1) * 26 + (unsigned int)(vdev[4] - 'a');
	}
	/* xvda..xvdp: major 202; beyond: the extended form. */
	*devid =
	    disk < 16 ? (202u << 8) | (disk << 4) : (1u << 28) | (disk << 8);
	return 0;
}

/* ---- completions -------------------------------------------------------- */

static void ureq_part_done(struct ureq *u, int status)
{
	struct blkfront *bf = u->bf;
	int zero = 0;

	if (status)
		__atomic_compare_exchange_n(&u->status, &zero, status, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	if (AADD(&u->parts, -1u) != 0)
		return;
	if (u->zb)
		AADD(&u->zb->busy, -1u);
	if (u->gate) {
		pthread_mutex_lock(&bf->lock);
		bf->gate = false;
		pthread_cond_broadcast(&bf->cond);
		pthread_mutex_unlock(&bf->lock);
	}
	u->done(u->arg, ALOAD(&u->status));
	free(u);
}

static uint8_t *slot_page(const struct bqueue *q, unsigned int slot,
			  unsigned int page)
{
	return q->data[(size_t)slot * q->slot_pages + page];
}

/* Copy between a slot's data pages and a flat buffer. */
static void slot_copy(const struct bqueue *q, unsigned int slot, uint8_t *buf,
		      size_t bytes, bool to_slot)
{
	unsigned int pg;

	for (pg = 0; bytes; pg++) {
		size_t n = bytes < BLKIF_PAGE_SIZE ? bytes : BLKIF_PAGE_SIZE;
		uint8_t *p = slot_page(q, slot, pg);

		if (to_slot) {
			memcpy(p, buf, n);
			/* The rest of a partial page: nothing stale
			 * (XSA-403). */
			if (n < BLKIF_PAGE_SIZE)
				memset(p + n, 0, BLKIF_PAGE_SIZE - n);
		} else {
			memcpy(buf, p, n);
		}
		buf += n;
		bytes -= n;
	}
}

/* PVKIT_BLKFRONT_CHECK: where the mapping holding p comes from. */
static void maps_line(const void *p, char *out, size_t len)
{
	uintptr_t a = (uintptr_t)p, lo, hi;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	snprintf(out, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 &&
		    a >= lo && a < hi) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line);
			break;
		}
	fclose(f);
}

/* Compare len bytes at p with the copy; say where they differ. */
static bool check_region(const struct bqueue *q, unsigned int slot,
			 const char *what, const uint8_t *p,
			 const uint8_t *copy, size_t len)
{
	size_t i, ndiff = 0, first = 0, last = 0;
	char where[600];

	for (i = 0; i < len; i++)
		if (p[i] != copy[i]) {
			if (!ndiff++)
				first = i;
			last = i;
		}
	if (!ndiff)
		return false;
	maps_line(p + first, where, sizeof(where));
	pvk_err("blkfront %s: queue %u slot %u: %zu bytes of the %s changed "
		"while the write was in flight, offsets %zu..%zu (at %p: %s)",
		q->bf->x.path, q->id, slot, ndiff, what, first, last,
		(const void *)(p + first), where);
	return true;
}

/* PVKIT_BLKFRONT_CHECK: a copied write's slot pages and the caller's buffer
 * against what was copied when it was queued. */
static void slot_check(const struct bqueue *q, unsigned int slot,
		       struct bslot *s)
{
	size_t bytes = (size_t)s->sh.nsect << BLKIF_SECTOR_SHIFT, off = 0;
	unsigned int pg;

	if (!s->check)
		return;
	check_region(q, slot, "caller's buffer", s->sh.ubuf, s->check, bytes);
	for (pg = 0; off < bytes; pg++, off += BLKIF_PAGE_SIZE) {
		size_t n = bytes - off < BLKIF_PAGE_SIZE ? bytes - off
							 : BLKIF_PAGE_SIZE;

		if (check_region(q, slot, "slot pages", slot_page(q, slot, pg),
				 s->check + off, n))
			pvk_err(
			    "blkfront %s: (that is slot page %u, gref %u)",
			    q->bf->x.path, pg,
			    q->data_refs[(size_t)slot * q->slot_pages + pg]);
	}
	free(s->check);
	s->check = NULL;
}

/* Release a slot (queue lock held). */
static void slot_put(struct bqueue *q, struct bslot *s)
{
	s->busy = false;
	s->next = q->free;
	q->free = s;
	q->inflight--;
	AADD(&q->bf->inflight, -1u);
	pthread_cond_broadcast(&q->cond);
}

/* Fail everything in flight on q (queue lock held; callbacks unlocked). */
static void queue_fail_all(struct bqueue *q)
{
	unsigned int i;

	for (i = 0; i < q->nslots; i++) {
		struct bslot *s = &q->slots[i];
		struct ureq *u;

		if (!s->busy)
			continue;
		u = s->sh.u;
		slot_put(q, s);
		pthread_mutex_unlock(&q->lock);
		ureq_part_done(u, -EIO);
		pthread_mutex_lock(&q->lock);
	}
}

/* Mark the device broken (no lock held). */
static void bf_break(struct blkfront *bf, const char *why)
{
	unsigned int i;
	bool was;

	pthread_mutex_lock(&bf->lock);
	was = bf->broken;
	bf->broken = true;
	pthread_cond_broadcast(&bf->cond);
	pthread_mutex_unlock(&bf->lock);
	if (!was && why)
		pvk_err("blkfront %s: %s: device broken", bf->x.path, why);
	for (i = 0; i < bf->nq; i++) {
		struct bqueue *q = bf->q[i];

		pthread_mutex_lock(&q->lock);
		queue_fail_all(q);
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
	}
}

static uint8_t op_wire(enum blkfront_op op)
{
	switch (op) {
	case BLKFRONT_READ:
		return BLKIF_OP_READ;
	case BLKFRONT_WRITE:
		return BLKIF_OP_WRITE;
	case BLKFRONT_FLUSH:
		return BLKIF_OP_FLUSH_DISKCACHE;
	case BLKFRONT_BARRIER:
		return BLKIF_OP_WRITE_BARRIER;
	case BLKFRONT_DISCARD:
		return BLKIF_OP_DISCARD;
	}
	return 0xff;
}

/* Consume responses (queue lock held).  Returns how many, or -1 when the
 * backend violated the protocol (*why says how). */
static int handle_responses(struct bqueue *q, const char **why, bool arm)
{
	struct blkfront *bf = q->bf;
	struct blkif_rsp rsp;
	int got = 0, n;

	do {
		n = blkif_front_poll(&q->f);
		if (n < 0) {
			*why = "backend produced more responses than requests";
			return -1;
		}
		while (blkif_front_take(&q->f, &rsp) == 0) {
			uint64_t idx = rsp.id & 0xffff;
			uint16_t gen = (uint16_t)(rsp.id >> 16);
			struct bslot *s;
			struct ureq *u;
			int st;

			got++;
			AADD(&bf->stats.responses, 1);
			/* An indirect request may be answered with its
			 * inner operation (Linux's blkback does). */
			if (rsp.id >> 32 || idx >= q->nslots ||
			    !q->slots[idx].busy || q->slots[idx].gen != gen ||
			    (q->slots[idx].operation != rsp.operation &&
			     (q->slots[idx].operation != BLKIF_OP_INDIRECT ||
			      op_wire(q->slots[idx].sh.op) != rsp.operation))) {
				*why =
				    "response with an unknown or duplicate id";
				return -1;
			}
			s = &q->slots[idx];
			st = rsp.status == BLKIF_RSP_OKAY	  ? 0
			     : rsp.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP
								  : -EIO;
			if (bf->check_pages && s->sh.op == BLKFRONT_WRITE &&
			    !s->sh.zb)
				slot_check(q, (unsigned int)idx, s);
			if (!st && s->sh.op == BLKFRONT_READ && !s->sh.zb)
				slot_copy(q, (unsigned int)idx, s->sh.ubuf,
					  (size_t)s->sh.nsect
					      << BLKIF_SECTOR_SHIFT,
					  false);
			u = s->sh.u;
			slot_put(q, s);
			pthread_mutex_unlock(&q->lock);
			ureq_part_done(u, st);
			pthread_mutex_lock(&q->lock);
			if (ALOAD(&bf->broken) || q->dead)
				return got;
		}
	} while (arm && blkif_front_final_check(&q->f));
	return got;
}

/* A barrier waiting for the queues to drain is woken by completions. */
static void wake_gate(struct blkfront *bf)
{
	/* After the completions' inflight drops (see the barrier's wait). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&bf->gate, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_lock(&bf->lock);
	pthread_cond_broadcast(&bf->cond);
	pthread_mutex_unlock(&bf->lock);
}

/* A queue thread's own queue: a request issued from a completion callback
 * goes back on the queue that completed it (blk-mq's CPU-to-queue map),
 * which that thread is watching anyway. */
static __thread struct bqueue *bf_tls_home;

/* Busy-polling: a response, or the queue is being stopped. */
static bool queue_ready(void *arg)
{
	struct bqueue *q = arg;

	return blkif_front_peek(&q->f) ||
	       __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE);
}

/* Take the responses there are outside an event (arm: and re-arm
 * rsp_event); a protocol violation breaks the device. */
static void queue_take(struct bqueue *q, bool arm)
{
	struct blkfront *bf = q->bf;
	const char *why = NULL;
	int n = 0;

	pthread_mutex_lock(&q->lock);
	if (!ALOAD(&bf->broken) && !q->dead)
		n = handle_responses(q, &why, arm);
	pthread_mutex_unlock(&q->lock);
	if (n < 0)
		bf_break(bf, why);
	else if (n > 0)
		wake_gate(bf);
}

static void *queue_thread(void *arg)
{
	struct bqueue *q = arg;
	struct blkfront *bf = q->bf;
	const struct pvk_evtchn_ops *evo = bf->plat->evtchn;
	struct pollfd p[2] = {
	    {.fd = evo->fd(q->ev), .events = POLLIN},
	    {.fd = q->stopfd, .events = POLLIN},
	};
	evtchn_port_t got;
	bool spun = false;

	bf_tls_home = q;
	for (;;) {
		if (!spun) {
			uint64_t t0 =
			    pvk_spin_enabled(&q->spin) ? pvk_spin_now() : 0;

			if (poll(p, 2, -1) < 0 && errno != EINTR)
				break;
			if (t0)
				pvk_spin_slept(&q->spin, pvk_spin_now() - t0);
		}
		if ((p[1].revents & POLLIN) ||
		    __atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE))
			break;
		/* The watch saw responses: take them without re-arming
		 * rsp_event, then watch again. */
		if (spun)
			queue_take(q, false);
		while (!spun && evo->pending(q->ev, &got) == 0) {
			const char *why = NULL;
			uint64_t hold;
			int n = 0;

			pthread_mutex_lock(&q->lock);
			AADD(&bf->stats.events, 1);
			if (!ALOAD(&bf->broken) && !q->dead)
				n = handle_responses(q, &why, true);
			hold = n < 0 ? 0
				     : xenbus_spurious_account(&q->spur, n > 0);
			if (n == 0)
				AADD(&bf->stats.spurious_events, 1);
			if (n < 0) {
				pthread_mutex_unlock(&q->lock);
				bf_break(bf, why);
			} else if (hold) {
				/* An event flood without work: hold the port
				 * masked a while (the lateeoi idea). */
				struct timespec ts = {0, (long)hold};

				AADD(&bf->stats.throttled, 1);
				pthread_mutex_unlock(&q->lock);
				nanosleep(&ts, NULL);
			} else {
				pthread_mutex_unlock(&q->lock);
			}
			wake_gate(bf);
			evo->unmask(q->ev, got);
		}
		p[0].revents = p[1].revents = 0;
		/* Requests out: watch for their responses a while before
		 * sleeping; the backend does not notify meanwhile. */
		spun = ALOAD(&q->inflight) && !ALOAD(&bf->broken) &&
		       pvk_spin_wait(&q->spin, queue_ready, q);
		/* Re-arm rsp_event; what came meanwhile is taken (and its
		 * event will come as a spurious one). */
		if (!spun)
			queue_take(q, true);
	}
	return NULL;
}

/* ---- submitting --------------------------------------------------------- */

/* Segment i of a request of n sectors starting at sector fs of its first
 * page: which sectors of its page it covers. */
static void seg_sectors(unsigned int i, unsigned int fs, uint32_t n,
			struct blkif_request_segment *seg)
{
	uint32_t from = i ? 0 : fs;
	uint32_t end = fs + n - i * BLKIF_SECTORS_PER_PAGE; /* in this page */

	if (end > BLKIF_SECTORS_PER_PAGE)
		end = BLKIF_SECTORS_PER_PAGE;
	seg->first_sect = (uint8_t)from;
	seg->last_sect = (uint8_t)(end - 1);
}

/* The sectors of its first page before sh's data: a request on a zero-copy
 * buffer may start inside a page (copied data starts each slot page). */
static uint32_t lead_sectors(const struct shadow *sh)
{
	if (!sh->zb)
		return 0;
	return (uint32_t)((size_t)(sh->ubuf - sh->zb->addr) %
			  BLKIF_PAGE_SIZE) >>
	       BLKIF_SECTOR_SHIFT;
}

/* Queue one ring request for sh (queue lock held, a free slot and ring
 * space available). */
static int queue_one(struct bqueue *q, const struct shadow *sh)
{
	struct blkfront *bf = q->bf;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	struct bslot *s = q->free;
	unsigned int idx = (unsigned int)(s - q->slots), i, nseg;
	const grant_ref_t *srefs = q->data_refs + (size_t)idx * q->slot_pages;
	const grant_ref_t *refs = srefs; /* the data's pages */
	uint8_t op = op_wire(sh->op);
	uint32_t n = sh->nsect, bytes = n << BLKIF_SECTOR_SHIFT;
	unsigned int fs = lead_sectors(sh); /* first sector, first page */
	struct blkif_req r;
	int rc;

	if (sh->zb)
		refs = sh->zb->refs +
		       (size_t)(sh->ubuf - sh->zb->addr) / BLKIF_PAGE_SIZE;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.op = op;
	r.sector = sh->sector;
	r.handle = 0;
	s->gen++;
	r.id = idx | ((uint64_t)s->gen << 16);
	nseg = (fs + n + BLKIF_SECTORS_PER_PAGE - 1) / BLKIF_SECTORS_PER_PAGE;
	if (op == BLKIF_OP_DISCARD) {
		r.nr_sectors = n;
		nseg = 0;
	} else if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		r.operation = BLKIF_OP_INDIRECT;
		for (i = 0; i < nseg; i++) {
			struct blkif_request_segment *ip = (void *)slot_page(
			    q, idx,
			    bf->segs + i / BLKIF_SEGS_PER_INDIRECT_PAGE);
			unsigned int k = i % BLKIF_SEGS_PER_INDIRECT_PAGE;

			ip[k].gref = refs[i];
			seg_sectors(i, fs, n, &ip[k]);
		}
		for (i = 0; i * BLKIF_SEGS_PER_INDIRECT_PAGE < nseg; i++)
			r.indirect_grefs[i] = srefs[bf->segs + i];
	} else {
		for (i = 0; i < nseg; i++) {
			seg[i].gref = refs[i];
			seg_sectors(i, fs, n, &seg[i]);
		}
		r.seg = seg;
	}
	r.nr_segs = (uint16_t)nseg;
	if (nseg && op != BLKIF_OP_READ && !sh->zb) {
		slot_copy(q, idx, sh->ubuf, bytes, true);
		if (bf->check_pages && op == BLKIF_OP_WRITE) {
			free(s->check);
			s->check = malloc(bytes);
			if (s->check)
				memcpy(s->check, sh->ubuf, bytes);
		}
	}
	rc = blkif_front_queue(&q->f, &r);
	if (rc)
		return rc;
	q->free = s->next;
	s->busy = true;
	/* Xen's blkif.h: the response to BLKIF_OP_INDIRECT carries the
	 * inner operation (Linux's blkback and blkfront both do so). */
	s->operation = r.op;
	s->sh = *sh;
	q->inflight++;
	AADD(&bf->inflight, 1);
	AADD(&bf->stats.requests, 1);
	AADD(&bf->stats.queue_requests[q->id], 1);
	return 0;
}

static void queue_kick(struct bqueue *q)
{
	if (blkif_front_push(&q->f))
		q->bf->plat->evtchn->notify(q->ev, q->port);
}

/* Sectors one ring request can carry for data on zb (NULL: copied
 * through the slot's pages). */
static uint32_t data_max(const struct blkfront *bf, const struct bfbuf *zb)
{
	return (zb ? bf->zsegs : bf->segs) * BLKIF_SECTORS_PER_PAGE;
}

/* Sectors per ring request for sh. */
static uint32_t chunk_max(const struct blkfront *bf, const struct shadow *sh)
{
	if (sh->op == BLKFRONT_DISCARD || sh->op == BLKFRONT_FLUSH)
		return sh->nsect ? sh->nsect : 1;
	return data_max(bf, sh->zb);
}

/* Queue *sh on q as ring requests, splitting it; sh advances as parts
 * are queued (each adds a part to sh->u).  Queue lock held; waits for
 * space.  0 when all is queued, -EAGAIN when the queue died (or, for a
 * replay, a new recovery was asked for) first, -EIO when broken. */
static int queue_shadow(struct bqueue *q, struct shadow *sh, bool replay)
{
	struct blkfront *bf = q->bf;
	uint32_t per = chunk_max(bf, sh);
	int rc = 0;

	do {
		struct shadow part = *sh;

		while (!ALOAD(&bf->broken) && !q->dead &&
		       (!q->free || !blkif_front_free(&q->f))) {
			if (ALOAD(&bf->closing))
				return replay ? -ECANCELED : -EIO;
			if (replay && xenbus_fe_monitor_pending(bf->mon))
				return -EAGAIN;
			/* Publish what is queued so the slots come back. */
			queue_kick(q);
			cond_wait_ms(&q->cond, &q->lock, 100);
		}
		if (ALOAD(&bf->broken))
			return -EIO;
		if (q->dead)
			return -EAGAIN;
		/* The first part may start inside a page. */
		if (part.nsect > per - lead_sectors(sh))
			part.nsect = per - lead_sectors(sh);
		AADD(&sh->u->parts, 1);
		rc = queue_one(q, &part);
		if (rc) {
			AADD(&sh->u->parts, -1u);
			return rc;
		}
		sh->sector += part.nsect;
		if (sh->ubuf)
			sh->ubuf += (size_t)part.nsect << BLKIF_SECTOR_SHIFT;
		sh->nsect -= part.nsect;
	} while (sh->nsect);
	return 0;
}

/* ---- zero-copy buffers -------------------------------------------------- */

/* The buffer whose pages hold addr (buf_lock held): index in bf->bufs
 * of the last buffer starting at or below addr, or -1. */
static int buf_find(const struct blkfront *bf, const uint8_t *addr)
{
	int lo = 0, hi = (int)bf->nbufs - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (bf->bufs[mid]->addr <= addr) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

/* If [buf, buf + bytes) lies in a live zero-copy buffer of bf, sector
 * aligned, count an operation on it and return it; else NULL (the data
 * is copied). */
static const struct bfbuf *buf_hold(struct blkfront *bf, uint8_t *buf,
				    size_t bytes)
{
	struct bfbuf *b = NULL;
	int i;

	if (!ALOAD(&bf->nbufs) ||
	    ((uintptr_t)buf & ((1u << BLKIF_SECTOR_SHIFT) - 1)))
		return NULL;
	pthread_mutex_lock(&bf->buf_lock);
	i = buf_find(bf, buf);
	if (i >= 0) {
		b = bf->bufs[i];
		/* Granted to another domain (the backend moved at a
		 * resume): copied through the slots' pages instead. */
		if (!b->live || b->dom != bf->x.be_id ||
		    (size_t)(buf - b->addr) >= b->pages * BLKIF_PAGE_SIZE ||
		    bytes >
			b->pages * BLKIF_PAGE_SIZE - (size_t)(buf - b->addr))
			b = NULL;
		else
			AADD(&b->busy, 1);
	}
	pthread_mutex_unlock(&bf->buf_lock);
	return b;
}

void *blkfront_buf_alloc(struct blkfront *bf, size_t bytes)
{
	size_t pages = (bytes + BLKIF_PAGE_SIZE - 1) / BLKIF_PAGE_SIZE;
	struct bfbuf *b = NULL, **nb;
	unsigned int i;
	void *addr = NULL;
	int rc = 0;

	if (!bf || !pages || pages > 65536) {
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&bf->buf_lock);
	for (i = 0; i < bf->nbufs; i++) {
		if (!bf->bufs[i]->live && bf->bufs[i]->pages == pages) {
			b = bf->bufs[i];
			b->live = true;
			addr = b->addr;
			goto out;
		}
	}
	if (bf->nbufs == bf->bufs_cap) {
		unsigned int cap = bf->bufs_cap ? bf->bufs_cap * 2 : 16;

		nb = realloc(bf->bufs, cap * sizeof(*nb));
		if (!nb) {
			rc = -ENOMEM;
			goto out;
		}
		bf->bufs = nb;
		bf->bufs_cap = cap;
	}
	b = calloc(1, sizeof(*b));
	if (b)
		b->refs = calloc(pages, sizeof(*b->refs));
	if (!b || !b->refs) {
		rc = -ENOMEM;
		goto out;
	}
	/* Fresh guest pages (zeroed), shared with the backend only. */
	rc = bf->plat->gntshr->share(bf->shr, bf->x.be_id, (uint32_t)pages, 1,
				     b->refs, &addr);
	if (rc)
		goto out;
	b->addr = addr;
	b->pages = pages;
	b->dom = bf->x.be_id;
	b->live = true;
	i = (unsigned int)(buf_find(bf, b->addr) + 1);
	memmove(bf->bufs + i + 1, bf->bufs + i,
		(bf->nbufs - i) * sizeof(*bf->bufs));
	bf->bufs[i] = b;
	ASTORE(&bf->nbufs, bf->nbufs + 1);
	b = NULL;
out:
	pthread_mutex_unlock(&bf->buf_lock);
	if (rc) {
		if (b)
			free(b->refs);
		free(b);
		errno = -rc;
		return NULL;
	}
	return addr;
}

int blkfront_buf_free(struct blkfront *bf, void *buf)
{
	struct bfbuf *b;
	int i, rc = 0;

	if (!bf || !buf)
		return -EINVAL;
	pthread_mutex_lock(&bf->buf_lock);
	i = buf_find(bf, buf);
	b = i >= 0 ? bf->bufs[i] : NULL;
	if (!b || b->addr != buf || !b->live)
		rc = -EINVAL; /* not ours, not its start, or freed already */
	else if (ALOAD(&b->busy))
		rc = -EBUSY;
	if (!rc) {
		b->live = false;
		/* Nothing stale stays in shared pages. */
		memset(b->addr, 0, b->pages * BLKIF_PAGE_SIZE);
	}
	pthread_mutex_unlock(&bf->buf_lock);
	return rc;
}

/* End the sharing of every buffer (the queues are gone). */
static void bufs_release(struct blkfront *bf)
{
	uint64_t deadline = pvk_now_ns() + 1000000000ull;
	unsigned int i, left = 0;

	for (i = bf->nbufs; i-- > 0;) {
		struct bfbuf *b = bf->bufs[i];

		left += xenbus_fe_unshare(bf->plat, bf->shr, b->addr,
					  (unsigned int)b->pages, deadline);
		free(b->refs);
		free(b);
	}
	if (left)
		pvk_warn("blkfront %s: %u buffer page(s) still mapped by the "
			 "backend; left shared",
			 bf->x.path, left);
	free(bf->bufs);
	bf->bufs = NULL;
	bf->nbufs = 0;
}

static __thread unsigned int bf_tls_queue = ~0u;
static unsigned int bf_next_queue;

/* This thread's queue number (before the modulo). */
static unsigned int thread_queue(void)
{
	if (bf_tls_queue == ~0u)
		bf_tls_queue =
		    __atomic_fetch_add(&bf_next_queue, 1, __ATOMIC_RELAXED);
	return bf_tls_queue;
}

int blkfront_submit(struct blkfront *bf, enum blkfront_op op, uint64_t sector,
		    void *buf, uint32_t nsectors, blkfront_done_fn done,
		    void *arg)
{
	struct shadow sh = {.op = op, .sector = sector, .nsect = nsectors};
	uint8_t wire = op_wire(op);
	struct ureq *u;
	int rc = 0;

	if (!done || wire == 0xff)
		return -EINVAL;
	if ((op == BLKFRONT_READ || op == BLKFRONT_WRITE) &&
	    (!nsectors || !buf))
		return -EINVAL;
	if (op == BLKFRONT_FLUSH && (nsectors || !bf->info.flush))
		return nsectors ? -EINVAL : -EOPNOTSUPP;
	if (op == BLKFRONT_BARRIER && !bf->info.barrier)
		return -EOPNOTSUPP;
	if (op == BLKFRONT_DISCARD && !bf->info.discard)
		return -EOPNOTSUPP;
	if (op != BLKFRONT_READ && op != BLKFRONT_FLUSH && bf->info.readonly)
		return -EROFS;
	if (sector > bf->info.sectors || nsectors > bf->info.sectors - sector)
		return -ERANGE;
	if (op != BLKFRONT_FLUSH && op != BLKFRONT_DISCARD && nsectors) {
		sh.ubuf = buf;
		sh.zb =
		    buf_hold(bf, buf, (size_t)nsectors << BLKIF_SECTOR_SHIFT);
	}
	/* A barrier must be one request to mean what it says. */
	if (op == BLKFRONT_BARRIER &&
	    nsectors + lead_sectors(&sh) > data_max(bf, sh.zb)) {
		if (sh.zb)
			AADD(&((struct bfbuf *)sh.zb)->busy, -1u);
		return -EINVAL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		if (sh.zb)
			AADD(&((struct bfbuf *)sh.zb)->busy, -1u);
		return -ENOMEM;
	}
	u->zb = (struct bfbuf *)sh.zb;
	u->done = done;
	u->arg = arg;
	u->bf = bf;
	u->parts = 1; /* held until every part is queued */
	sh.u = u;
	for (;;) {
		struct bqueue *q;

		pthread_mutex_lock(&bf->lock);
		while (
		    !bf->broken && !bf->closing &&
		    (bf->recovering || bf->suspended || (bf->gate && !u->gate)))
			pthread_cond_wait(&bf->cond, &bf->lock);
		if (bf->broken || bf->closing) {
			pthread_mutex_unlock(&bf->lock);
			rc = -EIO;
			break;
		}
		if (op == BLKFRONT_BARRIER && bf->nq > 1) {
			/* Everything before it, on every queue, first; and
			 * nothing after it until it is done. */
			/* Sequentially consistent with wake_gate: either we
			 * see the last completion's inflight drop, or it sees
			 * the gate and wakes us (a plain store here could sit
			 * in the store buffer past our load of inflight). */
			__atomic_store_n(&bf->gate, true, __ATOMIC_SEQ_CST);
			u->gate = true;
			while (
			    __atomic_load_n(&bf->inflight, __ATOMIC_SEQ_CST) &&
			    !bf->broken && !bf->closing && !bf->recovering)
				pthread_cond_wait(&bf->cond, &bf->lock);
			if (bf->recovering) {
				pthread_mutex_unlock(&bf->lock);
				continue;
			}
			q = bf->q[0];
		} else {
			q = bf_tls_home && bf_tls_home->bf == bf &&
				    !bf_tls_home->dead
				? bf_tls_home
				: bf->q[thread_queue() % bf->nq];
		}
		pthread_mutex_lock(&q->lock);
		q->users++;
		pthread_mutex_unlock(&bf->lock);
		rc = queue_shadow(q, &sh, false);
		queue_kick(q);
		if (--q->users == 0 && q->dead)
			pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
		if (rc != -EAGAIN)
			break;
		/* The queue died under us (a reconnection): what was queued
		 * is sent again by the recovery; the rest goes on anew. */
	}
	ureq_part_done(u, rc);
	return 0;
}

struct sync_wait {
	pthread_mutex_t m;
	pthread_cond_t c;
	bool done;
	int status;
};

static void sync_done(void *arg, int status)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->m);
	w->done = true;
	w->status = status;
	pthread_cond_signal(&w->c);
	pthread_mutex_unlock(&w->m);
}

static int sync_op(struct blkfront *bf, enum blkfront_op op, uint64_t sector,
		   void *buf, uint32_t n)
{
	struct sync_wait w = {.done = false};
	int rc;

	pthread_mutex_init(&w.m, NULL);
	pthread_cond_init(&w.c, NULL);
	rc = blkfront_submit(bf, op, sector, buf, n, sync_done, &w);
	if (!rc) {
		pthread_mutex_lock(&w.m);
		while (!w.done)
			pthread_cond_wait(&w.c, &w.m);
		pthread_mutex_unlock(&w.m);
		rc = w.status;
	}
	pthread_mutex_destroy(&w.m);
	pthread_cond_destroy(&w.c);
	return rc;
}

int blkfront_read(struct blkfront *bf, uint64_t sector, void *buf,
		  uint32_t nsectors)
{
	return sync_op(bf, BLKFRONT_READ, sector, buf, nsectors);
}

int blkfront_write(struct blkfront *bf, uint64_t sector, const void *buf,
		   uint32_t nsectors)
{
	return sync_op(bf, BLKFRONT_WRITE, sector, (void *)(uintptr_t)buf,
		       nsectors);
}

int blkfront_flush(struct blkfront *bf)
{
	return sync_op(bf, BLKFRONT_FLUSH, 0, NULL, 0);
}

int blkfront_barrier(struct blkfront *bf, uint64_t sector, const void *buf,
		     uint32_t nsectors)
{
	return sync_op(bf, BLKFRONT_BARRIER, sector, (void *)(uintptr_t)buf,
		       nsectors);
}

int blkfront_discard(struct blkfront *bf, uint64_t sector, uint64_t nsectors)
{
	int rc = 0;

	while (nsectors && !rc) {
		uint32_t n =
		    nsectors > (1u << 30) ? (1u << 30) : (uint32_t)nsectors;

		rc = sync_op(bf, BLKFRONT_DISCARD, sector, NULL, n);
		sector += n;
		nsectors -= n;
	}
	return rc;
}

const struct blkfront_info *blkfront_info(const struct blkfront *bf)
{
	return &bf->info;
}

bool blkfront_broken(const struct blkfront *bf) { return ALOAD(&bf->broken); }

void blkfront_get_stats(const struct blkfront *bf, struct blkfront_stats *st)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*st = bf->stats;
	st->poll_watches = pvk_spin_stat(&bf->poll.watches);
	st->poll_hits = pvk_spin_stat(&bf->poll.hits);
	st->poll_preempted = pvk_spin_stat(&bf->poll.preempted);
	st->poll_backed_off = pvk_spin_stat(&bf->poll.backed_off);
}

void blkfront_log_state(struct blkfront *bf)
{
	unsigned int i;

	pthread_mutex_lock(&bf->lock);
	pvk_info("blkfront %s: inflight %u, %s%s%s%s%s", bf->x.path,
		 ALOAD(&bf->inflight), bf->broken ? "broken " : "",
		 bf->recovering ? "recovering " : "",
		 bf->suspended ? "suspended " : "", bf->gate ? "gate " : "",
		 bf->closing ? "closing" : "");
	for (i = 0; i < bf->nq; i++) {
		struct bqueue *q = bf->q[i];
		/* The 32- and 64-bit front rings share the index layout. */
		const blkif_x86_64_front_ring_t *r = &q->f.r.n64;

		pthread_mutex_lock(&q->lock);
		pvk_info("blkfront %s: queue %u: port %u, inflight %u; "
			 "req_prod_pvt %u rsp_cons %u; shared: req_prod %u "
			 "req_event %u rsp_prod %u rsp_event %u",
			 bf->x.path, i, q->port, q->inflight, r->req_prod_pvt,
			 r->rsp_cons,
			 ALOAD(&r->sring->req_prod), ALOAD(&r->sring->req_event),
			 ALOAD(&r->sring->rsp_prod),
			 ALOAD(&r->sring->rsp_event));
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&bf->lock);
}

/* ---- queues: build and tear down ---------------------------------------- */

/* Stop a queue's thread (no lock held). */
static void queue_stop(struct bqueue *q)
{
	uint64_t one = 1;

	if (!q->thr_started)
		return;
	__atomic_store_n(&q->stopping, true, __ATOMIC_RELEASE);
	if (write(q->stopfd, &one, sizeof(one)) < 0)
		pvk_warn("blkfront: cannot stop a queue thread");
	pthread_join(q->thr, NULL);
	q->thr_started = false;
}

/* Free a stopped queue whose slots are all idle. */
static void queue_free(struct bqueue *q)
{
	struct blkfront *bf;
	uint64_t deadline = pvk_now_ns() + 1000000000ull;
	unsigned int i, left = 0;

	if (!q)
		return;
	bf = q->bf;
	queue_stop(q);
	if (q->ev) {
		if (q->port)
			bf->plat->evtchn->unbind(q->ev, q->port);
		bf->plat->evtchn->close(q->ev);
	}
	/* Newest share first: the share list is searched from its head. */
	for (i = q->data ? q->nslots : 0; i-- > 0;)
		left += xenbus_fe_unshare(bf->plat, bf->shr,
					  q->data[(size_t)i * q->slot_pages],
					  q->slot_pages, deadline);
	free(q->data);
	left += xenbus_fe_unshare(bf->plat, bf->shr, q->sring, q->nr_pages,
				  deadline);
	if (left)
		pvk_warn("blkfront %s: queue %u: %u page(s) still mapped by "
			 "the backend; left shared",
			 bf->x.path, q->id, left);
	if (q->stopfd >= 0)
		close(q->stopfd);
	for (i = 0; q->slots && i < q->nslots; i++)
		free(q->slots[i].check);
	free(q->slots);
	free(q->data_refs);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}

static int queue_new(struct blkfront *bf, unsigned int id, unsigned int order,
		     struct bqueue **out)
{
	const struct pvk_platform *plat = bf->plat;
	struct bqueue *q = calloc(1, sizeof(*q));
	unsigned int i;
	int rc;

	if (!q)
		return -ENOMEM;
	q->bf = bf;
	q->id = id;
	q->stopfd = -1;
	pvk_spin_init(&q->spin, (uint64_t)bf->poll_us * 1000, &bf->poll);
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->nr_pages = 1u << order;
	rc = plat->gntshr->share(bf->shr, bf->x.be_id, q->nr_pages, 1, q->refs,
				 &q->sring);
	if (rc) {
		q->sring = NULL;
		goto fail;
	}
	rc = blkif_front_init(&q->f, bf->abi, q->sring,
			      (size_t)q->nr_pages * BLKIF_PAGE_SIZE);
	if (rc)
		goto fail;
	q->nslots = blkif_front_nr_ents(&q->f);
	q->slot_pages = bf->segs + bf->ind;
	q->data_refs =
	    calloc((size_t)q->nslots * q->slot_pages, sizeof(*q->data_refs));
	q->slots = calloc(q->nslots, sizeof(*q->slots));
	q->data = calloc((size_t)q->nslots * q->slot_pages, sizeof(*q->data));
	if (!q->data_refs || !q->slots || !q->data) {
		rc = -ENOMEM;
		goto fail;
	}
	/* One share per slot: its pages are one mapping (one gntalloc
	 * allocation on real Xen), released together. */
	for (i = 0; i < q->nslots; i++) {
		size_t first = (size_t)i * q->slot_pages;
		unsigned int j;
		uint8_t *addr;

		rc = plat->gntshr->share(bf->shr, bf->x.be_id, q->slot_pages, 1,
					 &q->data_refs[first], (void **)&addr);
		if (rc) {
			pvk_err("blkfront %s: cannot share the pages of slot "
				"%u of %u: %s",
				bf->x.path, i, q->nslots, strerror(-rc));
			goto fail;
		}
		for (j = 0; j < q->slot_pages; j++)
			q->data[first + j] = addr + (size_t)j * BLKIF_PAGE_SIZE;
	}
	for (i = q->nslots; i-- > 0;) {
		q->slots[i].next = q->free;
		q->free = &q->slots[i];
	}
	rc = plat->evtchn->open(bf->plat, &q->ev);
	if (!rc)
		rc = plat->evtchn->bind_unbound(q->ev, bf->x.be_id, &q->port);
	if (rc)
		goto fail;
	q->stopfd = eventfd(0, EFD_CLOEXEC);
	q->stopping = false;
	if (q->stopfd < 0) {
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

static int shadow_cmp(const void *a, const void *b)
{
	const struct shadow *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Stop every queue, take the answers already there and move what is
 * still unanswered to bf->pend (in submission order).  The queues stay
 * shared until queues_release(). */
static void queues_collect(struct blkfront *bf)
{
	unsigned int i, j, n = bf->npend;
	struct shadow *pend;

	for (i = 0; i < bf->nq; i++) {
		struct bqueue *q = bf->q[i];

		pthread_mutex_lock(&q->lock);
		q->dead = true;
		pthread_cond_broadcast(&q->cond);
		/* Submitters inside leave (no new ones: recovering). */
		while (q->users)
			pthread_cond_wait(&q->cond, &q->lock);
		pthread_mutex_unlock(&q->lock);
	}
	for (i = 0; i < bf->nq; i++)
		queue_stop(bf->q[i]);
	for (i = 0; i < bf->nq; i++)
		n += bf->q[i]->nslots;
	pend = realloc(bf->pend, (n ? n : 1) * sizeof(*pend));
	if (pend)
		bf->pend = pend;
	for (i = 0; i < bf->nq; i++) {
		struct bqueue *q = bf->q[i];
		const char *why = NULL;

		pthread_mutex_lock(&q->lock);
		if (!ALOAD(&bf->broken)) {
			/* Answers the backend gave before it went: done. */
			q->dead = false;
			if (handle_responses(q, &why, true) < 0)
				pvk_warn("blkfront %s: queue %u: %s; every "
					 "request still open is sent again",
					 bf->x.path, i, why);
			q->dead = true;
		}
		for (j = 0; j < q->nslots; j++) {
			struct bslot *s = &q->slots[j];

			if (!s->busy)
				continue;
			if (!pend || ALOAD(&bf->broken)) {
				struct ureq *u = s->sh.u;

				slot_put(q, s);
				pthread_mutex_unlock(&q->lock);
				ureq_part_done(u, -EIO);
				pthread_mutex_lock(&q->lock);
				continue;
			}
			bf->pend[bf->npend++] = s->sh;
			slot_put(q, s);
		}
		pthread_mutex_unlock(&q->lock);
	}
	if (bf->npend)
		qsort(bf->pend, bf->npend, sizeof(*bf->pend), shadow_cmp);
}

/* End foreign access to the stopped queues and free them. */
static void queues_release(struct blkfront *bf)
{
	unsigned int i;

	for (i = bf->nq; i-- > 0;) {
		queue_free(bf->q[i]);
		bf->q[i] = NULL;
	}
	bf->nq = 0;
}

static void queues_teardown(struct blkfront *bf)
{
	queues_collect(bf);
	queues_release(bf);
}

/* Fail whatever waits to be sent again. */
static void pend_fail(struct blkfront *bf, int status)
{
	while (bf->npend) {
		struct shadow *sh = &bf->pend[--bf->npend];

		ureq_part_done(sh->u, status);
	}
}

/* Send the shadows again, in order, on queue 0.  -EAGAIN when a new
 * recovery is due first (what is left stays in bf->pend). */
static int pend_replay(struct blkfront *bf)
{
	struct bqueue *q = bf->q[0];
	unsigned int i, from = 0;
	int rc = 0;

	/* A barrier may have been sent on the one ring of one queue; now it
	 * must hold the other queues too. */
	for (i = 0; bf->nq > 1 && i < bf->npend; i++) {
		if (bf->pend[i].op != BLKFRONT_BARRIER)
			continue;
		pthread_mutex_lock(&bf->lock);
		bf->gate = true;
		bf->pend[i].u->gate = true;
		pthread_mutex_unlock(&bf->lock);
	}
	pthread_mutex_lock(&q->lock);
	for (i = 0; i < bf->npend; i++) {
		struct shadow *sh = &bf->pend[i];
		int err = 0;

		if ((sh->op == BLKFRONT_FLUSH && !bf->info.flush) ||
		    (sh->op == BLKFRONT_BARRIER && !bf->info.barrier) ||
		    (sh->op == BLKFRONT_DISCARD && !bf->info.discard))
			err = -EOPNOTSUPP;
		else if (sh->op == BLKFRONT_BARRIER &&
			 sh->nsect + lead_sectors(sh) > data_max(bf, sh->zb))
			err = -EIO; /* no longer fits one request */
		else if (sh->op != BLKFRONT_READ && sh->op != BLKFRONT_FLUSH &&
			 bf->info.readonly)
			err = -EROFS;
		else if (sh->sector + sh->nsect > bf->info.sectors)
			err = -EIO;
		if (!err) {
			rc = queue_shadow(q, sh, true);
			if (rc == -EAGAIN || rc == -ECANCELED)
				break;
			if (rc)
				err = rc;
			else
				AADD(&bf->stats.replayed, 1);
		}
		from = i + 1;
		/* The shadow's own part: it lives on in the new parts. */
		pthread_mutex_unlock(&q->lock);
		ureq_part_done(sh->u, err);
		pthread_mutex_lock(&q->lock);
		rc = 0;
	}
	queue_kick(q);
	pthread_mutex_unlock(&q->lock);
	memmove(bf->pend, bf->pend + from,
		(bf->npend - from) * sizeof(*bf->pend));
	bf->npend -= from;
	return rc;
}

/* ---- xenbus: negotiating ------------------------------------------------ */

struct publish {
	struct blkfront *bf;
	bool persistent;
	unsigned int order;
};

static int fe_write(struct xs_client *xs, xs_tx_t tx, const char *dir,
		    const char *node, unsigned int v)
{
	char path[BF_PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_printf(xs, tx, path, "%u", v);
}

static int publish_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct publish *p = arg;
	struct blkfront *bf = p->bf;
	char path[BF_PATH_MAX + 64];
	unsigned int i;
	int rc;

	/* What an earlier connection wrote goes first. */
	rc = xenbus_remove_rings(xs, tx, bf->x.path);
	if (!rc && p->order)
		rc = fe_write(xs, tx, bf->x.path, "ring-page-order", p->order);
	if (!rc && bf->nq > 1)
		rc = fe_write(xs, tx, bf->x.path, "multi-queue-num-queues",
			      bf->nq);
	for (i = 0; !rc && i < bf->nq; i++) {
		rc =
		    xenbus_queue_dir(path, sizeof(path), bf->x.path, bf->nq, i);
		if (!rc)
			rc = xenbus_write_ring(xs, tx, path, bf->q[i]->refs,
					       p->order);
		if (!rc)
			rc = xenbus_write_evtchn(xs, tx, path, "event-channel",
						 bf->q[i]->port);
	}
	if (!rc) {
		snprintf(path, sizeof(path), "%s/protocol", bf->x.path);
		rc = xs_write_str(xs, tx, path, bf->info.protocol);
	}
	if (!rc)
		rc = fe_write(xs, tx, bf->x.path, "feature-persistent",
			      p->persistent ? 1u : 0u);
	return rc;
}

/* Negotiate with a backend in InitWait (or Connected): pick the features,
 * build the queues, publish them, Initialised, wait for Connected, read
 * the disk's parameters, Connected.  -EAGAIN: the backend went away
 * meanwhile (start over). */
static int bf_connect(struct blkfront *bf, int timeout_ms)
{
	const struct blkfront_opts *o = &bf->o;
	struct publish pub = {.bf = bf};
	enum xenbus_state st;
	uint64_t v, be_order, be_ind, be_pers, be_nq;
	unsigned int i, nq;
	int rc;

	rc = xenbus_fe_be_u64(&bf->x, "max-ring-page-order", 0, 31, 0,
			      &be_order);
	if (!rc)
		rc = xenbus_fe_be_u64(&bf->x, "feature-max-indirect-segments",
				      0, UINT32_MAX, 0, &be_ind);
	if (!rc)
		rc = xenbus_fe_be_u64(&bf->x, "feature-persistent", 0, 1, 0,
				      &be_pers);
	if (!rc)
		rc = xenbus_fe_be_u64(&bf->x, "multi-queue-max-queues", 0,
				      UINT32_MAX, 1, &be_nq);
	if (rc)
		return rc;
	pub.persistent = !o->no_persistent; /* we reuse grants: ask */
	pub.order = o->ring_page_order;
	if (pub.order > be_order)
		pub.order = (unsigned int)be_order;
	if (pub.order > BLKIF_MAX_RING_PAGE_ORDER)
		pub.order = BLKIF_MAX_RING_PAGE_ORDER;
	/* As Linux: one queue per CPU, at most BF_DEFAULT_QUEUES (more
	 * queues than CPUs only adds threads competing for them). */
	nq = o->num_queues;
	if (!nq) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		nq = BF_DEFAULT_QUEUES;
		if (cpus > 0 && (unsigned long)cpus < nq)
			nq = (unsigned int)cpus;
	}
	if (nq > be_nq)
		nq = be_nq ? (unsigned int)be_nq : 1;
	if (nq > BLKFRONT_MAX_QUEUES)
		nq = BLKFRONT_MAX_QUEUES;
	bf->segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	bf->ind = 0;
	if (o->max_indirect_segs && be_ind > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		bf->segs = o->max_indirect_segs < be_ind ? o->max_indirect_segs
							 : (unsigned int)be_ind;
		if (bf->segs > BLKIF_INDIRECT_SEGS_LIMIT)
			bf->segs = BLKIF_INDIRECT_SEGS_LIMIT;
		if (bf->segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
			bf->segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	}
	bf->zsegs = bf->segs;
	if (o->max_indirect_segs && be_ind > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		uint64_t z = be_ind < BF_ZC_MAX_SEGS ? be_ind : BF_ZC_MAX_SEGS;

		if (z > BLKIF_INDIRECT_SEGS_LIMIT)
			z = BLKIF_INDIRECT_SEGS_LIMIT;
		if (z > bf->zsegs)
			bf->zsegs = (unsigned int)z;
	}
	if (bf->zsegs > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		bf->ind = (bf->zsegs + BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
			  BLKIF_SEGS_PER_INDIRECT_PAGE;
	bf->info.indirect_segs = bf->ind ? bf->segs : 0;

	/* The rings, their event channels and the payload pages. */
	for (i = 0; i < nq; i++) {
		rc = queue_new(bf, i, pub.order, &bf->q[i]);
		if (rc)
			return rc;
		bf->nq = i + 1;
	}
	rc = xs_transaction_run(bf->xs, publish_tx, &pub);
	if (rc < 0)
		return rc;
	rc = xenbus_fe_switch(&bf->x, XenbusStateInitialised);
	if (rc)
		return rc;
	rc = xenbus_fe_wait(&bf->x,
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
		pvk_err("blkfront %s: backend did not connect (%s)", bf->x.path,
			xenbus_state_name(st));
		return rc;
	}
	/* What the connected backend says about the disk. */
	rc = xenbus_fe_be_u64(&bf->x, "sectors", 0, UINT64_MAX, 0,
			      &bf->info.sectors);
	if (!rc)
		rc = xenbus_fe_be_u64(&bf->x, "sector-size", 512, 512, 512, &v);
	bf->info.sector_size = 512;
	if (!rc)
		rc = xenbus_fe_be_u64(&bf->x, "physical-sector-size", 512,
				      1u << 20, 512, &v);
	bf->info.physical_sector_size = (unsigned int)v;
	if (!rc)
		rc = xenbus_fe_be_u64(&bf->x, "info", 0, UINT32_MAX, 0, &v);
	if (rc)
		return rc;
	bf->info.readonly = v & VDISK_READONLY;
	bf->info.cdrom = v & VDISK_CDROM;
	bf->info.removable = v & VDISK_REMOVABLE;
	bf->info.flush =
	    !xenbus_fe_be_u64(&bf->x, "feature-flush-cache", 0, 1, 0, &v) && v;
	bf->info.barrier =
	    !xenbus_fe_be_u64(&bf->x, "feature-barrier", 0, 1, 0, &v) && v;
	bf->info.discard =
	    !xenbus_fe_be_u64(&bf->x, "feature-discard", 0, 1, 0, &v) && v;
	if (bf->info.discard && !xenbus_fe_be_u64(&bf->x, "discard-granularity",
						  0, UINT32_MAX, 512, &v))
		bf->info.discard_granularity = (unsigned int)v;
	/* Linux's blkback writes feature-persistent only as it connects. */
	if (!be_pers &&
	    xenbus_fe_be_u64(&bf->x, "feature-persistent", 0, 1, 0, &be_pers))
		be_pers = 0;
	bf->info.persistent = pub.persistent && be_pers;
	bf->info.ring_pages = 1u << pub.order;
	bf->info.nr_queues = bf->nq;
	rc = xenbus_fe_switch(&bf->x, XenbusStateConnected);
	if (rc)
		return rc;
	pvk_info("blkfront %s: connected: %llu sectors, %s, %u queue(s) of "
		 "%u ring page(s), indirect %u (zero-copy %u), persistent %s, "
		 "flush %d barrier %d discard %d",
		 bf->x.path, (unsigned long long)bf->info.sectors,
		 bf->info.protocol, bf->nq, bf->info.ring_pages,
		 bf->info.indirect_segs, bf->ind ? bf->zsegs : 0,
		 bf->info.persistent ? "on" : "off", bf->info.flush,
		 bf->info.barrier, bf->info.discard);
	return 0;
}

/* ---- recovery ----------------------------------------------------------- */

static void bf_recover(struct blkfront *bf)
{
	int rc;

	pthread_mutex_lock(&bf->lock);
	bf->recovering = true;
	pthread_mutex_unlock(&bf->lock);
	AADD(&bf->stats.reconnects, 1);
	for (;;) {
		queues_collect(bf);
		pvk_info("blkfront %s: queues stopped, %u request(s) to send "
			 "again",
			 bf->x.path, bf->npend);
		/* Tell the backend we start over; once it is back in
		 * InitWait it holds no mapping of ours (a dead one's went
		 * with it): end foreign access, then negotiate anew. */
		rc = xenbus_fe_restart(&bf->x);
		queues_release(bf);
		if (!rc)
			rc = bf_connect(bf, -1);
		if (!rc) {
			xenbus_fe_monitor_connected(bf->mon);
			rc = pend_replay(bf);
		}
		if (rc == -EAGAIN || (rc && rc != -ECANCELED && rc != -ENODEV &&
				      !ALOAD(&bf->closing))) {
			if (rc != -EAGAIN) {
				struct timespec ts = {0, 100000000};

				pvk_warn("blkfront %s: reconnecting: %s; again",
					 bf->x.path, strerror(-rc));
				nanosleep(&ts, NULL);
			}
			continue;
		}
		break;
	}
	if (rc) {
		pvk_err("blkfront %s: cannot reconnect: %s", bf->x.path,
			strerror(-rc));
		queues_teardown(bf);
		pend_fail(bf, -EIO);
		pthread_mutex_lock(&bf->lock);
		bf->broken = true;
	} else {
		pvk_info("blkfront %s: reconnected", bf->x.path);
		pthread_mutex_lock(&bf->lock);
	}
	bf->recovering = false;
	pthread_cond_broadcast(&bf->cond);
	pthread_mutex_unlock(&bf->lock);
}

/* The backend left Connected (the monitor's lost): a restarted backend
 * says InitWait, a stopped one Closed. */
static void bf_lost(void *arg)
{
	struct blkfront *bf = arg;

	pthread_mutex_lock(&bf->lock);
	if (bf->closing || bf->broken) {
		pthread_mutex_unlock(&bf->lock);
		return;
	}
	pthread_mutex_unlock(&bf->lock);
	pvk_info("blkfront %s: reconnecting", bf->x.path);
	bf_recover(bf);
}

/* The backend fails or removes the device (as Linux's blkfront_closing):
 * no reconnection. */
static void bf_gone(void *arg, enum xenbus_state st)
{
	struct blkfront *bf = arg;

	if (ALOAD(&bf->closing))
		return;
	bf_break(bf, st == XenbusStateClosing
			 ? "the backend closed the device"
			 : "the backend device was removed");
	xenbus_fe_switch(&bf->x, XenbusStateClosing);
}

static const struct xenbus_fe_monitor_ops bf_monitor_ops = {
    .lost = bf_lost,
    .gone = bf_gone,
};

/* ---- open and close ----------------------------------------------------- */

/* (bf->lock held) Wait for busy() to become false, polling every 10 ms
 * (completions do not signal bf->cond), until deadline (ns; 0: forever). */
static bool bf_wait_until(struct blkfront *bf, bool (*busy)(struct blkfront *),
			  uint64_t deadline)
{
	while (busy(bf) && !bf->broken) {
		if (deadline && pvk_now_ns() >= deadline)
			return false;
		cond_wait_ms(&bf->cond, &bf->lock, 10);
	}
	return true;
}

static bool bf_busy(struct blkfront *bf)
{
	return ALOAD(&bf->inflight) || bf->recovering || bf->npend;
}

/* (bf->lock held) No more reconnections; unbounded waits give up. */
static void bf_set_closing(struct blkfront *bf)
{
	bf->closing = true;
	__atomic_store_n(&bf->x.cancel, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&bf->cond);
}

static void bf_free(struct blkfront *bf)
{
	unsigned int i;

	if (bf->mon) {
		pthread_mutex_lock(&bf->lock);
		bf_set_closing(bf);
		pthread_mutex_unlock(&bf->lock);
		xenbus_fe_monitor_stop(bf->mon);
		bf->mon = NULL;
	}
	for (i = bf->nq; i-- > 0;)
		queue_free(bf->q[i]);
	bufs_release(bf);
	if (bf->shr)
		bf->plat->gntshr->close(bf->shr);
	free(bf->pend);
	xenbus_fe_release(&bf->x);
	pthread_mutex_destroy(&bf->lock);
	pthread_cond_destroy(&bf->cond);
	pthread_mutex_destroy(&bf->buf_lock);
	free(bf);
}

int blkfront_open(struct pvk_platform *plat, struct xs_client *xs,
		  const char *vdev, const struct blkfront_opts *opts,
		  struct blkfront **out)
{
	struct blkfront *bf;
	uint32_t devid;
	int rc;

	rc = blkfront_vdev_parse(vdev, &devid);
	if (rc)
		return rc;
	bf = calloc(1, sizeof(*bf));
	if (!bf)
		return -ENOMEM;
	bf->o.max_indirect_segs = BF_DEFAULT_INDIRECT;
	if (opts)
		bf->o = *opts;
	if (!bf->o.timeout_ms)
		bf->o.timeout_ms = 10000;
	bf->poll_us = BF_DEFAULT_POLL_US;
	if (bf->o.poll_us > 0)
		bf->poll_us = (unsigned int)bf->o.poll_us;
	else if (bf->o.poll_us < 0)
		bf->poll_us = 0;
	else if (getenv("PVKIT_BLK_POLL_US")) {
		uint64_t v;

		if (pvk_parse_u64(getenv("PVKIT_BLK_POLL_US"), 0,
				  BF_MAX_POLL_US, &v) == 0)
			bf->poll_us = (unsigned int)v;
		else
			pvk_warn("blkfront: PVKIT_BLK_POLL_US: 0-%u; using %u",
				 BF_MAX_POLL_US, bf->poll_us);
	}
	if (bf->poll_us > BF_MAX_POLL_US)
		bf->poll_us = BF_MAX_POLL_US;
	bf->check_pages = getenv("PVKIT_BLKFRONT_CHECK") &&
			  !strcmp(getenv("PVKIT_BLKFRONT_CHECK"), "1");
	bf->o.protocol = NULL; /* the caller's string: parsed below */
	bf->plat = plat;
	bf->xs = xs;
	pthread_mutex_init(&bf->lock, NULL);
	pthread_cond_init(&bf->cond, NULL);
	pthread_mutex_init(&bf->buf_lock, NULL);
	rc = blkif_abi_parse(opts ? opts->protocol : NULL, &bf->abi);
	if (rc)
		goto out_free;
	snprintf(bf->info.protocol, sizeof(bf->info.protocol), "%s",
		 blkif_abi_name(bf->abi));
	rc = xenbus_fe_init(&bf->x, plat, xs, "vbd", devid, bf->o.timeout_ms);
	if (!rc)
		rc = xenbus_fe_begin(&bf->x);
	if (rc)
		goto fail;
	rc = plat->gntshr->open(plat, &bf->shr);
	if (rc)
		goto fail;
	rc = bf_connect(bf, bf->o.timeout_ms);
	if (rc)
		goto fail;
	rc = xenbus_fe_monitor_start(&bf->x, &bf_monitor_ops, bf, &bf->mon);
	if (rc)
		goto fail;
	*out = bf;
	return 0;
fail:
	if (bf->x.be_path)
		xenbus_fe_switch(&bf->x, XenbusStateClosed);
out_free:
	bf_free(bf);
	return rc;
}

void blkfront_close(struct blkfront *bf)
{
	unsigned int i;

	if (!bf)
		return;
	/* Let what is in flight finish, for a while (through a reconnection
	 * if the backend goes meanwhile); then no more reconnections. */
	pthread_mutex_lock(&bf->lock);
	bf_wait_until(bf, bf_busy, pvk_now_ns() + 5000000000ull);
	bf_set_closing(bf);
	pthread_mutex_unlock(&bf->lock);
	xenbus_fe_monitor_stop(bf->mon);
	bf->mon = NULL;
	for (i = 0; i < bf->nq; i++) {
		pthread_mutex_lock(&bf->q[i]->lock);
		pthread_cond_broadcast(&bf->q[i]->cond);
		pthread_mutex_unlock(&bf->q[i]->lock);
	}
	xenbus_fe_close(&bf->x); /* it says so if the backend did not follow */
	/* Anything left fails quietly. */
	for (i = 0; i < bf->nq; i++)
		queue_stop(bf->q[i]);
	for (i = 0; i < bf->nq; i++) {
		pthread_mutex_lock(&bf->q[i]->lock);
		queue_fail_all(bf->q[i]);
		pthread_mutex_unlock(&bf->q[i]->lock);
	}
	pend_fail(bf, -EIO);
	bf_free(bf);
}

/* ---- suspend and resume ------------------------------------------------- */

static bool bf_recovery_due(struct blkfront *bf)
{
	return bf->recovering || (bf->mon && xenbus_fe_monitor_busy(bf->mon));
}

int blkfront_suspend(struct blkfront *bf, int timeout_ms)
{
	uint64_t deadline;
	unsigned int left;

	deadline = pvk_now_ns() +
		   (uint64_t)(timeout_ms > 0 ? timeout_ms : 5000) * 1000000ull;
	pthread_mutex_lock(&bf->lock);
	bf->suspended = true;
	bf_wait_until(bf, bf_busy, deadline);
	left = ALOAD(&bf->inflight);
	pthread_mutex_unlock(&bf->lock);
	if (left)
		pvk_info("blkfront %s: suspended with %u request(s) in flight, "
			 "kept",
			 bf->x.path, left);
	else
		pvk_info("blkfront %s: suspended, nothing in flight",
			 bf->x.path);
	return 0;
}

int blkfront_resume(struct blkfront *bf, bool cancelled)
{
	bool moved = false;
	int rc = 0;

	if (!cancelled) {
		/* A restored domain: the backend (maybe another one) holds
		 * nothing of ours.  Wait out a reconnection already under
		 * way, find the backend again, then reconnect from scratch
		 * and send again what was unanswered, before new I/O. */
		pthread_mutex_lock(&bf->lock);
		bf_wait_until(bf, bf_recovery_due, 0);
		pthread_mutex_unlock(&bf->lock);
		/* The monitor follows the path it was started on. */
		xenbus_fe_monitor_stop(bf->mon);
		bf->mon = NULL;
		rc = xenbus_fe_reread_backend(&bf->x, &moved);
		if (!rc && moved)
			pvk_info("blkfront %s: the backend is now %s (domain "
				 "%u)",
				 bf->x.path, bf->x.be_path, bf->x.be_id);
		if (!rc)
			rc = xenbus_fe_monitor_start(&bf->x, &bf_monitor_ops,
						     bf, &bf->mon);
		pthread_mutex_lock(&bf->lock);
		if (!rc && !bf->broken) {
			xenbus_fe_monitor_kick(bf->mon);
			bf_wait_until(bf, bf_recovery_due, 0);
		}
		if (rc || bf->broken)
			rc = rc ? rc : -EIO;
		pthread_mutex_unlock(&bf->lock);
		if (rc)
			pvk_err("blkfront %s: resume: %s", bf->x.path,
				strerror(-rc));
	}
	pthread_mutex_lock(&bf->lock);
	bf->suspended = false;
	pthread_cond_broadcast(&bf->cond);
	pthread_mutex_unlock(&bf->lock);
	pvk_info("blkfront %s: resumed (%s)", bf->x.path,
		 cancelled ? "cancelled: in place" : "reconnected");
	return rc;
}

/* ---- blkfront as a xenbus frontend driver ------------------------------- */

static int drv_probe(struct xenbus_bus *bus, const char *id, void **priv)
{
	return blkfront_open(xenbus_bus_platform(bus), xenbus_bus_xs(bus), id,
			     NULL, (struct blkfront **)priv);
}

static void drv_flush_done(void *arg, int status)
{
	__atomic_store_n((int *)arg, status ? status : 1, __ATOMIC_RELEASE);
}

static void drv_remove(void *priv)
{
	struct blkfront *bf = priv;
	int flushed = 0;
	bool flush;

	/* Make writes durable before the device goes, but never wait on a
	 * backend that is gone: the flush is one more request in flight,
	 * which blkfront_close waits for a bounded time and then fails
	 * (calling drv_flush_done before it returns). */
	flush = !bf->broken && !bf->info.readonly && bf->info.flush &&
		blkfront_submit(bf, BLKFRONT_FLUSH, 0, NULL, 0, drv_flush_done,
				&flushed) == 0;
	blkfront_close(bf);
	if (flush && __atomic_load_n(&flushed, __ATOMIC_ACQUIRE) != 1)
		pvk_warn("blkfront: the flush before closing failed: %s",
			 strerror(flushed < 0 ? -flushed : EIO));
}

static int drv_suspend(void *priv) { return blkfront_suspend(priv, 0); }

static int drv_resume(void *priv, bool cancelled)
{
	return blkfront_resume(priv, cancelled);
}

const struct xenbus_frontend_driver blkfront_driver = {
    .type = "vbd",
    .probe = drv_probe,
    .remove = drv_remove,
    .suspend = drv_suspend,
    .resume = drv_resume,
};
