/*
 * platform.h - the platform layer: the hypervisor interfaces every pvkit
 * frontend, backend and daemon uses, as const ops tables passed explicitly.
 *
 * Two implementations exist: "emulated" (src/platform/emulated, talking to
 * pvkit-hvd) and "xen" (src/platform/xen, over Debian's libxenevtchn,
 * libxengnttab, libxenforeignmemory, libxenctrl).  Nothing here is global:
 * a process may hold several platforms (e.g. two domains in one test).
 *
 * All functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef PVKIT_PLATFORM_H
#define PVKIT_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>

#include "pvkit/dominfo.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_platform;

/* ---- event channels: the libxenevtchn model ----------------------------
 * A handle owns the ports bound through it.  Its fd becomes readable when
 * one of them is pending; pending() returns one pending port, which stays
 * masked until unmask() is called for it.                                  */
struct pvk_evtchn;
struct pvk_evtchn_ops {
	int (*open)(struct pvk_platform *plat, struct pvk_evtchn **out);
	void (*close)(struct pvk_evtchn *h);
	int (*fd)(struct pvk_evtchn *h);
	/* 0 and *port set, or -EAGAIN when nothing is pending. */
	int (*pending)(struct pvk_evtchn *h, evtchn_port_t *port);
	int (*unmask)(struct pvk_evtchn *h, evtchn_port_t port);
	int (*notify)(struct pvk_evtchn *h, evtchn_port_t port);
	int (*bind_interdomain)(struct pvk_evtchn *h, domid_t remote_dom,
				evtchn_port_t remote_port, evtchn_port_t *local);
	int (*bind_unbound)(struct pvk_evtchn *h, domid_t remote_dom,
			    evtchn_port_t *local);
	int (*bind_virq)(struct pvk_evtchn *h, uint32_t virq,
			 evtchn_port_t *local);
	int (*unbind)(struct pvk_evtchn *h, evtchn_port_t port);
};

/* ---- grant mapping and copying (backend side: libxengnttab) ------------ */
struct pvk_gnttab;
/* A granted range for pinned(): ref, offset and len in, status out. */
struct pvk_gnt_seg {
	grant_ref_t ref;
	uint16_t offset, len;
	int16_t status;
};

struct pvk_gnttab_ops {
	int (*open)(struct pvk_platform *plat, struct pvk_gnttab **out);
	void (*close)(struct pvk_gnttab *h);
	/* Map count grants of domain dom; *addr is a contiguous mapping of
	 * count pages.  Fails as a whole (-errno) if any single map fails;
	 * status[] (may be NULL) then holds each GNTST_* code. */
	int (*map)(struct pvk_gnttab *h, domid_t dom, const grant_ref_t *refs,
		   uint32_t count, int writable, void **addr, int16_t *status);
	int (*unmap)(struct pvk_gnttab *h, void *addr, uint32_t count);
	/* Batched GNTTABOP_copy with Xen's struct; each op's status is set.
	 * Returns 0 when the batch was processed (check ops[i].status). */
	int (*copy)(struct pvk_gnttab *h, struct gnttab_copy *ops,
		    uint32_t count);
	/* In copy, a side without GNTCOPY_{source,dest}_gref whose domid is
	 * DOMID_SELF names this process's memory by virtual address (as
	 * libxengnttab's segments do): u.gmfn = addr >> 12,
	 * offset = addr & 4095.  A side naming another
	 * domain's frame by number needs privilege (emulated platform only). */

	/* Optional (NULL: not offered).  Pin count grants of domain dom, as
	 * a copy would (writable: to write into them), and call
	 * fn(arg, iov, count) while they stay pinned: iov[i] (the caller's
	 * array of count) points at segs[i]'s bytes in this process, so
	 * that a system call reads or writes the granter's memory in place
	 * (the copy a backend would make first is saved).  A segment that
	 * could not be pinned has its GNTST_* status and an empty iov; the
	 * granter may still write what it grants, so what is parsed must be
	 * copied first.  Returns fn's result, or -EOPNOTSUPP when dom's
	 * memory cannot be reached from here (use copy). */
	int (*pinned)(struct pvk_gnttab *h, domid_t dom,
		      struct pvk_gnt_seg *segs, struct iovec *iov,
		      uint32_t count, bool writable,
		      int (*fn)(void *arg, struct iovec *iov, uint32_t count),
		      void *arg);
};

/* ---- grant sharing (frontend side: libxengntshr / gntalloc) ------------ */
struct pvk_gntshr;
struct pvk_gntshr_ops {
	int (*open)(struct pvk_platform *plat, struct pvk_gntshr **out);
	void (*close)(struct pvk_gntshr *h);
	/* Allocate count zeroed pages shared with dom; refs[] receives the
	 * grant references, *addr the local mapping. */
	int (*share)(struct pvk_gntshr *h, domid_t dom, uint32_t count,
		     int writable, grant_ref_t *refs, void **addr);
	/* Revoke and free; -EBUSY if the peer still has a page mapped. */
	int (*unshare)(struct pvk_gntshr *h, void *addr, uint32_t count);
};

/* ---- foreign memory (privileged: privcmd / libxenforeignmemory) -------- */
struct pvk_fmem;
struct pvk_fmem_ops {
	int (*open)(struct pvk_platform *plat, struct pvk_fmem **out);
	void (*close)(struct pvk_fmem *h);
	/* Map count guest frames of dom starting at gfns[]; -errno on error. */
	int (*map)(struct pvk_fmem *h, domid_t dom, const xen_pfn_t *gfns,
		   uint32_t count, int writable, void **addr);
	int (*unmap)(struct pvk_fmem *h, void *addr, uint32_t count);
};

/* ---- domain control (privileged: domctl, libxenctrl) ------------------ */
/* What a new domain is made of (domctl create). */
struct pvk_domain_config {
	const char *name;
	uint64_t max_kib, mem_kib; /* maximum and initial memory */
	unsigned int vcpus;
	const char *cmdline; /* NULL: empty */
};
/* The toolstack's view of the hypervisor (libxenctrl's domctls).  Every op
 * is set on both platforms except save and restore, which no platform has
 * yet: a NULL op means "not available here" and its caller reports
 * -ENOSYS.  Ops on another domain need privilege (-EPERM otherwise);
 * -ESRCH: no such domain. */
struct pvk_domctl_ops {
	/* Fill up to max entries for domains with domid >= first, in domid
	 * order.  Returns the number filled (>= 0) or -errno. */
	int (*list)(struct pvk_platform *plat, domid_t first,
		    struct pvk_dominfo *out, unsigned int max);
	/* One domain's information: 0 and *out, or -ESRCH. */
	int (*info)(struct pvk_platform *plat, domid_t dom,
		    struct pvk_dominfo *out);
	/* Create a domain, paused, with its start info, xenstore and console
	 * pages.  Emulated platform only: the domain runs as the process that
	 * is handed *kernel_fd (its hypercall channel, the caller's to close;
	 * the kernel finds it as $PVKIT_HV_FD).  Real Xen: -ENOSYS (pvkit
	 * does not build domains there: xl create does). */
	int (*create)(struct pvk_platform *plat,
		      const struct pvk_domain_config *cfg, domid_t *dom,
		      int *kernel_fd);
	int (*destroy)(struct pvk_platform *plat, domid_t dom);
	int (*pause)(struct pvk_platform *plat, domid_t dom);
	int (*unpause)(struct pvk_platform *plat, domid_t dom);
	/* SCHEDOP_remote_shutdown: shut dom down for reason (SHUTDOWN_*)
	 * without asking it (a guest asks itself through control/shutdown). */
	int (*shutdown)(struct pvk_platform *plat, domid_t dom,
			unsigned int reason);
	/* HVM_PARAM_* of dom. */
	int (*set_param)(struct pvk_platform *plat, domid_t dom, uint32_t index,
			 uint64_t value);
	int (*get_param)(struct pvk_platform *plat, domid_t dom, uint32_t index,
			 uint64_t *value);
	/* EVTCHNOP_alloc_unbound for dom: a port of dom that remote may bind
	 * (the toolstack's xenstore and console ports). */
	int (*alloc_unbound)(struct pvk_platform *plat, domid_t dom,
			     domid_t remote, evtchn_port_t *port);
	/* XENVER_version: the hypervisor's major and minor version. */
	int (*version)(struct pvk_platform *plat, unsigned int *major,
		       unsigned int *minor);
	/* Give dom a new name (xl rename): 0, -EEXIST when another domain
	 * has it, -EINVAL for an empty or too long name.  NULL where the
	 * hypervisor keeps no names (real Xen: they live in xenstore). */
	int (*rename)(struct pvk_platform *plat, domid_t dom,
		      const char *name);
	/* Save a suspended dom's image to fd / build a domain from one
	 * (docs/architecture.md, "Save/restore").  NULL on every platform
	 * today. */
	int (*save)(struct pvk_platform *plat, domid_t dom, int fd);
	int (*restore)(struct pvk_platform *plat, int fd, domid_t *dom,
		       int *kernel_fd);
};

/* ---- this domain's own xenstore ring (a xenstored running here) -------
 * Real Xen: a Linux Dom0 whose xenstored runs locally sets up its xenbus
 * ring itself and waits for the daemon to serve it like a guest's ring
 * (/proc/xen/xsd_kva, /proc/xen/xsd_port); kernel backends talk over it. */
struct pvk_store_ops {
	/* Map the ring page (*page, one page) and give the kernel's end of
	 * its event channel (*port; bind it interdomain to self).  -ENOENT
	 * when this domain has no local ring. */
	int (*map_local)(struct pvk_platform *plat, void **page,
			 evtchn_port_t *port);
	void (*unmap_local)(struct pvk_platform *plat, void *page);
};

/* The platform: a name, its ops tables and the implementation's state. */
struct pvk_platform {
	const char *name; /* "emulated" or "xen" */
	domid_t self;     /* this process's domain id (DOMID_SELF if unknown) */
	const struct pvk_evtchn_ops *evtchn;
	const struct pvk_gnttab_ops *gnttab;
	const struct pvk_gntshr_ops *gntshr;
	const struct pvk_fmem_ops *fmem;
	const struct pvk_domctl_ops *domctl; /* NULL: none (Xen, no privcmd) */
	const struct pvk_store_ops *store; /* NULL: no local xenstore ring */
	/* xenstore: the socket path (Dom0) or NULL to use the ring. */
	const char *xs_path;
	void *priv;
};

/* Open a platform: which is "emulated", "xen", or NULL to choose from the
 * environment (PVKIT_PLATFORM, else "xen" when /dev/xen/privcmd exists, else
 * "emulated").  The emulated platform connects to the hypervisor daemon at
 * $PVKIT_HV_SOCK (Dom0) or through the inherited fd $PVKIT_HV_FD (a DomU).
 * The caller owns *out and frees it with pvk_platform_close(). */
int pvk_platform_open(const char *which, struct pvk_platform **out);
void pvk_platform_close(struct pvk_platform *plat);

/* The emulated platform over an already open guest runtime (a DomU kernel,
 * or a test holding several domains).  rt stays the caller's and must
 * outlive the platform; close every handle before pvk_platform_close(). */
struct pvk_rt;
int pvk_platform_emulated_from_rt(struct pvk_rt *rt,
				  struct pvk_platform **out);
/* Emulated DomU kernels only: route an already-allocated port of this
 * domain (e.g. HVM_PARAM_STORE_EVTCHN) to handle h. */
int pvk_platform_emulated_adopt_port(struct pvk_evtchn *h,
				     evtchn_port_t port);

#ifdef __cplusplus
}
#endif

#endif
