/*
 * evtchn.c - event channels with Xen's 2-level ABI.
 *
 * Port state lives here; pending/mask bits and the per-vCPU selector and
 * upcall flag live in the receiving sink's shared_info page, which the guest
 * reads and writes concurrently, so every access to it is atomic.
 */
#include "hv/hv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BITS_PER_XLONG (sizeof(xen_ulong_t) * 8)

static bool bit_test_and_set(xen_ulong_t *w, unsigned int bit)
{
	xen_ulong_t m = (xen_ulong_t)1 << bit;

	return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST) & m;
}

static bool bit_test_and_clear(xen_ulong_t *w, unsigned int bit)
{
	xen_ulong_t m = (xen_ulong_t)1 << bit;

	return __atomic_fetch_and(w, ~m, __ATOMIC_SEQ_CST) & m;
}

static bool bit_test(xen_ulong_t *w, unsigned int bit)
{
	return __atomic_load_n(w, __ATOMIC_SEQ_CST) &
	       ((xen_ulong_t)1 << bit);
}

/* Mark vCPU v of s as having an event pending and wake it. */
void hv_evtchn_kick(struct hv_sink *s, unsigned int v)
{
	struct vcpu_info *vi = &s->si->vcpu_info[v];

	if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1,
				__ATOMIC_SEQ_CST))
		return;
	s->dom->hv->env->kick(s, v);
}

/* Xen's evtchn_2l_set_pending. */
static void port_set_pending(struct hv_port *p, evtchn_port_t port)
{
	struct hv_sink *s = p->sink;
	unsigned int w = port / BITS_PER_XLONG, b = port % BITS_PER_XLONG;
	unsigned int v = p->vcpu;

	if (!s || !s->si)
		return;
	if (s->dom->fifo && s == s->dom->kernel) {
		hv_fifo_set_pending(s->dom, p, port);
		return;
	}
	if (v >= s->nr_vcpus)
		v = 0;
	if (bit_test_and_set(&s->si->evtchn_pending[w], b))
		return;
	if (bit_test(&s->si->evtchn_mask[w], b))
		return;
	if (bit_test_and_set(&s->si->vcpu_info[v].evtchn_pending_sel, w))
		return;
	hv_evtchn_kick(s, v);
}

static struct hv_port *port_get(struct hv_domain *d, evtchn_port_t port)
{
	if (!d || port == 0 || port >= d->nr_ports)
		return NULL;
	return &d->ports[port];
}

/* A port the caller may operate on: in its domain, and (Dom0) delivered to
 * the caller's own sink, as with /dev/xen/evtchn. */
static struct hv_port *port_own(struct hv_sink *caller, evtchn_port_t port)
{
	struct hv_port *p = port_get(caller->dom, port);

	if (!p || p->state == EVTCHNSTAT_closed)
		return NULL;
	if (caller->dom->privileged && p->sink != caller)
		return NULL;
	return p;
}

/* Tell p's owner whether a direct send to its peer is possible. */
static void port_hint(struct hv_port *p, evtchn_port_t port, bool on)
{
	struct hv_sink *s = p->sink;

	if (s && s->dom->hv->env->direct_hint)
		s->dom->hv->env->direct_hint(s, port, on);
}

/* The peer end of an interdomain port that is bound back to it. */
static struct hv_port *port_peer(struct hv_domain *d, struct hv_port *p,
				 evtchn_port_t port)
{
	struct hv_port *rp;

	if (p->state != EVTCHNSTAT_interdomain)
		return NULL;
	rp = port_get(hv_domain_get(d->hv, p->rdom), p->rport);
	if (!rp || rp->state != EVTCHNSTAT_interdomain ||
	    rp->rdom != d->domid || rp->rport != port)
		return NULL;
	return rp;
}

static int port_alloc(struct hv_domain *d, struct hv_sink *sink,
		      evtchn_port_t *out)
{
	uint32_t i;

	/* Port 0 is never used, as in Xen. */
	for (i = 1; i < d->nr_ports; i++)
		if (d->ports[i].state == EVTCHNSTAT_closed)
			goto found;
	if (d->nr_ports >= d->max_ports)
		return -ENOSPC;
	{
		uint32_t n = d->nr_ports ? d->nr_ports * 2 : 64;
		struct hv_port *np;

		if (n > d->max_ports)
			n = d->max_ports;
		np = realloc(d->ports, n * sizeof(*np));
		if (!np)
			return -ENOMEM;
		memset(np + d->nr_ports, 0,
		       (n - d->nr_ports) * sizeof(*np));
		d->ports = np;
		i = d->nr_ports ? d->nr_ports : 1;
		d->nr_ports = n;
	}
found:
	memset(&d->ports[i], 0, sizeof(d->ports[i]));
	d->ports[i].sink = sink;
	d->ports[i].priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
	*out = i;
	return 0;
}

/* Clear a port's bits in its sink so a reused port starts clean. */
static void port_clear_bits(struct hv_port *p, evtchn_port_t port)
{
	struct hv_sink *s = p->sink;
	unsigned int w = port / BITS_PER_XLONG, b = port % BITS_PER_XLONG;

	if (!s || !s->si)
		return;
	if (s->dom->fifo && s == s->dom->kernel) {
		hv_fifo_clear(s->dom, port);
		return;
	}
	bit_test_and_clear(&s->si->evtchn_pending[w], b);
}

static struct hv_sink *target_sink(struct hv_sink *caller,
				   struct hv_domain *d)
{
	if (d == caller->dom)
		return d->privileged ? caller : d->kernel;
	return d->kernel;
}

int hv_evtchn_alloc_unbound(struct hv_sink *caller,
			    struct evtchn_alloc_unbound *a)
{
	struct hv *hv = caller->dom->hv;
	struct hv_domain *d;
	struct hv_sink *sink;
	evtchn_port_t port;
	int rc;

	if (a->dom == DOMID_SELF)
		d = caller->dom;
	else if (a->dom != caller->dom->domid && !caller->dom->privileged)
		return -EPERM;
	else
		d = hv_domain_get(hv, a->dom);
	if (!d || d->state == HV_DOM_DYING)
		return -ESRCH;
	sink = target_sink(caller, d);
	if (!sink)
		return -ESRCH;
	rc = port_alloc(d, sink, &port);
	if (rc)
		return rc;
	d->ports[port].state = EVTCHNSTAT_unbound;
	d->ports[port].rdom = a->remote_dom == DOMID_SELF ? caller->dom->domid
							  : a->remote_dom;
	a->port = port;
	return 0;
}

int hv_evtchn_bind_interdomain(struct hv_sink *caller,
			       struct evtchn_bind_interdomain *a)
{
	struct hv_domain *ld = caller->dom, *rd;
	struct hv_port *lp, *rp;
	evtchn_port_t lport;
	int rc;

	rd = a->remote_dom == DOMID_SELF ? ld
					 : hv_domain_get(ld->hv, a->remote_dom);
	if (!rd || rd->state == HV_DOM_DYING)
		return -ESRCH;
	rp = port_get(rd, a->remote_port);
	if (!rp)
		return -EINVAL;
	if (rp->state != EVTCHNSTAT_unbound || rp->rdom != ld->domid)
		return -EINVAL;
	rc = port_alloc(ld, ld->privileged ? caller : ld->kernel, &lport);
	if (rc)
		return rc;
	/* port_alloc may have moved rd's array if rd == ld. */
	rp = port_get(rd, a->remote_port);
	lp = &ld->ports[lport];
	lp->state = EVTCHNSTAT_interdomain;
	lp->rdom = rd->domid;
	lp->rport = a->remote_port;
	rp->state = EVTCHNSTAT_interdomain;
	rp->rdom = ld->domid;
	rp->rport = lport;
	a->local_port = lport;
	/* The listener's inbox, if it has one, is now ours to write. */
	if (rp->has_inbox)
		port_hint(lp, lport, true);
	/* Xen: the local end is always set pending after binding. */
	port_set_pending(lp, lport);
	return 0;
}

static bool virq_is_global(uint32_t virq)
{
	switch (virq) {
	case VIRQ_TIMER:
	case VIRQ_DEBUG:
	case VIRQ_XENOPROF:
	case VIRQ_XENPMU:
		return false;
	default:
		return true;
	}
}

int hv_evtchn_bind_virq(struct hv_sink *caller, struct evtchn_bind_virq *a)
{
	struct hv_domain *d = caller->dom;
	evtchn_port_t port;
	int rc;

	if (a->virq >= HV_NR_VIRQS)
		return -EINVAL;
	/* Xen checks this before the vCPU exists: -EINVAL, not -ENOENT. */
	if (virq_is_global(a->virq) && a->vcpu != 0)
		return -EINVAL;
	if (a->vcpu >= caller->nr_vcpus)
		return -ENOENT;
	if (caller->virq_port[a->vcpu][a->virq])
		return -EEXIST;
	rc = port_alloc(d, caller, &port);
	if (rc)
		return rc;
	d->ports[port].state = EVTCHNSTAT_virq;
	d->ports[port].virq = a->virq;
	d->ports[port].vcpu = (uint16_t)a->vcpu;
	caller->virq_port[a->vcpu][a->virq] = port;
	a->port = port;
	return 0;
}

int hv_evtchn_bind_ipi(struct hv_sink *caller, struct evtchn_bind_ipi *a)
{
	struct hv_domain *d = caller->dom;
	evtchn_port_t port;
	int rc;

	if (a->vcpu >= caller->nr_vcpus)
		return -ENOENT;
	rc = port_alloc(d, caller, &port);
	if (rc)
		return rc;
	d->ports[port].state = EVTCHNSTAT_ipi;
	d->ports[port].vcpu = (uint16_t)a->vcpu;
	a->port = port;
	return 0;
}

int hv_evtchn_bind_vcpu(struct hv_sink *caller, struct evtchn_bind_vcpu *a)
{
	struct hv_port *p = port_own(caller, a->port);

	if (!p)
		return -EINVAL;
	if (a->vcpu >= caller->nr_vcpus)
		return -ENOENT;
	switch (p->state) {
	case EVTCHNSTAT_virq:
		if (!virq_is_global(p->virq))
			return -EINVAL;
		/* fall through */
	case EVTCHNSTAT_unbound:
	case EVTCHNSTAT_interdomain:
		p->vcpu = (uint16_t)a->vcpu;
		return 0;
	default:
		return -EINVAL;
	}
}

static void port_close(struct hv_domain *d, evtchn_port_t port)
{
	struct hv_port *p = &d->ports[port];

	switch (p->state) {
	case EVTCHNSTAT_virq:
		if (p->sink && p->vcpu < HV_MAX_VCPUS && p->virq < HV_NR_VIRQS &&
		    p->sink->virq_port[p->vcpu][p->virq] == port)
			p->sink->virq_port[p->vcpu][p->virq] = 0;
		break;
	case EVTCHNSTAT_interdomain: {
		struct hv_port *rp = port_peer(d, p, port);

		/* The peer's end goes back to unbound, awaiting us. */
		if (rp) {
			if (p->has_inbox)
				port_hint(rp, p->rport, false);
			rp->state = EVTCHNSTAT_unbound;
			rp->rdom = d->domid;
			rp->rport = 0;
		}
		break;
	}
	default:
		break;
	}
	if (p->has_inbox) {
		port_hint(p, port, false);
		close(p->inbox_w); /* senders holding a copy see EPIPE */
	}
	port_clear_bits(p, port);
	memset(p, 0, sizeof(*p));
}

int hv_evtchn_set_inbox(struct hv_sink *caller, evtchn_port_t port, int w)
{
	struct hv_port *p = port_own(caller, port), *rp;

	if (!p || (p->state != EVTCHNSTAT_unbound &&
		   p->state != EVTCHNSTAT_interdomain))
		return -EINVAL;
	if (p->has_inbox)
		return -EEXIST;
	p->has_inbox = true;
	p->inbox_w = w;
	rp = port_peer(caller->dom, p, port);
	if (rp)
		port_hint(rp, p->rport, true);
	return 0;
}

int hv_evtchn_peer_inbox(struct hv_sink *caller, evtchn_port_t port, int *w)
{
	struct hv_port *p = port_own(caller, port), *rp;

	if (!p)
		return -EINVAL;
	if (p->state != EVTCHNSTAT_interdomain)
		return -ENOTCONN;
	rp = port_peer(caller->dom, p, port);
	if (!rp || !rp->has_inbox)
		return -ENOENT;
	*w = rp->inbox_w;
	return 0;
}

int hv_evtchn_close(struct hv_sink *caller, evtchn_port_t port)
{
	if (!port_own(caller, port))
		return -EINVAL;
	port_close(caller->dom, port);
	return 0;
}

int hv_evtchn_send(struct hv_sink *caller, evtchn_port_t port)
{
	struct hv_domain *d = caller->dom, *rd;
	struct hv_port *p = port_own(caller, port), *rp;

	if (!p)
		return -EINVAL;
	switch (p->state) {
	case EVTCHNSTAT_interdomain:
		rd = hv_domain_get(d->hv, p->rdom);
		rp = port_get(rd, p->rport);
		if (rp && rp->state == EVTCHNSTAT_interdomain)
			port_set_pending(rp, p->rport);
		return 0;
	case EVTCHNSTAT_ipi:
		port_set_pending(p, port);
		return 0;
	case EVTCHNSTAT_unbound:
		return 0; /* silently dropped, as in Xen */
	default:
		return -EINVAL;
	}
}

int hv_evtchn_status(struct hv_sink *caller, struct evtchn_status *a)
{
	struct hv_domain *d;
	struct hv_port *p;

	if (a->dom == DOMID_SELF || a->dom == caller->dom->domid)
		d = caller->dom;
	else if (!caller->dom->privileged)
		return -EPERM;
	else
		d = hv_domain_get(caller->dom->hv, a->dom);
	if (!d)
		return -ESRCH;
	memset(&a->u, 0, sizeof(a->u));
	a->vcpu = 0;
	p = port_get(d, a->port);
	/* Beyond the domain's limit (Xen's max_evtchns) is invalid; below
	 * it, a port never used reads as closed. */
	if (!p && a->port >= d->max_ports)
		return -EINVAL;
	if (!p || p->state == EVTCHNSTAT_closed) {
		a->status = EVTCHNSTAT_closed;
		return 0;
	}
	a->status = p->state;
	a->vcpu = p->vcpu;
	switch (p->state) {
	case EVTCHNSTAT_unbound:
		a->u.unbound.dom = p->rdom;
		break;
	case EVTCHNSTAT_interdomain:
		a->u.interdomain.dom = p->rdom;
		a->u.interdomain.port = p->rport;
		break;
	case EVTCHNSTAT_virq:
		a->u.virq = p->virq;
		break;
	default:
		break;
	}
	return 0;
}

/* Xen's evtchn_2l_unmask. */
int hv_evtchn_unmask(struct hv_sink *caller, evtchn_port_t port)
{
	struct hv_port *p = port_own(caller, port);
	struct hv_sink *s;
	unsigned int w, b, v;

	if (!p)
		return -EINVAL;
	s = p->sink;
	if (!s || !s->si)
		return 0;
	if (s->dom->fifo && s == s->dom->kernel)
		return hv_fifo_unmask(s->dom, p, port);
	w = port / BITS_PER_XLONG;
	b = port % BITS_PER_XLONG;
	v = p->vcpu < s->nr_vcpus ? p->vcpu : 0;
	if (bit_test_and_clear(&s->si->evtchn_mask[w], b) &&
	    bit_test(&s->si->evtchn_pending[w], b) &&
	    !bit_test_and_set(&s->si->vcpu_info[v].evtchn_pending_sel, w))
		hv_evtchn_kick(s, v);
	return 0;
}

int hv_evtchn_reset(struct hv_sink *caller, domid_t dom)
{
	struct hv_domain *d;
	uint32_t i;

	if (dom == DOMID_SELF || dom == caller->dom->domid)
		d = caller->dom;
	else if (!caller->dom->privileged)
		return -EPERM;
	else
		d = hv_domain_get(caller->dom->hv, dom);
	if (!d)
		return -ESRCH;
	for (i = 1; i < d->nr_ports; i++) {
		if (d->ports[i].state == EVTCHNSTAT_closed)
			continue;
		if (d->privileged && d->ports[i].sink != caller)
			continue;
		port_close(d, i);
	}
	/* The ABI says: back to 2-level, control blocks forgotten. */
	if (d->fifo)
		hv_fifo_free(d);
	return 0;
}

int hv_evtchn_set_priority(struct hv_sink *caller,
			   struct evtchn_set_priority *a)
{
	struct hv_port *p = port_own(caller, a->port);

	if (!p)
		return -EINVAL;
	if (!caller->dom->fifo)
		return -ENOSYS; /* 2-level has no priorities */
	return hv_fifo_set_priority(p, a->priority);
}

void hv_evtchn_raise_virq(struct hv_sink *s, unsigned int vcpu, uint32_t virq)
{
	evtchn_port_t port;

	if (!s || vcpu >= s->nr_vcpus || virq >= HV_NR_VIRQS)
		return;
	port = s->virq_port[vcpu][virq];
	if (port && port < s->dom->nr_ports)
		port_set_pending(&s->dom->ports[port], port);
}

void hv_evtchn_raise_global_virq(struct hv *hv, uint32_t virq)
{
	unsigned int i;

	for (i = 0; i < hv->nr_dom0_sinks; i++)
		hv_evtchn_raise_virq(hv->dom0_sinks[i], 0, virq);
}

void hv_evtchn_close_all(struct hv_domain *d)
{
	uint32_t i;

	for (i = 1; i < d->nr_ports; i++)
		if (d->ports[i].state != EVTCHNSTAT_closed)
			port_close(d, i);
}

void hv_evtchn_close_sink(struct hv_sink *s)
{
	struct hv_domain *d = s->dom;
	uint32_t i;

	for (i = 1; i < d->nr_ports; i++)
		if (d->ports[i].state != EVTCHNSTAT_closed &&
		    d->ports[i].sink == s)
			port_close(d, i);
}

void hv_register_dom0_sink(struct hv *hv, struct hv_sink *s)
{
	if (hv->nr_dom0_sinks == hv->cap_dom0_sinks) {
		unsigned int n = hv->cap_dom0_sinks ? hv->cap_dom0_sinks * 2 : 8;
		struct hv_sink **ns = realloc(hv->dom0_sinks, n * sizeof(*ns));

		if (!ns)
			return; /* no global VIRQs for this sink */
		hv->dom0_sinks = ns;
		hv->cap_dom0_sinks = n;
	}
	hv->dom0_sinks[hv->nr_dom0_sinks++] = s;
}

void hv_unregister_dom0_sink(struct hv *hv, struct hv_sink *s)
{
	unsigned int i;

	for (i = 0; i < hv->nr_dom0_sinks; i++)
		if (hv->dom0_sinks[i] == s) {
			hv->dom0_sinks[i] = hv->dom0_sinks[--hv->nr_dom0_sinks];
			return;
		}
}
