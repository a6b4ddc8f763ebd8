/*
 * test_hv_core.c - unit tests of the emulated hypervisor's pure core
 * (src/hv: domains, 2-level event channels, grant tables v1, memory
 * reservations, timers) without the daemon: domains get plain calloc'd
 * memory and shared_info pages, and fake env ops record every kick, timer
 * arm, page release and domain free so the tests can assert Xen's exact
 * semantics and error codes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/hc_wire.h"
#include "hv/hv.h"

#define PAGE 4096u
#define NR_D0_SINKS 3
#define MAX_TDOMS 6
#define MAX_LOG 64
#define XLONG_BITS (sizeof(xen_ulong_t) * 8)

/* A DomU of the fixture: its memory, shared_info and kernel sink. */
struct tdom {
	struct hv_domain *d;
	domid_t domid;
	uint8_t *mem;
	struct shared_info *si;
	struct hv_sink kernel;
	bool freed; /* env dom_free seen */
};

struct kick {
	struct hv_sink *s;
	unsigned int vcpu;
};

struct timer_call {
	struct hv_domain *d;
	unsigned int vcpu;
	uint64_t deadline;
};

struct fx {
	struct hv hv;
	struct hv_domain *dom0;
	struct shared_info *d0si[NR_D0_SINKS];
	struct hv_sink d0[NR_D0_SINKS]; /* Dom0 processes */
	struct tdom u[MAX_TDOMS];
	unsigned int nr_u;

	/* what the core asked of its environment */
	struct kick kicks[MAX_LOG];
	unsigned int nr_kicks;
	struct timer_call timers[MAX_LOG];
	unsigned int nr_timers;
	xen_pfn_t released[MAX_LOG];
	unsigned int nr_released;
	unsigned int nr_changed;
	unsigned int nr_freed;
	domid_t last_freed;
	/* direct-delivery hints, last state per (sink, port) */
	struct {
		struct hv_sink *s;
		evtchn_port_t port;
		bool on;
	} hints[MAX_LOG];
	unsigned int nr_hints;
};

/* ---- fake environment ----------------------------------------------- */

static void env_kick(struct hv_sink *s, unsigned int vcpu)
{
	struct fx *f = s->priv;

	assert_non_null(f);
	assert_true(f->nr_kicks < MAX_LOG);
	f->kicks[f->nr_kicks].s = s;
	f->kicks[f->nr_kicks].vcpu = vcpu;
	f->nr_kicks++;
}

static void env_timer_set(struct hv_domain *d, unsigned int vcpu,
			  uint64_t deadline_ns)
{
	struct fx *f = d->priv;

	assert_true(f->nr_timers < MAX_LOG);
	f->timers[f->nr_timers].d = d;
	f->timers[f->nr_timers].vcpu = vcpu;
	f->timers[f->nr_timers].deadline = deadline_ns;
	f->nr_timers++;
}

static void env_page_release(struct hv_domain *d, uint64_t gpfn)
{
	struct fx *f = d->priv;

	assert_true(f->nr_released < MAX_LOG);
	f->released[f->nr_released++] = gpfn;
}

static void env_direct_hint(struct hv_sink *s, evtchn_port_t port, bool on)
{
	struct fx *f = s->priv;

	if (!f) /* a sink being torn down: hvd ignores those too */
		return;
	assert_true(f->nr_hints < MAX_LOG);
	f->hints[f->nr_hints].s = s;
	f->hints[f->nr_hints].port = port;
	f->hints[f->nr_hints].on = on;
	f->nr_hints++;
}

/* The last hint given for (s, port): 1 on, 0 off, -1 never. */
static int hint_of(struct fx *f, struct hv_sink *s, evtchn_port_t port)
{
	unsigned int i;

	for (i = f->nr_hints; i-- > 0;)
		if (f->hints[i].s == s && f->hints[i].port == port)
			return f->hints[i].on;
	return -1;
}

static void env_dom_changed(struct hv_domain *d)
{
	struct fx *f = d->priv;

	f->nr_changed++;
}

static void env_dom_free(struct hv_domain *d)
{
	struct fx *f = d->priv;
	unsigned int i;

	if (!f)
		return;
	f->nr_freed++;
	f->last_freed = d->domid;
	/* (malloc may hand a freed domain's address to a new one) */
	for (i = 0; i < f->nr_u; i++)
		if (f->u[i].d == d && !f->u[i].freed) {
			f->u[i].freed = true;
			return;
		}
}

static const struct hv_env_ops fake_env = {
    .kick = env_kick,
    .timer_set = env_timer_set,
    .page_release = env_page_release,
    .dom_changed = env_dom_changed,
    .dom_free = env_dom_free,
    .direct_hint = env_direct_hint,
};

/* ---- fixture -------------------------------------------------------- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned int i;

	assert_non_null(f);
	assert_int_equal(hv_init(&f->hv, &fake_env), 0);
	assert_int_equal(hv_domain_create(&f->hv, 0, "Domain-0", true, 1, 0, 0,
					  0, NULL, 0, &f->dom0),
			 0);
	f->dom0->priv = f;
	for (i = 0; i < NR_D0_SINKS; i++) {
		f->d0si[i] = calloc(1, PAGE);
		assert_non_null(f->d0si[i]);
		assert_int_equal(
		    hv_sink_init(&f->d0[i], f->dom0, f->d0si[i], 1, f), 0);
		hv_register_dom0_sink(&f->hv, &f->d0[i]);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unsigned int i;

	for (i = 0; i < NR_D0_SINKS; i++)
		hv_sink_fini(&f->d0[i]);
	for (i = 0; i < f->nr_u; i++)
		if (!f->u[i].freed)
			hv_gnttab_release_sink(&f->u[i].kernel);
	hv_fini(&f->hv);
	for (i = 0; i < f->nr_u; i++) {
		free(f->u[i].mem);
		free(f->u[i].si);
	}
	for (i = 0; i < NR_D0_SINKS; i++)
		free(f->d0si[i]);
	free(f);
	return 0;
}

/* A DomU as hvd's do_dom_create makes one: memory, shared_info, kernel. */
static struct tdom *domu_new(struct fx *f, unsigned int vcpus,
			     uint64_t max_pages, uint64_t tot_pages,
			     uint32_t gnt_frames)
{
	struct tdom *t = &f->u[f->nr_u];
	uint64_t n = hv_domain_mem_pages(max_pages, gnt_frames);

	assert_true(f->nr_u < MAX_TDOMS);
	t->mem = calloc(n, PAGE);
	t->si = calloc(1, PAGE);
	assert_non_null(t->mem);
	assert_non_null(t->si);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "guest", false,
					  vcpus, max_pages, tot_pages,
					  gnt_frames, t->mem, n, &t->d),
			 0);
	t->d->priv = f;
	t->domid = t->d->domid;
	assert_int_equal(hv_sink_init(&t->kernel, t->d, t->si, vcpus, f), 0);
	t->d->kernel = &t->kernel;
	f->nr_u++;
	return t;
}

/* The default DomU: 2 vCPUs, 16 pages of which 8 populated, 2 grant
 * frames, all of them set up. */
static struct tdom *domu(struct fx *f)
{
	struct tdom *t = domu_new(f, 2, 16, 8, 2);
	xen_pfn_t frames[2];

	assert_int_equal(hv_gnttab_setup_table(t->d, 2, frames), 0);
	return t;
}

static unsigned int nkicks(const struct fx *f, const struct hv_sink *s,
			   unsigned int vcpu)
{
	unsigned int i, n = 0;

	for (i = 0; i < f->nr_kicks; i++)
		if (f->kicks[i].s == s && f->kicks[i].vcpu == vcpu)
			n++;
	return n;
}

/* ---- shared_info bits, as the guest sees them ------------------------ */

static bool pending(const struct shared_info *si, evtchn_port_t p)
{
	return si->evtchn_pending[p / XLONG_BITS] &
	       ((xen_ulong_t)1 << (p % XLONG_BITS));
}

static void set_mask(struct shared_info *si, evtchn_port_t p, bool on)
{
	xen_ulong_t m = (xen_ulong_t)1 << (p % XLONG_BITS);

	if (on)
		si->evtchn_mask[p / XLONG_BITS] |= m;
	else
		si->evtchn_mask[p / XLONG_BITS] &= ~m;
}

static bool sel(const struct shared_info *si, unsigned int vcpu,
		evtchn_port_t p)
{
	return si->vcpu_info[vcpu].evtchn_pending_sel &
	       ((xen_ulong_t)1 << (p / XLONG_BITS));
}

static uint8_t upcall(const struct shared_info *si, unsigned int vcpu)
{
	return si->vcpu_info[vcpu].evtchn_upcall_pending;
}

/* The guest handles everything: clear upcall, selectors and pending. */
static void guest_ack(struct shared_info *si)
{
	unsigned int v;

	for (v = 0; v < HV_MAX_VCPUS; v++) {
		si->vcpu_info[v].evtchn_upcall_pending = 0;
		si->vcpu_info[v].evtchn_pending_sel = 0;
	}
	memset(si->evtchn_pending, 0, sizeof(si->evtchn_pending));
}

/* ---- event-channel helpers ----------------------------------------- */

static evtchn_port_t unbound(struct hv_sink *s, domid_t dom, domid_t remote)
{
	struct evtchn_alloc_unbound a = {.dom = dom, .remote_dom = remote};

	assert_int_equal(hv_evtchn_alloc_unbound(s, &a), 0);
	assert_int_not_equal(a.port, 0);
	return a.port;
}

static int bind_inter(struct hv_sink *s, domid_t rdom, evtchn_port_t rport,
		      evtchn_port_t *out)
{
	struct evtchn_bind_interdomain b = {.remote_dom = rdom,
					    .remote_port = rport};
	int rc = hv_evtchn_bind_interdomain(s, &b);

	if (out)
		*out = rc ? 0 : b.local_port;
	return rc;
}

static int bind_virq(struct hv_sink *s, uint32_t virq, uint32_t vcpu,
		     evtchn_port_t *out)
{
	struct evtchn_bind_virq b = {.virq = virq, .vcpu = vcpu};
	int rc = hv_evtchn_bind_virq(s, &b);

	if (out)
		*out = rc ? 0 : b.port;
	return rc;
}

static int bind_ipi(struct hv_sink *s, uint32_t vcpu, evtchn_port_t *out)
{
	struct evtchn_bind_ipi b = {.vcpu = vcpu};
	int rc = hv_evtchn_bind_ipi(s, &b);

	if (out)
		*out = rc ? 0 : b.port;
	return rc;
}

static int bind_vcpu(struct hv_sink *s, evtchn_port_t port, uint32_t vcpu)
{
	struct evtchn_bind_vcpu b = {.port = port, .vcpu = vcpu};

	return hv_evtchn_bind_vcpu(s, &b);
}

static int ec_status(struct hv_sink *s, domid_t dom, evtchn_port_t port,
		     struct evtchn_status *st)
{
	memset(st, 0xa5, sizeof(*st));
	st->dom = dom;
	st->port = port;
	return hv_evtchn_status(s, st);
}

/* Dom0 sink s listens; t binds to it.  Returns t's port, *d0port s's. */
static evtchn_port_t link_d0(struct hv_sink *s, struct tdom *t,
			     evtchn_port_t *d0port)
{
	evtchn_port_t lp, rp = unbound(s, DOMID_SELF, t->domid);

	assert_int_equal(bind_inter(&t->kernel, 0, rp, &lp), 0);
	if (d0port)
		*d0port = rp;
	return lp;
}

/* ---- event channels -------------------------------------------------- */

static void test_evtchn_interdomain(void **state)
{
	struct fx *f = *state;
	struct tdom *u1 = domu(f), *u2 = domu(f);
	struct evtchn_alloc_unbound a;
	struct evtchn_status st;
	evtchn_port_t p0, lp, x;

	p0 = unbound(&f->d0[0], DOMID_SELF, u1->domid);
	assert_int_equal(ec_status(&f->d0[0], DOMID_SELF, p0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, u1->domid);

	/* Only the named remote domain may bind. */
	assert_int_equal(bind_inter(&u2->kernel, 0, p0, &x), -EINVAL);
	assert_int_equal(bind_inter(&f->d0[1], 0, p0, &x), -EINVAL);
	assert_int_equal(f->nr_kicks, 0);

	assert_int_equal(bind_inter(&u1->kernel, 0, p0, &lp), 0);
	/* Xen sets the binder's local end pending straight away. */
	assert_true(pending(u1->si, lp));
	assert_true(sel(u1->si, 0, lp));
	assert_int_equal(upcall(u1->si, 0), 1);
	assert_int_equal(f->nr_kicks, 1);
	assert_int_equal(nkicks(f, &u1->kernel, 0), 1);
	assert_false(pending(f->d0si[0], p0));

	assert_int_equal(ec_status(&f->d0[0], DOMID_SELF, p0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	assert_int_equal(st.u.interdomain.dom, u1->domid);
	assert_int_equal(st.u.interdomain.port, lp);
	assert_int_equal(ec_status(&u1->kernel, DOMID_SELF, lp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	assert_int_equal(st.u.interdomain.dom, 0);
	assert_int_equal(st.u.interdomain.port, p0);

	/* Already bound: no longer unbound, so nobody may bind again. */
	assert_int_equal(bind_inter(&u1->kernel, 0, p0, &x), -EINVAL);
	/* Bad remote ports and domains. */
	assert_int_equal(bind_inter(&u1->kernel, 0, 0, &x), -EINVAL);
	assert_int_equal(bind_inter(&u1->kernel, 0, 5000, &x), -EINVAL);
	assert_int_equal(bind_inter(&u1->kernel, 0, 900, &x), -EINVAL);
	assert_int_equal(bind_inter(&u1->kernel, 77, 1, &x), -ESRCH);

	/* A DomU allocates only in itself; Dom0 may for another domain,
	 * and DOMID_SELF as remote names the caller. */
	a = (struct evtchn_alloc_unbound){.dom = u2->domid, .remote_dom = 0};
	assert_int_equal(hv_evtchn_alloc_unbound(&u1->kernel, &a), -EPERM);
	a = (struct evtchn_alloc_unbound){.dom = u2->domid,
					  .remote_dom = DOMID_SELF};
	assert_int_equal(hv_evtchn_alloc_unbound(&f->d0[0], &a), 0);
	assert_int_equal(ec_status(&u2->kernel, DOMID_SELF, a.port, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, 0);
	/* u2's port, allocated by Dom0, is delivered to u2's kernel. */
	assert_int_equal(bind_inter(&f->d0[2], u2->domid, a.port, &x), 0);
	guest_ack(u2->si);
	f->nr_kicks = 0;
	assert_int_equal(hv_evtchn_send(&f->d0[2], x), 0);
	assert_true(pending(u2->si, a.port));
	assert_int_equal(nkicks(f, &u2->kernel, 0), 1);
	a = (struct evtchn_alloc_unbound){.dom = 77, .remote_dom = 0};
	assert_int_equal(hv_evtchn_alloc_unbound(&f->d0[0], &a), -ESRCH);
}

/* Direct delivery's bookkeeping: an inbox per port, handed only to the
 * current peer, hints following bind and close, the write end closed with
 * the port. */
static void test_evtchn_direct_inbox(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f), *u2 = domu(f);
	struct hv_sink *s = &f->d0[0];
	evtchn_port_t p0, lp, lp2, ipi;
	struct evtchn_bind_ipi bi = {.vcpu = 0};
	int sv[2], sv2[2], w;
	char b = 1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv2), 0);
	p0 = unbound(s, DOMID_SELF, u->domid);
	/* unbound: an inbox, no peer yet */
	assert_int_equal(hv_evtchn_set_inbox(s, p0, sv[1]), 0);
	assert_int_equal(hv_evtchn_set_inbox(s, p0, sv[1]), -EEXIST);
	assert_int_equal(hv_evtchn_peer_inbox(s, p0, &w), -ENOTCONN);
	/* only the port's own sink */
	assert_int_equal(hv_evtchn_set_inbox(&f->d0[1], p0, sv2[1]), -EINVAL);
	assert_int_equal(hv_evtchn_set_inbox(&u->kernel, p0, sv2[1]), -EINVAL);
	/* binding hints the binder: its peer has an inbox */
	assert_int_equal(bind_inter(&u->kernel, 0, p0, &lp), 0);
	assert_int_equal(hint_of(f, &u->kernel, lp), 1);
	assert_int_equal(hv_evtchn_peer_inbox(&u->kernel, lp, &w), 0);
	assert_int_equal(w, sv[1]);
	/* the listener's peer has none yet */
	assert_int_equal(hv_evtchn_peer_inbox(s, p0, &w), -ENOENT);
	assert_int_equal(hint_of(f, s, p0), -1);
	assert_int_equal(hv_evtchn_set_inbox(&u->kernel, lp, sv2[1]), 0);
	assert_int_equal(hint_of(f, s, p0), 1);
	assert_int_equal(hv_evtchn_peer_inbox(s, p0, &w), 0);
	assert_int_equal(w, sv2[1]);
	/* no inbox for other kinds of port, nor anyone else's */
	assert_int_equal(hv_evtchn_bind_ipi(&u->kernel, &bi), 0);
	ipi = bi.port;
	assert_int_equal(hv_evtchn_set_inbox(&u->kernel, ipi, -1), -EINVAL);
	assert_int_equal(hv_evtchn_peer_inbox(&u->kernel, ipi, &w), -ENOTCONN);
	assert_int_equal(hv_evtchn_peer_inbox(&u2->kernel, lp, &w), -EINVAL);
	/* the DomU closes: the listener's hint goes, the DomU's write end of
	 * its inbox is closed (its reader sees EOF) */
	assert_int_equal(hv_evtchn_close(&u->kernel, lp), 0);
	assert_int_equal(hint_of(f, s, p0), 0);
	assert_int_equal(recv(sv2[0], &b, 1, MSG_DONTWAIT), 0);
	assert_int_equal(hv_evtchn_peer_inbox(s, p0, &w), -ENOTCONN);
	/* a new binding to the same listener sees its inbox again */
	assert_int_equal(bind_inter(&u->kernel, 0, p0, &lp2), 0);
	assert_int_equal(hint_of(f, &u->kernel, lp2), 1);
	/* the listener closes: the binder's hint goes, the write end too */
	assert_int_equal(hv_evtchn_close(s, p0), 0);
	assert_int_equal(hint_of(f, &u->kernel, lp2), 0);
	assert_int_equal(recv(sv[0], &b, 1, MSG_DONTWAIT), 0);
	close(sv[0]);
	close(sv2[0]);
}

static void test_evtchn_send_kicks_once(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct hv_sink *s = &f->d0[0];
	evtchn_port_t p0, lp, q0, w0;
	unsigned int i;

	p0 = unbound(s, DOMID_SELF, u->domid);
	assert_int_equal(bind_inter(&u->kernel, 0, p0, &lp), 0);
	f->nr_kicks = 0;

	assert_int_equal(hv_evtchn_send(&u->kernel, lp), 0);
	assert_true(pending(f->d0si[0], p0));
	assert_true(sel(f->d0si[0], 0, p0));
	assert_int_equal(upcall(f->d0si[0], 0), 1);
	assert_int_equal(nkicks(f, s, 0), 1);
	assert_int_equal(f->nr_kicks, 1);

	/* Still pending: nothing more, however often it is sent. */
	for (i = 0; i < 5; i++)
		assert_int_equal(hv_evtchn_send(&u->kernel, lp), 0);
	assert_int_equal(f->nr_kicks, 1);

	/* A second port in the same word, and one in another word: the
	 * upcall is already pending, so neither kicks. */
	q0 = link_d0(s, u, NULL);
	(void)q0;
	{
		evtchn_port_t ports[70], l[70];

		for (i = 0; i < 70; i++)
			l[i] = link_d0(s, u, &ports[i]);
		w0 = ports[69];
		assert_int_not_equal(w0 / XLONG_BITS, p0 / XLONG_BITS);
		f->nr_kicks = 0;
		assert_int_equal(hv_evtchn_send(&u->kernel, l[0]), 0);
		assert_int_equal(hv_evtchn_send(&u->kernel, l[69]), 0);
		assert_true(pending(f->d0si[0], w0));
		assert_true(sel(f->d0si[0], 0, w0));
		assert_int_equal(f->nr_kicks, 0);

		/* The guest handles it all: the next event kicks again. */
		guest_ack(f->d0si[0]);
		assert_int_equal(hv_evtchn_send(&u->kernel, l[69]), 0);
		assert_int_equal(f->nr_kicks, 1);
		/* Pending bit cleared but the upcall not yet: no kick. */
		f->d0si[0]->evtchn_pending[w0 / XLONG_BITS] = 0;
		assert_int_equal(hv_evtchn_send(&u->kernel, l[69]), 0);
		assert_true(pending(f->d0si[0], w0));
		assert_int_equal(f->nr_kicks, 1);
	}
	/* Dom0 to DomU the same way. */
	f->nr_kicks = 0;
	guest_ack(u->si);
	assert_int_equal(hv_evtchn_send(s, p0), 0);
	assert_true(pending(u->si, lp));
	assert_int_equal(nkicks(f, &u->kernel, 0), 1);
	assert_int_equal(f->nr_kicks, 1);
}

static void test_evtchn_mask_unmask(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	evtchn_port_t p0, lp;

	lp = link_d0(&f->d0[0], u, &p0);
	guest_ack(u->si);
	f->nr_kicks = 0;

	/* Masked: the pending bit is set, but no selector, upcall or kick. */
	set_mask(u->si, lp, true);
	assert_int_equal(hv_evtchn_send(&f->d0[0], p0), 0);
	assert_true(pending(u->si, lp));
	assert_false(sel(u->si, 0, lp));
	assert_int_equal(upcall(u->si, 0), 0);
	assert_int_equal(f->nr_kicks, 0);

	/* Unmasking a pending port delivers it. */
	assert_int_equal(hv_evtchn_unmask(&u->kernel, lp), 0);
	assert_false(u->si->evtchn_mask[lp / XLONG_BITS] &
		     ((xen_ulong_t)1 << (lp % XLONG_BITS)));
	assert_true(sel(u->si, 0, lp));
	assert_int_equal(upcall(u->si, 0), 1);
	assert_int_equal(nkicks(f, &u->kernel, 0), 1);

	/* Unmasking an unmasked pending port, or a masked idle one, does
	 * nothing. */
	guest_ack(u->si);
	u->si->evtchn_pending[lp / XLONG_BITS] |= (xen_ulong_t)1
						  << (lp % XLONG_BITS);
	assert_int_equal(hv_evtchn_unmask(&u->kernel, lp), 0);
	assert_int_equal(upcall(u->si, 0), 0);
	guest_ack(u->si);
	set_mask(u->si, lp, true);
	assert_int_equal(hv_evtchn_unmask(&u->kernel, lp), 0);
	assert_int_equal(upcall(u->si, 0), 0);
	assert_int_equal(f->nr_kicks, 1);

	/* Bad ports. */
	assert_int_equal(hv_evtchn_unmask(&u->kernel, 0), -EINVAL);
	assert_int_equal(hv_evtchn_unmask(&u->kernel, 1000), -EINVAL);
	assert_int_equal(hv_evtchn_unmask(&u->kernel, 100000), -EINVAL);
}

static void test_evtchn_close(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct evtchn_status st;
	evtchn_port_t p0, lp, lp2;

	lp = link_d0(&f->d0[0], u, &p0);
	assert_true(pending(u->si, lp));

	assert_int_equal(hv_evtchn_close(&u->kernel, lp), 0);
	/* The closed port's pending bit goes; the peer awaits us again. */
	assert_false(pending(u->si, lp));
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, lp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	assert_int_equal(ec_status(&f->d0[0], DOMID_SELF, p0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, u->domid);

	assert_int_equal(hv_evtchn_close(&u->kernel, lp), -EINVAL);
	assert_int_equal(hv_evtchn_send(&u->kernel, lp), -EINVAL);
	/* Sending on an unbound port is silently dropped, as in Xen. */
	f->nr_kicks = 0;
	assert_int_equal(hv_evtchn_send(&f->d0[0], p0), 0);
	assert_int_equal(f->nr_kicks, 0);

	/* It can be bound again (the freed number is reused). */
	assert_int_equal(bind_inter(&u->kernel, 0, p0, &lp2), 0);
	assert_int_equal(lp2, lp);

	/* Closing the Dom0 end returns u's end to unbound, awaiting 0. */
	assert_int_equal(hv_evtchn_close(&f->d0[0], p0), 0);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, lp2, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, 0);

	assert_int_equal(hv_evtchn_close(&u->kernel, 0), -EINVAL);
	assert_int_equal(hv_evtchn_close(&u->kernel, 5000), -EINVAL);
	assert_int_equal(hv_evtchn_close(&u->kernel, 600), -EINVAL);
}

static void test_evtchn_status(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f), *u2 = domu(f);
	struct evtchn_status st;
	evtchn_port_t ub, lp, p0, vp, ip;

	ub = unbound(&u->kernel, DOMID_SELF, 0);
	lp = link_d0(&f->d0[0], u, &p0);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 1, &vp), 0);
	assert_int_equal(bind_ipi(&u->kernel, 1, &ip), 0);

	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, ub, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.vcpu, 0);
	assert_int_equal(st.u.unbound.dom, 0);

	assert_int_equal(ec_status(&u->kernel, u->domid, lp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	assert_int_equal(st.u.interdomain.dom, 0);
	assert_int_equal(st.u.interdomain.port, p0);

	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, vp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_virq);
	assert_int_equal(st.vcpu, 1);
	assert_int_equal(st.u.virq, VIRQ_TIMER);

	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, ip, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_ipi);
	assert_int_equal(st.vcpu, 1);

	/* Port 0 and never-used ports read as closed. */
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, 0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, 500, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	/* Beyond the domain's port limit: invalid, as in Xen. */
	assert_int_equal(
	    ec_status(&u->kernel, DOMID_SELF, u->d->max_ports, &st), -EINVAL);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, 100000, &st),
			 -EINVAL);

	/* Dom0 may look at anyone; a DomU only at itself. */
	assert_int_equal(ec_status(&f->d0[1], u->domid, vp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_virq);
	assert_int_equal(ec_status(&u2->kernel, u->domid, vp, &st), -EPERM);
	assert_int_equal(ec_status(&f->d0[0], 77, 1, &st), -ESRCH);
	/* Another Dom0 sink sees the port (status is per domain). */
	assert_int_equal(ec_status(&f->d0[1], DOMID_SELF, p0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
}

static void test_evtchn_virq(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	evtchn_port_t t0, t1, x;

	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 0, &t0), 0);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 1, &t1), 0);
	assert_int_not_equal(t0, t1);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 1, &x), -EEXIST);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 2, &x), -ENOENT);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_DEBUG, 7, &x), -ENOENT);
	/* Global VIRQs only on vCPU 0 (checked before the vCPU exists). */
	assert_int_equal(bind_virq(&u->kernel, VIRQ_DOM_EXC, 1, &x), -EINVAL);
	assert_int_equal(bind_virq(&f->d0[0], VIRQ_DOM_EXC, 1, &x), -EINVAL);
	assert_int_equal(bind_virq(&u->kernel, HV_NR_VIRQS, 0, &x), -EINVAL);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_CONSOLE, 0, &x), 0);

	/* Per-vCPU delivery: vCPU 1's timer touches vcpu_info[1] only. */
	hv_evtchn_raise_virq(&u->kernel, 1, VIRQ_TIMER);
	assert_true(pending(u->si, t1));
	assert_false(pending(u->si, t0));
	assert_true(sel(u->si, 1, t1));
	assert_int_equal(upcall(u->si, 1), 1);
	assert_int_equal(u->si->vcpu_info[0].evtchn_pending_sel, 0);
	assert_int_equal(upcall(u->si, 0), 0);
	assert_int_equal(nkicks(f, &u->kernel, 1), 1);
	assert_int_equal(f->nr_kicks, 1);

	/* Sending on a VIRQ port is invalid. */
	assert_int_equal(hv_evtchn_send(&u->kernel, t0), -EINVAL);
	/* Unbound VIRQs and bad vCPUs raise nothing. */
	hv_evtchn_raise_virq(&u->kernel, 0, VIRQ_DEBUG);
	hv_evtchn_raise_virq(&u->kernel, 5, VIRQ_TIMER);
	hv_evtchn_raise_virq(&u->kernel, 0, 99);
	assert_int_equal(f->nr_kicks, 1);

	/* Closing frees the VIRQ for binding again. */
	assert_int_equal(hv_evtchn_close(&u->kernel, t1), 0);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 1, &x), 0);
}

static void test_evtchn_ipi_and_bind_vcpu(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	evtchn_port_t ip, x, lp, p0, ub, tv, gv;

	assert_int_equal(bind_ipi(&u->kernel, 1, &ip), 0);
	assert_int_equal(bind_ipi(&u->kernel, 2, &x), -ENOENT);
	guest_ack(u->si);
	f->nr_kicks = 0;
	assert_int_equal(hv_evtchn_send(&u->kernel, ip), 0);
	assert_true(sel(u->si, 1, ip));
	assert_int_equal(upcall(u->si, 1), 1);
	assert_int_equal(upcall(u->si, 0), 0);
	assert_int_equal(nkicks(f, &u->kernel, 1), 1);

	/* An IPI is fixed to its vCPU. */
	assert_int_equal(bind_vcpu(&u->kernel, ip, 0), -EINVAL);

	/* An interdomain port moves: notifications follow. */
	lp = link_d0(&f->d0[0], u, &p0);
	assert_int_equal(bind_vcpu(&u->kernel, lp, 2), -ENOENT);
	assert_int_equal(bind_vcpu(&u->kernel, lp, 1), 0);
	guest_ack(u->si);
	f->nr_kicks = 0;
	assert_int_equal(hv_evtchn_send(&f->d0[0], p0), 0);
	assert_true(sel(u->si, 1, lp));
	assert_int_equal(u->si->vcpu_info[0].evtchn_pending_sel, 0);
	assert_int_equal(upcall(u->si, 1), 1);
	assert_int_equal(upcall(u->si, 0), 0);
	assert_int_equal(nkicks(f, &u->kernel, 1), 1);
	assert_int_equal(f->nr_kicks, 1);
	/* Unmask delivers on the new vCPU too. */
	guest_ack(u->si);
	set_mask(u->si, lp, true);
	assert_int_equal(hv_evtchn_send(&f->d0[0], p0), 0);
	assert_int_equal(hv_evtchn_unmask(&u->kernel, lp), 0);
	assert_int_equal(upcall(u->si, 1), 1);
	assert_int_equal(nkicks(f, &u->kernel, 1), 2);

	/* Unbound ports and global VIRQs move; per-vCPU VIRQs do not. */
	ub = unbound(&u->kernel, DOMID_SELF, 0);
	assert_int_equal(bind_vcpu(&u->kernel, ub, 1), 0);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 0, &tv), 0);
	assert_int_equal(bind_vcpu(&u->kernel, tv, 1), -EINVAL);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_CONSOLE, 0, &gv), 0);
	assert_int_equal(bind_vcpu(&u->kernel, gv, 1), 0);
	assert_int_equal(bind_vcpu(&u->kernel, 0, 0), -EINVAL);
	assert_int_equal(bind_vcpu(&u->kernel, 900, 0), -EINVAL);
}

static void test_evtchn_dom0_sinks_own_ports(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct hv_sink *a = &f->d0[0], *b = &f->d0[1];
	evtchn_port_t p0, lp, ia, ib;

	lp = link_d0(a, u, &p0);
	(void)lp;
	assert_int_equal(bind_ipi(a, 0, &ia), 0);
	assert_int_equal(bind_ipi(b, 0, &ib), 0);

	/* Like separate /dev/xen/evtchn handles: b cannot touch a's ports. */
	assert_int_equal(hv_evtchn_send(b, p0), -EINVAL);
	assert_int_equal(hv_evtchn_unmask(b, p0), -EINVAL);
	assert_int_equal(hv_evtchn_close(b, p0), -EINVAL);
	assert_int_equal(bind_vcpu(b, p0, 0), -EINVAL);
	assert_int_equal(hv_evtchn_send(b, ia), -EINVAL);

	/* A's IPI lands in a's shared_info, b's in b's. */
	guest_ack(f->d0si[0]);
	guest_ack(f->d0si[1]);
	f->nr_kicks = 0;
	assert_int_equal(hv_evtchn_send(a, ia), 0);
	assert_int_equal(hv_evtchn_send(b, ib), 0);
	assert_true(pending(f->d0si[0], ia));
	assert_false(pending(f->d0si[0], ib));
	assert_true(pending(f->d0si[1], ib));
	assert_false(pending(f->d0si[1], ia));
	assert_int_equal(nkicks(f, a, 0), 1);
	assert_int_equal(nkicks(f, b, 0), 1);

	/* Reset by b closes only b's ports. */
	assert_int_equal(hv_evtchn_reset(b, DOMID_SELF), 0);
	assert_int_equal(hv_evtchn_send(b, ib), -EINVAL);
	assert_int_equal(hv_evtchn_send(a, ia), 0);
	assert_int_equal(hv_evtchn_send(a, p0), 0);
	/* a closes its own. */
	assert_int_equal(hv_evtchn_close(a, p0), 0);

	/* A Dom0 sink that goes away takes its ports with it. */
	assert_int_equal(bind_ipi(b, 0, &ib), 0);
	lp = link_d0(b, u, &p0);
	hv_sink_fini(b);
	{
		struct evtchn_status st;

		assert_int_equal(ec_status(a, DOMID_SELF, ib, &st), 0);
		assert_int_equal(st.status, EVTCHNSTAT_closed);
		assert_int_equal(ec_status(&u->kernel, DOMID_SELF, lp, &st), 0);
		assert_int_equal(st.status, EVTCHNSTAT_unbound);
		assert_int_equal(st.u.unbound.dom, 0);
	}
}

static void test_evtchn_reset(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f), *u2 = domu(f);
	struct evtchn_status st;
	evtchn_port_t p0, lp, ip, vp;

	lp = link_d0(&f->d0[0], u, &p0);
	assert_int_equal(bind_ipi(&u->kernel, 0, &ip), 0);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 0, &vp), 0);

	assert_int_equal(hv_evtchn_reset(&u2->kernel, u->domid), -EPERM);
	assert_int_equal(hv_evtchn_reset(&f->d0[0], 77), -ESRCH);
	assert_int_equal(hv_evtchn_reset(&u->kernel, DOMID_SELF), 0);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, lp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, ip, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	assert_int_equal(ec_status(&f->d0[0], DOMID_SELF, p0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, u->domid);
	/* The VIRQ can be bound again. */
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 0, &vp), 0);

	/* Dom0 resets a DomU. */
	lp = link_d0(&f->d0[0], u, &p0);
	assert_int_equal(hv_evtchn_reset(&f->d0[1], u->domid), 0);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, lp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
	assert_int_equal(ec_status(&u->kernel, DOMID_SELF, vp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_closed);
}

static void test_evtchn_exhaustion(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	uint32_t max = u->d->max_ports;
	evtchn_port_t p, x;
	uint32_t i;

	assert_int_equal(max, f->hv.default_max_ports + 1);
	for (i = 1; i < max; i++) {
		assert_int_equal(bind_ipi(&u->kernel, 0, &p), 0);
		assert_int_equal(p, i);
	}
	assert_int_equal(bind_ipi(&u->kernel, 0, &x), -ENOSPC);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 0, &x), -ENOSPC);
	{
		struct evtchn_alloc_unbound a = {.dom = DOMID_SELF};

		assert_int_equal(hv_evtchn_alloc_unbound(&u->kernel, &a),
				 -ENOSPC);
	}
	/* Dom0's ports are one space too, but another domain's are not. */
	assert_int_equal(hv_evtchn_send(&u->kernel, max - 1), 0);
	assert_int_equal(hv_evtchn_send(&u->kernel, max), -EINVAL);
	assert_int_equal(bind_ipi(&f->d0[0], 0, &x), 0);

	/* A freed port is found again. */
	assert_int_equal(hv_evtchn_close(&u->kernel, 500), 0);
	assert_int_equal(bind_ipi(&u->kernel, 1, &p), 0);
	assert_int_equal(p, 500);
	assert_int_equal(bind_ipi(&u->kernel, 1, &x), -ENOSPC);

	/* Out of range or port 0: -EINVAL everywhere. */
	assert_int_equal(hv_evtchn_send(&u->kernel, 0), -EINVAL);
	assert_int_equal(hv_evtchn_close(&u->kernel, max), -EINVAL);
	assert_int_equal(hv_evtchn_unmask(&u->kernel, UINT32_MAX), -EINVAL);
	assert_int_equal(bind_vcpu(&u->kernel, max + 10, 0), -EINVAL);
}

static void test_evtchn_small_port_limit(void **state)
{
	struct fx *f = *state;
	struct tdom *u;
	evtchn_port_t p;
	unsigned int n = 0;

	f->hv.default_max_ports = 100; /* like max_event_channels = 100 */
	u = domu(f);
	while (bind_ipi(&u->kernel, 0, &p) == 0) {
		n++;
		assert_true(n <= 100);
	}
	assert_int_equal(n, 100);
	assert_int_equal(bind_ipi(&u->kernel, 0, &p), -ENOSPC);
}

static void test_evtchn_global_virq(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	evtchn_port_t pa, pb, x;

	assert_int_equal(bind_virq(&f->d0[0], VIRQ_DOM_EXC, 0, &pa), 0);
	assert_int_equal(bind_virq(&f->d0[1], VIRQ_DOM_EXC, 0, &pb), 0);
	assert_int_not_equal(pa, pb);
	/* One binding per sink, not per domain. */
	assert_int_equal(bind_virq(&f->d0[0], VIRQ_DOM_EXC, 0, &x), -EEXIST);

	hv_evtchn_raise_global_virq(&f->hv, VIRQ_DOM_EXC);
	assert_true(pending(f->d0si[0], pa));
	assert_true(pending(f->d0si[1], pb));
	assert_false(pending(f->d0si[2], pa));
	assert_false(pending(f->d0si[2], pb));
	assert_int_equal(nkicks(f, &f->d0[0], 0), 1);
	assert_int_equal(nkicks(f, &f->d0[1], 0), 1);
	assert_int_equal(nkicks(f, &f->d0[2], 0), 0);
	assert_int_equal(upcall(f->d0si[2], 0), 0);

	/* A domain's shutdown raises it; an unregistered sink hears
	 * nothing. */
	guest_ack(f->d0si[0]);
	guest_ack(f->d0si[1]);
	hv_unregister_dom0_sink(&f->hv, &f->d0[1]);
	f->nr_kicks = 0;
	assert_int_equal(hv_domain_shutdown(u->d, SHUTDOWN_poweroff), 0);
	assert_true(pending(f->d0si[0], pa));
	assert_false(pending(f->d0si[1], pb));
	assert_int_equal(f->nr_kicks, 1);
	hv_register_dom0_sink(&f->hv, &f->d0[1]);
}

/* A DomU's kernel sink goes away while its ports stay open: events for
 * them go nowhere (and touch nothing) until the domain is destroyed. */
static void test_evtchn_kernel_sink_fini(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct evtchn_alloc_unbound a = {.dom = DOMID_SELF};
	struct evtchn_status st;
	evtchn_port_t p0, lp, tp;

	lp = link_d0(&f->d0[0], u, &p0);
	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 0, &tp), 0);
	assert_int_equal(hv_timer_set(u->d, 0, 10), 0);
	guest_ack(u->si);
	f->nr_kicks = 0;

	hv_sink_fini(&u->kernel);
	assert_null(u->d->kernel);
	assert_int_equal(hv_evtchn_send(&f->d0[0], p0), 0);
	hv_timer_fire(u->d, 0);
	assert_int_equal(f->nr_kicks, 0);
	assert_false(pending(u->si, lp));
	assert_int_equal(ec_status(&f->d0[0], u->domid, lp, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	/* Nobody to deliver new ports to. */
	a.dom = u->domid;
	assert_int_equal(hv_evtchn_alloc_unbound(&f->d0[0], &a), -ESRCH);

	hv_domain_destroy(u->d);
	assert_true(u->freed);
	assert_int_equal(ec_status(&f->d0[0], DOMID_SELF, p0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
}

/* ---- grant tables ---------------------------------------------------- */

static grant_entry_v1_t *gentry(struct tdom *t, grant_ref_t ref)
{
	uint64_t gpfn =
	    t->d->special_gpfn + PVK_SPECIAL_GNTTAB + ref / HV_GNT_PER_FRAME;

	return (grant_entry_v1_t *)(t->mem + gpfn * PAGE) +
	       ref % HV_GNT_PER_FRAME;
}

static void grant(struct tdom *t, grant_ref_t ref, domid_t to, uint32_t frame,
		  uint16_t flags)
{
	grant_entry_v1_t *e = gentry(t, ref);

	e->frame = frame;
	e->domid = to;
	e->flags = flags;
}

static int16_t gmap(struct hv_sink *s, domid_t dom, grant_ref_t ref,
		    uint32_t flags, struct gnttab_map_grant_ref *out)
{
	struct gnttab_map_grant_ref tmp, *op = out ? out : &tmp;

	memset(op, 0x5a, sizeof(*op));
	op->dom = dom;
	op->ref = ref;
	op->flags = flags;
	hv_gnttab_map(s, op);
	return op->status;
}

static int16_t gunmap(struct hv_sink *s, grant_handle_t h)
{
	struct gnttab_unmap_grant_ref op = {.handle = h};

	hv_gnttab_unmap(s, &op);
	return op.status;
}

#define RW GNTMAP_host_map
#define RO (GNTMAP_host_map | GNTMAP_readonly)

static void test_gnttab_setup_table(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu_new(f, 1, 16, 16, 4);
	struct gnttab_query_size q;
	xen_pfn_t frames[8];
	uint32_t i;

	assert_int_equal(hv_gnttab_setup_table(u->d, 5, frames), -EINVAL);
	assert_int_equal(hv_gnttab_query_size(u->d, &q), 0);
	assert_int_equal(q.nr_frames, 0);
	assert_int_equal(q.max_nr_frames, 4);
	/* No frames set up yet: every ref is out of range. */
	assert_int_equal(gmap(&f->d0[0], u->domid, 0, RW, NULL),
			 GNTST_bad_gntref);

	assert_int_equal(hv_gnttab_setup_table(u->d, 2, frames), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(frames[i], 16 + PVK_SPECIAL_GNTTAB + i);
	assert_int_equal(hv_gnttab_query_size(u->d, &q), 0);
	assert_int_equal(q.nr_frames, 2);
	assert_int_equal(q.status, GNTST_okay);
	/* The table only grows. */
	assert_int_equal(hv_gnttab_setup_table(u->d, 1, frames), 0);
	assert_int_equal(frames[0], 16 + PVK_SPECIAL_GNTTAB);
	assert_int_equal(hv_gnttab_query_size(u->d, &q), 0);
	assert_int_equal(q.nr_frames, 2);
	assert_int_equal(hv_gnttab_setup_table(u->d, 4, frames), 0);
	assert_int_equal(hv_gnttab_query_size(u->d, &q), 0);
	assert_int_equal(q.nr_frames, 4);
	assert_int_equal(frames[3], 16 + PVK_SPECIAL_GNTTAB + 3);

	/* Dom0 has no memory of its own here. */
	assert_int_equal(hv_gnttab_setup_table(f->dom0, 1, frames),
			 -EOPNOTSUPP);
}

static void test_gnttab_map_unmap(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct hv_sink *s = &f->d0[0];
	struct gnttab_map_grant_ref m1, m2, m3;
	grant_entry_v1_t *e5 = gentry(u, 5), *e6 = gentry(u, 6);

	grant(u, 5, 0, 2, GTF_permit_access);
	grant(u, 6, 0, 3, GTF_permit_access | GTF_readonly);

	assert_int_equal(gmap(s, u->domid, 5, RW, &m1), GNTST_okay);
	assert_int_equal(e5->flags,
			 GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(m1.dev_bus_addr, 2 * 4096);
	assert_int_equal(u->d->foreign_pins, 1);

	/* Read-only: GTF_reading only. */
	assert_int_equal(gmap(s, u->domid, 6, RO, &m3), GNTST_okay);
	assert_int_equal(e6->flags,
			 GTF_permit_access | GTF_readonly | GTF_reading);
	assert_int_equal(m3.dev_bus_addr, 3 * 4096);

	/* A second map shares the pin. */
	assert_int_equal(gmap(&f->d0[1], u->domid, 5, RW, &m2), GNTST_okay);
	assert_int_equal(m2.dev_bus_addr, 2 * 4096);
	assert_int_equal(u->d->gact.ent[5].w[PVK_GACT_HVD], 2);
	assert_int_equal(u->d->foreign_pins, 3);

	assert_int_equal(gunmap(s, m1.handle), GNTST_okay);
	assert_int_equal(e5->flags,
			 GTF_permit_access | GTF_reading | GTF_writing);
	/* The same handle twice, or one of another sink: bad handle. */
	assert_int_equal(gunmap(s, m1.handle), GNTST_bad_handle);
	assert_int_equal(gunmap(s, m2.handle + 1000), GNTST_bad_handle);
	assert_int_equal(gunmap(&f->d0[1], m2.handle), GNTST_okay);
	assert_int_equal(e5->flags, GTF_permit_access);
	assert_int_equal(gunmap(s, m3.handle), GNTST_okay);
	assert_int_equal(e6->flags, GTF_permit_access | GTF_readonly);
	assert_int_equal(u->d->foreign_pins, 0);
	assert_int_equal(gunmap(s, UINT32_MAX), GNTST_bad_handle);

	/* Read then write on one entry: writing goes with the last writer,
	 * reading with the last pin. */
	assert_int_equal(gmap(s, u->domid, 5, RO, &m1), GNTST_okay);
	assert_int_equal(e5->flags, GTF_permit_access | GTF_reading);
	assert_int_equal(gmap(s, u->domid, 5, RW, &m2), GNTST_okay);
	assert_int_equal(e5->flags,
			 GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(gunmap(s, m2.handle), GNTST_okay);
	assert_int_equal(e5->flags, GTF_permit_access | GTF_reading);
	assert_int_equal(gunmap(s, m1.handle), GNTST_okay);
	assert_int_equal(e5->flags, GTF_permit_access);

	/* Handles are reused once free. */
	assert_int_equal(gmap(s, u->domid, 5, RW, &m3), GNTST_okay);
	assert_int_equal(m3.handle, m1.handle);
	assert_int_equal(gunmap(s, m3.handle), GNTST_okay);

	/* Device maps count as maps too; neither host nor device: bad. */
	assert_int_equal(gmap(s, u->domid, 5, GNTMAP_device_map, &m1),
			 GNTST_okay);
	assert_int_equal(gunmap(s, m1.handle), GNTST_okay);
	assert_int_equal(gmap(s, u->domid, 5, GNTMAP_readonly, &m1),
			 GNTST_bad_gntref);
	assert_int_equal(e5->flags, GTF_permit_access);
}

static void test_gnttab_map_errors(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f), *u2 = domu(f);
	struct hv_sink *s = &f->d0[0];
	struct gnttab_map_grant_ref m;
	grant_entry_v1_t *e;

	/* Granted to someone else. */
	grant(u, 1, u2->domid, 1, GTF_permit_access);
	assert_int_equal(gmap(s, u->domid, 1, RW, &m), GNTST_general_error);
	assert_int_equal(m.handle, 0);
	assert_int_equal(m.dev_bus_addr, 0);
	assert_int_equal(gentry(u, 1)->flags, GTF_permit_access);
	/* Revoked, or never granted. */
	grant(u, 2, 0, 1, GTF_invalid);
	assert_int_equal(gmap(s, u->domid, 2, RW, NULL), GNTST_general_error);
	assert_int_equal(gmap(s, u->domid, 3, RO, NULL), GNTST_general_error);
	/* A transfer slot is not an access grant. */
	grant(u, 4, 0, 1, GTF_accept_transfer);
	assert_int_equal(gmap(s, u->domid, 4, RO, NULL), GNTST_general_error);
	/* Read-only grant, written. */
	grant(u, 5, 0, 1, GTF_permit_access | GTF_readonly);
	assert_int_equal(gmap(s, u->domid, 5, RW, NULL), GNTST_general_error);
	assert_int_equal(gentry(u, 5)->flags, GTF_permit_access | GTF_readonly);
	/* Refs beyond the set-up frames. */
	assert_int_equal(gmap(s, u->domid, 2 * HV_GNT_PER_FRAME, RW, NULL),
			 GNTST_bad_gntref);
	assert_int_equal(gmap(s, u->domid, UINT32_MAX, RW, NULL),
			 GNTST_bad_gntref);
	/* No such domain; Dom0 has no grant table. */
	assert_int_equal(gmap(s, 77, 1, RW, NULL), GNTST_bad_domain);
	assert_int_equal(gmap(s, 0, 1, RW, NULL), GNTST_bad_gntref);

	/* Frames outside populated RAM: bad page, flags rolled back. */
	grant(u, 6, 0, 8, GTF_permit_access); /* unpopulated (tot 8) */
	assert_int_equal(gmap(s, u->domid, 6, RW, NULL), GNTST_bad_page);
	assert_int_equal(gentry(u, 6)->flags, GTF_permit_access);
	grant(u, 7, 0, (uint32_t)u->d->mem_pages, GTF_permit_access);
	assert_int_equal(gmap(s, u->domid, 7, RO, NULL), GNTST_bad_page);
	assert_int_equal(gentry(u, 7)->flags, GTF_permit_access);
	grant(u, 8, 0, UINT32_MAX, GTF_permit_access);
	assert_int_equal(gmap(s, u->domid, 8, RW, NULL), GNTST_bad_page);
	assert_int_equal(gentry(u, 8)->flags, GTF_permit_access);
	/* Special pages (here: the xenstore page) are valid frames. */
	grant(u, 9, 0, (uint32_t)(u->d->special_gpfn + PVK_SPECIAL_XENSTORE),
	      GTF_permit_access);
	assert_int_equal(gmap(s, u->domid, 9, RW, &m), GNTST_okay);
	assert_int_equal(gunmap(s, m.handle), GNTST_okay);

	/* Nothing leaked: no pins, every failed map's handle reusable. */
	assert_int_equal(u->d->foreign_pins, 0);
	assert_int_equal(s->maptrack_used, 1);

	/* A pinned entry re-granted to another domain refuses new maps but
	 * keeps the old one; the revoked entry's flags stay ours to clear. */
	grant(u, 10, 0, 1, GTF_permit_access);
	assert_int_equal(gmap(s, u->domid, 10, RW, &m), GNTST_okay);
	e = gentry(u, 10);
	e->domid = u2->domid;
	assert_int_equal(gmap(s, u->domid, 10, RW, NULL), GNTST_general_error);
	assert_int_equal(gunmap(s, m.handle), GNTST_okay);
	assert_int_equal(e->flags, GTF_permit_access);
}

/* The guest writes odd flag combinations into its own entries (as if
 * racing with us): GTF_reading never stays set by our doing. */
static void test_gnttab_weird_flags(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct hv_sink *s = &f->d0[0];
	struct gnttab_map_grant_ref m;
	struct gnttab_copy c;

	/* Pre-set reading/writing on a valid grant: map and unmap clear
	 * the bits each pin owns. */
	grant(u, 1, 0, 1, GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(gmap(s, u->domid, 1, RW, &m), GNTST_okay);
	assert_int_equal(gunmap(s, m.handle), GNTST_okay);
	assert_int_equal(gentry(u, 1)->flags, GTF_permit_access);

	grant(u, 1, 0, 1, GTF_permit_access | GTF_reading);
	assert_int_equal(gmap(s, u->domid, 1, RO, &m), GNTST_okay);
	assert_int_equal(gunmap(s, m.handle), GNTST_okay);
	assert_false(gentry(u, 1)->flags & GTF_reading);

	/* Pre-set reading on a grant with a bad frame: rolled back. */
	grant(u, 2, 0, 9, GTF_permit_access | GTF_reading);
	assert_int_equal(gmap(s, u->domid, 2, RO, NULL), GNTST_bad_page);
	assert_int_equal(gentry(u, 2)->flags, GTF_permit_access);

	/* Invalid types with status bits: refused, entry untouched. */
	grant(u, 3, 0, 1, GTF_invalid | GTF_reading | GTF_writing);
	assert_int_equal(gmap(s, u->domid, 3, RO, NULL), GNTST_general_error);
	assert_int_equal(gentry(u, 3)->flags,
			 GTF_invalid | GTF_reading | GTF_writing);
	grant(u, 3, 0, 1, GTF_transitive | GTF_reading);
	assert_int_equal(gmap(s, u->domid, 3, RO, NULL), GNTST_general_error);
	assert_int_equal(gentry(u, 3)->flags, GTF_transitive | GTF_reading);
	grant(u, 3, 0, 1, 0xffff & ~GTF_type_mask);
	assert_int_equal(gmap(s, u->domid, 3, RO, NULL), GNTST_general_error);

	/* All other flag bits set around a valid read-write grant. */
	grant(u, 4, 0, 1,
	      GTF_permit_access | GTF_PWT | GTF_PCD | GTF_PAT | GTF_sub_page);
	assert_int_equal(gmap(s, u->domid, 4, RW, &m), GNTST_okay);
	assert_int_equal(gunmap(s, m.handle), GNTST_okay);
	assert_int_equal(gentry(u, 4)->flags, GTF_permit_access | GTF_PWT |
						  GTF_PCD | GTF_PAT |
						  GTF_sub_page);

	/* Copies: reading set before, none of ours left after. */
	grant(u, 5, 0, 1, GTF_permit_access | GTF_reading);
	memset(&c, 0, sizeof(c));
	c.flags = GNTCOPY_source_gref;
	c.source.domid = u->domid;
	c.source.u.ref = 5;
	c.dest.domid = u->domid;
	c.dest.u.gmfn = 2;
	c.len = 16;
	hv_gnttab_copy(s, &c);
	assert_int_equal(c.status, GNTST_okay);
	assert_int_equal(gentry(u, 5)->flags, GTF_permit_access);
	assert_int_equal(u->d->foreign_pins, 0);
}

static void test_gnttab_maptrack_limit(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct hv_sink *s = &f->d0[0];
	struct gnttab_map_grant_ref m;
	uint32_t i;

	/* Two entries: one entry takes at most 65535 pins of a kind. */
	grant(u, 1, 0, 1, GTF_permit_access);
	grant(u, 2, 0, 2, GTF_permit_access);
	for (i = 0; i < HV_MAX_MAPTRACK; i++)
		if (gmap(s, u->domid, 1 + i % 2, RO, &m) != GNTST_okay)
			break;
	assert_int_equal(i, HV_MAX_MAPTRACK);
	assert_int_equal(gmap(s, u->domid, 1, RO, &m), GNTST_no_space);
	assert_int_equal(s->maptrack_len, HV_MAX_MAPTRACK);
	assert_int_equal(u->d->foreign_pins, HV_MAX_MAPTRACK);
	/* Another sink has its own table. */
	assert_int_equal(gmap(&f->d0[1], u->domid, 1, RO, &m), GNTST_okay);
	assert_int_equal(gunmap(&f->d0[1], m.handle), GNTST_okay);
	/* One freed handle is one more map. */
	assert_int_equal(gunmap(s, 1234), GNTST_okay);
	assert_int_equal(gmap(s, u->domid, 1, RO, &m), GNTST_okay);
	assert_int_equal(m.handle, 1234);

	assert_int_equal(gmap(s, u->domid, 1, RO, NULL), GNTST_no_space);

	/* Releasing the sink drops every pin. */
	hv_gnttab_release_sink(s);
	assert_int_equal(u->d->foreign_pins, 0);
	assert_int_equal(u->d->gact.ent[1].r[PVK_GACT_HVD], 0);
	assert_int_equal(gentry(u, 1)->flags, GTF_permit_access);
	assert_int_equal(gmap(s, u->domid, 1, RO, &m), GNTST_okay);
	assert_int_equal(m.handle, 0);
}

static void copy_init(struct gnttab_copy *c, uint16_t flags, domid_t sdom,
		      uint32_t src, domid_t ddom, uint32_t dst, uint16_t len)
{
	memset(c, 0, sizeof(*c));
	c->flags = flags;
	c->source.domid = sdom;
	c->dest.domid = ddom;
	if (flags & GNTCOPY_source_gref)
		c->source.u.ref = src;
	else
		c->source.u.gmfn = src;
	if (flags & GNTCOPY_dest_gref)
		c->dest.u.ref = dst;
	else
		c->dest.u.gmfn = dst;
	c->len = len;
}

static int16_t gcopy(struct hv_sink *s, struct gnttab_copy *c)
{
	c->status = 0x5a5a;
	hv_gnttab_copy(s, c);
	return c->status;
}

static void test_gnttab_copy(void **state)
{
	struct fx *f = *state;
	struct tdom *u1 = domu(f), *u2 = domu(f);
	struct hv_sink *s = &f->d0[0];
	const uint16_t both = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	struct gnttab_copy c;
	uint8_t *src = u1->mem + 1 * PAGE, *dst = u2->mem + 2 * PAGE;
	unsigned int i;

	for (i = 0; i < PAGE; i++)
		src[i] = (uint8_t)(i * 7 + 1);
	grant(u1, 10, 0, 1, GTF_permit_access | GTF_readonly);
	grant(u2, 20, 0, 2, GTF_permit_access);

	/* gref -> gref, by Dom0 (a backend's copy). */
	copy_init(&c, both, u1->domid, 10, u2->domid, 20, 96);
	c.source.offset = 8;
	c.dest.offset = 4000;
	assert_int_equal(gcopy(s, &c), GNTST_okay);
	assert_memory_equal(dst + 4000, src + 8, 96);
	/* Transient pins: nothing left behind. */
	assert_int_equal(gentry(u1, 10)->flags,
			 GTF_permit_access | GTF_readonly);
	assert_int_equal(gentry(u2, 20)->flags, GTF_permit_access);
	assert_int_equal(u1->d->foreign_pins, 0);
	assert_int_equal(u2->d->foreign_pins, 0);
	assert_int_equal(u1->d->gact.ent[10].r[PVK_GACT_HVD], 0);
	assert_int_equal(u2->d->gact.ent[20].w[PVK_GACT_HVD], 0);

	/* Bounds: offset + len beyond the page, either side. */
	copy_init(&c, both, u1->domid, 10, u2->domid, 20, 97);
	c.dest.offset = 4000;
	assert_int_equal(gcopy(s, &c), GNTST_bad_copy_arg);
	copy_init(&c, both, u1->domid, 10, u2->domid, 20, 4096);
	c.source.offset = 1;
	assert_int_equal(gcopy(s, &c), GNTST_bad_copy_arg);
	copy_init(&c, both, u1->domid, 10, u2->domid, 20, 4096);
	assert_int_equal(gcopy(s, &c), GNTST_okay);
	assert_memory_equal(dst, src, PAGE);
	copy_init(&c, both, u1->domid, 10, u2->domid, 20, 0);
	c.source.offset = 4096;
	c.dest.offset = 4096;
	assert_int_equal(gcopy(s, &c), GNTST_okay);
	/* Unknown flags. */
	copy_init(&c, both | 0x4, u1->domid, 10, u2->domid, 20, 1);
	assert_int_equal(gcopy(s, &c), GNTST_bad_copy_arg);
	copy_init(&c, 0x8000, u1->domid, 1, u2->domid, 2, 1);
	assert_int_equal(gcopy(s, &c), GNTST_bad_copy_arg);

	/* The destination grant is read-only: refused, and the source's
	 * transient pin is dropped. */
	copy_init(&c, both, u2->domid, 20, u1->domid, 10, 1);
	assert_int_equal(gcopy(s, &c), GNTST_general_error);
	assert_int_equal(gentry(u2, 20)->flags, GTF_permit_access);
	assert_int_equal(gentry(u1, 10)->flags,
			 GTF_permit_access | GTF_readonly);
	assert_int_equal(u2->d->foreign_pins, 0);
	/* Bad refs, wrong grantee, bad domains. */
	copy_init(&c, both, u1->domid, 5000, u2->domid, 20, 1);
	assert_int_equal(gcopy(s, &c), GNTST_bad_gntref);
	copy_init(&c, both, u1->domid, 11, u2->domid, 20, 1);
	assert_int_equal(gcopy(s, &c), GNTST_general_error);
	copy_init(&c, both, 77, 10, u2->domid, 20, 1);
	assert_int_equal(gcopy(s, &c), GNTST_bad_domain);
	copy_init(&c, both, u1->domid, 10, 77, 20, 1);
	assert_int_equal(gcopy(s, &c), GNTST_bad_domain);
	assert_int_equal(u1->d->foreign_pins, 0);
	assert_int_equal(gentry(u1, 10)->flags,
			 GTF_permit_access | GTF_readonly);

	/* Frames by number: a DomU may name only its own. */
	grant(u2, 21, u1->domid, 3, GTF_permit_access);
	copy_init(&c, GNTCOPY_dest_gref, DOMID_SELF, 1, u2->domid, 21, 64);
	assert_int_equal(gcopy(&u1->kernel, &c), GNTST_okay);
	assert_memory_equal(u2->mem + 3 * PAGE, src, 64);
	assert_int_equal(gentry(u2, 21)->flags, GTF_permit_access);
	/* (its own id names itself as well as DOMID_SELF does) */
	copy_init(&c, GNTCOPY_dest_gref, u1->domid, 1, u2->domid, 21, 64);
	assert_int_equal(gcopy(&u1->kernel, &c), GNTST_okay);
	copy_init(&c, 0, u2->domid, 2, DOMID_SELF, 1, 64);
	assert_int_equal(gcopy(&u1->kernel, &c), GNTST_permission_denied);
	copy_init(&c, GNTCOPY_source_gref, u2->domid, 21, u2->domid, 4, 64);
	assert_int_equal(gcopy(&u1->kernel, &c), GNTST_permission_denied);
	assert_int_equal(gentry(u2, 21)->flags, GTF_permit_access);
	/* Dom0 (privileged) may name anyone's frames. */
	copy_init(&c, 0, u1->domid, 1, u2->domid, 5, 32);
	assert_int_equal(gcopy(s, &c), GNTST_okay);
	assert_memory_equal(u2->mem + 5 * PAGE, src, 32);
	/* ... but only valid ones. */
	copy_init(&c, 0, u1->domid, 9, u2->domid, 5, 32);
	assert_int_equal(gcopy(s, &c), GNTST_bad_page);
	copy_init(&c, 0, u1->domid, 1, u2->domid, 100000, 32);
	assert_int_equal(gcopy(s, &c), GNTST_bad_page);
	/* Dom0 itself has no memory to copy from. */
	copy_init(&c, 0, DOMID_SELF, 0, u2->domid, 5, 32);
	assert_int_equal(gcopy(s, &c), GNTST_bad_domain);

	/* Same entry as source and destination. */
	grant(u2, 22, 0, 4, GTF_permit_access);
	copy_init(&c, both, u2->domid, 22, u2->domid, 22, 8);
	c.dest.offset = 8;
	assert_int_equal(gcopy(s, &c), GNTST_okay);
	assert_int_equal(gentry(u2, 22)->flags, GTF_permit_access);
	assert_int_equal(u2->d->gact.ent[22].r[PVK_GACT_HVD] +
			     u2->d->gact.ent[22].w[PVK_GACT_HVD],
			 0);
}

static void test_gnttab_destroy_with_pins(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct hv_sink *s = &f->d0[0];
	struct gnttab_map_grant_ref m1, m2, m3;
	struct pvk_dominfo info;
	struct gnttab_copy c;
	domid_t id = u->domid;
	evtchn_port_t p0;

	grant(u, 1, 0, 1, GTF_permit_access);
	grant(u, 2, 0, 2, GTF_permit_access);
	assert_int_equal(gmap(s, id, 1, RW, &m1), GNTST_okay);
	assert_int_equal(gmap(s, id, 2, RO, &m2), GNTST_okay);
	assert_int_equal(gmap(&f->d0[1], id, 2, RO, &m3), GNTST_okay);
	link_d0(s, u, &p0);

	f->nr_changed = 0;
	hv_domain_destroy(u->d);
	assert_int_equal(f->nr_freed, 0);
	assert_false(u->freed);
	assert_ptr_equal(hv_domain_get(&f->hv, id), u->d);
	assert_int_equal(u->d->state, HV_DOM_DYING);
	assert_int_equal(f->nr_changed, 1);
	hv_domain_info(u->d, &info);
	assert_int_equal(info.flags, PVK_DOMINFO_DYING);
	/* Its ports are closed: ours waits for it again. */
	{
		struct evtchn_status st;

		assert_int_equal(ec_status(s, DOMID_SELF, p0, &st), 0);
		assert_int_equal(st.status, EVTCHNSTAT_unbound);
		assert_int_equal(st.u.unbound.dom, id);
	}
	/* A dying domain takes no new maps, copies or binds. */
	assert_int_equal(gmap(s, id, 1, RW, NULL), GNTST_bad_domain);
	copy_init(&c, GNTCOPY_source_gref, id, 1, id, 2, 1);
	assert_int_equal(gcopy(s, &c), GNTST_bad_domain);
	assert_int_equal(bind_inter(s, id, 1, NULL), -ESRCH);
	{
		struct evtchn_alloc_unbound a = {.dom = id};

		assert_int_equal(hv_evtchn_alloc_unbound(s, &a), -ESRCH);
	}
	/* Destroying again changes nothing. */
	hv_domain_destroy(u->d);
	assert_int_equal(f->nr_freed, 0);
	assert_int_equal(f->nr_changed, 1);
	/* Its id is not handed out while it lingers. */
	assert_int_equal(hv_domain_create(&f->hv, id, "x", false, 1, 1, 1, 0,
					  NULL, 0, &(struct hv_domain *){0}),
			 -EEXIST);

	assert_int_equal(gunmap(s, m1.handle), GNTST_okay);
	assert_int_equal(gunmap(s, m2.handle), GNTST_okay);
	assert_int_equal(f->nr_freed, 0);
	/* The last unmap frees it, exactly then. */
	assert_int_equal(gunmap(&f->d0[1], m3.handle), GNTST_okay);
	assert_int_equal(f->nr_freed, 1);
	assert_int_equal(f->last_freed, id);
	assert_true(u->freed);
	assert_null(hv_domain_get(&f->hv, id));
	assert_int_equal(gunmap(&f->d0[1], m3.handle), GNTST_bad_handle);
}

static void test_gnttab_destroy_release_sink(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f), *u2;
	struct gnttab_map_grant_ref m;
	domid_t id = u->domid;

	grant(u, 1, 0, 1, GTF_permit_access);
	assert_int_equal(gmap(&f->d0[2], id, 1, RW, &m), GNTST_okay);
	hv_domain_destroy(u->d);
	assert_int_equal(f->nr_freed, 0);
	/* The mapping Dom0 process exits: that frees the domain. */
	hv_sink_fini(&f->d0[2]);
	assert_int_equal(f->nr_freed, 1);
	assert_null(hv_domain_get(&f->hv, id));

	/* Without foreign pins, destroy frees at once. */
	u2 = domu(f);
	hv_domain_destroy(u2->d);
	assert_int_equal(f->nr_freed, 2);
	assert_true(u2->freed);
}

/* A domain that maps its own grants (loopback) is destroyed: its own
 * pins are no reason to wait, and it is freed once. */
static void test_gnttab_destroy_self_mapped(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f), *u2 = domu(f);
	struct gnttab_map_grant_ref m;
	domid_t id = u->domid;

	grant(u, 1, id, 1, GTF_permit_access);
	assert_int_equal(gmap(&u->kernel, id, 1, RW, &m), GNTST_okay);
	assert_int_equal(u->d->foreign_pins, 0);
	/* and one of another domain's */
	grant(u2, 1, id, 1, GTF_permit_access);
	assert_int_equal(gmap(&u->kernel, u2->domid, 1, RO, &m), GNTST_okay);
	assert_int_equal(u2->d->foreign_pins, 1);

	hv_domain_destroy(u->d);
	assert_int_equal(f->nr_freed, 1);
	assert_true(u->freed);
	assert_null(hv_domain_get(&f->hv, id));
	assert_int_equal(u2->d->foreign_pins, 0);
	assert_int_equal(gentry(u2, 1)->flags, GTF_permit_access);
}

/* ---- memory ---------------------------------------------------------- */

static void test_mem_decrease(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct gnttab_map_grant_ref m;
	xen_pfn_t g[4];

	assert_int_equal(u->d->tot_pages, 8);
	g[0] = 1, g[1] = 2, g[2] = 3;
	assert_int_equal(hv_mem_decrease(u->d, g, 3), 3);
	assert_int_equal(u->d->tot_pages, 5);
	assert_int_equal(f->nr_released, 3);
	assert_int_equal(f->released[0], 1);
	assert_int_equal(f->released[1], 2);
	assert_int_equal(f->released[2], 3);
	assert_false(hv_mem_is_populated(u->d, 2));
	assert_false(hv_mem_frame_valid(u->d, 2));

	/* Stops at the first frame that is not populated... */
	g[0] = 4, g[1] = 2, g[2] = 5;
	assert_int_equal(hv_mem_decrease(u->d, g, 3), 1);
	assert_int_equal(u->d->tot_pages, 4);
	assert_int_equal(f->nr_released, 4);
	assert_int_equal(f->released[3], 4);
	assert_true(hv_mem_is_populated(u->d, 5));
	/* ... or out of RAM (special pages are not RAM) ... */
	g[0] = 16, g[1] = 5;
	assert_int_equal(hv_mem_decrease(u->d, g, 2), 0);
	g[0] = UINT64_MAX;
	assert_int_equal(hv_mem_decrease(u->d, g, 1), 0);
	/* ... or mapped by a backend. */
	grant(u, 1, 0, 6, GTF_permit_access);
	assert_int_equal(gmap(&f->d0[0], u->domid, 1, RO, &m), GNTST_okay);
	g[0] = 5, g[1] = 6, g[2] = 7;
	assert_int_equal(hv_mem_decrease(u->d, g, 3), 1);
	assert_true(hv_mem_is_populated(u->d, 6));
	assert_int_equal(u->d->tot_pages, 3);
	assert_int_equal(f->nr_released, 5);
	assert_int_equal(gunmap(&f->d0[0], m.handle), GNTST_okay);
	g[0] = 6, g[1] = 7;
	assert_int_equal(hv_mem_decrease(u->d, g, 2), 2);
	assert_int_equal(u->d->tot_pages, 1);
	assert_int_equal(f->nr_released, 7);
	assert_int_equal(hv_mem_decrease(u->d, g, 0), 0);

	/* Dom0 has no reservation here. */
	assert_int_equal(hv_mem_decrease(f->dom0, g, 1), -EOPNOTSUPP);
}

static void test_mem_populate(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	xen_pfn_t g[4];

	g[0] = 8, g[1] = 9;
	assert_int_equal(hv_mem_populate(u->d, g, 2), 2);
	assert_int_equal(u->d->tot_pages, 10);
	assert_true(hv_mem_is_populated(u->d, 9));
	assert_true(hv_mem_frame_valid(u->d, 9));
	/* Already populated: done, nothing counted twice. */
	assert_int_equal(hv_mem_populate(u->d, g, 2), 2);
	assert_int_equal(u->d->tot_pages, 10);
	/* Out of range: -EINVAL first, else the count done. */
	g[0] = 16;
	assert_int_equal(hv_mem_populate(u->d, g, 1), -EINVAL);
	g[0] = 10, g[1] = 16, g[2] = 11;
	assert_int_equal(hv_mem_populate(u->d, g, 3), 1);
	assert_int_equal(u->d->tot_pages, 11);
	assert_false(hv_mem_is_populated(u->d, 11));
	assert_false(hv_mem_is_populated(u->d, 16));
	g[0] = UINT64_MAX;
	assert_int_equal(hv_mem_populate(u->d, g, 1), -EINVAL);
	/* Up to max_pages and no further. */
	{
		xen_pfn_t all[16];
		unsigned int i;

		for (i = 0; i < 16; i++)
			all[i] = i;
		assert_int_equal(hv_mem_populate(u->d, all, 16), 16);
		assert_int_equal(u->d->tot_pages, 16);
		assert_int_equal(u->d->tot_pages, u->d->max_pages);
	}
	/* A populated page is zero-filled memory the granter can share. */
	grant(u, 1, 0, 15, GTF_permit_access);
	assert_int_equal(gmap(&f->d0[0], u->domid, 1, RO, NULL), GNTST_okay);
	assert_int_equal(hv_mem_populate(f->dom0, g, 1), -EOPNOTSUPP);
	assert_int_equal(f->nr_released, 0);
}

/* ---- domains --------------------------------------------------------- */

static void test_domid_round_robin(void **state)
{
	struct fx *f = *state;
	struct tdom *a = domu(f), *b = domu(f), *c;

	assert_int_equal(a->domid, 1);
	assert_int_equal(b->domid, 2);
	hv_domain_destroy(a->d);
	c = domu(f);
	assert_int_equal(c->domid, 3);
	/* An explicit id is checked. */
	assert_int_equal(hv_domain_create(&f->hv, 2, "x", false, 1, 1, 1, 0,
					  NULL, 0, &(struct hv_domain *){0}),
			 -EEXIST);
	assert_int_equal(hv_domain_create(&f->hv, 0, "x", false, 1, 1, 1, 0,
					  NULL, 0, &(struct hv_domain *){0}),
			 -EEXIST);
}

static void test_domid_wraps(void **state)
{
	struct fx *f = *state;
	struct hv_domain *d;

	/* Near the end of the range the rover wraps to 1, skipping ids in
	 * use (0 is Dom0's). */
	f->hv.next_domid = DOMID_FIRST_RESERVED - 1;
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "a", false, 1,
					  0, 0, 0, NULL, 0, &d),
			 0);
	d->priv = f;
	assert_int_equal(d->domid, DOMID_FIRST_RESERVED - 1);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "b", false, 1,
					  0, 0, 0, NULL, 0, &d),
			 0);
	d->priv = f;
	assert_int_equal(d->domid, 1);
}

static void test_domain_create_validation(void **state)
{
	struct fx *f = *state;
	struct hv_domain *d = NULL;
	uint64_t n = hv_domain_mem_pages(4, 1);
	uint8_t *mem = calloc(n, PAGE);

	assert_non_null(mem);
	assert_int_equal(n, 4 + PVK_SPECIAL_GNTTAB + 1);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "x", false, 0,
					  4, 4, 1, mem, n, &d),
			 -EINVAL);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "x", false,
					  HV_MAX_VCPUS + 1, 4, 4, 1, mem, n,
					  &d),
			 -EINVAL);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "x", false, 1,
					  4, 5, 1, mem, n, &d),
			 -EINVAL);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "x", false, 1,
					  4, 4, HV_MAX_GNT_FRAMES + 1, mem, n,
					  &d),
			 -EINVAL);
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "x", false, 1,
					  4, 4, 1, mem, n - 1, &d),
			 -EINVAL);
	assert_null(d);
	/* Failures used no id. */
	assert_int_equal(hv_domain_create(&f->hv, DOMID_INVALID, "x", false,
					  HV_MAX_VCPUS, 4, 4, 1, mem, n, &d),
			 0);
	d->priv = f;
	assert_int_equal(d->domid, 1);
	assert_int_equal(d->tot_pages, 4);
	assert_int_equal(d->special_gpfn, 4);
	assert_int_equal(d->hvm_param[HVM_PARAM_STORE_PFN],
			 4 + PVK_SPECIAL_XENSTORE);
	assert_int_equal(d->hvm_param[HVM_PARAM_CONSOLE_PFN],
			 4 + PVK_SPECIAL_CONSOLE);
	hv_domain_destroy(d);
	assert_int_equal(f->nr_freed, 1);
	free(mem);

	/* Sinks: 1..32 vCPUs. */
	{
		struct hv_sink s;

		assert_int_equal(hv_sink_init(&s, f->dom0, NULL, 0, NULL),
				 -EINVAL);
		assert_int_equal(
		    hv_sink_init(&s, f->dom0, NULL, HV_MAX_VCPUS + 1, NULL),
		    -EINVAL);
	}
}

static void test_domain_shutdown(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	struct pvk_dominfo info;
	evtchn_port_t pa;

	assert_int_equal(bind_virq(&f->d0[0], VIRQ_DOM_EXC, 0, &pa), 0);
	hv_domain_info(u->d, &info);
	assert_int_equal(info.flags, PVK_DOMINFO_RUNNING);
	assert_int_equal(info.domid, u->domid);
	assert_int_equal(info.vcpus, 2);
	assert_int_equal(info.tot_pages, 8);
	assert_int_equal(info.max_pages, 16);
	assert_string_equal(info.name, "guest");
	u->d->paused = true;
	hv_domain_info(u->d, &info);
	assert_int_equal(info.flags, PVK_DOMINFO_PAUSED);
	u->d->paused = false;

	assert_int_equal(hv_domain_shutdown(u->d, SHUTDOWN_MAX + 1), -EINVAL);
	assert_int_equal(u->d->state, HV_DOM_RUNNING);
	assert_int_equal(f->nr_changed, 0);
	assert_int_equal(f->nr_kicks, 0);

	assert_int_equal(hv_domain_shutdown(u->d, SHUTDOWN_reboot), 0);
	assert_int_equal(u->d->state, HV_DOM_SHUTDOWN);
	assert_int_equal(u->d->shutdown_reason, SHUTDOWN_reboot);
	assert_int_equal(f->nr_changed, 1);
	assert_true(pending(f->d0si[0], pa));
	assert_int_equal(nkicks(f, &f->d0[0], 0), 1);
	hv_domain_info(u->d, &info);
	assert_int_equal(info.flags, PVK_DOMINFO_SHUTDOWN);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_reboot);

	/* The first reason wins; nothing is raised again. */
	guest_ack(f->d0si[0]);
	assert_int_equal(hv_domain_shutdown(u->d, SHUTDOWN_crash), 0);
	assert_int_equal(u->d->shutdown_reason, SHUTDOWN_reboot);
	assert_int_equal(f->nr_changed, 1);
	assert_false(pending(f->d0si[0], pa));

	/* Dom0 is the host. */
	assert_int_equal(hv_domain_shutdown(f->dom0, SHUTDOWN_poweroff),
			 -EPERM);
	hv_domain_info(f->dom0, &info);
	assert_int_equal(info.flags,
			 PVK_DOMINFO_PRIVILEGED | PVK_DOMINFO_RUNNING);
	assert_string_equal(info.name, "Domain-0");
}

static void test_start_info(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	const uint8_t *page = u->mem + u->d->special_gpfn * PAGE;
	const struct pvk_hvm_start_info *si = (const void *)page;
	const struct pvk_hvm_memmap_entry *mm;
	uint64_t base = u->d->special_gpfn * PAGE;
	char longline[PVK_CMDLINE_MAX + 1];

	memset(u->mem + base, 0xee, PAGE);
	assert_int_equal(hv_domain_write_start_info(u->d, "console=hvc0 x"), 0);
	assert_int_equal(si->magic, 0x336ec578u);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_int_equal(si->memmap_entries, 2);
	assert_true(si->cmdline_paddr >= base &&
		    si->cmdline_paddr < base + PAGE);
	assert_string_equal((const char *)u->mem + si->cmdline_paddr,
			    "console=hvc0 x");
	assert_true(si->memmap_paddr >= base &&
		    si->memmap_paddr + 2 * sizeof(*mm) <= base + PAGE);
	mm = (const void *)(u->mem + si->memmap_paddr);
	assert_int_equal(mm[0].addr, 0);
	assert_int_equal(mm[0].size, 16 * PAGE);
	assert_int_equal(mm[0].type, PVK_HVM_MEMMAP_RAM);
	assert_int_equal(mm[1].addr, 16 * PAGE);
	assert_int_equal(mm[1].size, (PVK_SPECIAL_GNTTAB + 2) * PAGE);
	assert_int_equal(mm[1].type, PVK_HVM_MEMMAP_RESERVED);
	/* No stale bytes: the rest of the page is zero. */
	assert_int_equal(page[PAGE - 1], 0);
	assert_int_equal(page[sizeof(*si)], 0);

	assert_int_equal(hv_domain_write_start_info(u->d, NULL), 0);
	assert_string_equal((const char *)u->mem + si->cmdline_paddr, "");
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(hv_domain_write_start_info(u->d, longline), -E2BIG);
	longline[PVK_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(hv_domain_write_start_info(u->d, longline), 0);
	assert_int_equal(strlen((const char *)u->mem + si->cmdline_paddr),
			 PVK_CMDLINE_MAX - 1);
	assert_int_equal(hv_domain_write_start_info(f->dom0, "x"), -EOPNOTSUPP);
}

static void test_timers(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);
	evtchn_port_t t1;

	assert_int_equal(bind_virq(&u->kernel, VIRQ_TIMER, 1, &t1), 0);
	assert_int_equal(hv_timer_set(u->d, 2, 1000), -ENOENT);
	assert_int_equal(f->nr_timers, 0);

	/* Not armed: firing does nothing. */
	hv_timer_fire(u->d, 1);
	assert_false(pending(u->si, t1));
	assert_int_equal(f->nr_kicks, 0);

	assert_int_equal(hv_timer_set(u->d, 1, 5000), 0);
	assert_int_equal(f->nr_timers, 1);
	assert_ptr_equal(f->timers[0].d, u->d);
	assert_int_equal(f->timers[0].vcpu, 1);
	assert_int_equal(f->timers[0].deadline, 5000);
	hv_timer_fire(u->d, 0); /* another vCPU's timer is not armed */
	assert_false(pending(u->si, t1));
	hv_timer_fire(u->d, 1);
	assert_true(pending(u->si, t1));
	assert_true(sel(u->si, 1, t1));
	assert_int_equal(upcall(u->si, 1), 1);
	assert_int_equal(nkicks(f, &u->kernel, 1), 1);
	/* Single shot. */
	guest_ack(u->si);
	hv_timer_fire(u->d, 1);
	assert_false(pending(u->si, t1));
	hv_timer_fire(u->d, 99);

	/* Deadline 0 disarms. */
	assert_int_equal(hv_timer_set(u->d, 1, 7000), 0);
	assert_int_equal(hv_timer_set(u->d, 1, 0), 0);
	assert_int_equal(f->timers[2].deadline, 0);
	hv_timer_fire(u->d, 1);
	assert_false(pending(u->si, t1));

	/* Shutdown disarms the armed timers (and only those). */
	assert_int_equal(hv_timer_set(u->d, 1, 9000), 0);
	f->nr_timers = 0;
	assert_int_equal(hv_domain_shutdown(u->d, SHUTDOWN_poweroff), 0);
	assert_int_equal(f->nr_timers, 1);
	assert_int_equal(f->timers[0].vcpu, 1);
	assert_int_equal(f->timers[0].deadline, 0);
	hv_timer_fire(u->d, 1);
	assert_false(pending(u->si, t1));
	assert_int_equal(hv_timer_set(u->d, 0, 1), -EINVAL);
	assert_int_equal(f->nr_timers, 1);
}

static void test_timer_destroy_disarms(void **state)
{
	struct fx *f = *state;
	struct tdom *u = domu(f);

	assert_int_equal(hv_timer_set(u->d, 0, 100), 0);
	assert_int_equal(hv_timer_set(u->d, 1, 200), 0);
	f->nr_timers = 0;
	hv_domain_destroy(u->d);
	assert_int_equal(f->nr_timers, 2);
	assert_int_equal(f->timers[0].deadline, 0);
	assert_int_equal(f->timers[1].deadline, 0);
	assert_true(u->freed);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_evtchn_interdomain),
	    T(test_evtchn_direct_inbox),
	    T(test_evtchn_send_kicks_once),
	    T(test_evtchn_mask_unmask),
	    T(test_evtchn_close),
	    T(test_evtchn_status),
	    T(test_evtchn_virq),
	    T(test_evtchn_ipi_and_bind_vcpu),
	    T(test_evtchn_dom0_sinks_own_ports),
	    T(test_evtchn_reset),
	    T(test_evtchn_exhaustion),
	    T(test_evtchn_small_port_limit),
	    T(test_evtchn_global_virq),
	    T(test_evtchn_kernel_sink_fini),
	    T(test_gnttab_setup_table),
	    T(test_gnttab_map_unmap),
	    T(test_gnttab_map_errors),
	    T(test_gnttab_weird_flags),
	    T(test_gnttab_maptrack_limit),
	    T(test_gnttab_copy),
	    T(test_gnttab_destroy_with_pins),
	    T(test_gnttab_destroy_release_sink),
	    T(test_gnttab_destroy_self_mapped),
	    T(test_mem_decrease),
	    T(test_mem_populate),
	    T(test_domid_round_robin),
	    T(test_domid_wraps),
	    T(test_domain_create_validation),
	    T(test_domain_shutdown),
	    T(test_start_info),
	    T(test_timers),
	    T(test_timer_destroy_disarms),
	};
#undef T

	return cmocka_run_group_tests_name("hv_core", tests, NULL, NULL);
}
