/*
 * xsd.h - pieces of the pvkit-xenstored daemon shared between its files:
 * the socket shell (xenstored.c) and the domain ring shell (xsd_domains.c,
 * or xsd_domains_unimp.c when built without a platform library).
 */
#ifndef PVKIT_XSD_H
#define PVKIT_XSD_H

#include "xenstore/xs_core.h"

/* First member of every object registered in the daemon's epoll set. */
enum xsd_kind { XSD_LISTEN, XSD_CLIENT, XSD_SIGNAL, XSD_EVTCHN, XSD_RING };
struct xsd_src {
	enum xsd_kind kind;
};

struct xsd_domains;

/* Domain support for core; which is the platform name or NULL.  Nothing is
 * opened yet.  0 or -errno. */
int xsd_domains_new(struct xs_core *core, int epfd, const char *which,
		    struct xsd_domains **out);
void xsd_domains_free(struct xsd_domains *d);
/* Open the platform now (idempotent) and bind VIRQ_DOM_EXC.  0 or -errno;
 * -ENOSYS when built without a platform. */
int xsd_domains_start(struct xsd_domains *d);
/* xs_core_hooks.introduce / .release for domain connections. */
int xsd_domains_introduce(struct xsd_domains *d, struct xs_conn *conn,
			  domid_t domid, uint64_t gfn, evtchn_port_t port);
void xsd_domains_release(struct xsd_domains *d, struct xs_conn *conn);
/* xs_core_hooks.reattach: after a live update, map and bind a ring that
 * is already in service (the new process's event channel is bound to the
 * guest's port again; its state is left untouched).  0 or -errno. */
int xsd_domains_reattach(struct xsd_domains *d, struct xs_conn *conn,
			 domid_t domid, uint64_t gfn, evtchn_port_t port);
/* The core, when it was not known at xsd_domains_new() (a restored core
 * is built with the domain shell's hooks). */
void xsd_domains_set_core(struct xsd_domains *d, struct xs_core *core);
/* Look for domains that died or shut down while nobody was listening for
 * VIRQ_DOM_EXC (after a live update). */
void xsd_domains_recheck(struct xsd_domains *d);
/* Called before a domain ring's indexes are published (journal). */
typedef void (*xsd_ring_commit_fn)(void *opaque, domid_t domid,
				   XENSTORE_RING_IDX req_cons,
				   XENSTORE_RING_IDX rsp_prod);
void xsd_domains_set_commit(struct xsd_domains *d, xsd_ring_commit_fn fn,
			    void *opaque);
/* After a restart: publish the indexes a journal recorded for domid where
 * the page is behind them. */
void xsd_domains_ring_fixup(struct xsd_domains *d, domid_t domid,
			    XENSTORE_RING_IDX req_cons,
			    XENSTORE_RING_IDX rsp_prod);
/* Our own kernel's ring (real Xen's Dom0) is served. */
bool xsd_domains_has_own(const struct xsd_domains *d);
/* The event channel fd is readable. */
void xsd_domains_event(struct xsd_domains *d);
/* Output was queued on a domain connection: serve it at the next flush. */
void xsd_domains_kick(struct xsd_domains *d, struct xs_conn *conn);
void xsd_domains_flush(struct xsd_domains *d);

#endif
