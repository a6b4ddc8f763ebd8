/*
 * gnttab.c - the emulated platform's grant mapping and copying (the
 * backend side, libxengnttab style).
 *
 * GNTTABOP_map_grant_ref goes to pvkit-hvd, whose reply attaches the
 * granting domain's memory file: op.host_addr is the index of the attached
 * descriptor, op.dev_bus_addr the byte offset of the frame in it.  Each page
 * is mmapped into one reserved region so that a batch is contiguous.
 * GNTTABOP_copy goes to the hypervisor when both sides are addressable by
 * it; a side in this process's own memory (DOMID_SELF by virtual address,
 * see platform.h) is served by mapping the other side here and copying.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "hv/hc_wire.h"
#include "platform/emulated/emu.h"

#define MAP_BATCH_MAX                                                          \
	((PVK_HC_MAX_MSG - 256) / sizeof(struct gnttab_map_grant_ref))
#define COPY_BATCH_MAX ((PVK_HC_MAX_MSG - 256) / sizeof(struct gnttab_copy))

struct gnt_mapping {
	struct gnt_mapping *next;
	void *addr;
	uint32_t count;
	grant_handle_t handles[];
};

/* A granting domain's whole memory file, mapped once for copies (see
 * copy_here_batch): kept while used, dropped a second after its last use
 * (a dead domain's memory must not stay pinned by a backend). */
#define MEMCACHE_N 8
#define MEMCACHE_IDLE_NS 1000000000ull
struct memcache_ent {
	dev_t dev;
	ino_t ino;
	uint8_t *base; /* NULL: free */
	size_t size;
	uint64_t used;
};

struct pvk_gnttab {
	struct emu *e;
	pthread_mutex_t lock;
	struct gnt_mapping *maps;
	/* copies: one thread at a time (copy_lock) */
	pthread_mutex_t copy_lock;
	struct memcache_ent mc[MEMCACHE_N];
};

/* Release grant handles with GNTTABOP_unmap_grant_ref (after munmap). */
static int grant_release(struct pvk_rt *rt, const grant_handle_t *handles,
			 uint32_t count)
{
	struct gnttab_unmap_grant_ref *ops;
	uint32_t i;
	long rc;
	int err = 0;

	ops = calloc(count, sizeof(*ops));
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < count; i++)
		ops[i].handle = handles[i];
	rc = pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
			      GNTTABOP_unmap_grant_ref, count, ops,
			      count * sizeof(*ops), count * sizeof(*ops), NULL,
			      NULL);
	if (rc < 0) {
		err = (int)rc;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (ops[i].status != GNTST_okay) {
			pvk_warn("gnttab: unmap of handle %u: status %d",
				 handles[i], ops[i].status);
			err = -EINVAL;
		}
	}
out:
	free(ops);
	return err;
}

/*
 * Map ops[0..count) (filled in by the caller) into one fresh region, each
 * page read-only when its op has GNTMAP_readonly.
 * 0 and *base set, or -errno with every ops[i].status set and nothing left
 * mapped (in the hypervisor or here).
 */
static int grant_map(struct pvk_rt *rt, struct gnttab_map_grant_ref *ops,
		     uint32_t count, void **base_out)
{
	int fds[PVK_MAX_FDS];
	unsigned int nfds = PVK_MAX_FDS, i;
	grant_handle_t *undo = NULL;
	uint32_t nundo = 0;
	uint8_t *base = MAP_FAILED;
	long rc;

	undo = calloc(count, sizeof(*undo));
	rc = undo ? pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
				     GNTTABOP_map_grant_ref, count, ops,
				     count * sizeof(*ops),
				     count * sizeof(*ops), fds, &nfds)
		  : -ENOMEM;
	if (rc < 0) {
		nfds = 0;
		for (i = 0; i < count; i++)
			ops[i].status = GNTST_general_error;
		goto out;
	}
	rc = 0;
	base = mmap(NULL, (size_t)count * EMU_PAGE_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		rc = -ENOMEM;
	for (i = 0; i < count; i++) {
		if (ops[i].status != GNTST_okay) {
			if (!rc)
				rc = -EINVAL;
			continue;
		}
		undo[nundo++] = ops[i].handle;
		if (rc)
			continue; /* a failure already: just collect handles */
		if (ops[i].host_addr >= nfds ||
		    mmap(base + (size_t)i * EMU_PAGE_SIZE, EMU_PAGE_SIZE,
			 (ops[i].flags & GNTMAP_readonly)
				 ? PROT_READ
				 : PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fds[ops[i].host_addr],
			 (off_t)ops[i].dev_bus_addr) == MAP_FAILED) {
			rc = ops[i].host_addr >= nfds ? -EPROTO : -errno;
			ops[i].status = GNTST_general_error;
		}
	}
	if (rc) {
		if (base != MAP_FAILED)
			munmap(base, (size_t)count * EMU_PAGE_SIZE);
		if (nundo)
			grant_release(rt, undo, nundo);
		/* An entry that did map is undone: say so, not "okay". */
		for (i = 0; i < count; i++)
			if (ops[i].status == GNTST_okay)
				ops[i].status = GNTST_general_error;
		goto out;
	}
	*base_out = base;
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	free(undo);
	return (int)rc;
}

/* Drop the cached memory files unused since before now - idle (idle 0:
 * all of them). */
static void memcache_drop(struct pvk_gnttab *h, uint64_t idle)
{
	uint64_t now = idle ? pvk_now_ns() : 0;
	unsigned int i;

	for (i = 0; i < MEMCACHE_N; i++) {
		struct memcache_ent *c = &h->mc[i];

		if (c->base && (!idle || now - c->used > idle)) {
			munmap(c->base, c->size);
			c->base = NULL;
		}
	}
}

/* The mapping of the memory file fd (a granting domain's), mapped now if
 * it is not yet: NULL on failure. */
static uint8_t *memcache_get(struct pvk_gnttab *h, int fd, size_t *size)
{
	struct memcache_ent *c, *victim = NULL;
	struct stat st;
	unsigned int i;
	void *p;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return NULL;
	for (i = 0; i < MEMCACHE_N; i++) {
		c = &h->mc[i];
		if (c->base && c->dev == st.st_dev && c->ino == st.st_ino &&
		    c->size == (size_t)st.st_size) {
			c->used = pvk_now_ns();
			*size = c->size;
			return c->base;
		}
		/* a free slot, else the least recently used */
		if (!victim || (victim->base && (!c->base || c->used < victim->used)))
			victim = c;
	}
	if (victim->base)
		munmap(victim->base, victim->size);
	victim->base = NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	victim->base = p;
	victim->dev = st.st_dev;
	victim->ino = st.st_ino;
	victim->size = (size_t)st.st_size;
	victim->used = pvk_now_ns();
	*size = victim->size;
	return victim->base;
}

static int gnttab_open(struct pvk_platform *plat, struct pvk_gnttab **out)
{
	struct pvk_gnttab *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->e = emu_of(plat);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->copy_lock, NULL);
	*out = h;
	return 0;
}

static void mapping_free(struct pvk_gnttab *h, struct gnt_mapping *m)
{
	munmap(m->addr, (size_t)m->count * EMU_PAGE_SIZE);
	grant_release(h->e->rt, m->handles, m->count);
	free(m);
}

static void gnttab_close(struct pvk_gnttab *h)
{
	if (!h)
		return;
	while (h->maps) {
		struct gnt_mapping *m = h->maps;

		h->maps = m->next;
		mapping_free(h, m);
	}
	memcache_drop(h, 0);
	pthread_mutex_destroy(&h->copy_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int gnttab_map(struct pvk_gnttab *h, domid_t dom,
		      const grant_ref_t *refs, uint32_t count, int writable,
		      void **addr, int16_t *status)
{
	struct gnttab_map_grant_ref *ops = NULL;
	struct gnt_mapping *m = NULL;
	void *base = NULL;
	uint32_t i;
	int rc;

	if (!count || count > MAP_BATCH_MAX || !refs || !addr)
		return -EINVAL;
	ops = calloc(count, sizeof(*ops));
	m = calloc(1, sizeof(*m) + count * sizeof(m->handles[0]));
	if (!ops || !m) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		ops[i].flags = GNTMAP_host_map |
			       (writable ? 0 : GNTMAP_readonly);
		ops[i].ref = refs[i];
		ops[i].dom = dom;
	}
	rc = grant_map(h->e->rt, ops, count, &base);
	if (status)
		for (i = 0; i < count; i++)
			status[i] = ops[i].status;
	if (rc)
		goto out;
	m->addr = base;
	m->count = count;
	for (i = 0; i < count; i++)
		m->handles[i] = ops[i].handle;
	pthread_mutex_lock(&h->lock);
	m->next = h->maps;
	h->maps = m;
	pthread_mutex_unlock(&h->lock);
	m = NULL;
	*addr = base;
out:
	free(m);
	free(ops);
	return rc;
}

static int gnttab_unmap(struct pvk_gnttab *h, void *addr, uint32_t count)
{
	struct gnt_mapping **pp, *m = NULL;

	pthread_mutex_lock(&h->lock);
	for (pp = &h->maps; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr && (*pp)->count == count) {
			m = *pp;
			*pp = m->next;
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (!m)
		return -EINVAL;
	mapping_free(h, m);
	return 0;
}

/* ---- copy ---- */

static bool side_is_ref(const struct gnttab_copy *op, bool dest)
{
	return op->flags & (dest ? GNTCOPY_dest_gref : GNTCOPY_source_gref);
}

static bool side_is_local(const struct gnttab_copy *op, bool dest)
{
	const struct gnttab_copy_ptr *p = dest ? &op->dest : &op->source;

	return !side_is_ref(op, dest) && p->domid == DOMID_SELF;
}

static uint8_t *local_ptr(const struct gnttab_copy_ptr *p)
{
	return (uint8_t *)(uintptr_t)(((uint64_t)p->u.gmfn << PVK_PAGE_SHIFT) |
				      p->offset);
}

/* A local side inside our own guest memory (a DomU) becomes its frame
 * number, so the hypervisor can copy directly; false otherwise. */
static bool local_to_gpfn(struct pvk_rt *rt, struct gnttab_copy_ptr *p)
{
	uint8_t *mem = pvk_rt_gpfn_to_ptr(rt, 0);
	uintptr_t va = (uintptr_t)p->u.gmfn << PVK_PAGE_SHIFT;
	xen_pfn_t gpfn;

	if (!mem || va < (uintptr_t)mem)
		return false;
	gpfn = (va - (uintptr_t)mem) / EMU_PAGE_SIZE;
	if (pvk_rt_gpfn_to_ptr(rt, gpfn) != (void *)va)
		return false;
	p->u.gmfn = gpfn;
	return true;
}

/* Map the remote side of op here for one copy. */
static int16_t remote_map(struct pvk_rt *rt, const struct gnttab_copy *op,
			  bool dest, void **page, grant_handle_t *handle)
{
	const struct gnttab_copy_ptr *p = dest ? &op->dest : &op->source;
	struct gnttab_map_grant_ref m = {0};
	int rc;

	if (!side_is_ref(op, dest)) {
		xen_pfn_t gfn = p->u.gmfn;

		rc = pvk_foreign_map(rt, p->domid, &gfn, 1, dest, page);
		if (rc == -EPERM)
			return GNTST_permission_denied;
		if (rc == -ESRCH)
			return GNTST_bad_domain;
		return rc ? GNTST_bad_page : GNTST_okay;
	}
	m.flags = GNTMAP_host_map | (dest ? 0 : GNTMAP_readonly);
	m.ref = p->u.ref;
	m.dom = p->domid;
	if (grant_map(rt, &m, 1, page))
		return m.status != GNTST_okay ? m.status : GNTST_general_error;
	*handle = m.handle;
	return GNTST_okay;
}

/* One copy with at least one side in this process's memory. */
static int16_t copy_here(struct pvk_rt *rt, const struct gnttab_copy *op)
{
	bool src_local = side_is_local(op, false);
	bool dst_local = side_is_local(op, true);
	void *page = NULL;
	grant_handle_t handle = 0;
	uint8_t *src, *dst;
	int16_t st;

	if (src_local && dst_local) {
		memmove(local_ptr(&op->dest), local_ptr(&op->source), op->len);
		return GNTST_okay;
	}
	st = remote_map(rt, op, !dst_local, &page, &handle);
	if (st != GNTST_okay)
		return st;
	src = src_local ? local_ptr(&op->source)
			: (uint8_t *)page + op->source.offset;
	dst = dst_local ? local_ptr(&op->dest)
			: (uint8_t *)page + op->dest.offset;
	memmove(dst, src, op->len);
	munmap(page, EMU_PAGE_SIZE);
	if (side_is_ref(op, !dst_local))
		grant_release(rt, &handle, 1);
	return GNTST_okay;
}

static int copy_native(struct pvk_rt *rt, struct gnttab_copy *ops,
		       uint32_t count)
{
	long rc = pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
				   GNTTABOP_copy, count, ops,
				   count * sizeof(*ops), count * sizeof(*ops),
				   NULL, NULL);

	return rc < 0 ? (int)rc : 0;
}

/* The remote side of a copy served here: the one not in local memory. */
static bool remote_is_dest(const struct gnttab_copy *op)
{
	return !side_is_local(op, true);
}

/*
 * Serve ops[idx[0..n)] (each with one local side) with one map batch for
 * all their grant references: the hypervisor checks and pins each grant
 * (GTF_reading/GTF_writing, as for a mapping) and hands over the granting
 * domain's memory file; the copies go through one mapping of that whole
 * file, kept between batches (no mmap, page faults and TLB shootdowns per
 * page); then the pins are released.  A Dom0 backend may map any guest
 * frame anyway (foreign mappings); the pin keeps the grant's rules: no
 * copy to or from a grant the granter did not give, or revoked.  Falls
 * back to one op at a time when the batch fails, so a bad ref fails only
 * its own op.
 */
static void copy_here_batch(struct pvk_gnttab *h, struct gnttab_copy *ops,
			    const uint32_t *idx, uint32_t n)
{
	struct pvk_rt *rt = h->e->rt;
	struct gnttab_map_grant_ref *m = NULL;
	grant_handle_t *handles = NULL;
	uint32_t *which = NULL, k = 0, i, nh = 0;
	int fds[PVK_MAX_FDS];
	unsigned int nfds = 0;
	uint8_t *mem[PVK_MAX_FDS];
	size_t msize[PVK_MAX_FDS];
	long rc;

	m = calloc(n, sizeof(*m));
	handles = calloc(n, sizeof(*handles));
	which = calloc(n, sizeof(*which));
	if (!m || !handles || !which)
		goto single;
	for (i = 0; i < n; i++) {
		struct gnttab_copy *op = &ops[idx[i]];
		bool dest = remote_is_dest(op);
		const struct gnttab_copy_ptr *p = dest ? &op->dest : &op->source;

		if (side_is_local(op, false) && side_is_local(op, true))
			continue;
		if (!side_is_ref(op, dest))
			continue; /* a frame by number: done singly */
		m[k].flags = GNTMAP_host_map | (dest ? 0 : GNTMAP_readonly);
		m[k].ref = p->u.ref;
		m[k].dom = p->domid;
		which[k++] = idx[i];
	}
	if (k > MAP_BATCH_MAX)
		goto single;
	if (k) {
		nfds = PVK_MAX_FDS;
		rc = pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
				      GNTTABOP_map_grant_ref, k, m,
				      k * sizeof(*m), k * sizeof(*m), fds, &nfds);
		if (rc < 0) {
			nfds = 0;
			goto single;
		}
	}
	pthread_mutex_lock(&h->copy_lock);
	memcache_drop(h, MEMCACHE_IDLE_NS);
	for (i = 0; i < nfds; i++)
		mem[i] = memcache_get(h, fds[i], &msize[i]);
	for (i = 0; i < k; i++) {
		struct gnttab_copy *op = &ops[which[i]];
		bool dest = remote_is_dest(op);
		uint8_t *page;

		if (m[i].status != GNTST_okay) {
			op->status = m[i].status;
			continue;
		}
		handles[nh++] = m[i].handle;
		if (m[i].host_addr >= nfds || !mem[m[i].host_addr] ||
		    m[i].dev_bus_addr + EMU_PAGE_SIZE >
			msize[m[i].host_addr]) {
			op->status = GNTST_general_error;
			continue;
		}
		page = mem[m[i].host_addr] + m[i].dev_bus_addr;
		memmove(dest ? page + op->dest.offset : local_ptr(&op->dest),
			dest ? local_ptr(&op->source) : page + op->source.offset,
			op->len);
		op->status = GNTST_okay;
	}
	pthread_mutex_unlock(&h->copy_lock);
	if (nh)
		grant_release(rt, handles, nh);
	/* What the batch did not cover: local-to-local and frame numbers. */
	for (i = 0; i < n; i++) {
		struct gnttab_copy *op = &ops[idx[i]];

		if (!side_is_ref(op, remote_is_dest(op)) ||
		    (side_is_local(op, false) && side_is_local(op, true)))
			op->status = copy_here(rt, op);
	}
	goto out;
single:
	for (i = 0; i < n; i++)
		ops[idx[i]].status = copy_here(rt, &ops[idx[i]]);
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	free(m);
	free(handles);
	free(which);
}

static int gnttab_copy(struct pvk_gnttab *h, struct gnttab_copy *ops,
		       uint32_t count)
{
	struct pvk_rt *rt = h->e->rt;
	struct gnttab_copy *native = NULL;
	uint32_t *idx = NULL, *here = NULL, n = 0, nhere = 0, i, j;
	int rc = 0;

	if (!count)
		return 0;
	if (!ops)
		return -EINVAL;
	native = calloc(count, sizeof(*native));
	idx = calloc(count, sizeof(*idx));
	here = calloc(count, sizeof(*here));
	if (!native || !idx || !here) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		struct gnttab_copy c = ops[i];
		bool sl = side_is_local(&c, false), dl = side_is_local(&c, true);

		if ((c.flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref)) ||
		    (uint32_t)c.source.offset + c.len > EMU_PAGE_SIZE ||
		    (uint32_t)c.dest.offset + c.len > EMU_PAGE_SIZE) {
			ops[i].status = GNTST_bad_copy_arg;
			continue;
		}
		if (sl && local_to_gpfn(rt, &c.source))
			sl = false;
		if (dl && local_to_gpfn(rt, &c.dest))
			dl = false;
		if (sl || dl) {
			here[nhere++] = i;
			continue;
		}
		native[n] = c;
		idx[n++] = i;
	}
	if (nhere)
		copy_here_batch(h, ops, here, nhere);
	for (i = 0; i < n; i += COPY_BATCH_MAX) {
		uint32_t k = n - i < COPY_BATCH_MAX ? n - i : COPY_BATCH_MAX;

		rc = copy_native(rt, native + i, k);
		if (rc)
			goto out;
		for (j = i; j < i + k; j++)
			ops[idx[j]].status = native[j].status;
	}
out:
	free(native);
	free(idx);
	free(here);
	return rc;
}

const struct pvk_gnttab_ops emu_gnttab_ops = {
	.open = gnttab_open,
	.close = gnttab_close,
	.map = gnttab_map,
	.unmap = gnttab_unmap,
	.copy = gnttab_copy,
};
