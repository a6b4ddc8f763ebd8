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
 */
#include <errno.h>
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
#include "common/util.h"
#include "pvkit/blkfront.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus.h"
#include "pvkit/xs.h"

#define BF_PATH_MAX 128
#define BF_DEFAULT_INDIRECT 32u
#define BF_SPURIOUS_LIMIT 64u /* events in a row without responses */
#define BF_THROTTLE_NS 1000000

struct ureq { /* one user operation, maybe several ring requests */
	blkfront_done_fn done;
	void *arg;
	unsigned int parts;
	int status;
};

struct bslot {
	bool busy;
	uint16_t gen;
	uint8_t operation;
	struct ureq *u;
	uint8_t *buf; /* user buffer for reads */
	uint32_t bytes;
	struct bslot *next;
};

struct blkfront {
	struct pvk_platform *plat;
	struct xs_client *xs;
	struct blkfront_info info;
	char fe[BF_PATH_MAX];
	char *be;
	domid_t be_id;
	int timeout_ms;

	struct blkfront_front_state {
		struct blkif_front f;
		void *sring;
		unsigned int nr_pages;
		grant_ref_t refs[BLKIF_MAX_RING_PAGES];
	} q;
	struct pvk_gntshr *shr;
	struct pvk_evtchn *ev;
	evtchn_port_t port;

	/* Per slot: segs data pages then ind indirect pages. */
	uint8_t *data;
	grant_ref_t *data_refs;
	unsigned int data_pages, segs, ind;
	struct bslot *slots;
	unsigned int nslots;
	struct bslot *free;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thr;
	bool thr_started;
	int stopfd;
	bool broken, closing;
	unsigned int inflight;
	unsigned int spurious;
	struct blkfront_stats stats;
};

/* ---- vdev names ------------------------------------------------------------ */

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
	*devid = disk < 16 ? (202u << 8) | (disk << 4)
			   : (1u << 28) | (disk << 8);
	return 0;
}

/* ---- completions ------------------------------------------------------------- */

static void ureq_part_done(struct ureq *u, int status)
{
	if (status && !u->status)
		u->status = status;
	if (--u->parts == 0) {
		u->done(u->arg, u->status);
		free(u);
	}
}

static uint8_t *slot_data(struct blkfront *bf, unsigned int i)
{
	return bf->data + (size_t)i * (bf->segs + bf->ind) * BLKIF_PAGE_SIZE;
}

/* Fail everything in flight (lock held; callbacks run unlocked). */
static void fail_all(struct blkfront *bf, const char *why)
{
	unsigned int i;

	if (why && !bf->broken)
		pvk_err("blkfront %s: %s: device broken", bf->fe, why);
	if (why)
		bf->broken = true;
	for (i = 0; i < bf->nslots; i++) {
		struct bslot *s = &bf->slots[i];
		struct ureq *u;

		if (!s->busy)
			continue;
		u = s->u;
		s->busy = false;
		s->next = bf->free;
		bf->free = s;
		bf->inflight--;
		pthread_mutex_unlock(&bf->lock);
		ureq_part_done(u, -EIO);
		pthread_mutex_lock(&bf->lock);
	}
	pthread_cond_broadcast(&bf->cond);
}

/* Consume responses; returns how many (lock held). */
static unsigned int handle_responses(struct blkfront *bf)
{
	unsigned int got = 0;
	struct blkif_rsp rsp;
	int n;

	do {
		n = blkif_front_poll(&bf->q.f);
		if (n < 0) {
			fail_all(bf, "backend produced more responses than "
				     "requests");
			return got;
		}
		while (blkif_front_take(&bf->q.f, &rsp) == 0) {
			uint64_t idx = rsp.id & 0xffff;
			uint16_t gen = (uint16_t)(rsp.id >> 16);
			struct bslot *s;
			struct ureq *u;
			int st;

			got++;
			bf->stats.responses++;
			if (rsp.id >> 32 || idx >= bf->nslots ||
			    !bf->slots[idx].busy || bf->slots[idx].gen != gen ||
			    bf->slots[idx].operation != rsp.operation) {
				fail_all(bf, "response with an unknown or "
					     "duplicate id");
				return got;
			}
			s = &bf->slots[idx];
			st = rsp.status == BLKIF_RSP_OKAY	  ? 0
			     : rsp.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP
								  : -EIO;
			if (!st && s->buf)
				memcpy(s->buf, slot_data(bf, (unsigned int)idx),
				       s->bytes);
			u = s->u;
			s->busy = false;
			s->next = bf->free;
			bf->free = s;
			bf->inflight--;
			pthread_cond_broadcast(&bf->cond);
			pthread_mutex_unlock(&bf->lock);
			ureq_part_done(u, st);
			pthread_mutex_lock(&bf->lock);
			if (bf->broken)
				return got;
		}
	} while (blkif_front_final_check(&bf->q.f));
	return got;
}

static void *bf_thread(void *arg)
{
	struct blkfront *bf = arg;
	const struct pvk_evtchn_ops *evo = bf->plat->evtchn;
	struct pollfd p[2] = {
		{.fd = evo->fd(bf->ev), .events = POLLIN},
		{.fd = bf->stopfd, .events = POLLIN},
	};
	evtchn_port_t got;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		while (evo->pending(bf->ev, &got) == 0) {
			unsigned int n = 0;

			pthread_mutex_lock(&bf->lock);
			bf->stats.events++;
			if (!bf->broken)
				n = handle_responses(bf);
			if (n)
				bf->spurious = 0;
			else
				bf->spurious++, bf->stats.spurious_events++;
			/* An event flood without work: hold the port masked
			 * a while (the lateeoi idea). */
			if (bf->spurious > BF_SPURIOUS_LIMIT) {
				struct timespec ts = {0, BF_THROTTLE_NS};

				bf->stats.throttled++;
				pthread_mutex_unlock(&bf->lock);
				nanosleep(&ts, NULL);
			} else {
				pthread_mutex_unlock(&bf->lock);
			}
			evo->unmask(bf->ev, got);
		}
		p[0].revents = p[1].revents = 0;
	}
	return NULL;
}

/* ---- submitting ---------------------------------------------------------------- */

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

/* Queue one ring request for sectors [sector, sector + n) (lock held, a
 * free slot available). */
static int queue_one(struct blkfront *bf, struct ureq *u, uint8_t op,
		     uint64_t sector, uint8_t *buf, uint32_t n)
{
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	struct bslot *s = bf->free;
	unsigned int idx = (unsigned int)(s - bf->slots), i, nseg;
	uint8_t *pages = slot_data(bf, idx);
	const grant_ref_t *refs = bf->data_refs + (size_t)idx * (bf->segs + bf->ind);
	struct blkif_req q;
	int rc;

	memset(&q, 0, sizeof(q));
	q.operation = op;
	q.op = op;
	q.sector = sector;
	q.handle = 0;
	s->gen++;
	q.id = idx | ((uint64_t)s->gen << 16);
	nseg = (n + BLKIF_SECTORS_PER_PAGE - 1) / BLKIF_SECTORS_PER_PAGE;
	if (op == BLKIF_OP_DISCARD) {
		q.nr_sectors = n;
		nseg = 0;
	} else if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		struct blkif_request_segment *ip =
			(void *)(pages + (size_t)bf->segs * BLKIF_PAGE_SIZE);

		q.operation = BLKIF_OP_INDIRECT;
		for (i = 0; i < nseg; i++) {
			uint32_t left = n - i * BLKIF_SECTORS_PER_PAGE;

			ip[i].gref = refs[i];
			ip[i].first_sect = 0;
			ip[i].last_sect = (uint8_t)((left < BLKIF_SECTORS_PER_PAGE
							     ? left
							     : BLKIF_SECTORS_PER_PAGE) -
						    1);
		}
		for (i = 0; i * BLKIF_SEGS_PER_INDIRECT_PAGE < nseg; i++)
			q.indirect_grefs[i] = refs[bf->segs + i];
	} else {
		for (i = 0; i < nseg; i++) {
			uint32_t left = n - i * BLKIF_SECTORS_PER_PAGE;

			seg[i].gref = refs[i];
			seg[i].first_sect = 0;
			seg[i].last_sect = (uint8_t)((left < BLKIF_SECTORS_PER_PAGE
							      ? left
							      : BLKIF_SECTORS_PER_PAGE) -
						     1);
		}
		q.seg = seg;
	}
	q.nr_segs = (uint16_t)nseg;
	s->bytes = n << BLKIF_SECTOR_SHIFT;
	s->buf = NULL;
	if (nseg && op == BLKIF_OP_READ) {
		s->buf = buf;
	} else if (nseg) {
		memcpy(pages, buf, s->bytes);
		/* The rest of a partial page: no stale bytes (XSA-403). */
		if (s->bytes % BLKIF_PAGE_SIZE)
			memset(pages + s->bytes, 0,
			       BLKIF_PAGE_SIZE - s->bytes % BLKIF_PAGE_SIZE);
	}
	rc = blkif_front_queue(&bf->q.f, &q);
	if (rc)
		return rc;
	bf->free = s->next;
	s->busy = true;
	s->operation = q.operation;
	s->u = u;
	bf->inflight++;
	bf->stats.requests++;
	return 0;
}

int blkfront_submit(struct blkfront *bf, enum blkfront_op op, uint64_t sector,
		    void *buf, uint32_t nsectors, blkfront_done_fn done,
		    void *arg)
{
	uint32_t per = bf->segs * BLKIF_SECTORS_PER_PAGE, chunk, done_s = 0;
	uint8_t wire = op_wire(op);
	struct ureq *u;
	bool notify = false;
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
	/* A barrier must be one request to mean what it says. */
	if (op == BLKFRONT_BARRIER && nsectors > per)
		return -EINVAL;
	if (op == BLKFRONT_DISCARD)
		per = nsectors ? nsectors : 1;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->done = done;
	u->arg = arg;
	u->parts = 1; /* held until every part is queued */
	pthread_mutex_lock(&bf->lock);
	do {
		chunk = nsectors - done_s < per ? nsectors - done_s : per;
		while (!bf->broken && !bf->closing &&
		       (!bf->free || !blkif_front_free(&bf->q.f))) {
			/* Publish what is queued so the slots come back. */
			blkif_front_push(&bf->q.f);
			bf->plat->evtchn->notify(bf->ev, bf->port);
			pthread_cond_wait(&bf->cond, &bf->lock);
		}
		if (bf->broken || bf->closing) {
			rc = -EIO;
			break;
		}
		u->parts++;
		rc = queue_one(bf, u, wire, sector + done_s,
			       buf ? (uint8_t *)buf +
					     ((size_t)done_s << BLKIF_SECTOR_SHIFT)
				   : NULL,
			       chunk);
		if (rc) {
			u->parts--;
			break;
		}
		done_s += chunk;
	} while (done_s < nsectors);
	notify = blkif_front_push(&bf->q.f);
	pthread_mutex_unlock(&bf->lock);
	if (notify)
		bf->plat->evtchn->notify(bf->ev, bf->port);
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
		uint32_t n = nsectors > (1u << 30) ? (1u << 30)
						   : (uint32_t)nsectors;

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

bool blkfront_broken(const struct blkfront *bf)
{
	return bf->broken;
}

void blkfront_get_stats(const struct blkfront *bf, struct blkfront_stats *st)
{
	*st = bf->stats;
}

/* ---- xenbus: connecting ---------------------------------------------------------- */

static int be_u64(struct blkfront *bf, const char *node, uint64_t min,
		  uint64_t max, uint64_t def, uint64_t *out)
{
	char path[BF_PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", bf->be, node);
	rc = xs_read_u64(bf->xs, XS_TX_NONE, path, min, max, out);
	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	if (rc)
		pvk_warn("blkfront %s: %s: %s", bf->fe, path, strerror(-rc));
	return rc;
}

struct publish {
	struct blkfront *bf;
	bool persistent;
	unsigned int order;
};

static int publish_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct publish *p = arg;
	struct blkfront *bf = p->bf;
	char path[BF_PATH_MAX + 64];
	unsigned int i;
	int rc = 0;

	if (p->order == 0) {
		snprintf(path, sizeof(path), "%s/ring-ref", bf->fe);
		rc = xs_printf(xs, tx, path, "%u", bf->q.refs[0]);
	} else {
		snprintf(path, sizeof(path), "%s/ring-page-order", bf->fe);
		rc = xs_printf(xs, tx, path, "%u", p->order);
		for (i = 0; !rc && i < (1u << p->order); i++) {
			snprintf(path, sizeof(path), "%s/ring-ref%u", bf->fe, i);
			rc = xs_printf(xs, tx, path, "%u", bf->q.refs[i]);
		}
	}
	if (!rc) {
		snprintf(path, sizeof(path), "%s/event-channel", bf->fe);
		rc = xs_printf(xs, tx, path, "%u", bf->port);
	}
	if (!rc) {
		snprintf(path, sizeof(path), "%s/protocol", bf->fe);
		rc = xs_write_str(xs, tx, path, bf->info.protocol);
	}
	if (!rc) {
		snprintf(path, sizeof(path), "%s/feature-persistent", bf->fe);
		rc = xs_printf(xs, tx, path, "%u", p->persistent ? 1u : 0u);
	}
	return rc;
}

static void bf_free(struct blkfront *bf)
{
	const struct pvk_platform *plat = bf->plat;
	int i;

	if (bf->thr_started) {
		uint64_t one = 1;

		if (write(bf->stopfd, &one, sizeof(one)) < 0)
			pvk_warn("blkfront: cannot stop the thread");
		pthread_join(bf->thr, NULL);
	}
	if (bf->ev) {
		if (bf->port)
			plat->evtchn->unbind(bf->ev, bf->port);
		plat->evtchn->close(bf->ev);
	}
	/* The backend may hold mappings a moment longer: retry. */
	for (i = 0; bf->data && i < 100; i++) {
		if (plat->gntshr->unshare(bf->shr, bf->data, bf->data_pages) !=
		    -EBUSY)
			break;
		usleep(10000);
	}
	for (i = 0; bf->q.sring && i < 100; i++) {
		if (plat->gntshr->unshare(bf->shr, bf->q.sring,
					  bf->q.nr_pages) != -EBUSY)
			break;
		usleep(10000);
	}
	if (bf->shr)
		plat->gntshr->close(bf->shr);
	if (bf->stopfd >= 0)
		close(bf->stopfd);
	free(bf->slots);
	free(bf->data_refs);
	free(bf->be);
	pthread_mutex_destroy(&bf->lock);
	pthread_cond_destroy(&bf->cond);
	free(bf);
}

int blkfront_open(struct pvk_platform *plat, struct xs_client *xs,
		  const char *vdev, const struct blkfront_opts *opts,
		  struct blkfront **out)
{
	struct blkfront_opts o = {.max_indirect_segs = BF_DEFAULT_INDIRECT};
	struct blkfront *bf;
	struct publish pub;
	enum blkif_abi abi;
	enum xenbus_state st;
	uint64_t v, be_order, be_ind, be_pers;
	uint32_t devid;
	unsigned int i;
	int rc;

	if (opts)
		o = *opts;
	if (!o.timeout_ms)
		o.timeout_ms = 10000;
	rc = blkfront_vdev_parse(vdev, &devid);
	if (rc)
		return rc;
	rc = blkif_abi_parse(o.protocol, &abi);
	if (rc)
		return rc;
	bf = calloc(1, sizeof(*bf));
	if (!bf)
		return -ENOMEM;
	bf->plat = plat;
	bf->xs = xs;
	bf->stopfd = -1;
	bf->timeout_ms = o.timeout_ms;
	pthread_mutex_init(&bf->lock, NULL);
	pthread_cond_init(&bf->cond, NULL);
	snprintf(bf->info.protocol, sizeof(bf->info.protocol), "%s",
		 blkif_abi_name(abi));
	rc = xenbus_frontend_path(bf->fe, sizeof(bf->fe), plat->self, "vbd",
				  devid);
	if (!rc)
		rc = xenbus_read_backend(xs, XS_TX_NONE, bf->fe, &bf->be,
					 &bf->be_id);
	if (rc)
		goto fail;
	/* The backend publishes its features, then InitWait. */
	rc = xenbus_wait_for_state(xs, bf->be,
				   XENBUS_STATE_BIT(XenbusStateInitWait) |
					   XENBUS_STATE_BIT(XenbusStateConnected),
				   o.timeout_ms, &st);
	if (rc) {
		pvk_err("blkfront %s: backend not ready (%s): %s", bf->fe,
			xenbus_state_name(st), strerror(-rc));
		goto fail;
	}
	rc = be_u64(bf, "max-ring-page-order", 0, 31, 0, &be_order);
	if (!rc)
		rc = be_u64(bf, "feature-max-indirect-segments", 0, UINT32_MAX,
			    0, &be_ind);
	if (!rc)
		rc = be_u64(bf, "feature-persistent", 0, 1, 0, &be_pers);
	if (rc)
		goto fail;
	pub.bf = bf;
	pub.persistent = !o.no_persistent; /* we reuse grants: ask */
	pub.order = o.ring_page_order;
	if (pub.order > be_order)
		pub.order = (unsigned int)be_order;
	if (pub.order > BLKIF_MAX_RING_PAGE_ORDER)
		pub.order = BLKIF_MAX_RING_PAGE_ORDER;
	bf->segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	if (o.max_indirect_segs && be_ind > BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		bf->segs = o.max_indirect_segs < be_ind ? o.max_indirect_segs
							: (unsigned int)be_ind;
		if (bf->segs > BLKIF_INDIRECT_SEGS_LIMIT)
			bf->segs = BLKIF_INDIRECT_SEGS_LIMIT;
		if (bf->segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
			bf->segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
	}
	if (bf->segs > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		bf->ind = (bf->segs + BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
			  BLKIF_SEGS_PER_INDIRECT_PAGE;
	bf->info.indirect_segs = bf->ind ? bf->segs : 0;

	/* The ring, its event channel and the payload pages. */
	rc = plat->gntshr->open(plat, &bf->shr);
	if (rc)
		goto fail;
	bf->q.nr_pages = 1u << pub.order;
	rc = plat->gntshr->share(bf->shr, bf->be_id, bf->q.nr_pages, 1,
				 bf->q.refs, &bf->q.sring);
	if (rc) {
		bf->q.sring = NULL;
		goto fail;
	}
	rc = blkif_front_init(&bf->q.f, abi, bf->q.sring,
			      (size_t)bf->q.nr_pages * BLKIF_PAGE_SIZE);
	if (rc)
		goto fail;
	bf->nslots = blkif_front_nr_ents(&bf->q.f);
	bf->data_pages = bf->nslots * (bf->segs + bf->ind);
	bf->data_refs = calloc(bf->data_pages, sizeof(*bf->data_refs));
	bf->slots = calloc(bf->nslots, sizeof(*bf->slots));
	if (!bf->data_refs || !bf->slots) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = plat->gntshr->share(bf->shr, bf->be_id, bf->data_pages, 1,
				 bf->data_refs, (void **)&bf->data);
	if (rc) {
		bf->data = NULL;
		pvk_err("blkfront %s: cannot share %u payload pages: %s",
			bf->fe, bf->data_pages, strerror(-rc));
		goto fail;
	}
	for (i = bf->nslots; i-- > 0;) {
		bf->slots[i].next = bf->free;
		bf->free = &bf->slots[i];
	}
	rc = plat->evtchn->open(plat, &bf->ev);
	if (!rc)
		rc = plat->evtchn->bind_unbound(bf->ev, bf->be_id, &bf->port);
	if (rc)
		goto fail;
	bf->stopfd = eventfd(0, EFD_CLOEXEC);
	if (bf->stopfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = xs_transaction_run(xs, publish_tx, &pub);
	if (rc < 0)
		goto fail;
	rc = pthread_create(&bf->thr, NULL, bf_thread, bf);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	bf->thr_started = true;
	rc = xenbus_switch_state(xs, bf->fe, XenbusStateInitialised);
	if (rc)
		goto fail;
	rc = xenbus_wait_for_state(xs, bf->be,
				   XENBUS_STATE_BIT(XenbusStateConnected) |
					   XENBUS_STATE_BIT(XenbusStateClosing) |
					   XENBUS_STATE_BIT(XenbusStateClosed),
				   o.timeout_ms, &st);
	if (!rc && st != XenbusStateConnected)
		rc = -ECONNREFUSED;
	if (rc) {
		pvk_err("blkfront %s: backend did not connect (%s)", bf->fe,
			xenbus_state_name(st));
		goto fail;
	}
	/* What the connected backend says about the disk. */
	rc = be_u64(bf, "sectors", 0, UINT64_MAX, 0, &bf->info.sectors);
	if (!rc)
		rc = be_u64(bf, "sector-size", 512, 512, 512, &v);
	bf->info.sector_size = 512;
	if (!rc)
		rc = be_u64(bf, "physical-sector-size", 512, 1u << 20, 512, &v);
	bf->info.physical_sector_size = (unsigned int)v;
	if (!rc)
		rc = be_u64(bf, "info", 0, UINT32_MAX, 0, &v);
	if (rc)
		goto fail;
	bf->info.readonly = v & VDISK_READONLY;
	bf->info.cdrom = v & VDISK_CDROM;
	bf->info.removable = v & VDISK_REMOVABLE;
	if (!be_u64(bf, "feature-flush-cache", 0, 1, 0, &v))
		bf->info.flush = v;
	if (!be_u64(bf, "feature-barrier", 0, 1, 0, &v))
		bf->info.barrier = v;
	if (!be_u64(bf, "feature-discard", 0, 1, 0, &v))
		bf->info.discard = v;
	if (bf->info.discard &&
	    !be_u64(bf, "discard-granularity", 0, UINT32_MAX, 512, &v))
		bf->info.discard_granularity = (unsigned int)v;
	bf->info.persistent = pub.persistent && be_pers;
	bf->info.ring_pages = bf->q.nr_pages;
	rc = xenbus_switch_state(xs, bf->fe, XenbusStateConnected);
	if (rc)
		goto fail;
	pvk_info("blkfront %s: connected: %llu sectors, %s, ring %u page(s), "
		 "indirect %u, persistent %s, flush %d barrier %d discard %d",
		 bf->fe, (unsigned long long)bf->info.sectors, bf->info.protocol,
		 bf->info.ring_pages, bf->info.indirect_segs,
		 bf->info.persistent ? "on" : "off", bf->info.flush,
		 bf->info.barrier, bf->info.discard);
	*out = bf;
	return 0;
fail:
	xenbus_switch_state(xs, bf->fe, XenbusStateClosed);
	bf_free(bf);
	return rc;
}

void blkfront_close(struct blkfront *bf)
{
	if (!bf)
		return;
	pthread_mutex_lock(&bf->lock);
	bf->closing = true;
	pthread_cond_broadcast(&bf->cond);
	/* Let what is in flight finish, for a while. */
	{
		uint64_t until = pvk_now_ns() + 5000000000ull;

		while (bf->inflight && !bf->broken && pvk_now_ns() < until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&bf->cond, &bf->lock, &ts);
		}
	}
	pthread_mutex_unlock(&bf->lock);
	xenbus_switch_state(bf->xs, bf->fe, XenbusStateClosing);
	xenbus_wait_for_state(bf->xs, bf->be,
			      XENBUS_STATE_BIT(XenbusStateClosing) |
				      XENBUS_STATE_BIT(XenbusStateClosed) |
				      XENBUS_STATE_BIT(XenbusStateUnknown),
			      bf->timeout_ms, NULL);
	xenbus_switch_state(bf->xs, bf->fe, XenbusStateClosed);
	xenbus_wait_for_state(bf->xs, bf->be,
			      XENBUS_STATE_BIT(XenbusStateClosed) |
				      XENBUS_STATE_BIT(XenbusStateUnknown),
			      bf->timeout_ms, NULL);
	pthread_mutex_lock(&bf->lock);
	fail_all(bf, NULL); /* anything left fails quietly */
	pthread_mutex_unlock(&bf->lock);
	bf_free(bf);
}
