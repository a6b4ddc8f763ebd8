/*
 * gntshr.c - the emulated platform's grant sharing (the frontend side,
 * gntalloc style): pages of the DomU's own RAM granted to a peer.
 *
 * Only a DomU has guest memory to share; Dom0 processes get -EOPNOTSUPP.
 * A multi-page share needs a contiguous local view, so it takes a run of
 * consecutive guest frames (the guest memory is one mapping).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "platform/emulated/emu.h"

/* Extra pages tried when looking for a contiguous run. */
#define RUN_SLACK 256u

struct share {
	struct share *next;
	void *addr;
	uint32_t count;
	xen_pfn_t *gpfns;
	grant_ref_t *refs;
	bool *ended; /* access already revoked (a retried unshare) */
};

struct pvk_gntshr {
	struct emu *e;
	pthread_mutex_t lock;
	struct share *shares;
};

static int gntshr_open(struct pvk_platform *plat, struct pvk_gntshr **out)
{
	struct pvk_gntshr *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->e = emu_of(plat);
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

static void share_free(struct share *s)
{
	free(s->gpfns);
	free(s->refs);
	free(s->ended);
	free(s);
}

static int cmp_pfn(const void *a, const void *b)
{
	xen_pfn_t x = *(const xen_pfn_t *)a, y = *(const xen_pfn_t *)b;

	return x < y ? -1 : x > y;
}

/* Allocate count consecutive guest frames into gpfns[]. */
static int alloc_run(struct pvk_rt *rt, uint32_t count, xen_pfn_t *gpfns)
{
	uint32_t want = count + RUN_SLACK, n = 0, i, start = 0, run = 0;
	xen_pfn_t *got = calloc(want, sizeof(*got));
	int rc = -EOPNOTSUPP;

	if (!got)
		return -ENOMEM;
	if (count == 1) {
		rc = pvk_page_alloc(rt, &gpfns[0]);
		goto out;
	}
	while (n < want && pvk_page_alloc(rt, &got[n]) == 0)
		n++;
	qsort(got, n, sizeof(*got), cmp_pfn);
	for (i = 0; i < n && run < count; i++) {
		if (run && got[i] == got[i - 1] + 1) {
			run++;
		} else {
			start = i;
			run = 1;
		}
	}
	if (run >= count) {
		memcpy(gpfns, got + start, count * sizeof(*gpfns));
		rc = 0;
	} else {
		pvk_warn("gntshr: no %u contiguous free pages", count);
	}
	for (i = 0; i < n; i++)
		if (rc || i < start || i >= start + count)
			pvk_page_free(rt, got[i]);
out:
	free(got);
	return rc;
}

static int gntshr_share(struct pvk_gntshr *h, domid_t dom, uint32_t count,
			int writable, grant_ref_t *refs, void **addr)
{
	struct pvk_rt *rt = h->e->rt;
	struct share *s;
	uint32_t i, granted = 0;
	bool have_pages = false;
	int rc;

	if (pvk_rt_is_dom0(rt)) {
		pvk_err("gntshr: a Dom0 process has no guest memory to share "
			"in emulation; share pages from a DomU");
		return -EOPNOTSUPP;
	}
	if (!count || !refs || !addr || count > 65536)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->gpfns = calloc(count, sizeof(*s->gpfns));
	s->refs = calloc(count, sizeof(*s->refs));
	s->ended = calloc(count, sizeof(*s->ended));
	if (!s->gpfns || !s->refs || !s->ended) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = alloc_run(rt, count, s->gpfns);
	if (rc)
		goto fail;
	have_pages = true;
	for (; granted < count; granted++) {
		rc = pvk_gnt_grant(rt, dom, s->gpfns[granted], !writable,
				   &s->refs[granted]);
		if (rc)
			goto fail;
	}
	s->count = count;
	s->addr = pvk_rt_gpfn_to_ptr(rt, s->gpfns[0]);
	memcpy(refs, s->refs, count * sizeof(*refs));
	*addr = s->addr;
	pthread_mutex_lock(&h->lock);
	s->next = h->shares;
	h->shares = s;
	pthread_mutex_unlock(&h->lock);
	return 0;
fail:
	/* Nobody knows these refs yet: ending them cannot be busy. */
	for (i = 0; i < granted; i++)
		pvk_gnt_end(rt, s->refs[i]);
	for (i = 0; have_pages && i < count; i++)
		pvk_page_free(rt, s->gpfns[i]);
	share_free(s);
	return rc;
}

/* Revoke every remaining grant of s; -EBUSY if one is still in use. */
static int share_revoke(struct pvk_rt *rt, struct share *s)
{
	uint32_t i;
	int rc = 0;

	for (i = 0; i < s->count; i++) {
		int r;

		if (s->ended[i])
			continue;
		r = pvk_gnt_end(rt, s->refs[i]);
		if (r == 0)
			s->ended[i] = true;
		else if (!rc)
			rc = r;
	}
	return rc;
}

static int gntshr_unshare(struct pvk_gntshr *h, void *addr, uint32_t count)
{
	struct pvk_rt *rt = h->e->rt;
	struct share **pp, *s = NULL;
	uint32_t i;
	int rc;

	pthread_mutex_lock(&h->lock);
	for (pp = &h->shares; *pp; pp = &(*pp)->next)
		if ((*pp)->addr == addr && (*pp)->count == count)
			break;
	if (!*pp) {
		rc = -EINVAL;
		goto out;
	}
	s = *pp;
	rc = share_revoke(rt, s);
	if (rc)
		goto out; /* the share stays; the caller retries */
	*pp = s->next;
	for (i = 0; i < s->count; i++)
		pvk_page_free(rt, s->gpfns[i]);
	share_free(s);
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static void gntshr_close(struct pvk_gntshr *h)
{
	if (!h)
		return;
	while (h->shares) {
		struct share *s = h->shares;

		h->shares = s->next;
		if (share_revoke(h->e->rt, s) == 0) {
			for (uint32_t i = 0; i < s->count; i++)
				pvk_page_free(h->e->rt, s->gpfns[i]);
		} else {
			/* Still mapped by the peer: the pages must not be
			 * reused, so they stay allocated (leaked). */
			pvk_warn("gntshr: %u page(s) still mapped by the "
				 "peer at close; not freed", s->count);
		}
		share_free(s);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

const struct pvk_gntshr_ops emu_gntshr_ops = {
	.open = gntshr_open,
	.close = gntshr_close,
	.share = gntshr_share,
	.unshare = gntshr_unshare,
};
