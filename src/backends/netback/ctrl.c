/*
 * ctrl.c - a vif's control ring (feature-ctrl-ring, netif.h's "Control
 * messages"): one thread per vif takes each request out of the ring once,
 * serves it with the protocol core (netif_ctrl_serve: every size, offset
 * and queue number checked) and answers in order.  The key and mapping
 * pages are read with grant copy.  A ring whose producer jumps is a
 * protocol break: the vif fails.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "netback.h"

struct nb_ctrl {
	struct nb_vif_params vp;
	struct nb_hash *hash;
	unsigned int nq;
	struct pvk_gnttab *gt;
	struct pvk_evtchn *ev;
	evtchn_port_t port;
	void *sring;
	xen_netif_ctrl_back_ring_t r;
	struct xenbus_spurious events;
	int stopfd;
	bool thr_started;
	pthread_t thr;
};

/* The frontend's page ref, from its start, into dst (netif_fetch_fn). */
static int fetch(void *arg, grant_ref_t ref, void *dst, size_t len)
{
	struct nb_ctrl *c = arg;
	struct gnttab_copy op;
	uint8_t *bounce;
	int rc;

	if (len > NETIF_PAGE_SIZE)
		return -EINVAL;
	/* one op may not cross our page: bounce through an aligned page */
	bounce = aligned_alloc(NETIF_PAGE_SIZE, NETIF_PAGE_SIZE);
	if (!bounce)
		return -ENOMEM;
	memset(&op, 0, sizeof(op));
	op.source.u.ref = ref;
	op.source.domid = c->vp.fe;
	op.dest.u.gmfn = (uintptr_t)bounce >> 12;
	op.dest.domid = DOMID_SELF;
	op.len = (uint16_t)len;
	op.flags = GNTCOPY_source_gref;
	rc = c->vp.plat->gnttab->copy(c->gt, &op, 1);
	if (!rc && op.status != GNTST_okay)
		rc = -EPERM;
	if (!rc)
		memcpy(dst, bounce, len);
	free(bounce);
	return rc;
}

/* Serve what is in the ring; false when the frontend broke it. */
static bool serve(struct nb_ctrl *c, bool *work)
{
	struct xen_netif_ctrl_request req;
	struct xen_netif_ctrl_response rsp;
	RING_IDX prod;
	int notify;

	prod = *(volatile RING_IDX *)&c->r.sring->req_prod;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (prod - c->r.req_cons > NETIF_CTRL_RING_SIZE) {
		xenbus_device_fail(c->vp.dev, "control ring: impossible "
					      "number of requests");
		return false;
	}
	while (c->r.req_cons != prod) {
		memcpy(&req, RING_GET_REQUEST(&c->r, c->r.req_cons),
		       sizeof(req));
		c->r.req_cons++;
		pthread_mutex_lock(&c->hash->lock);
		netif_ctrl_serve(&c->hash->h, c->nq, &req, fetch, c, &rsp);
		pthread_mutex_unlock(&c->hash->lock);
		memcpy(RING_GET_RESPONSE(&c->r, c->r.rsp_prod_pvt), &rsp,
		       sizeof(rsp));
		c->r.rsp_prod_pvt++;
		*work = true;
	}
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->r, notify);
	if (notify)
		c->vp.plat->evtchn->notify(c->ev, c->port);
	return true;
}

static void *ctrl_thread(void *arg)
{
	struct nb_ctrl *c = arg;
	const struct pvk_evtchn_ops *evo = c->vp.plat->evtchn;
	struct pollfd p[2] = {{.fd = evo->fd(c->ev), .events = POLLIN},
			      {.fd = c->stopfd, .events = POLLIN}};
	evtchn_port_t got;
	bool events, work, more;

	for (;;) {
		events = work = false;
		while (evo->pending(c->ev, &got) == 0) {
			evo->unmask(c->ev, got);
			events = true;
		}
		if (!serve(c, &work))
			break;
		if (events)
			xenbus_spurious_throttle(&c->events, work);
		RING_FINAL_CHECK_FOR_REQUESTS(&c->r, more);
		if (more)
			continue;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			return NULL;
	}
	/* failed: wait for the stop */
	p[0].events = 0;
	while (!(p[1].revents & POLLIN))
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
	return NULL;
}

void nb_ctrl_stop(struct nb_ctrl *c)
{
	const struct pvk_platform *plat;
	uint64_t one = 1;

	if (!c)
		return;
	plat = c->vp.plat;
	if (c->thr_started) {
		if (write(c->stopfd, &one, sizeof(one)) < 0)
			pvk_warn("%s: cannot stop the control ring thread",
				 xenbus_device_name(c->vp.dev));
		pthread_join(c->thr, NULL);
	}
	if (c->ev) {
		if (c->port)
			plat->evtchn->unbind(c->ev, c->port);
		plat->evtchn->close(c->ev);
	}
	if (c->sring)
		plat->gnttab->unmap(c->gt, c->sring, 1);
	if (c->gt)
		plat->gnttab->close(c->gt);
	if (c->stopfd >= 0)
		close(c->stopfd);
	free(c);
}

int nb_ctrl_start(const struct nb_vif_params *vp, struct nb_hash *hash,
		  unsigned int nq, grant_ref_t ref, evtchn_port_t port,
		  struct nb_ctrl **out)
{
	const struct pvk_platform *plat = vp->plat;
	struct nb_ctrl *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vp = *vp;
	c->hash = hash;
	c->nq = nq;
	c->stopfd = eventfd(0, EFD_CLOEXEC);
	if (c->stopfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = plat->gnttab->open(vp->plat, &c->gt);
	if (!rc) {
		rc = plat->gnttab->map(c->gt, vp->fe, &ref, 1, 1, &c->sring,
				       NULL);
		if (rc)
			c->sring = NULL;
	}
	if (rc) {
		pvk_err("%s: cannot map the control ring (ref %u): %s",
			xenbus_device_name(vp->dev), ref, strerror(-rc));
		goto fail;
	}
	BACK_RING_INIT(&c->r, (xen_netif_ctrl_sring_t *)c->sring,
		       NETIF_PAGE_SIZE);
	rc = plat->evtchn->open(vp->plat, &c->ev);
	if (!rc)
		rc = plat->evtchn->bind_interdomain(c->ev, vp->fe, port,
						    &c->port);
	if (rc) {
		c->port = 0;
		pvk_err("%s: cannot bind the control event channel %u: %s",
			xenbus_device_name(vp->dev), port, strerror(-rc));
		goto fail;
	}
	rc = -pthread_create(&c->thr, NULL, ctrl_thread, c);
	if (rc)
		goto fail;
	c->thr_started = true;
	*out = c;
	return 0;
fail:
	nb_ctrl_stop(c);
	return rc;
}
