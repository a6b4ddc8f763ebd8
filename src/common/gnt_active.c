/*
 * gnt_active.c - the shared active grant table (see gnt_active.h).
 */
#include "common/gnt_active.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#define PAGE 4096u

static uint64_t round_page(uint64_t n)
{
	return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static uint64_t pop_bytes(uint64_t max_pages)
{
	return ((max_pages + 63) / 64 + 1) * sizeof(uint64_t);
}

size_t pvk_gact_size(uint64_t max_pages, uint32_t max_gnt_frames)
{
	uint64_t n = PAGE + round_page(pop_bytes(max_pages));

	n += round_page((uint64_t)max_gnt_frames * PVK_GACT_PER_FRAME *
			sizeof(struct pvk_gact_ent));
	return (size_t)n;
}

static void view_set(struct pvk_gact *g, void *base, uint8_t *mem)
{
	g->hdr = base;
	g->populated = (uint64_t *)((uint8_t *)base + g->hdr->pop_off);
	g->ent = (struct pvk_gact_ent *)((uint8_t *)base + g->hdr->ent_off);
	g->mem = mem;
}

void pvk_gact_init(void *base, size_t size, domid_t domid, uint64_t gen,
		   uint64_t max_pages, uint64_t mem_pages,
		   uint32_t max_gnt_frames, uint8_t *mem, struct pvk_gact *g)
{
	struct pvk_gact_hdr *h = base;

	h->magic = PVK_GACT_MAGIC;
	h->domid = domid;
	h->gen = gen;
	h->max_pages = max_pages;
	h->special_gpfn = max_pages;
	h->mem_pages = mem_pages;
	h->max_gnt_frames = max_gnt_frames;
	h->pop_off = PAGE;
	h->ent_off = PAGE + round_page(pop_bytes(max_pages));
	h->size = size;
	view_set(g, base, mem);
}

int pvk_gact_view(void *base, size_t size, uint8_t *mem, size_t mem_len,
		  struct pvk_gact *g)
{
	struct pvk_gact_hdr *h = base;

	if (size < PAGE || h->magic != PVK_GACT_MAGIC || h->size != size ||
	    h->max_gnt_frames > 64 || h->special_gpfn != h->max_pages ||
	    h->mem_pages > mem_len / PAGE || h->pop_off != PAGE ||
	    h->ent_off != PAGE + round_page(pop_bytes(h->max_pages)) ||
	    size != pvk_gact_size(h->max_pages, h->max_gnt_frames))
		return -EPROTO;
	view_set(g, base, mem);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pvk_gact_lock(struct pvk_gact *g, unsigned int slot, uint64_t timeout_ns,
		  bool (*holder_dead)(void *arg, unsigned int slot), void *arg)
{
	uint32_t *l = &g->hdr->lock, me = slot + 1, cur;
	uint64_t start = 0, last_check = 0, t;
	unsigned int n;

	for (n = 0;; n++) {
		cur = 0;
		if (__atomic_compare_exchange_n(
			l, &cur, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return 0;
		if (n < 128) {
			__builtin_ia32_pause();
			continue;
		}
		/* Held a while: its holder was preempted, or died. */
		t = now_ns();
		if (!start)
			start = last_check = t;
		if (holder_dead && cur && t - last_check > 1000000) {
			last_check = t;
			if (holder_dead(arg, cur - 1) &&
			    __atomic_compare_exchange_n(l, &cur, me, false,
							__ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				pvk_gact_drop_slot(g, cur - 1);
				return 0;
			}
		}
		if (timeout_ns && t - start > timeout_ns)
			return -ETIMEDOUT;
		if (n < 1024) {
			sched_yield();
		} else {
			struct timespec ts = {0, 100000}; /* 0.1 ms */

			nanosleep(&ts, NULL);
		}
	}
}

void pvk_gact_unlock(struct pvk_gact *g)
{
	__atomic_store_n(&g->hdr->lock, 0, __ATOMIC_RELEASE);
}

static grant_entry_v1_t *entry(const struct pvk_gact *g, grant_ref_t ref)
{
	uint64_t gpfn = g->hdr->special_gpfn + 3 + ref / PVK_GACT_PER_FRAME;

	return (grant_entry_v1_t *)(g->mem + gpfn * PAGE) +
	       ref % PVK_GACT_PER_FRAME;
}

/* flags and domid as one 32-bit word (little endian: flags low). */
static uint32_t *combo(grant_entry_v1_t *e) { return (uint32_t *)(void *)e; }

bool pvk_gact_frame_valid(const struct pvk_gact *g, xen_pfn_t gpfn)
{
	const struct pvk_gact_hdr *h = g->hdr;

	if (gpfn < h->max_pages)
		return g->populated[gpfn / 64] & (1ull << (gpfn % 64));
	return gpfn >= h->special_gpfn && gpfn < h->mem_pages;
}

_Static_assert(sizeof(struct pvk_gact_ent) == 64, "one cache line");

static void sums(const struct pvk_gact_ent *a, uint32_t *r, uint32_t *w)
{
	*r = a->tr;
	*w = a->tw;
}

/* The totals from the slots' counts (after a pinner died). */
static void recount(struct pvk_gact_ent *a)
{
	unsigned int i, r = 0, w = 0;

	for (i = 0; i < PVK_GACT_SLOTS; i++) {
		r += a->r[i];
		w += a->w[i];
	}
	a->tr = (uint16_t)r;
	a->tw = (uint16_t)w;
}

/* Under the lock; the flag updates around these are full barriers.  The
 * slot's own count goes up first and down last (struct pvk_gact_ent). */
static void count_inc(struct pvk_gact *g, struct pvk_gact_ent *a,
		      unsigned int slot, bool writable)
{
	uint16_t *c = writable ? &a->w[slot] : &a->r[slot];
	uint16_t *t = writable ? &a->tw : &a->tr;

	__atomic_store_n(c, (uint16_t)(*c + 1), __ATOMIC_RELAXED);
	__atomic_store_n(t, (uint16_t)(*t + 1), __ATOMIC_RELAXED);
	if (slot != PVK_GACT_HVD)
		g->hdr->copier_pins++;
}

static void count_dec(struct pvk_gact *g, struct pvk_gact_ent *a,
		      unsigned int slot, bool writable)
{
	uint16_t *c = writable ? &a->w[slot] : &a->r[slot];
	uint16_t *t = writable ? &a->tw : &a->tr;

	__atomic_store_n(t, (uint16_t)(*t - 1), __ATOMIC_RELAXED);
	__atomic_store_n(c, (uint16_t)(*c - 1), __ATOMIC_RELAXED);
	if (slot != PVK_GACT_HVD)
		g->hdr->copier_pins--;
}

int16_t pvk_gact_pin(struct pvk_gact *g, unsigned int slot, domid_t who,
		     grant_ref_t ref, bool writable, xen_pfn_t *frame)
{
	struct pvk_gact_ent *a;
	grant_entry_v1_t *e;
	uint32_t *cw, old, want, r, w;
	unsigned int tries;

	if (g->hdr->dead)
		return GNTST_bad_domain;
	if (slot >= PVK_GACT_SLOTS ||
	    ref >= g->hdr->gnt_frames * PVK_GACT_PER_FRAME)
		return GNTST_bad_gntref;
	a = &g->ent[ref];
	if ((writable ? a->tw : a->tr) == UINT16_MAX)
		return GNTST_no_space; /* so no slot's count overflows */
	e = entry(g, ref);
	cw = combo(e);
	sums(a, &r, &w);
	if (r + w && (!writable || w)) {
		/* Already pinned so: the entry must still name who. */
		old = __atomic_load_n(cw, __ATOMIC_SEQ_CST);
		if ((old >> 16) != who)
			return GNTST_general_error;
		count_inc(g, a, slot, writable);
		*frame = a->frame;
		return GNTST_okay;
	}
	/* The count first: a pinner that dies after setting a flag leaves a
	 * count that says so (gnt_active.h). */
	count_inc(g, a, slot, writable);
	for (tries = 0;; tries++) {
		uint16_t flags;

		if (tries > 16)
			goto fail; /* flag storm */
		old = __atomic_load_n(cw, __ATOMIC_SEQ_CST);
		flags = (uint16_t)(old & 0xffff);
		if ((flags & GTF_type_mask) != GTF_permit_access ||
		    (domid_t)(old >> 16) != who ||
		    (writable && (flags & GTF_readonly)))
			goto fail;
		want = old | GTF_reading | (writable ? GTF_writing : 0);
		if (__atomic_compare_exchange_n(cw, &old, want, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			break;
	}
	if (r + w == 0) {
		xen_pfn_t f = __atomic_load_n(&e->frame, __ATOMIC_SEQ_CST);

		if (!pvk_gact_frame_valid(g, f)) {
			__atomic_fetch_and(
			    cw, ~(uint32_t)(GTF_reading | GTF_writing),
			    __ATOMIC_SEQ_CST);
			count_dec(g, a, slot, writable);
			return GNTST_bad_page;
		}
		a->frame = (uint32_t)f;
	}
	*frame = a->frame;
	return GNTST_okay;
fail:
	count_dec(g, a, slot, writable);
	return GNTST_general_error;
}

/* Clear in the shared entry the flags that counts r (readers and writers)
 * and w (writers) no longer justify. */
static void flags_fix(struct pvk_gact *g, grant_ref_t ref, uint32_t r,
		      uint32_t w)
{
	uint32_t clear = 0;

	if (!w)
		clear |= GTF_writing;
	if (!r && !w)
		clear |= GTF_reading;
	if (clear)
		__atomic_fetch_and(combo(entry(g, ref)), ~clear,
				   __ATOMIC_SEQ_CST);
}

bool pvk_gact_unpin(struct pvk_gact *g, unsigned int slot, grant_ref_t ref,
		    bool writable)
{
	struct pvk_gact_ent *a;
	uint32_t r, w;

	if (slot >= PVK_GACT_SLOTS ||
	    ref >= g->hdr->gnt_frames * PVK_GACT_PER_FRAME)
		return false;
	a = &g->ent[ref];
	if (!(writable ? a->w[slot] : a->r[slot]))
		return false;
	sums(a, &r, &w);
	if (writable)
		w--;
	else
		r--;
	/* The flags first, then the count (gnt_active.h). */
	flags_fix(g, ref, r, w);
	count_dec(g, a, slot, writable);
	return true;
}

bool pvk_gact_frame_pinned(const struct pvk_gact *g, xen_pfn_t gpfn)
{
	uint32_t ref, n = g->hdr->gnt_frames * PVK_GACT_PER_FRAME, r, w;

	for (ref = 0; ref < n; ref++) {
		if (g->ent[ref].frame != gpfn)
			continue;
		sums(&g->ent[ref], &r, &w);
		if (r + w)
			return true;
	}
	return false;
}

uint64_t pvk_gact_drop_slot(struct pvk_gact *g, unsigned int slot)
{
	uint32_t ref, n = g->hdr->gnt_frames * PVK_GACT_PER_FRAME, r, w;
	uint64_t dropped = 0, copier = 0;
	unsigned int i;

	if (slot >= PVK_GACT_SLOTS)
		return 0;
	for (ref = 0; ref < n; ref++) {
		struct pvk_gact_ent *a = &g->ent[ref];

		if (a->r[slot] || a->w[slot]) {
			dropped += (uint64_t)a->r[slot] + a->w[slot];
			a->r[slot] = a->w[slot] = 0;
			recount(a);
			sums(a, &r, &w);
			flags_fix(g, ref, r, w);
		}
		for (i = 1; i < PVK_GACT_SLOTS; i++)
			copier += (uint64_t)a->r[i] + a->w[i];
	}
	g->hdr->copier_pins = copier;
	return dropped;
}
