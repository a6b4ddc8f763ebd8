/*
 * ring.c - one blkif ring (queue) of a connected vbd: its thread takes
 * requests in batches (each copied out of the ring once and validated by
 * the blkif core), moves data with batched grant copies or through
 * persistent grants mapped once, runs the I/O on its own storage instance
 * (io_uring) and answers a whole batch of completions with one
 * notification.  A bad request gets BLKIF_RSP_ERROR; a frontend breaking
 * the ring protocol fails the device (bk_vbd_fail), never the process.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkback.h"
#include "common/log.h"
#include "common/spin.h"

struct slot {
	struct blkif_req req;
	uint8_t *bounce;     /* nr_segs pages, data at first_sect * 512 */
	size_t bounce_pages;
	uint8_t *ipages;     /* private copy of the indirect pages */
	struct iovec *iov;
	int16_t status;
	bool copy;           /* bounce + grant copy (else persistent maps) */
	bool busy;           /* taken from the ring, not yet answered */
	struct slot *next;
};

struct pgrant {
	grant_ref_t ref;
	void *addr;    /* NULL: empty */
	uint64_t last; /* the batch that last used it */
};

struct bk_ring {
	const struct vbd_disk *d;
	unsigned int qid;
	struct blkif_back back;
	void *sring;
	unsigned int nr_pages;
	struct pvk_gnttab *gt;
	struct pvk_evtchn *ev;
	evtchn_port_t port;
	struct bk_storage *st;
	int stopfd;
	pthread_t thr;
	bool thr_started;
	bool failed;
	bool stopping; /* atomic: bk_ring_stop was called */
	struct pvk_spin spin;
	struct bk_ring_stats *stats; /* the device's, for this queue */
	unsigned int nbusy;          /* requests taken, not yet answered */

	struct slot *slots;
	unsigned int nslots, seg_cap;
	struct slot *free;
	struct slot *pend_head, *pend_tail; /* validated, not yet submitted */
	unsigned int inflight;              /* submitted to storage */
	bool barrier_active;

	struct pgrant *pg; /* persistent grants: open addressing */
	unsigned int pg_cap, pg_count;
	uint64_t tick, evicted; /* batches taken; the last eviction's */

	struct gnttab_copy *cops;
	struct slot **cslot; /* which slot each copy op belongs to */
	unsigned int ncops, cops_cap;
	struct slot **done;  /* completed this round, awaiting read copies */
	unsigned int ndone;
};

/* ---- persistent grants ---------------------------------------------------- */

static struct pgrant *pg_find(struct bk_ring *r, grant_ref_t ref, bool *found)
{
	unsigned int i = (ref * 2654435761u) & (r->pg_cap - 1);

	for (;;) {
		struct pgrant *p = &r->pg[i];

		if (!p->addr) {
			*found = false;
			return p;
		}
		if (p->ref == ref) {
			*found = true;
			return p;
		}
		i = (i + 1) & (r->pg_cap - 1);
	}
}

static int pg_cmp_last(const void *a, const void *b)
{
	const struct pgrant *x = a, *y = b;

	return x->last < y->last ? -1 : x->last > y->last;
}

/* The table is full: unmap the least recently used quarter of the grants
 * no request in progress uses (Linux's blkback purges the same way), so
 * a frontend whose pages change (new buffers) keeps the fast path.  At
 * most once per batch. */
static void pg_evict(struct bk_ring *r)
{
	struct pgrant *old = r->pg, *cand, *p;
	unsigned int i, j, n = 0, drop, keep;
	bool found;

	r->evicted = r->tick;
	/* In use: everything taken and not yet answered (this batch's are
	 * marked already by pg_get). */
	for (i = 0; i < r->nslots; i++) {
		const struct slot *s = &r->slots[i];

		if (!s->busy || s->copy)
			continue;
		for (j = 0; j < s->req.nr_segs && j < s->req.seg_cap; j++) {
			p = pg_find(r, s->req.seg[j].gref, &found);
			if (found)
				p->last = r->tick;
		}
	}
	cand = calloc(r->pg_count ? r->pg_count : 1, sizeof(*cand));
	r->pg = calloc(r->pg_cap, sizeof(*r->pg));
	if (!cand || !r->pg) {
		free(cand);
		free(r->pg);
		r->pg = old;
		return;
	}
	for (i = 0; i < r->pg_cap; i++)
		if (old[i].addr)
			cand[n++] = old[i];
	free(old);
	qsort(cand, n, sizeof(*cand), pg_cmp_last);
	drop = n / 4 ? n / 4 : 1;
	keep = 0;
	for (i = 0; i < n; i++) {
		if (drop && cand[i].last != r->tick) {
			r->d->plat->gnttab->unmap(r->gt, cand[i].addr, 1);
			drop--;
			continue;
		}
		p = pg_find(r, cand[i].ref, &found);
		*p = cand[i];
		keep++;
	}
	r->pg_count = keep;
	free(cand);
}

/* The mapping of ref, mapping it now while under the bound; NULL if the
 * grant cannot be (or may no longer be) kept. */
static uint8_t *pg_get(struct bk_ring *r, grant_ref_t ref)
{
	const struct pvk_gnttab_ops *gt = r->d->plat->gnttab;
	struct pgrant *p;
	bool found;
	void *addr;
	int16_t st;

	if (!r->pg)
		return NULL;
	p = pg_find(r, ref, &found);
	if (found) {
		p->last = r->tick;
		return p->addr;
	}
	if (r->pg_count >= r->d->cfg->max_persistent &&
	    r->evicted != r->tick) {
		pg_evict(r);
		p = pg_find(r, ref, &found);
	}
	if (r->pg_count >= r->d->cfg->max_persistent)
		return NULL;
	if (gt->map(r->gt, r->d->fe, &ref, 1, 1, &addr, &st))
		return NULL;
	bk_stat_inc(&r->stats->pers_maps);
	p->ref = ref;
	p->addr = addr;
	p->last = r->tick;
	r->pg_count++;
	return addr;
}

static void pg_unmap_all(struct bk_ring *r)
{
	unsigned int i;

	for (i = 0; r->pg && i < r->pg_cap; i++)
		if (r->pg[i].addr)
			r->d->plat->gnttab->unmap(r->gt, r->pg[i].addr, 1);
	free(r->pg);
	r->pg = NULL;
	r->pg_count = 0;
}

/* ---- grant copy batches --------------------------------------------------- */

static int cop_reserve(struct bk_ring *r, unsigned int more)
{
	unsigned int want = r->ncops + more, cap = r->cops_cap;
	struct gnttab_copy *c;
	struct slot **s;

	if (want <= cap)
		return 0;
	while (cap < want)
		cap = cap ? cap * 2 : 256;
	c = realloc(r->cops, cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	r->cops = c;
	s = realloc(r->cslot, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	r->cslot = s;
	r->cops_cap = cap;
	return 0;
}

/* Stage one copy between guest grant ref and local memory at local. */
static void cop_add(struct bk_ring *r, struct slot *s, grant_ref_t ref,
		    uint16_t goff, void *local, uint16_t len, bool to_guest)
{
	struct gnttab_copy *c = &r->cops[r->ncops];
	struct gnttab_copy_ptr *g = to_guest ? &c->dest : &c->source;
	struct gnttab_copy_ptr *l = to_guest ? &c->source : &c->dest;

	memset(c, 0, sizeof(*c));
	c->flags = to_guest ? GNTCOPY_dest_gref : GNTCOPY_source_gref;
	g->u.ref = ref;
	g->domid = r->d->fe;
	g->offset = goff;
	l->domid = DOMID_SELF;
	l->u.gmfn = (uintptr_t)local >> 12;
	l->offset = (uint16_t)((uintptr_t)local & 4095);
	c->len = len;
	r->cslot[r->ncops++] = s;
}

/* Run the staged copies; a slot any of whose copies failed gets
 * BLKIF_RSP_ERROR in its status. */
static void cop_run(struct bk_ring *r)
{
	unsigned int i;
	int rc;

	if (!r->ncops)
		return;
	rc = r->d->plat->gnttab->copy(r->gt, r->cops, r->ncops);
	for (i = 0; i < r->ncops; i++)
		if (rc || r->cops[i].status != GNTST_okay) {
			if (r->cslot[i]->status == BLKIF_RSP_OKAY)
				pvk_debug("vbd d%u q%u: grant copy ref %u: %d",
					  r->d->fe, r->qid,
					  r->cops[i].flags & GNTCOPY_dest_gref
						  ? r->cops[i].dest.u.ref
						  : r->cops[i].source.u.ref,
					  rc ? rc : r->cops[i].status);
			r->cslot[i]->status = BLKIF_RSP_ERROR;
		}
	r->ncops = 0;
}

/* ---- slots ----------------------------------------------------------------- */

static void respond(struct bk_ring *r, struct slot *s, int16_t status)
{
	/* An indirect request is answered with its inner operation, as
	 * Linux's blkfront requires (found by the real-Xen interop run). */
	blkif_back_respond(&r->back, s->req.id,
			   s->req.indirect ? s->req.op : s->req.operation,
			   status);
	if (status != BLKIF_RSP_OKAY)
		bk_stat_inc(&r->stats->errors);
	r->nbusy--;
	s->busy = false;
	s->next = r->free;
	r->free = s;
}

static int slot_bounce(struct slot *s, unsigned int pages)
{
	void *p;

	if (s->bounce_pages >= pages)
		return 0;
	if (s->bounce)
		munmap(s->bounce, s->bounce_pages * BLKIF_PAGE_SIZE);
	s->bounce = NULL;
	s->bounce_pages = 0;
	p = mmap(NULL, (size_t)pages * BLKIF_PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	s->bounce = p;
	s->bounce_pages = pages;
	return 0;
}

static void pend_push(struct bk_ring *r, struct slot *s)
{
	s->next = NULL;
	if (r->pend_tail)
		r->pend_tail->next = s;
	else
		r->pend_head = s;
	r->pend_tail = s;
}

static bool is_data_op(const struct slot *s)
{
	return s->req.op != BLKIF_OP_DISCARD && s->req.nr_segs;
}

static bool writes_guest_data(const struct slot *s)
{
	return is_data_op(s) && s->req.op != BLKIF_OP_READ;
}

/* Build the iovecs: through persistent maps when every segment has one,
 * else through the bounce buffer, staging copies for writes. */
static int slot_prepare_data(struct bk_ring *r, struct slot *s)
{
	unsigned int i, n = s->req.nr_segs;
	uint8_t *maps[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	bool persistent = r->pg != NULL;

	for (i = 0; persistent && i < n; i++) {
		uint8_t *m = pg_get(r, s->req.seg[i].gref);

		if (!m)
			persistent = false;
		else
			bk_stat_inc(&r->stats->pers_segs);
		if (m && i < BLKIF_MAX_SEGMENTS_PER_REQUEST)
			maps[i] = m;
	}
	s->copy = !persistent;
	if (s->copy) {
		if (slot_bounce(s, n))
			return -ENOMEM;
		if (writes_guest_data(s) && cop_reserve(r, n))
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct blkif_request_segment *g = &s->req.seg[i];
		uint32_t off = (uint32_t)g->first_sect << BLKIF_SECTOR_SHIFT;
		uint8_t *base;

		if (s->copy)
			base = s->bounce + (size_t)i * BLKIF_PAGE_SIZE;
		else if (i < BLKIF_MAX_SEGMENTS_PER_REQUEST)
			base = maps[i];
		else
			base = pg_get(r, g->gref); /* found: mapped above */
		s->iov[i].iov_base = base + off;
		s->iov[i].iov_len = blkif_seg_bytes(g);
		if (s->copy && writes_guest_data(s))
			cop_add(r, s, g->gref, (uint16_t)off, base + off,
				(uint16_t)blkif_seg_bytes(g), false);
	}
	return 0;
}

/* ---- taking requests ------------------------------------------------------- */

static void fail_ring(struct bk_ring *r, const char *why)
{
	if (r->failed)
		return;
	r->failed = true;
	pvk_err("vbd d%u q%u: %s: failing the device", r->d->fe, r->qid, why);
	bk_vbd_fail(r->d->vbd, why);
}

/* Take what the ring holds (up to the free slots), validate, fetch
 * indirect pages and write data, queue the good ones in order. */
/* What xentop shows of a request going to the disk (nr_sectors is set
 * once the request, indirect pages included, is validated). */
static void count_xentop(struct bk_ring_stats *st, const struct blkif_req *q)
{
	if (q->op == BLKIF_OP_READ) {
		bk_stat_inc(&st->x.rd_req);
		__atomic_store_n(&st->x.rd_sect, st->x.rd_sect + q->nr_sectors,
				 __ATOMIC_RELAXED);
	} else if ((q->op == BLKIF_OP_WRITE ||
		    q->op == BLKIF_OP_WRITE_BARRIER) &&
		   q->nr_segs) {
		bk_stat_inc(&st->x.wr_req);
		__atomic_store_n(&st->x.wr_sect, st->x.wr_sect + q->nr_sectors,
				 __ATOMIC_RELAXED);
	}
}

static void take_requests(struct bk_ring *r)
{
	struct slot *batch = NULL, **tail = &batch, *s, *next;
	const char *why;
	int n, rc;

	if (r->failed)
		return;
	r->tick++;
	n = blkif_back_poll(&r->back);
	if (n < 0) {
		fail_ring(r, "frontend produced more requests than the ring "
			     "holds");
		return;
	}
	/* Linux's oo_req: requests left waiting for a free slot (none
	 * while slots match the ring's entries, as here) */
	if (n > 0 && (unsigned int)n > r->nslots - r->nbusy)
		bk_stat_inc(&r->stats->x.oo_req);
	while (n-- > 0 && r->free) {
		s = r->free;
		r->free = s->next;
		if (blkif_back_take(&r->back, &s->req)) {
			s->next = r->free;
			r->free = s;
			break;
		}
		s->status = BLKIF_RSP_OKAY;
		s->busy = true;
		s->copy = true; /* no persistent maps until prepared */
		bk_stat_inc(&r->stats->reqs);
		bk_stat_max(&r->stats->peak_inflight, ++r->nbusy);
		rc = blkif_req_check(&r->d->lim, &s->req, &why);
		if (rc) {
			pvk_debug("vbd d%u q%u: request %llu: %s", r->d->fe,
				  r->qid, (unsigned long long)s->req.id, why);
			respond(r, s, blkif_status_for(rc));
			continue;
		}
		if (s->req.indirect)
			bk_stat_inc(&r->stats->indirect);
		if (s->req.op == BLKIF_OP_FLUSH_DISKCACHE ||
		    s->req.op == BLKIF_OP_WRITE_BARRIER)
			bk_stat_inc(&r->stats->flush);
		else if (s->req.op == BLKIF_OP_DISCARD)
			bk_stat_inc(&r->stats->discard);
		if (s->req.indirect) {
			unsigned int i = 0;

			/* With persistent grants the frontend reuses its
			 * indirect pages too (Linux draws them from the same
			 * pool): read them through the persistent mapping,
			 * once, into the private copy that is then parsed. */
			for (; r->pg && i < s->req.nr_indirect; i++) {
				uint8_t *m = pg_get(r, s->req.indirect_grefs[i]);

				if (!m)
					break;
				memcpy(s->ipages + (size_t)i * BLKIF_PAGE_SIZE,
				       m, BLKIF_PAGE_SIZE);
			}
			if (i < s->req.nr_indirect &&
			    cop_reserve(r, s->req.nr_indirect - i)) {
				respond(r, s, BLKIF_RSP_ERROR);
				continue;
			}
			for (; i < s->req.nr_indirect; i++)
				cop_add(r, s, s->req.indirect_grefs[i], 0,
					s->ipages + (size_t)i * BLKIF_PAGE_SIZE,
					BLKIF_PAGE_SIZE, false);
		}
		s->next = NULL;
		*tail = s;
		tail = &s->next;
	}
	/* One copy for every indirect page of the batch. */
	cop_run(r);
	for (s = batch, batch = NULL, tail = &batch; s; s = next) {
		next = s->next;
		if (s->req.indirect && s->status == BLKIF_RSP_OKAY) {
			rc = blkif_req_load_indirect(&r->d->lim, &s->req,
						     s->ipages, &why);
			if (rc) {
				pvk_debug("vbd d%u q%u: request %llu: %s",
					  r->d->fe, r->qid,
					  (unsigned long long)s->req.id, why);
				s->status = blkif_status_for(rc);
			}
		}
		if (s->status == BLKIF_RSP_OKAY && is_data_op(s) &&
		    slot_prepare_data(r, s))
			s->status = BLKIF_RSP_ERROR;
		s->next = NULL;
		*tail = s;
		tail = &s->next;
	}
	/* One copy for the write data of the batch. */
	cop_run(r);
	for (s = batch; s; s = next) {
		next = s->next;
		if (s->status != BLKIF_RSP_OKAY)
			respond(r, s, s->status);
		else if (s->req.op == BLKIF_OP_DISCARD && !s->req.nr_sectors)
			respond(r, s, BLKIF_RSP_OKAY);
		else {
			count_xentop(r->stats, &s->req);
			pend_push(r, s);
		}
	}
}

/* ---- submitting and completing --------------------------------------------- */

static void submit_pending(struct bk_ring *r)
{
	struct bk_storage *st = r->st;
	const struct bk_storage_ops *ops = r->d->ops;
	struct slot *s;

	while ((s = r->pend_head) && !r->barrier_active) {
		struct bk_io io = {.tag = s};
		bool barrier = s->req.op == BLKIF_OP_WRITE_BARRIER;

		/* A barrier waits for everything before it and holds
		 * everything after it until it is done. */
		if (barrier && r->inflight)
			break;
		io.off = s->req.sector << BLKIF_SECTOR_SHIFT;
		io.iov = s->iov;
		io.iovcnt = s->req.nr_segs;
		switch (s->req.op) {
		case BLKIF_OP_READ:
			io.op = BK_IO_READ;
			io.len = s->req.nr_sectors << BLKIF_SECTOR_SHIFT;
			break;
		case BLKIF_OP_WRITE:
			io.op = BK_IO_WRITE;
			io.len = s->req.nr_sectors << BLKIF_SECTOR_SHIFT;
			break;
		case BLKIF_OP_WRITE_BARRIER:
		case BLKIF_OP_FLUSH_DISKCACHE:
			if (s->req.nr_segs) {
				io.op = BK_IO_WRITE;
				io.len = s->req.nr_sectors << BLKIF_SECTOR_SHIFT;
				io.flush_after = true;
			} else {
				io.op = BK_IO_FLUSH;
			}
			break;
		case BLKIF_OP_DISCARD:
			io.op = BK_IO_DISCARD;
			io.len = s->req.nr_sectors << BLKIF_SECTOR_SHIFT;
			break;
		}
		if (ops->queue(st, &io))
			break; /* full: later */
		r->pend_head = s->next;
		if (!r->pend_head)
			r->pend_tail = NULL;
		r->inflight++;
		if (barrier)
			r->barrier_active = true;
	}
	if (ops->submit(st))
		pvk_warn("vbd d%u q%u: io_uring submit failed", r->d->fe,
			 r->qid);
}

static void io_done(void *tag, int res, void *arg)
{
	struct bk_ring *r = arg;
	struct slot *s = tag;
	unsigned int i;

	r->inflight--;
	if (s->req.op == BLKIF_OP_WRITE_BARRIER)
		r->barrier_active = false;
	if (res < 0) {
		pvk_debug("vbd d%u q%u: request %llu: I/O error %d", r->d->fe,
			  r->qid, (unsigned long long)s->req.id, res);
		s->status = res == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP
					       : BLKIF_RSP_ERROR;
	}
	if (s->status == BLKIF_RSP_OKAY && s->copy &&
	    s->req.op == BLKIF_OP_READ) {
		if (cop_reserve(r, s->req.nr_segs)) {
			s->status = BLKIF_RSP_ERROR;
		} else {
			for (i = 0; i < s->req.nr_segs; i++)
				cop_add(r, s, s->req.seg[i].gref,
					(uint16_t)(s->req.seg[i].first_sect
						   << BLKIF_SECTOR_SHIFT),
					s->iov[i].iov_base,
					(uint16_t)s->iov[i].iov_len, true);
		}
	}
	r->done[r->ndone++] = s;
}

/* Reap finished I/O; one copy for all read data; then the responses. */
static int complete_io(struct bk_ring *r)
{
	unsigned int i;
	int n;

	r->ndone = 0;
	n = r->d->ops->reap(r->st, io_done, r);
	if (n == -ENOTCONN) /* e.g. the NBD server went away */
		fail_ring(r, "storage connection lost");
	cop_run(r);
	for (i = 0; i < r->ndone; i++)
		respond(r, r->done[i], r->done[i]->status);
	return n;
}

static void notify_if_needed(struct bk_ring *r)
{
	if (blkif_back_push(&r->back))
		r->d->plat->evtchn->notify(r->ev, r->port);
}

/* ---- the thread -------------------------------------------------------------- */

/* Busy-polling: a new request, or the ring is being stopped. */
static bool ring_ready(void *arg)
{
	struct bk_ring *r = arg;

	return blkif_back_peek(&r->back) ||
	       __atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE);
}

static void *ring_thread(void *arg)
{
	struct bk_ring *r = arg;
	const struct pvk_evtchn_ops *evo = r->d->plat->evtchn;
	struct pollfd p[3] = {
		{.fd = evo->fd(r->ev), .events = POLLIN},
		{.fd = r->d->ops->fd(r->st), .events = POLLIN},
		{.fd = r->stopfd, .events = POLLIN},
	};
	evtchn_port_t got;
	bool more = true, spun = false, events;
	uint64_t reqs;

	for (;;) {
		if (!more) {
			uint64_t t0 =
			    pvk_spin_enabled(&r->spin) ? pvk_spin_now() : 0;

			p[1].fd = r->d->ops->fd(r->st);
			if (poll(p, 3, -1) < 0 && errno != EINTR)
				break;
			if (t0)
				pvk_spin_slept(&r->spin, pvk_spin_now() - t0);
		}
		if ((p[2].revents & POLLIN) ||
		    __atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE))
			break;
		/* After a watch that found work nothing was notified. */
		events = false;
		if (!spun)
			while (evo->pending(r->ev, &got) == 0) {
				evo->unmask(r->ev, got);
				events = true;
			}
		complete_io(r);
		reqs = bk_stat_get(&r->stats->reqs);
		take_requests(r);
		/* Events that bring no request: a flood is throttled. */
		if (events)
			xenbus_spurious_throttle(
				&r->stats->events, bk_stat_get(&r->stats->reqs) != reqs);
		submit_pending(r);
		/* What finished during the submission (inline storage,
		 * io_uring's inline completions) is answered in this pass. */
		complete_io(r);
		/* A barrier that waited for I/O answered just now (inline:
		 * nothing is left to wake us for it) goes now, with what
		 * follows it. */
		while (r->pend_head && !r->inflight && !r->failed) {
			submit_pending(r);
			if (!r->inflight)
				break; /* the storage took nothing */
			complete_io(r);
		}
		notify_if_needed(r);
		p[0].revents = p[1].revents = p[2].revents = 0;
		/* Idle and answered: watch the ring a while with req_event
		 * left behind (the frontend does not notify meanwhile)
		 * before re-arming it and sleeping. */
		spun = !r->failed && r->free && !r->inflight && !r->pend_head &&
		       pvk_spin_wait(&r->spin, ring_ready, r);
		if (spun) {
			more = true;
			continue;
		}
		more = !r->failed && r->free && blkif_back_final_check(&r->back);
	}
	/* Stopping: whatever storage still holds must finish before the
	 * buffers and grant mappings go away. */
	while (r->inflight) {
		struct pollfd q = {.fd = r->d->ops->fd(r->st), .events = POLLIN};

		poll(&q, 1, 100);
		complete_io(r);
	}
	/* Answers given are published, so the frontend need not send those
	 * requests again. */
	notify_if_needed(r);
	return NULL;
}

void bk_ring_log_state(const struct bk_ring *r, const char *name)
{
	/* The 32- and 64-bit back rings share the index layout; the ring
	 * thread owns the private ones (a snapshot, for diagnosis). */
	const blkif_x86_64_back_ring_t *b = &r->back.r.n64;

	pvk_info("%s: queue %u: port %u, %s%s%sinflight %u, req_cons %u "
		 "rsp_prod_pvt %u; shared: req_prod %u req_event %u rsp_prod "
		 "%u rsp_event %u",
		 name, r->qid, r->port, r->failed ? "failed, " : "",
		 r->free ? "" : "no free slot, ",
		 r->pend_head ? "requests waiting, " : "",
		 __atomic_load_n(&r->inflight, __ATOMIC_RELAXED), b->req_cons,
		 b->rsp_prod_pvt,
		 __atomic_load_n(&b->sring->req_prod, __ATOMIC_ACQUIRE),
		 __atomic_load_n(&b->sring->req_event, __ATOMIC_ACQUIRE),
		 __atomic_load_n(&b->sring->rsp_prod, __ATOMIC_ACQUIRE),
		 __atomic_load_n(&b->sring->rsp_event, __ATOMIC_ACQUIRE));
}

/* ---- start / stop -------------------------------------------------------------- */

void bk_ring_stop(struct bk_ring *r)
{
	const struct pvk_platform *plat;
	unsigned int i;
	uint64_t one = 1;

	if (!r)
		return;
	plat = r->d->plat;
	if (r->thr_started) {
		__atomic_store_n(&r->stopping, true, __ATOMIC_RELEASE);
		if (write(r->stopfd, &one, sizeof(one)) < 0)
			pvk_warn("vbd: cannot stop a ring thread");
		pthread_join(r->thr, NULL);
	}
	pg_unmap_all(r);
	if (r->st)
		r->d->ops->close(r->st);
	if (r->ev) {
		if (r->port)
			plat->evtchn->unbind(r->ev, r->port);
		plat->evtchn->close(r->ev);
	}
	if (r->sring)
		plat->gnttab->unmap(r->gt, r->sring, r->nr_pages);
	if (r->gt)
		plat->gnttab->close(r->gt);
	for (i = 0; r->slots && i < r->nslots; i++) {
		struct slot *s = &r->slots[i];

		if (s->bounce)
			munmap(s->bounce, s->bounce_pages * BLKIF_PAGE_SIZE);
		free(s->ipages);
		free(s->req.seg);
		free(s->iov);
	}
	free(r->slots);
	free(r->cops);
	free(r->cslot);
	free(r->done);
	if (r->stopfd >= 0)
		close(r->stopfd);
	free(r);
}

int bk_ring_start(const struct vbd_disk *d, enum blkif_abi abi,
		  const grant_ref_t *refs, unsigned int nr_pages,
		  evtchn_port_t port, unsigned int qid,
		  struct bk_ring_stats *stats, struct bk_ring **out)
{
	const struct pvk_platform *plat = d->plat;
	struct bk_ring *r;
	unsigned int i;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->d = d;
	r->qid = qid;
	r->stats = stats;
	r->stopfd = eventfd(0, EFD_CLOEXEC);
	if (r->stopfd < 0) {
		free(r);
		return -errno;
	}
	pvk_spin_init(&r->spin, (uint64_t)d->cfg->poll_us * 1000,
		      &stats->poll);
	rc = plat->gnttab->open(d->plat, &r->gt);
	if (rc)
		goto fail;
	rc = plat->gnttab->map(r->gt, d->fe, refs, nr_pages, 1, &r->sring,
			       NULL);
	if (rc) {
		r->sring = NULL;
		pvk_err("vbd d%u q%u: cannot map the ring: %s", d->fe, qid,
			strerror(-rc));
		goto fail;
	}
	r->nr_pages = nr_pages;
	rc = blkif_back_init(&r->back, abi, r->sring,
			     (size_t)nr_pages * BLKIF_PAGE_SIZE);
	if (rc)
		goto fail;
	r->nslots = blkif_back_nr_ents(&r->back);
	r->seg_cap = d->lim.max_indirect_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST
			     ? d->lim.max_indirect_segs
			     : BLKIF_MAX_SEGMENTS_PER_REQUEST;
	r->slots = calloc(r->nslots, sizeof(*r->slots));
	r->done = calloc(r->nslots, sizeof(*r->done));
	if (!r->slots || !r->done) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slots[i];

		s->req.seg = calloc(r->seg_cap, sizeof(*s->req.seg));
		s->req.seg_cap = (uint16_t)r->seg_cap;
		s->iov = calloc(r->seg_cap, sizeof(*s->iov));
		if (d->lim.max_indirect_segs)
			s->ipages = aligned_alloc(
				BLKIF_PAGE_SIZE,
				(size_t)BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
					BLKIF_PAGE_SIZE);
		if (!s->req.seg || !s->iov ||
		    (d->lim.max_indirect_segs && !s->ipages)) {
			rc = -ENOMEM;
			goto fail;
		}
		s->next = r->free;
		r->free = s;
	}
	if (d->persistent && d->cfg->max_persistent) {
		r->pg_cap = 16;
		while (r->pg_cap < 2 * d->cfg->max_persistent)
			r->pg_cap *= 2;
		r->pg = calloc(r->pg_cap, sizeof(*r->pg));
		if (!r->pg) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	rc = d->ops->open(d->params, d->lim.readonly, r->nslots, &r->st);
	if (rc) {
		pvk_err("vbd d%u q%u: cannot open %s: %s", d->fe, qid,
			d->params, strerror(-rc));
		goto fail;
	}
	rc = plat->evtchn->open(d->plat, &r->ev);
	if (!rc)
		rc = plat->evtchn->bind_interdomain(r->ev, d->fe, port,
						    &r->port);
	if (rc) {
		pvk_err("vbd d%u q%u: cannot bind event channel %u: %s", d->fe,
			qid, port, strerror(-rc));
		r->port = 0;
		goto fail;
	}
	rc = pthread_create(&r->thr, NULL, ring_thread, r);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	r->thr_started = true;
	*out = r;
	return 0;
fail:
	bk_ring_stop(r);
	return rc;
}
