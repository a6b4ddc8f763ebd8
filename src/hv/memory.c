/*
 * memory.c - memory reservations: which guest frames are populated.
 *
 * A domain's RAM is [0, max_pages) of its memory file; tot_pages of those
 * are populated.  Giving a page back (decrease_reservation, the balloon)
 * clears its bit and asks the shell to punch a hole, so the host really gets
 * the memory back.  Populating a frame needs room under max_pages.
 */
#include "hv/hv.h"

#include <errno.h>

static bool pop_test(const struct hv_domain *d, uint64_t g)
{
	return d->populated[g / 64] & (1ull << (g % 64));
}

bool hv_mem_is_populated(const struct hv_domain *d, xen_pfn_t gpfn)
{
	return d->populated && gpfn < d->max_pages && pop_test(d, gpfn);
}

bool hv_mem_frame_valid(const struct hv_domain *d, xen_pfn_t gpfn)
{
	if (!d->mem)
		return false;
	if (gpfn < d->max_pages)
		return pop_test(d, gpfn);
	return gpfn >= d->special_gpfn && gpfn < d->mem_pages;
}

long hv_mem_populate(struct hv_domain *d, const xen_pfn_t *gpfns, uint64_t n)
{
	uint64_t i;

	if (!d->populated)
		return -EOPNOTSUPP;
	hv_gact_lock(d); /* copiers read the bitmap under it */
	for (i = 0; i < n; i++) {
		xen_pfn_t g = gpfns[i];

		if (g >= d->max_pages) {
			hv_gact_unlock(d);
			return i ? (long)i : -EINVAL;
		}
		if (pop_test(d, g))
			continue; /* already there: nothing to do */
		if (d->tot_pages >= d->max_pages)
			break;
		d->populated[g / 64] |= 1ull << (g % 64);
		d->tot_pages++;
	}
	hv_gact_unlock(d);
	return (long)i;
}

/* Locked: whether a mapping or a copy pins frame g. */
static bool frame_pinned(const struct hv_domain *d, xen_pfn_t g)
{
	if (!d->foreign_pins && !d->gact.hdr->copier_pins)
		return false;
	return pvk_gact_frame_pinned(&d->gact, g);
}

long hv_mem_decrease(struct hv_domain *d, const xen_pfn_t *gpfns, uint64_t n)
{
	uint64_t i;

	if (!d->populated)
		return -EOPNOTSUPP;
	hv_gact_lock(d); /* a copier's pin holds its frame */
	for (i = 0; i < n; i++) {
		xen_pfn_t g = gpfns[i];

		if (g >= d->max_pages || !pop_test(d, g))
			break; /* Xen stops at the first bad extent */
		if (frame_pinned(d, g) || hv_fifo_frame_in_use(d, g))
			break; /* still mapped by a backend, or an event page */
		d->populated[g / 64] &= ~(1ull << (g % 64));
		d->tot_pages--;
		if (d->hv->env->page_release)
			d->hv->env->page_release(d, g);
	}
	hv_gact_unlock(d);
	return (long)i;
}
