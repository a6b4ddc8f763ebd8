/*
 * xsd_domains.c - pvkit-xenstored's domain rings over the platform layer.
 *
 * INTRODUCE maps the domain's xenstore page with fmem->map and binds its
 * event channel; each notification runs the ring shell (xs_ring.c) for that
 * domain.  VIRQ_DOM_EXC makes us ask domctl->list which introduced domains
 * died or shut down.  The platform is opened lazily, so a daemon without
 * one keeps serving sockets.  On real Xen the daemon's own kernel has a
 * ring too (plat->store): it is served from start as a privileged
 * connection, as Xen's xenstored does in dom0_init(), so that kernel
 * backends (blkback, netback) and /dev/xen/xenbus see the store.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <pvkit/platform.h>

#include "common/log.h"
#include "xenstore/xs_ring.h"
#include "xenstore/xsd.h"

struct ring_dom {
	struct xsd_src src; /* XSD_RING: found through xs_conn_priv() */
	struct ring_dom *next;
	struct xsd_domains *d;
	struct xs_conn *conn; /* NULL once released */
	domid_t domid;
	void *page;
	evtchn_port_t local;
	struct xs_ring ring;
	bool kicked, dead, broken;
	bool own; /* our own kernel's ring (plat->store); the core frees conn */
};

struct xsd_domains {
	struct xsd_src src; /* XSD_EVTCHN */
	struct xs_core *core;
	int epfd;
	const char *which;
	struct pvk_platform *plat;
	struct pvk_evtchn *evh;
	struct pvk_fmem *fmem;
	evtchn_port_t virq;
	bool virq_bound, started, own_done;
	struct ring_dom *rings;
	xsd_ring_commit_fn commit; /* or NULL */
	void *commit_opaque;
};

int xsd_domains_new(struct xs_core *core, int epfd, const char *which,
		    struct xsd_domains **out)
{
	struct xsd_domains *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->src.kind = XSD_EVTCHN;
	d->core = core;
	d->epfd = epfd;
	d->which = which;
	*out = d;
	return 0;
}

static void ring_teardown(struct xsd_domains *d, struct ring_dom *rd)
{
	if (rd->local && d->evh)
		d->plat->evtchn->unbind(d->evh, rd->local);
	if (rd->page && rd->own)
		d->plat->store->unmap_local(d->plat, rd->page);
	else if (rd->page && d->fmem)
		d->plat->fmem->unmap(d->fmem, rd->page, 1);
	rd->local = 0;
	rd->page = NULL;
}

static void reap(struct xsd_domains *d)
{
	struct ring_dom **pp = &d->rings;

	while (*pp) {
		struct ring_dom *rd = *pp;

		if (rd->dead) {
			*pp = rd->next;
			free(rd);
			continue;
		}
		pp = &rd->next;
	}
}

void xsd_domains_free(struct xsd_domains *d)
{
	if (!d)
		return;
	for (struct ring_dom *rd = d->rings; rd; rd = rd->next) {
		ring_teardown(d, rd);
		rd->dead = true;
	}
	reap(d);
	if (d->virq_bound)
		d->plat->evtchn->unbind(d->evh, d->virq);
	if (d->fmem)
		d->plat->fmem->close(d->fmem);
	if (d->evh)
		d->plat->evtchn->close(d->evh);
	if (d->plat)
		pvk_platform_close(d->plat);
	free(d);
}

static int ring_notify(void *opaque);

/* Serve our own kernel's xenbus ring (real Xen, xenstored in Dom0) as a
 * privileged connection and tell the kernel the store is up. */
static void own_attach(struct xsd_domains *d)
{
	struct ring_dom *rd = NULL;
	struct xs_conn *conn = NULL;
	evtchn_port_t port;
	void *page = NULL;
	int rc;

	if (d->own_done || !d->core || !d->plat->store)
		return;
	d->own_done = true;
	rc = d->plat->store->map_local(d->plat, &page, &port);
	if (rc) {
		if (rc != -ENOENT)
			pvk_warn("own xenstore ring: %s", strerror(-rc));
		return;
	}
	rd = calloc(1, sizeof(*rd));
	rc = rd ? xs_conn_new(d->core, 0, &conn) : -ENOMEM;
	if (rc)
		goto fail;
	/* bound to ourselves: this xenstored's domain is Dom0 */
	rc = d->plat->evtchn->bind_interdomain(d->evh, 0, port, &rd->local);
	if (rc)
		goto fail;
	rd->src.kind = XSD_RING;
	rd->d = d;
	rd->own = true;
	rd->page = page;
	rd->conn = conn;
	rd->domid = 0;
	xs_ring_init(&rd->ring, page, ring_notify, rd);
	xs_conn_set_priv(conn, rd);
	rd->kicked = true;
	rd->next = d->rings;
	d->rings = rd;
	ring_notify(rd); /* wakes the kernel's xenbus probe */
	pvk_info("own xenstore ring served (port %u -> %u)", port, rd->local);
	return;
fail:
	pvk_warn("own xenstore ring: %s", strerror(-rc));
	xs_conn_free(conn);
	free(rd);
	d->plat->store->unmap_local(d->plat, page);
}

int xsd_domains_start(struct xsd_domains *d)
{
	struct pvk_platform *plat = NULL;
	int rc;

	if (d->started)
		return 0;
	rc = pvk_platform_open(d->which, &plat);
	if (rc)
		return rc;
	d->plat = plat;
	if (!plat->evtchn || !plat->fmem) {
		rc = -ENOSYS;
		goto fail;
	}
	rc = plat->evtchn->open(plat, &d->evh);
	if (rc)
		goto fail;
	rc = plat->fmem->open(plat, &d->fmem);
	if (rc)
		goto fail;
	if (d->epfd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = d};

		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, plat->evtchn->fd(d->evh),
			      &ev)) {
			rc = -errno;
			goto fail;
		}
	}
	if (plat->domctl &&
	    plat->evtchn->bind_virq(d->evh, VIRQ_DOM_EXC, &d->virq) == 0)
		d->virq_bound = true;
	else
		pvk_warn("no VIRQ_DOM_EXC: dead domains are not noticed");
	d->started = true;
	pvk_info("platform %s ready", plat->name);
	own_attach(d);
	return 0;
fail:
	if (d->fmem)
		plat->fmem->close(d->fmem);
	if (d->evh)
		plat->evtchn->close(d->evh);
	d->fmem = NULL;
	d->evh = NULL;
	pvk_platform_close(plat);
	d->plat = NULL;
	return rc;
}

static int ring_notify(void *opaque)
{
	struct ring_dom *rd = opaque;
	struct xsd_domains *d = rd->d;

	return rd->local ? d->plat->evtchn->notify(d->evh, rd->local) : 0;
}

static void ring_commit(void *opaque, XENSTORE_RING_IDX req_cons,
			XENSTORE_RING_IDX rsp_prod)
{
	struct ring_dom *rd = opaque;
	struct xsd_domains *d = rd->d;

	if (d->commit)
		d->commit(d->commit_opaque, rd->domid, req_cons, rsp_prod);
}

void xsd_domains_set_commit(struct xsd_domains *d, xsd_ring_commit_fn fn,
			    void *opaque)
{
	d->commit = fn;
	d->commit_opaque = opaque;
}

/* Publish what a journal says was taken from and written into domid's
 * ring before the daemon died, where the page has not caught up.  Indexes
 * that do not fit the page as it is now are left alone. */
void xsd_domains_ring_fixup(struct xsd_domains *d, domid_t domid,
			    XENSTORE_RING_IDX req_cons,
			    XENSTORE_RING_IDX rsp_prod)
{
	for (struct ring_dom *rd = d->rings; rd; rd = rd->next) {
		struct xenstore_domain_interface *in = rd->page;
		XENSTORE_RING_IDX c, p, rc, rp;

		if (rd->dead || rd->own || rd->domid != domid || !in)
			continue;
		c = __atomic_load_n(&in->req_cons, __ATOMIC_ACQUIRE);
		p = __atomic_load_n(&in->req_prod, __ATOMIC_ACQUIRE);
		rc = __atomic_load_n(&in->rsp_cons, __ATOMIC_ACQUIRE);
		rp = __atomic_load_n(&in->rsp_prod, __ATOMIC_ACQUIRE);
		if (rsp_prod != rp && rsp_prod - rp <= XENSTORE_RING_SIZE &&
		    rsp_prod - rc <= XENSTORE_RING_SIZE) {
			__atomic_store_n(&in->rsp_prod, rsp_prod,
					 __ATOMIC_RELEASE);
			pvk_info("dom%u: %u response bytes written before "
				 "the restart published",
				 domid, rsp_prod - rp);
		}
		if (req_cons != c && req_cons - c <= XENSTORE_RING_SIZE &&
		    p - req_cons <= XENSTORE_RING_SIZE) {
			__atomic_store_n(&in->req_cons, req_cons,
					 __ATOMIC_RELEASE);
			pvk_info("dom%u: %u request bytes taken before the "
				 "restart consumed",
				 domid, req_cons - c);
		}
		rd->kicked = true;
		ring_notify(rd);
	}
}

/* Map and bind domid's ring; resume: the page is already in service. */
static int ring_attach(struct xsd_domains *d, struct xs_conn *conn,
		       domid_t domid, uint64_t gfn, evtchn_port_t port,
		       bool resume)
{
	xen_pfn_t pfn = (xen_pfn_t)gfn;
	struct ring_dom *rd;
	int rc = xsd_domains_start(d);

	if (rc)
		return rc;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->src.kind = XSD_RING;
	rd->d = d;
	rd->conn = conn;
	rd->domid = domid;
	rc = d->plat->fmem->map(d->fmem, domid, &pfn, 1, 1, &rd->page);
	if (rc) {
		rd->page = NULL;
		goto fail;
	}
	rc = d->plat->evtchn->bind_interdomain(d->evh, domid, port, &rd->local);
	if (rc) {
		rd->local = 0;
		goto fail;
	}
	if (resume)
		xs_ring_resume(&rd->ring, rd->page, ring_notify, rd);
	else
		xs_ring_init(&rd->ring, rd->page, ring_notify, rd);
	rd->ring.commit = ring_commit;
	xs_conn_set_priv(conn, rd);
	rd->kicked = true; /* the guest may have written already */
	rd->next = d->rings;
	d->rings = rd;
	pvk_info("dom%u %s (gfn %#llx, port %u -> %u)", domid,
		 resume ? "reattached" : "introduced", (unsigned long long)gfn,
		 port, rd->local);
	/* a daemon that died between publishing and notifying left the
	 * guest asleep over a response it has: wake it */
	if (resume)
		ring_notify(rd);
	return 0;
fail:
	pvk_warn("dom%u: %s failed: %s", domid,
		 resume ? "reattach" : "introduce", strerror(-rc));
	ring_teardown(d, rd);
	free(rd);
	return rc;
}

int xsd_domains_introduce(struct xsd_domains *d, struct xs_conn *conn,
			  domid_t domid, uint64_t gfn, evtchn_port_t port)
{
	return ring_attach(d, conn, domid, gfn, port, false);
}

int xsd_domains_reattach(struct xsd_domains *d, struct xs_conn *conn,
			 domid_t domid, uint64_t gfn, evtchn_port_t port)
{
	return ring_attach(d, conn, domid, gfn, port, true);
}

bool xsd_domains_has_own(const struct xsd_domains *d)
{
	for (const struct ring_dom *rd = d->rings; rd; rd = rd->next)
		if (rd->own && !rd->dead)
			return true;
	return false;
}

void xsd_domains_set_core(struct xsd_domains *d, struct xs_core *core)
{
	d->core = core;
	if (d->started)
		own_attach(d);
}

void xsd_domains_release(struct xsd_domains *d, struct xs_conn *conn)
{
	struct ring_dom *rd = xs_conn_priv(conn);

	if (!rd || rd->src.kind != XSD_RING || rd->dead)
		return;
	pvk_info("dom%u released", rd->domid);
	ring_teardown(d, rd);
	rd->conn = NULL;
	rd->dead = true; /* freed by reap(): callers may be iterating */
	xs_conn_set_priv(conn, NULL);
}

static void ring_run(struct ring_dom *rd)
{
	int rc;

	rd->kicked = false;
	if (rd->dead || !rd->conn)
		return;
	/* a broken ring stays dead until the guest asks to reconnect */
	rc = xs_ring_process(&rd->ring, rd->conn);
	if (rc && !rd->broken)
		pvk_warn("dom%u: xenstore ring failed (error %u)", rd->domid,
			 rd->ring.intf->error);
	rd->broken = rc != 0;
}

/* VIRQ_DOM_EXC: release dead domains, report shut down ones. */
static void check_domains(struct xsd_domains *d)
{
	unsigned int from = 0;
	domid_t id;

	while (xs_core_next_domain(d->core, from, &id) == 0) {
		struct pvk_dominfo info;
		int n = d->plat->domctl->list(d->plat, id, &info, 1);

		from = id + 1u;
		if (n < 0)
			continue;
		if (n == 0 || info.domid != id ||
		    (info.flags & PVK_DOMINFO_DYING))
			xs_core_release_domain(d->core, id);
		else if (info.flags & PVK_DOMINFO_SHUTDOWN)
			xs_core_domain_shutdown(d->core, id);
	}
}

void xsd_domains_recheck(struct xsd_domains *d)
{
	if (d->started && d->virq_bound && d->core)
		check_domains(d);
	reap(d);
}

void xsd_domains_event(struct xsd_domains *d)
{
	evtchn_port_t port;

	if (!d->evh)
		return;
	while (d->plat->evtchn->pending(d->evh, &port) == 0) {
		if (d->virq_bound && port == d->virq) {
			check_domains(d);
		} else {
			for (struct ring_dom *rd = d->rings; rd; rd = rd->next)
				if (!rd->dead && rd->local == port)
					ring_run(rd);
		}
		d->plat->evtchn->unmask(d->evh, port);
	}
	reap(d);
}

void xsd_domains_kick(struct xsd_domains *d, struct xs_conn *conn)
{
	struct ring_dom *rd = xs_conn_priv(conn);

	(void)d;
	if (rd && rd->src.kind == XSD_RING)
		rd->kicked = true;
}

void xsd_domains_flush(struct xsd_domains *d)
{
	bool again = true;

	/* serving one ring can queue events for another: loop until quiet */
	for (int round = 0; again && round < 8; round++) {
		again = false;
		for (struct ring_dom *rd = d->rings; rd; rd = rd->next) {
			if (rd->kicked && !rd->dead) {
				ring_run(rd);
				again = true;
			}
		}
	}
	reap(d);
}
