/* xsd_domains_unimp.c - domain rings when pvkit has no platform library:
 * every introduction fails with ENOSYS, sockets keep working. */
#include "xenstore/xsd.h"

#include <errno.h>
#include <stdlib.h>

struct xsd_domains {
	int unused;
};

int xsd_domains_new(struct xs_core *core, int epfd, const char *which,
		    struct xsd_domains **out)
{
	(void)core;
	(void)epfd;
	(void)which;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void xsd_domains_free(struct xsd_domains *d) { free(d); }

int xsd_domains_start(struct xsd_domains *d)
{
	(void)d;
	return -ENOSYS;
}

int xsd_domains_introduce(struct xsd_domains *d, struct xs_conn *conn,
			  domid_t domid, uint64_t gfn, evtchn_port_t port)
{
	(void)d;
	(void)conn;
	(void)domid;
	(void)gfn;
	(void)port;
	return -ENOSYS;
}

int xsd_domains_reattach(struct xsd_domains *d, struct xs_conn *conn,
			 domid_t domid, uint64_t gfn, evtchn_port_t port)
{
	return xsd_domains_introduce(d, conn, domid, gfn, port);
}

void xsd_domains_set_core(struct xsd_domains *d, struct xs_core *core)
{
	(void)d;
	(void)core;
}

void xsd_domains_recheck(struct xsd_domains *d) { (void)d; }

void xsd_domains_release(struct xsd_domains *d, struct xs_conn *conn)
{
	(void)d;
	(void)conn;
}

void xsd_domains_event(struct xsd_domains *d) { (void)d; }

void xsd_domains_kick(struct xsd_domains *d, struct xs_conn *conn)
{
	(void)d;
	(void)conn;
}

void xsd_domains_flush(struct xsd_domains *d) { (void)d; }

void xsd_domains_set_commit(struct xsd_domains *d, xsd_ring_commit_fn fn,
			    void *opaque)
{
	(void)d;
	(void)fn;
	(void)opaque;
}

void xsd_domains_ring_fixup(struct xsd_domains *d, domid_t domid,
			    XENSTORE_RING_IDX req_cons,
			    XENSTORE_RING_IDX rsp_prod)
{
	(void)d;
	(void)domid;
	(void)req_cons;
	(void)rsp_prod;
}

bool xsd_domains_has_own(const struct xsd_domains *d)
{
	(void)d;
	return false;
}
