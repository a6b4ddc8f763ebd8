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

#include "common/gnt_active.h"
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

/* A granting domain's memory and active grant table, shared with
 * pvkit-hvd (PVK_HC_gnt_share): copies pin there and copy here, with no
 * round trip (see copy_shared).  Dropped when unused for a second or when
 * the domain is destroyed. */
#define SHARE_N 16
struct share {
	bool used;
	domid_t domid;
	uint8_t *mem;
	size_t mem_len;
	void *tab;
	size_t tab_len;
	struct pvk_gact g;
	unsigned int users; /* copies in progress */
	uint64_t used_ns;
};

#define SHARE_LOCK_TIMEOUT_NS                                                  \
	2000000000ull /* hvd, which breaks locks, gone                         \
		       */

struct pvk_gnttab {
	struct emu *e;
	pthread_mutex_t lock;
	struct gnt_mapping *maps;
	/* copies: one thread at a time (copy_lock) */
	pthread_mutex_t copy_lock;
	struct memcache_ent mc[MEMCACHE_N];
	/* shared active tables (share_lock) */
	pthread_mutex_t share_lock;
	int slot; /* ours in every table; 0: not asked yet; -1: none */
	struct share share[SHARE_N];
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
	rc = pvk_rt_hypercall(
	    rt, __HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref, count,
	    ops, count * sizeof(*ops), count * sizeof(*ops), NULL, NULL);
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
				     count * sizeof(*ops), count * sizeof(*ops),
				     fds, &nfds)
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
		if (!victim ||
		    (victim->base && (!c->base || c->used < victim->used)))
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

static void share_unmap(struct share *sh)
{
	munmap(sh->mem, sh->mem_len);
	munmap(sh->tab, sh->tab_len);
	sh->used = false;
}

/* Locked (share_lock) or closing: drop the shares nobody uses that were
 * idle longer than idle ns (0: all) or whose domain is destroyed. */
static void share_drop(struct pvk_gnttab *h, uint64_t idle)
{
	uint64_t now = idle ? pvk_now_ns() : 0;
	unsigned int i;

	for (i = 0; i < SHARE_N; i++) {
		struct share *sh = &h->share[i];

		if (sh->used && !sh->users &&
		    (!idle || now - sh->used_ns > idle ||
		     __atomic_load_n(&sh->g.hdr->dead, __ATOMIC_ACQUIRE)))
			share_unmap(sh);
	}
}

static size_t fd_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) < 0 || st.st_size <= 0 ? 0 : (size_t)st.st_size;
}

/* Locked: ask pvkit-hvd for dom's memory and table and map them into sh.
 * 0, or -errno (-EPERM, -ENOSPC, -ENOSYS: this process copies through
 * pvkit-hvd from now on). */
static int share_open(struct pvk_gnttab *h, domid_t dom, struct share *sh)
{
	struct pvk_hc_domid a = {.domid = dom};
	int fds[PVK_MAX_FDS];
	unsigned int nfds = PVK_MAX_FDS, i;
	void *mem = MAP_FAILED, *tab = MAP_FAILED;
	size_t mlen = 0, tlen = 0;
	long rc;

	rc = pvk_rt_hypercall(h->e->rt, PVK_HC_gnt_share, 0, 0, &a, sizeof(a),
			      sizeof(a), fds, &nfds);
	if (rc < 0)
		return (int)rc;
	if (nfds != 2 || rc <= 0 || rc >= PVK_GACT_SLOTS ||
	    (h->slot > 0 && rc != h->slot)) {
		rc = -EPROTO;
		goto out;
	}
	mlen = fd_size(fds[0]);
	tlen = fd_size(fds[1]);
	if (mlen)
		mem = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fds[0], 0);
	if (tlen)
		tab = mmap(NULL, tlen, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fds[1], 0);
	if (mem == MAP_FAILED || tab == MAP_FAILED) {
		rc = -ENOMEM;
		goto out;
	}
	if (pvk_gact_view(tab, tlen, mem, mlen, &sh->g) ||
	    sh->g.hdr->domid != dom) {
		rc = -EPROTO;
		goto out;
	}
	h->slot = (int)rc;
	sh->used = true;
	sh->domid = dom;
	sh->mem = mem;
	sh->mem_len = mlen;
	sh->tab = tab;
	sh->tab_len = tlen;
	sh->users = 0;
	mem = tab = MAP_FAILED;
	rc = 0;
out:
	if (mem != MAP_FAILED)
		munmap(mem, mlen);
	if (tab != MAP_FAILED)
		munmap(tab, tlen);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return (int)rc;
}

/* dom's share, in use until share_put; NULL: copy through pvkit-hvd. */
static struct share *share_get(struct pvk_gnttab *h, domid_t dom)
{
	struct share *sh = NULL, *free_sh = NULL;
	unsigned int i;
	int rc;

	if (dom >= DOMID_FIRST_RESERVED ||
	    __atomic_load_n(&h->slot, __ATOMIC_RELAXED) < 0)
		return NULL;
	pthread_mutex_lock(&h->share_lock);
	share_drop(h, MEMCACHE_IDLE_NS);
	for (i = 0; i < SHARE_N; i++) {
		struct share *c = &h->share[i];

		if (c->used && c->domid == dom &&
		    !__atomic_load_n(&c->g.hdr->dead, __ATOMIC_ACQUIRE)) {
			sh = c;
			break;
		}
		if (!c->used && !free_sh)
			free_sh = c;
	}
	if (!sh && free_sh && h->slot >= 0) {
		rc = share_open(h, dom, free_sh);
		if (rc == -EPERM || rc == -ENOSPC || rc == -ENOSYS ||
		    rc == -EPROTO) {
			pvk_info("gnttab: copying through pvkit-hvd (%s)",
				 strerror(-rc));
			h->slot = -1;
		}
		if (!rc)
			sh = free_sh;
	}
	if (sh)
		sh->users++;
	pthread_mutex_unlock(&h->share_lock);
	return sh;
}

static void share_put(struct pvk_gnttab *h, struct share *sh)
{
	pthread_mutex_lock(&h->share_lock);
	sh->users--;
	sh->used_ns = pvk_now_ns();
	pthread_mutex_unlock(&h->share_lock);
}

static int gnttab_open(struct pvk_platform *plat, struct pvk_gnttab **out)
{
	struct pvk_gnttab *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	const char *env = getenv("PVKIT_GNT_SHARE");

	h->e = emu_of(plat);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->copy_lock, NULL);
	pthread_mutex_init(&h->share_lock, NULL);
	/* Only Dom0 gets the tables; PVKIT_GNT_SHARE=0 copies through
	 * pvkit-hvd (for comparison). */
	if (!pvk_rt_is_dom0(h->e->rt) || (env && !strcmp(env, "0")))
		h->slot = -1;
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
	share_drop(h, 0);
	pthread_mutex_destroy(&h->share_lock);
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
		ops[i].flags =
		    GNTMAP_host_map | (writable ? 0 : GNTMAP_readonly);
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
	long rc = pvk_rt_hypercall(
	    rt, __HYPERVISOR_grant_table_op, GNTTABOP_copy, count, ops,
	    count * sizeof(*ops), count * sizeof(*ops), NULL, NULL);

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
		const struct gnttab_copy_ptr *p =
		    dest ? &op->dest : &op->source;

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
		rc = pvk_rt_hypercall(
		    rt, __HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, k,
		    m, k * sizeof(*m), k * sizeof(*m), fds, &nfds);
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
		    m[i].dev_bus_addr + EMU_PAGE_SIZE > msize[m[i].host_addr]) {
			op->status = GNTST_general_error;
			continue;
		}
		page = mem[m[i].host_addr] + m[i].dev_bus_addr;
		memmove(dest ? page + op->dest.offset : local_ptr(&op->dest),
			dest ? local_ptr(&op->source)
			     : page + op->source.offset,
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

/* The shares a batch of copies holds (share_get once per granter). */
#define BATCH_SHARES 4
struct batch_shares {
	struct share *sh[BATCH_SHARES];
	unsigned int n;
	bool full;
};

static struct share *batch_share(struct pvk_gnttab *h, struct batch_shares *b,
				 domid_t dom)
{
	struct share *sh;
	unsigned int i;

	for (i = 0; i < b->n; i++)
		if (b->sh[i]->domid == dom)
			return b->sh[i];
	if (b->n == BATCH_SHARES)
		return NULL;
	sh = share_get(h, dom);
	if (sh)
		b->sh[b->n++] = sh;
	return sh;
}

static void batch_shares_put(struct pvk_gnttab *h, struct batch_shares *b)
{
	while (b->n)
		share_put(h, b->sh[--b->n]);
}

/* One side of a copy served from a share (sh NULL: a local side). */
struct shared_side {
	struct share *sh;
	grant_ref_t ref;
	uint16_t offset;
	uint8_t *ptr;
};

/* A copy whose sides are each in this process's memory or a granted
 * page of a domain whose share we hold. */
struct shared_op {
	uint32_t i;
	struct shared_side sd[2]; /* source, dest */
	int16_t st[2];		  /* each side's pin */
	uint8_t pinned;		  /* bit per side */
};

/*
 * Whether op can be served here through shares (copy_shared_run); fills
 * *so.  Not: a frame by number, our own grants, no share (the caller takes
 * the hypervisor's way), or local to local (copy_here).
 */
static bool shared_op_prepare(struct pvk_gnttab *h, struct batch_shares *b,
			      const struct gnttab_copy *op, uint32_t i,
			      struct shared_op *so)
{
	const struct gnttab_copy_ptr *p[2] = {&op->source, &op->dest};
	unsigned int s;

	memset(so, 0, sizeof(*so));
	so->i = i;
	for (s = 0; s < 2; s++) {
		if (!side_is_ref(op, s == 1)) {
			if (p[s]->domid != DOMID_SELF)
				return false; /* a frame by number */
			so->sd[s].ptr = local_ptr(p[s]);
			continue;
		}
		if (p[s]->domid == DOMID_SELF ||
		    !(so->sd[s].sh = batch_share(h, b, p[s]->domid)))
			return false;
		so->sd[s].ref = p[s]->u.ref;
		so->sd[s].offset = p[s]->offset;
	}
	return so->sd[0].sh || so->sd[1].sh;
}

/* Take sh's table lock; false when it cannot be had (pvkit-hvd, which
 * breaks dead holders' locks, is gone). */
static bool share_lock(struct pvk_gnttab *h, struct share *sh)
{
	if (pvk_gact_lock(&sh->g, (unsigned int)h->slot, SHARE_LOCK_TIMEOUT_NS,
			  NULL, NULL)) {
		pvk_warn("gnttab: d%u's grant table stays locked", sh->domid);
		return false;
	}
	return true;
}

/*
 * Serve a run of copies here: every granted side pinned in its granter's
 * shared active table (the checks and flags pvkit-hvd applies, see
 * common/gnt_active.h; each granter's lock taken once for the run's pins
 * and once for their release, not per op), then the bytes moved through
 * the granters' memory files in the ops' order, then the pins dropped.
 * Each op's status is set: its source's failure, else its dest's.
 */
static void copy_shared_run(struct pvk_gnttab *h, struct batch_shares *b,
			    struct gnttab_copy *ops, struct shared_op *run,
			    uint32_t n)
{
	unsigned int slot = (unsigned int)h->slot, s, j;
	domid_t self = pvk_rt_domid(h->e->rt);
	uint32_t k;

	for (k = 0; k < n; k++)
		run[k].st[0] = run[k].st[1] = GNTST_okay;
	for (j = 0; j < b->n; j++) {
		struct share *sh = b->sh[j];
		bool locked = share_lock(h, sh);

		for (k = 0; k < n; k++) {
			for (s = 0; s < 2; s++) {
				struct shared_side *sd = &run[k].sd[s];
				xen_pfn_t frame;

				if (sd->sh != sh)
					continue;
				run[k].st[s] =
				    locked
					? pvk_gact_pin(&sh->g, slot, self,
						       sd->ref, s == 1, &frame)
					: GNTST_general_error;
				if (run[k].st[s] != GNTST_okay)
					continue;
				run[k].pinned |= (uint8_t)(1u << s);
				sd->ptr = sh->mem +
					  (size_t)frame * EMU_PAGE_SIZE +
					  sd->offset;
			}
		}
		if (locked)
			pvk_gact_unlock(&sh->g);
	}
	for (k = 0; k < n; k++) {
		struct gnttab_copy *op = &ops[run[k].i];

		op->status =
		    run[k].st[0] != GNTST_okay ? run[k].st[0] : run[k].st[1];
		if (op->status == GNTST_okay)
			memmove(run[k].sd[1].ptr, run[k].sd[0].ptr, op->len);
	}
	for (j = 0; j < b->n; j++) {
		struct share *sh = b->sh[j];

		/* Should pvkit-hvd be gone, nothing is left to keep; were we
		 * to die, it drops our pins. */
		if (!share_lock(h, sh))
			continue;
		for (k = 0; k < n; k++)
			for (s = 0; s < 2; s++)
				if (run[k].sd[s].sh == sh &&
				    (run[k].pinned & (1u << s)))
					pvk_gact_unpin(&sh->g, slot,
						       run[k].sd[s].ref,
						       s == 1);
		pvk_gact_unlock(&sh->g);
	}
}

/* The ops of a batch waiting to be served together, all of one kind:
 * through shares (copy_shared_run), with a side here (copy_here_batch),
 * or by the hypervisor (native). */
enum pend_kind { PEND_NONE, PEND_SHARED, PEND_HERE, PEND_NATIVE };
struct pending {
	enum pend_kind kind;
	struct shared_op *run;
	struct gnttab_copy *native;
	uint32_t *idx, n;
};

static int pending_flush(struct pvk_gnttab *h, struct batch_shares *b,
			 struct gnttab_copy *ops, struct pending *pd)
{
	uint32_t i, j;
	int rc = 0;

	switch (pd->kind) {
	case PEND_SHARED:
		copy_shared_run(h, b, ops, pd->run, pd->n);
		break;
	case PEND_HERE:
		copy_here_batch(h, ops, pd->idx, pd->n);
		break;
	case PEND_NATIVE:
		for (i = 0; i < pd->n; i += COPY_BATCH_MAX) {
			uint32_t k = pd->n - i < COPY_BATCH_MAX
					 ? pd->n - i
					 : COPY_BATCH_MAX;

			rc = copy_native(h->e->rt, pd->native + i, k);
			if (rc)
				break;
			for (j = i; j < i + k; j++)
				ops[pd->idx[j]].status = pd->native[j].status;
		}
		break;
	case PEND_NONE:
		break;
	}
	pd->kind = PEND_NONE;
	pd->n = 0;
	return rc;
}

/*
 * The ops take effect in their order, as Xen's do (a later op may read
 * what an earlier one wrote): consecutive ops of one kind are served
 * together, and a change of kind serves what waits first.
 */
static int gnttab_copy(struct pvk_gnttab *h, struct gnttab_copy *ops,
		       uint32_t count)
{
	/* A backend's batch fits on the stack (no allocation per batch). */
	enum { ON_STACK = 64 };
	struct shared_op run_s[ON_STACK];
	struct gnttab_copy native_s[ON_STACK];
	uint32_t idx_s[ON_STACK];
	struct batch_shares b = {0};
	struct pvk_rt *rt = h->e->rt;
	struct pending pd = {0};
	struct shared_op so;
	bool share = __atomic_load_n(&h->slot, __ATOMIC_RELAXED) >= 0;
	bool heap = count > ON_STACK;
	uint32_t i;
	int rc = 0;

	if (!count)
		return 0;
	if (!ops)
		return -EINVAL;
	if (heap) {
		pd.run = share ? calloc(count, sizeof(*pd.run)) : NULL;
		pd.native = calloc(count, sizeof(*pd.native));
		pd.idx = calloc(count, sizeof(*pd.idx));
	} else {
		pd.run = run_s;
		pd.native = native_s;
		pd.idx = idx_s;
	}
	if ((share && !pd.run) || !pd.native || !pd.idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		struct gnttab_copy c = ops[i];
		bool sl = side_is_local(&c, false),
		     dl = side_is_local(&c, true);
		enum pend_kind kind;

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
		if (share && shared_op_prepare(h, &b, &ops[i], i, &so))
			kind = PEND_SHARED;
		else
			kind = sl || dl ? PEND_HERE : PEND_NATIVE;
		if (pd.kind != kind && (rc = pending_flush(h, &b, ops, &pd)))
			goto out;
		pd.kind = kind;
		if (kind == PEND_SHARED)
			pd.run[pd.n++] = so;
		else if (kind == PEND_HERE)
			pd.idx[pd.n++] = i;
		else {
			pd.native[pd.n] = c;
			pd.idx[pd.n++] = i;
		}
	}
	rc = pending_flush(h, &b, ops, &pd);
out:
	batch_shares_put(h, &b);
	if (heap) {
		free(pd.run);
		free(pd.native);
		free(pd.idx);
	}
	return rc;
}

/*
 * Pin segs of dom's grants in its shared active table (one lock for all
 * the pins, one for their release, as copy_shared_run) and let fn use the
 * bytes in place through dom's memory file while they stay pinned.
 */
static int
gnttab_pinned(struct pvk_gnttab *h, domid_t dom, struct pvk_gnt_seg *segs,
	      struct iovec *iov, uint32_t count, bool writable,
	      int (*fn)(void *arg, struct iovec *iov, uint32_t count),
	      void *arg)
{
	domid_t self = pvk_rt_domid(h->e->rt);
	struct share *sh;
	unsigned int slot;
	xen_pfn_t frame;
	bool locked;
	uint32_t i;
	int rc;

	if (dom == DOMID_SELF || dom == self || !(sh = share_get(h, dom)))
		return -EOPNOTSUPP;
	slot = (unsigned int)h->slot;
	locked = share_lock(h, sh);
	for (i = 0; i < count; i++) {
		struct pvk_gnt_seg *sg = &segs[i];

		iov[i].iov_base = NULL;
		iov[i].iov_len = 0;
		if ((uint32_t)sg->offset + sg->len > EMU_PAGE_SIZE)
			sg->status = GNTST_bad_copy_arg;
		else if (!locked)
			sg->status = GNTST_general_error;
		else
			sg->status = pvk_gact_pin(&sh->g, slot, self, sg->ref,
						  writable, &frame);
		if (sg->status != GNTST_okay)
			continue;
		iov[i].iov_base =
		    sh->mem + (size_t)frame * EMU_PAGE_SIZE + sg->offset;
		iov[i].iov_len = sg->len;
	}
	if (locked)
		pvk_gact_unlock(&sh->g);
	rc = fn(arg, iov, count);
	/* As after a copy: should pvkit-hvd be gone, nothing is left to
	 * keep; were we to die, it drops our pins. */
	if (share_lock(h, sh)) {
		for (i = 0; i < count; i++)
			if (segs[i].status == GNTST_okay)
				pvk_gact_unpin(&sh->g, slot, segs[i].ref,
					       writable);
		pvk_gact_unlock(&sh->g);
	}
	share_put(h, sh);
	return rc;
}

const struct pvk_gnttab_ops emu_gnttab_ops = {
    .open = gnttab_open,
    .close = gnttab_close,
    .map = gnttab_map,
    .unmap = gnttab_unmap,
    .copy = gnttab_copy,
    .pinned = gnttab_pinned,
};
