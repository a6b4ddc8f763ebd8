/*
 * gnttab.c - grant tables v1.
 *
 * The entries live in the granting domain's own memory (its grant frames,
 * special pages after RAM), which the guest writes concurrently: flags and
 * domid are read and updated together with one 32-bit compare-and-swap, as
 * Xen does, and the frame is read once and then checked.  While a grant is
 * pinned (mapped, or during a copy) GTF_reading/GTF_writing are kept set.
 */
#include "hv/hv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 4096u

static bool holder_dead(void *arg, unsigned int slot)
{
	struct hv *hv = arg;

	return hv->env->gact_holder_dead && hv->env->gact_holder_dead(hv, slot);
}

void hv_gact_lock(struct hv_domain *d)
{
	if (d->gact_base)
		pvk_gact_lock(&d->gact, PVK_GACT_HVD, 0, holder_dead, d->hv);
}

void hv_gact_unlock(struct hv_domain *d)
{
	if (d->gact_base)
		pvk_gact_unlock(&d->gact);
}

uint64_t hv_gact_drop_slot(struct hv *hv, unsigned int slot)
{
	uint64_t n = 0;
	unsigned int i;

	if (slot == PVK_GACT_HVD || slot >= PVK_GACT_SLOTS)
		return 0;
	for (i = 0; i < DOMID_FIRST_RESERVED; i++) {
		struct hv_domain *d = hv->doms[i];

		if (!d || !d->gact_base)
			continue;
		hv_gact_lock(d);
		n += pvk_gact_drop_slot(&d->gact, slot);
		hv_gact_unlock(d);
	}
	return n;
}

int hv_gnttab_setup_table(struct hv_domain *d, uint32_t nr_frames,
			  xen_pfn_t *frames)
{
	uint32_t i;

	if (!d->mem)
		return -EOPNOTSUPP;
	if (nr_frames > d->max_gnt_frames)
		return -EINVAL;
	/* The table only grows; its frames sit at fixed guest frames. */
	if (nr_frames > d->gnt_frames) {
		d->gnt_frames = nr_frames;
		__atomic_store_n(&d->gact.hdr->gnt_frames, nr_frames,
				 __ATOMIC_RELEASE);
	}
	for (i = 0; i < nr_frames; i++)
		frames[i] = d->special_gpfn + 3 + i;
	return 0;
}

int hv_gnttab_query_size(struct hv_domain *d, struct gnttab_query_size *q)
{
	q->nr_frames = d->gnt_frames;
	q->max_nr_frames = d->max_gnt_frames;
	q->status = GNTST_okay;
	return 0;
}

/*
 * Pin ref of granter d for access by domain who, as pvkit-hvd (the shared
 * table's slot PVK_GACT_HVD).  Returns GNTST_*; *frame receives the
 * pinned frame.
 */
static int16_t gnt_pin(struct hv_domain *d, domid_t who, grant_ref_t ref,
		       bool writable, xen_pfn_t *frame)
{
	int16_t st;

	if (!d->mem)
		return GNTST_bad_gntref;
	hv_gact_lock(d);
	st = pvk_gact_pin(&d->gact, PVK_GACT_HVD, who, ref, writable, frame);
	hv_gact_unlock(d);
	if (st == GNTST_okay && who != d->domid)
		d->foreign_pins++;
	return st;
}

static void gnt_unpin(struct hv_domain *d, domid_t who, grant_ref_t ref,
		      bool writable)
{
	bool had;

	hv_gact_lock(d);
	had = pvk_gact_unpin(&d->gact, PVK_GACT_HVD, ref, writable);
	hv_gact_unlock(d);
	if (had && who != d->domid && d->foreign_pins)
		d->foreign_pins--;
}

static int maptrack_get(struct hv_sink *s, uint32_t *handle)
{
	uint32_t h;

	if (s->maptrack_free != UINT32_MAX) {
		h = s->maptrack_free;
		s->maptrack_free = s->maptrack[h].next_free;
	} else if (s->maptrack_used < s->maptrack_len) {
		h = s->maptrack_used++;
	} else {
		uint32_t n = s->maptrack_len ? s->maptrack_len * 2 : 256;
		struct hv_maptrack *nm;

		if (n > HV_MAX_MAPTRACK)
			n = HV_MAX_MAPTRACK;
		if (n <= s->maptrack_len)
			return -ENOSPC;
		nm = realloc(s->maptrack, n * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		memset(nm + s->maptrack_len, 0,
		       (n - s->maptrack_len) * sizeof(*nm));
		s->maptrack = nm;
		s->maptrack_len = n;
		h = s->maptrack_used++;
	}
	*handle = h;
	return 0;
}

static void maptrack_put(struct hv_sink *s, uint32_t h)
{
	s->maptrack[h].in_use = false;
	s->maptrack[h].next_free = s->maptrack_free;
	s->maptrack_free = h;
}

void hv_gnttab_map(struct hv_sink *mapper, struct gnttab_map_grant_ref *op)
{
	struct hv_domain *d = hv_domain_get(mapper->dom->hv, op->dom);
	bool writable = !(op->flags & GNTMAP_readonly);
	struct hv_maptrack *mt;
	xen_pfn_t frame;
	uint32_t h;
	int16_t st;

	op->handle = 0;
	op->dev_bus_addr = 0;
	if (!(op->flags & (GNTMAP_host_map | GNTMAP_device_map))) {
		op->status = GNTST_bad_gntref; /* what Xen answers */
		return;
	}
	if (!d || d->state == HV_DOM_DYING) {
		op->status = GNTST_bad_domain;
		return;
	}
	if (maptrack_get(mapper, &h)) {
		op->status = GNTST_no_space;
		return;
	}
	st = gnt_pin(d, mapper->dom->domid, op->ref, writable, &frame);
	if (st != GNTST_okay) {
		maptrack_put(mapper, h);
		op->status = st;
		return;
	}
	mt = &mapper->maptrack[h];
	mt->in_use = true;
	mt->writable = writable;
	mt->dom = d->domid;
	mt->gen = d->gen;
	mt->ref = op->ref;
	op->handle = h;
	op->dev_bus_addr = (uint64_t)frame * PAGE_SIZE;
	op->status = GNTST_okay;
}

static void maptrack_release(struct hv_sink *s, uint32_t h)
{
	struct hv_maptrack *mt = &s->maptrack[h];
	struct hv_domain *d = hv_domain_get(s->dom->hv, mt->dom);

	if (d && d->gen == mt->gen) {
		gnt_unpin(d, s->dom->domid, mt->ref, mt->writable);
		/* The last foreign pin of a dying granter completes its free.
		 * Its own maps (loopback) are dropped by its destroy, which
		 * frees it itself: never free it from under that. */
		if (d != s->dom && d->state == HV_DOM_DYING && !d->foreign_pins)
			hv_domain_destroy(d);
	}
	maptrack_put(s, h);
}

void hv_gnttab_unmap(struct hv_sink *mapper, struct gnttab_unmap_grant_ref *op)
{
	if (op->handle >= mapper->maptrack_used ||
	    !mapper->maptrack[op->handle].in_use) {
		op->status = GNTST_bad_handle;
		return;
	}
	maptrack_release(mapper, op->handle);
	op->status = GNTST_okay;
}

void hv_gnttab_release_sink(struct hv_sink *s)
{
	uint32_t h;

	for (h = 0; h < s->maptrack_used; h++)
		if (s->maptrack[h].in_use)
			maptrack_release(s, h);
	free(s->maptrack);
	s->maptrack = NULL;
	s->maptrack_len = s->maptrack_used = 0;
	s->maptrack_free = UINT32_MAX;
}

struct copy_end {
	struct hv_domain *d;
	grant_ref_t ref;
	bool pinned;
	bool writable;
	uint8_t *ptr;
};

static int16_t copy_resolve(struct hv_sink *caller,
			    const struct gnttab_copy_ptr *p, bool is_ref,
			    bool dest, uint16_t len, struct copy_end *out)
{
	struct hv_domain *self = caller->dom;
	struct hv_domain *d;
	xen_pfn_t frame;

	d = p->domid == DOMID_SELF ? self : hv_domain_get(self->hv, p->domid);
	if (!d || d->state == HV_DOM_DYING || !d->mem)
		return GNTST_bad_domain;
	if ((uint32_t)p->offset + len > PAGE_SIZE)
		return GNTST_bad_copy_arg;
	if (is_ref) {
		int16_t st = gnt_pin(d, self->domid, p->u.ref, dest, &frame);

		if (st != GNTST_okay)
			return st;
		out->pinned = true;
		out->ref = p->u.ref;
		out->writable = dest;
	} else {
		/* A frame by number: only one's own, or any if privileged. */
		if (d != self && !self->privileged)
			return GNTST_permission_denied;
		frame = p->u.gmfn;
		if (!hv_mem_frame_valid(d, frame))
			return GNTST_bad_page;
	}
	out->d = d;
	out->ptr = d->mem + frame * PAGE_SIZE + p->offset;
	return GNTST_okay;
}

static void copy_end_release(struct hv_sink *caller, struct copy_end *e)
{
	if (e->pinned)
		gnt_unpin(e->d, caller->dom->domid, e->ref, e->writable);
}

void hv_gnttab_copy(struct hv_sink *caller, struct gnttab_copy *op)
{
	struct copy_end src = {0}, dst = {0};
	int16_t st;

	if (op->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref)) {
		op->status = GNTST_bad_copy_arg;
		return;
	}
	st = copy_resolve(caller, &op->source, op->flags & GNTCOPY_source_gref,
			  false, op->len, &src);
	if (st != GNTST_okay)
		goto out;
	st = copy_resolve(caller, &op->dest, op->flags & GNTCOPY_dest_gref,
			  true, op->len, &dst);
	if (st != GNTST_okay)
		goto out;
	memmove(dst.ptr, src.ptr, op->len);
out:
	copy_end_release(caller, &dst);
	copy_end_release(caller, &src);
	op->status = st;
}
