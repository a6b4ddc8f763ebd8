/*
 * xen.c - the real-Xen platform: pvkit's ops tables over Debian's
 * libxenevtchn, libxengnttab (gntdev and gntalloc), libxenforeignmemory
 * (privcmd) and libxenctrl (domain control).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

#include "common/log.h"
#include "platform/platform_impl.h"

#define XEN_PRIVCMD "/dev/xen/privcmd"
#define XEN_EVTCHN "/dev/xen/evtchn"
#define XEN_XSD_KVA "/proc/xen/xsd_kva"   /* xenfs: the local xenbus ring */
#define XEN_XSD_PORT "/proc/xen/xsd_port" /* and its event channel */
#define XPAGE 4096u

struct xen_plat {
	struct pvk_platform pub;
	xc_interface *xch; /* NULL when not privileged: no domctl */
};

static struct xen_plat *xen_of(struct pvk_platform *plat)
{
	return plat->priv;
}

/* ---- event channels ---- */

struct pvk_evtchn {
	xenevtchn_handle *xce;
};

static int xevt_open(struct pvk_platform *plat, struct pvk_evtchn **out)
{
	struct pvk_evtchn *h = calloc(1, sizeof(*h));

	(void)plat;
	if (!h)
		return -ENOMEM;
	h->xce = xenevtchn_open(NULL, 0);
	if (!h->xce) {
		int rc = -errno;

		pvk_err("xenevtchn_open: %s", strerror(errno));
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

static void xevt_close(struct pvk_evtchn *h)
{
	if (!h)
		return;
	xenevtchn_close(h->xce);
	free(h);
}

static int xevt_fd(struct pvk_evtchn *h)
{
	return xenevtchn_fd(h->xce);
}

static int xevt_pending(struct pvk_evtchn *h, evtchn_port_t *port)
{
	struct pollfd p = {.fd = xenevtchn_fd(h->xce), .events = POLLIN};
	xenevtchn_port_or_error_t r;

	/* The device's read blocks: only read when something is there. */
	if (poll(&p, 1, 0) < 0)
		return -errno;
	if (!(p.revents & POLLIN))
		return -EAGAIN;
	r = xenevtchn_pending(h->xce);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	*port = (evtchn_port_t)r;
	return 0;
}

static int xevt_unmask(struct pvk_evtchn *h, evtchn_port_t port)
{
	return xenevtchn_unmask(h->xce, port) < 0 ? -errno : 0;
}

static int xevt_notify(struct pvk_evtchn *h, evtchn_port_t port)
{
	return xenevtchn_notify(h->xce, port) < 0 ? -errno : 0;
}

static int port_result(xenevtchn_port_or_error_t r, evtchn_port_t *local)
{
	if (r < 0)
		return -errno;
	*local = (evtchn_port_t)r;
	return 0;
}

static int xevt_bind_interdomain(struct pvk_evtchn *h, domid_t remote_dom,
				 evtchn_port_t remote_port,
				 evtchn_port_t *local)
{
	return port_result(xenevtchn_bind_interdomain(h->xce, remote_dom,
						      remote_port),
			   local);
}

static int xevt_bind_unbound(struct pvk_evtchn *h, domid_t remote_dom,
			     evtchn_port_t *local)
{
	return port_result(xenevtchn_bind_unbound_port(h->xce, remote_dom),
			   local);
}

static int xevt_bind_virq(struct pvk_evtchn *h, uint32_t virq,
			  evtchn_port_t *local)
{
	return port_result(xenevtchn_bind_virq(h->xce, virq), local);
}

static int xevt_unbind(struct pvk_evtchn *h, evtchn_port_t port)
{
	return xenevtchn_unbind(h->xce, port) < 0 ? -errno : 0;
}

static const struct pvk_evtchn_ops xen_evtchn_ops = {
	.open = xevt_open,
	.close = xevt_close,
	.fd = xevt_fd,
	.pending = xevt_pending,
	.unmask = xevt_unmask,
	.notify = xevt_notify,
	.bind_interdomain = xevt_bind_interdomain,
	.bind_unbound = xevt_bind_unbound,
	.bind_virq = xevt_bind_virq,
	.unbind = xevt_unbind,
};

/* ---- grant mapping and copying (gntdev) ---- */

struct pvk_gnttab {
	xengnttab_handle *xgt;
};

static int xgnt_open(struct pvk_platform *plat, struct pvk_gnttab **out)
{
	struct pvk_gnttab *h = calloc(1, sizeof(*h));

	(void)plat;
	if (!h)
		return -ENOMEM;
	h->xgt = xengnttab_open(NULL, 0);
	if (!h->xgt) {
		int rc = -errno;

		pvk_err("xengnttab_open: %s", strerror(errno));
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

static void xgnt_close(struct pvk_gnttab *h)
{
	if (!h)
		return;
	xengnttab_close(h->xgt);
	free(h);
}

static int xgnt_map(struct pvk_gnttab *h, domid_t dom, const grant_ref_t *refs,
		    uint32_t count, int writable, void **addr, int16_t *status)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint32_t *r, i;
	void *p;
	int rc = 0;

	if (!count || !refs || !addr)
		return -EINVAL;
	r = calloc(count, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (i = 0; i < count; i++)
		r[i] = refs[i];
	p = xengnttab_map_domain_grant_refs(h->xgt, count, dom, r, prot);
	if (p) {
		for (i = 0; status && i < count; i++)
			status[i] = GNTST_okay;
		*addr = p;
		goto out;
	}
	rc = errno ? -errno : -EINVAL;
	/* gntdev reports the batch as a whole: find the failing entries. */
	for (i = 0; status && i < count; i++) {
		void *one = xengnttab_map_grant_ref(h->xgt, dom, r[i], prot);

		status[i] = one ? GNTST_okay : GNTST_general_error;
		if (one)
			xengnttab_unmap(h->xgt, one, 1);
	}
out:
	free(r);
	return rc;
}

static int xgnt_unmap(struct pvk_gnttab *h, void *addr, uint32_t count)
{
	return xengnttab_unmap(h->xgt, addr, count) < 0 ? -errno : 0;
}

static int xgnt_copy(struct pvk_gnttab *h, struct gnttab_copy *ops,
		     uint32_t count)
{
	xengnttab_grant_copy_segment_t *segs;
	uint32_t *idx, n = 0, i;
	int rc = 0;

	if (!count)
		return 0;
	segs = calloc(count, sizeof(*segs));
	idx = calloc(count, sizeof(*idx));
	if (!segs || !idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++) {
		const struct gnttab_copy *c = &ops[i];
		const struct gnttab_copy_ptr *side[2] = {&c->source, &c->dest};
		const uint16_t bit[2] = {GNTCOPY_source_gref,
					 GNTCOPY_dest_gref};
		union xengnttab_copy_ptr *out[2];
		bool ok = true;
		unsigned int k;

		out[0] = &segs[n].source;
		out[1] = &segs[n].dest;
		if (c->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref)) {
			ops[i].status = GNTST_bad_copy_arg;
			continue;
		}
		for (k = 0; k < 2; k++) {
			if (c->flags & bit[k]) {
				out[k]->foreign.ref = side[k]->u.ref;
				out[k]->foreign.offset = side[k]->offset;
				out[k]->foreign.domid = side[k]->domid;
			} else if (side[k]->domid == DOMID_SELF) {
				out[k]->virt = (void *)(uintptr_t)(
					((uint64_t)side[k]->u.gmfn << 12) |
					side[k]->offset);
			} else {
				ok = false; /* foreign frames by number */
			}
		}
		if (!ok) {
			ops[i].status = GNTST_permission_denied;
			continue;
		}
		segs[n].len = c->len;
		segs[n].flags = c->flags;
		idx[n++] = i;
	}
	if (n && xengnttab_grant_copy(h->xgt, n, segs) < 0) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < n; i++)
		ops[idx[i]].status = segs[i].status;
out:
	free(segs);
	free(idx);
	return rc;
}

static const struct pvk_gnttab_ops xen_gnttab_ops = {
	.open = xgnt_open,
	.close = xgnt_close,
	.map = xgnt_map,
	.unmap = xgnt_unmap,
	.copy = xgnt_copy,
};

/* ---- grant sharing (gntalloc) ---- */

struct pvk_gntshr {
	xengntshr_handle *xgs;
};

static int xshr_open(struct pvk_platform *plat, struct pvk_gntshr **out)
{
	struct pvk_gntshr *h = calloc(1, sizeof(*h));

	(void)plat;
	if (!h)
		return -ENOMEM;
	h->xgs = xengntshr_open(NULL, 0);
	if (!h->xgs) {
		int rc = -errno;

		pvk_err("xengntshr_open: %s", strerror(errno));
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

static void xshr_close(struct pvk_gntshr *h)
{
	if (!h)
		return;
	xengntshr_close(h->xgs);
	free(h);
}

static int xshr_share(struct pvk_gntshr *h, domid_t dom, uint32_t count,
		      int writable, grant_ref_t *refs, void **addr)
{
	uint32_t *r, i;
	void *p;
	int rc = 0;

	if (!count || count > INT32_MAX || !refs || !addr)
		return -EINVAL;
	r = calloc(count, sizeof(*r));
	if (!r)
		return -ENOMEM;
	p = xengntshr_share_pages(h->xgs, dom, (int)count, r, writable);
	if (!p) {
		rc = errno ? -errno : -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++)
		refs[i] = r[i];
	*addr = p;
out:
	free(r);
	return rc;
}

/* gntalloc defers the release of a page the peer still maps, so this
 * never reports -EBUSY on real Xen. */
static int xshr_unshare(struct pvk_gntshr *h, void *addr, uint32_t count)
{
	return xengntshr_unshare(h->xgs, addr, count) < 0 ? -errno : 0;
}

static const struct pvk_gntshr_ops xen_gntshr_ops = {
	.open = xshr_open,
	.close = xshr_close,
	.share = xshr_share,
	.unshare = xshr_unshare,
};

/* ---- foreign memory (privcmd) ---- */

struct pvk_fmem {
	xenforeignmemory_handle *fm;
};

static int xfm_open(struct pvk_platform *plat, struct pvk_fmem **out)
{
	struct pvk_fmem *h = calloc(1, sizeof(*h));

	(void)plat;
	if (!h)
		return -ENOMEM;
	h->fm = xenforeignmemory_open(NULL, 0);
	if (!h->fm) {
		int rc = -errno;

		pvk_err("xenforeignmemory_open: %s", strerror(errno));
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

static void xfm_close(struct pvk_fmem *h)
{
	if (!h)
		return;
	xenforeignmemory_close(h->fm);
	free(h);
}

static int xfm_map(struct pvk_fmem *h, domid_t dom, const xen_pfn_t *gfns,
		   uint32_t count, int writable, void **addr)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p;

	if (!count || !gfns || !addr)
		return -EINVAL;
	p = xenforeignmemory_map(h->fm, dom, prot, count, gfns, NULL);
	if (!p)
		return errno ? -errno : -EFAULT;
	*addr = p;
	return 0;
}

static int xfm_unmap(struct pvk_fmem *h, void *addr, uint32_t count)
{
	return xenforeignmemory_unmap(h->fm, addr, count) < 0 ? -errno : 0;
}

static const struct pvk_fmem_ops xen_fmem_ops = {
	.open = xfm_open,
	.close = xfm_close,
	.map = xfm_map,
	.unmap = xfm_unmap,
};

/* ---- domain control (libxenctrl) ---- */

static void dominfo_from_xen(const xc_domaininfo_t *x, struct pvk_dominfo *o)
{
	memset(o, 0, sizeof(*o));
	o->domid = x->domain;
	if (x->flags & XEN_DOMINF_dying)
		o->flags |= PVK_DOMINFO_DYING;
	if (x->flags & XEN_DOMINF_shutdown) {
		o->flags |= PVK_DOMINFO_SHUTDOWN;
		o->shutdown_reason = (x->flags >> XEN_DOMINF_shutdownshift) &
				     XEN_DOMINF_shutdownmask;
	}
	if (x->flags & XEN_DOMINF_paused)
		o->flags |= PVK_DOMINFO_PAUSED;
	if (x->flags & XEN_DOMINF_blocked)
		o->flags |= PVK_DOMINFO_BLOCKED;
	if (x->flags & XEN_DOMINF_running)
		o->flags |= PVK_DOMINFO_RUNNING;
	if (x->domain == 0)
		o->flags |= PVK_DOMINFO_PRIVILEGED;
	o->vcpus = x->max_vcpu_id == XEN_INVALID_MAX_VCPU_ID
			   ? 0
			   : x->max_vcpu_id + 1;
	o->tot_pages = x->tot_pages;
	o->max_pages = x->max_pages;
	o->cpu_time_ns = x->cpu_time;
	/* Names live in xenstore (/local/domain/N/name), not in Xen. */
}

static int xdom_list(struct pvk_platform *plat, domid_t first,
		     struct pvk_dominfo *out, unsigned int max)
{
	struct xen_plat *x = xen_of(plat);
	xc_domaininfo_t *info;
	int n, i;

	if (!x->xch)
		return -EPERM;
	if (!max)
		return 0;
	if (!out)
		return -EINVAL;
	if (max > 1024)
		max = 1024;
	info = calloc(max, sizeof(*info));
	if (!info)
		return -ENOMEM;
	n = xc_domain_getinfolist(x->xch, first, max, info);
	if (n < 0) {
		n = -errno;
		goto out;
	}
	for (i = 0; i < n; i++)
		dominfo_from_xen(&info[i], &out[i]);
out:
	free(info);
	return n;
}

static int xdom_info(struct pvk_platform *plat, domid_t dom,
		     struct pvk_dominfo *out)
{
	struct xen_plat *x = xen_of(plat);
	xc_domaininfo_t info;
	int n;

	if (!out)
		return -EINVAL;
	n = xc_domain_getinfolist(x->xch, dom, 1, &info);
	if (n < 0)
		return -errno;
	if (n != 1 || info.domain != dom)
		return -ESRCH;
	dominfo_from_xen(&info, out);
	return 0;
}

static int xdom_create(struct pvk_platform *plat,
		       const struct pvk_domain_config *cfg, domid_t *dom,
		       int *kernel_fd)
{
	(void)plat;
	(void)dom;
	(void)kernel_fd;
	pvk_err("platform xen: pvkit cannot create domain '%s' on real Xen "
		"(building a guest's memory is xl's job: use xl create)",
		cfg && cfg->name ? cfg->name : "?");
	return -ENOSYS;
}

/* libxenctrl's 0 / -1-and-errno as 0 / -errno. */
static int xc_result(int r)
{
	return r < 0 ? -errno : 0;
}

static int xdom_destroy(struct pvk_platform *plat, domid_t dom)
{
	return xc_result(xc_domain_destroy(xen_of(plat)->xch, dom));
}

static int xdom_pause(struct pvk_platform *plat, domid_t dom)
{
	return xc_result(xc_domain_pause(xen_of(plat)->xch, dom));
}

static int xdom_unpause(struct pvk_platform *plat, domid_t dom)
{
	return xc_result(xc_domain_unpause(xen_of(plat)->xch, dom));
}

static int xdom_shutdown(struct pvk_platform *plat, domid_t dom,
			 unsigned int reason)
{
	return xc_result(
		xc_domain_shutdown(xen_of(plat)->xch, dom, (int)reason));
}

static int xdom_set_param(struct pvk_platform *plat, domid_t dom,
			  uint32_t index, uint64_t value)
{
	return xc_result(
		xc_hvm_param_set(xen_of(plat)->xch, dom, index, value));
}

static int xdom_get_param(struct pvk_platform *plat, domid_t dom,
			  uint32_t index, uint64_t *value)
{
	return xc_result(
		xc_hvm_param_get(xen_of(plat)->xch, dom, index, value));
}

static int xdom_alloc_unbound(struct pvk_platform *plat, domid_t dom,
			      domid_t remote, evtchn_port_t *port)
{
	int r = xc_evtchn_alloc_unbound(xen_of(plat)->xch, dom, remote);

	if (r < 0)
		return -errno;
	*port = (evtchn_port_t)r;
	return 0;
}

static int xdom_version(struct pvk_platform *plat, unsigned int *major,
			unsigned int *minor)
{
	int v = xc_version(xen_of(plat)->xch, XENVER_version, NULL);

	if (v < 0)
		return -errno;
	*major = (unsigned int)v >> 16;
	*minor = (unsigned int)v & 0xffff;
	return 0;
}

/* Set only with privcmd (x->xch).  No save/restore: that is xl's
 * (libxl's stream format), not pvkit's, on real Xen. */
static const struct pvk_domctl_ops xen_domctl_ops = {
	.list = xdom_list,
	.info = xdom_info,
	.create = xdom_create,
	.destroy = xdom_destroy,
	.pause = xdom_pause,
	.unpause = xdom_unpause,
	.shutdown = xdom_shutdown,
	.set_param = xdom_set_param,
	.get_param = xdom_get_param,
	.alloc_unbound = xdom_alloc_unbound,
	.version = xdom_version,
};

/* ---- the local xenstore ring (xenfs) ---- */

/* The kernel's end of its xenbus event channel, as xenfs prints it. */
static int read_store_port(evtchn_port_t *port)
{
	char buf[32];
	unsigned long v;
	char *end;
	ssize_t n;
	int fd = open(XEN_XSD_PORT, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || v == 0 || v > UINT32_MAX)
		return -ENOENT; /* 0: the kernel has no local ring */
	*port = (evtchn_port_t)v;
	return 0;
}

static int xstore_map_local(struct pvk_platform *plat, void **page,
			    evtchn_port_t *port)
{
	void *p;
	int fd, rc;

	(void)plat;
	rc = read_store_port(port);
	if (rc)
		return rc;
	fd = open(XEN_XSD_KVA, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	p = mmap(NULL, XPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	*page = p;
	return 0;
}

static void xstore_unmap_local(struct pvk_platform *plat, void *page)
{
	(void)plat;
	if (page)
		munmap(page, XPAGE);
}

static const struct pvk_store_ops xen_store_ops = {
	.map_local = xstore_map_local,
	.unmap_local = xstore_unmap_local,
};

/* ---- the platform ---- */

int pvk_platform_xen_open(struct pvk_platform **out)
{
	struct xen_plat *x;

	/* A Dom0 has privcmd; a DomU's frontends need only the event
	 * channel device (and gntalloc), privcmd being of no use there. */
	bool privcmd = access(XEN_PRIVCMD, F_OK) == 0;

	if (!privcmd && access(XEN_EVTCHN, F_OK) < 0) {
		pvk_err("platform xen: neither %s nor %s: not running on Xen "
			"(or xen-privcmd/xen-evtchn not loaded)", XEN_PRIVCMD,
			XEN_EVTCHN);
		return -ENODEV;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->xch = privcmd ? xc_interface_open(NULL, NULL, 0) : NULL;
	if (privcmd && !x->xch)
		pvk_warn("platform xen: xc_interface_open failed (%s); "
			 "no domain control", strerror(errno));
	x->pub.name = "xen";
	x->pub.self = DOMID_SELF;
	x->pub.evtchn = &xen_evtchn_ops;
	x->pub.gnttab = &xen_gnttab_ops;
	x->pub.gntshr = &xen_gntshr_ops;
	x->pub.fmem = &xen_fmem_ops;
	x->pub.domctl = x->xch ? &xen_domctl_ops : NULL;
	x->pub.store = &xen_store_ops;
	x->pub.xs_path = NULL;
	x->pub.priv = x;
	*out = &x->pub;
	return 0;
}

void pvk_platform_xen_free(struct pvk_platform *plat)
{
	struct xen_plat *x = xen_of(plat);

	if (x->xch)
		xc_interface_close(x->xch);
	free(x);
}
