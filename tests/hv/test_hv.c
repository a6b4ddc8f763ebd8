/*
 * test_hv.c - integration tests of the emulated hypervisor: a private
 * pvkit-hvd, Dom0 in this process, DomU kernels in forked children.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>

#include "common/gnt_active.h"
#include "common/util.h"
#include "harness.h"
#include "hv/hc_wire.h"

static struct harness H;

/* ---- a counter a handler bumps and a thread waits on ---- */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t count;
	unsigned int last_vcpu;
};

static void waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

static void on_event(struct pvk_rt *rt, evtchn_port_t port, unsigned int vcpu,
		     void *arg)
{
	struct waiter *w = arg;

	(void)rt;
	(void)port;
	pthread_mutex_lock(&w->lock);
	w->count++;
	w->last_vcpu = vcpu;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Wait until count >= n; 0, or -ETIMEDOUT after ms. */
static int waiter_wait(struct waiter *w, uint64_t n, int ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (w->count < n && rc == 0)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	pthread_mutex_unlock(&w->lock);
	return rc ? -ETIMEDOUT : 0;
}

static int setup(void **state)
{
	(void)state;
	return harness_start(&H);
}

static int teardown(void **state)
{
	(void)state;
	harness_stop(&H);
	return 0;
}

/* ---- ping-pong between two domains ---- */

struct pp_arg {
	struct chan up, down; /* child -> parent, parent -> child */
	int rounds;
	bool initiator;
};

/* A (listener) allocates an unbound port for the peer named by the parent
 * and reports (domid << 32 | port); B (initiator) binds to it and starts. */
static int pp_guest(struct pvk_rt *rt, void *p)
{
	struct pp_arg *a = p;
	struct waiter w;
	evtchn_port_t port;
	uint64_t v;
	int i;

	waiter_init(&w);
	if (chan_get(&a->down, &v))
		return 2;
	if (a->initiator) {
		if (pvk_evtchn_bind_interdomain(rt, (domid_t)(v >> 32),
						(evtchn_port_t)v, &port))
			return 3;
		pvk_evtchn_set_handler(rt, port, on_event, &w);
		/* Binding sets the local end pending once (as Xen does). */
		if (waiter_wait(&w, 1, 5000))
			return 4;
		pthread_mutex_lock(&w.lock);
		w.count = 0;
		pthread_mutex_unlock(&w.lock);
	} else {
		if (pvk_evtchn_alloc_unbound(rt, (domid_t)v, &port))
			return 2;
		pvk_evtchn_set_handler(rt, port, on_event, &w);
		chan_put(&a->up, (uint64_t)pvk_rt_domid(rt) << 32 | port);
	}
	for (i = 0; i < a->rounds; i++) {
		if (a->initiator) {
			pvk_evtchn_send(rt, port, false);
			if (waiter_wait(&w, (uint64_t)i + 1, 5000))
				return 5;
		} else {
			if (waiter_wait(&w, (uint64_t)i + 1, 5000))
				return 6;
			pvk_evtchn_send(rt, port, false);
		}
	}
	chan_put(&a->up, 1);
	if (chan_get(&a->down, &v)) /* stay alive until told */
		return 7;
	return 0;
}

/* Collect both guests; a guest that gave up names the step it failed at
 * (its exit code) instead of leaving a bare timeout. */
static void pp_finish(struct pp_arg *a, struct pp_arg *b, pid_t pa, pid_t pb,
		      domid_t da, domid_t db)
{
	uint64_t v;
	int ra = chan_get(&a->up, &v);
	int rb = chan_get(&b->up, &v);
	int ea, eb;

	chan_put(&a->down, 0);
	chan_put(&b->down, 0);
	ea = harness_wait(pa);
	eb = harness_wait(pb);
	if (ra || rb || ea || eb)
		print_message(
		    "ping-pong: listener %d/exit %d, initiator %d/exit %d\n",
		    ra, ea, rb, eb);
	assert_int_equal(ea, 0);
	assert_int_equal(eb, 0);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, da), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, db), 0);
}

/* Start a listener (a) and an initiator (b) guest for rounds round
 * trips. */
static void pp_start(struct pp_arg *a, struct pp_arg *b, int rounds,
		     const char *name_a, const char *name_b, domid_t *da,
		     domid_t *db, pid_t *pa, pid_t *pb)
{
	assert_int_equal(chan_init(&a->up), 0);
	assert_int_equal(chan_init(&a->down), 0);
	assert_int_equal(chan_init(&b->up), 0);
	assert_int_equal(chan_init(&b->down), 0);
	a->rounds = b->rounds = rounds;
	b->initiator = true;
	assert_int_equal(
	    harness_guest(&H, name_a, 1, 4096, pp_guest, a, sizeof(*a), da, pa),
	    0);
	assert_int_equal(
	    harness_guest(&H, name_b, 1, 4096, pp_guest, b, sizeof(*b), db, pb),
	    0);
}

/* a allocates a port for b, b binds to it and starts: a's report
 * (domid << 32 | port). */
static uint64_t pp_connect(struct pp_arg *a, struct pp_arg *b, domid_t db)
{
	uint64_t v;

	chan_put(&a->down, db);
	assert_int_equal(chan_get(&a->up, &v), 0);
	chan_put(&b->down, v);
	return v;
}

static void test_evtchn_pingpong(void **state)
{
	struct pp_arg a = {0}, b = {0};
	domid_t da, db;
	pid_t pa, pb;

	(void)state;
	pp_start(&a, &b, 2000, "pp-a", "pp-b", &da, &db, &pa, &pb);
	assert_int_equal(pp_connect(&a, &b, db) >> 32, da);
	pp_finish(&a, &b, pa, pb, da, db);
}

/* Connections opening and closing while events fly: a freed epoll source
 * must not cost an event that was in the same batch. */
static volatile bool churn_stop;

static void *churn_thread(void *arg)
{
	(void)arg;
	while (!churn_stop) {
		struct pvk_rt *rt;

		if (pvk_rt_open(H.sock, -1, &rt) == 0)
			pvk_rt_close(rt);
	}
	return NULL;
}

static void test_events_survive_connection_churn(void **state)
{
	struct pp_arg a = {0}, b = {0};
	pthread_t th;
	domid_t da, db;
	pid_t pa, pb;

	(void)state;
	pp_start(&a, &b, 5000, "churn-a", "churn-b", &da, &db, &pa, &pb);
	churn_stop = false;
	assert_int_equal(pthread_create(&th, NULL, churn_thread, NULL), 0);
	pp_connect(&a, &b, db);
	pp_finish(&a, &b, pa, pb, da, db);
	churn_stop = true;
	pthread_join(th, NULL);
}

/* ---- per-vCPU upcalls, IPIs and PV timers inside one domain ---- */

static int vcpu_guest(struct pvk_rt *rt, void *p)
{
	struct chan *up = p;
	struct waiter ipi, tmr;
	evtchn_port_t ipi_port, tport;
	uint64_t deadline, late_ns;
	int i;

	waiter_init(&ipi);
	waiter_init(&tmr);
	if (pvk_rt_nr_vcpus(rt) != 2)
		return 2;
	/* An IPI bound to vCPU 1 is handled on vCPU 1 only. */
	if (pvk_evtchn_bind_ipi(rt, 1, &ipi_port))
		return 3;
	pvk_evtchn_set_handler(rt, ipi_port, on_event, &ipi);
	for (i = 0; i < 100; i++)
		pvk_evtchn_send(rt, ipi_port, true);
	if (waiter_wait(&ipi, 1, 5000) || ipi.last_vcpu != 1)
		return 4;
	/* Moving it to vCPU 0 moves the upcall. */
	if (pvk_evtchn_bind_vcpu(rt, ipi_port, 0) != -EINVAL)
		return 5; /* IPIs are fixed to their vCPU, as in Xen */
	/* VIRQ_TIMER per vCPU: a single-shot timer 20 ms ahead. */
	for (i = 0; i < 2; i++) {
		if (pvk_evtchn_bind_virq(rt, VIRQ_TIMER, (unsigned int)i,
					 &tport))
			return 6;
		pvk_evtchn_set_handler(rt, tport, on_event, &tmr);
		deadline = pvk_rt_system_time() + 20000000ull;
		if (pvk_timer_set(rt, (unsigned int)i, deadline))
			return 7;
		if (waiter_wait(&tmr, (uint64_t)i + 1, 5000))
			return 8;
		if (tmr.last_vcpu != (unsigned int)i)
			return 9;
		late_ns = pvk_rt_system_time() - deadline;
		if ((int64_t)late_ns < 0)
			return 10; /* fired early */
		chan_put(up, late_ns);
	}
	/* A stopped timer does not fire. */
	pvk_timer_set(rt, 0, pvk_rt_system_time() + 20000000ull);
	pvk_timer_stop(rt, 0);
	usleep(50000);
	if (tmr.count != 2)
		return 11;
	/* A vCPU that does not exist. */
	if (pvk_timer_set(rt, 7, 1) != -ENOENT)
		return 12;
	return pvk_sched_shutdown(rt, SHUTDOWN_poweroff) == 0 ? 13 : 14;
}

static void test_vcpus_ipi_timer(void **state)
{
	struct chan up;
	struct pvk_dominfo info;
	domid_t d;
	pid_t p;
	uint64_t late;
	int i;

	(void)state;
	assert_int_equal(chan_init(&up), 0);
	assert_int_equal(harness_guest(&H, "vcpus", 2, 4096, vcpu_guest, &up,
				       sizeof(up), &d, &p),
			 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(chan_get(&up, &late), 0);
		print_message("PV timer on vCPU %d fired %.3f ms after its "
			      "deadline\n",
			      i, (double)late / 1e6);
	}
	/* The guest powers off; the hypervisor stops its process. */
	assert_int_equal(harness_wait(p), 128 + SIGKILL);
	assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
	assert_int_equal(info.domid, d);
	assert_true(info.flags & PVK_DOMINFO_SHUTDOWN);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_poweroff);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
}

/* ---- grants: map and copy, both ways, and every invalid use ---- */

struct gnt_arg {
	struct chan up, down;
};

static long dom0_map(domid_t d, grant_ref_t ref, bool ro, void **addr,
		     grant_handle_t *handle)
{
	struct gnttab_map_grant_ref op = {
	    .flags = GNTMAP_host_map | (ro ? GNTMAP_readonly : 0),
	    .ref = ref,
	    .dom = d,
	};
	int fd = -1;
	unsigned int nfds = 1;
	long rc;

	rc = pvk_rt_hypercall(H.dom0, __HYPERVISOR_grant_table_op,
			      GNTTABOP_map_grant_ref, 1, &op, sizeof(op),
			      sizeof(op), &fd, &nfds);
	if (rc < 0)
		return rc;
	if (op.status != GNTST_okay)
		return op.status;
	if (nfds != 1 || op.host_addr != 0)
		return -999;
	*addr = mmap(NULL, 4096, PROT_READ | (ro ? 0 : PROT_WRITE), MAP_SHARED,
		     fd, (off_t)op.dev_bus_addr);
	close(fd);
	if (*addr == MAP_FAILED)
		return -998;
	*handle = op.handle;
	return 0;
}

static int16_t dom0_unmap(grant_handle_t handle)
{
	struct gnttab_unmap_grant_ref op = {.handle = handle};
	long rc = pvk_rt_hypercall(H.dom0, __HYPERVISOR_grant_table_op,
				   GNTTABOP_unmap_grant_ref, 1, &op, sizeof(op),
				   sizeof(op), NULL, NULL);

	return rc < 0 ? (int16_t)-100 : op.status;
}

static int16_t dom0_copy(struct gnttab_copy *op)
{
	long rc =
	    pvk_rt_hypercall(H.dom0, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
			     1, op, sizeof(*op), sizeof(*op), NULL, NULL);

	return rc < 0 ? (int16_t)-100 : op->status;
}

enum { G_RW, G_RO, G_OTHER, G_ENDED, G_PAGE2, G_COUNT };

static int gnt_guest(struct pvk_rt *rt, void *p)
{
	struct gnt_arg *a = p;
	grant_ref_t refs[G_COUNT];
	xen_pfn_t pfn[G_COUNT];
	uint64_t v;
	int i;

	for (i = 0; i < G_COUNT; i++) {
		if (pvk_page_alloc(rt, &pfn[i]))
			return 2;
		memset(pvk_rt_gpfn_to_ptr(rt, pfn[i]), 0x40 + i, 4096);
	}
	if (pvk_gnt_grant(rt, 0, pfn[G_RW], false, &refs[G_RW]) ||
	    pvk_gnt_grant(rt, 0, pfn[G_RO], true, &refs[G_RO]) ||
	    pvk_gnt_grant(rt, 999, pfn[G_OTHER], false, &refs[G_OTHER]) ||
	    pvk_gnt_grant(rt, 0, pfn[G_ENDED], false, &refs[G_ENDED]) ||
	    pvk_gnt_grant(rt, 0, pfn[G_PAGE2], false, &refs[G_PAGE2]))
		return 3;
	if (pvk_gnt_end(rt, refs[G_ENDED]))
		return 4;
	for (i = 0; i < G_COUNT; i++)
		chan_put(&a->up, refs[i]);
	/* Dom0 maps G_RW: flags show it; ending access must wait. */
	if (chan_get(&a->down, &v))
		return 5;
	{
		grant_entry_v1_t *e = pvk_gnt_entry(rt, refs[G_RW]);
		uint16_t f = __atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);

		if (!(f & GTF_reading) || !(f & GTF_writing))
			return 6;
		if (pvk_gnt_end(rt, refs[G_RW]) != -EBUSY)
			return 7;
		if (((uint8_t *)pvk_rt_gpfn_to_ptr(rt, pfn[G_RW]))[7] != 0xd0)
			return 8; /* Dom0's write is visible */
	}
	chan_put(&a->up, 1);
	/* Dom0 unmapped: flags are clear, access can end. */
	if (chan_get(&a->down, &v))
		return 9;
	if (pvk_gnt_entry(rt, refs[G_RW])->flags & (GTF_reading | GTF_writing))
		return 10;
	if (pvk_gnt_end(rt, refs[G_RW]))
		return 11;
	/* Dom0's grant copy into G_PAGE2 landed. */
	if (((uint8_t *)pvk_rt_gpfn_to_ptr(rt, pfn[G_PAGE2]))[100] != 0x41)
		return 12;
	chan_put(&a->up, 2);
	if (chan_get(&a->down, &v))
		return 13;
	return 0;
}

static void test_grants(void **state)
{
	struct gnt_arg a;
	grant_ref_t refs[G_COUNT];
	grant_handle_t h;
	struct gnttab_copy cp;
	void *m;
	uint64_t v;
	domid_t d;
	pid_t p;
	int i;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(harness_guest(&H, "grants", 1, 4096, gnt_guest, &a,
				       sizeof(a), &d, &p),
			 0);
	for (i = 0; i < G_COUNT; i++) {
		assert_int_equal(chan_get(&a.up, &v), 0);
		refs[i] = (grant_ref_t)v;
	}
	/* Invalid uses first: each gets its GNTST code. */
	assert_int_equal(dom0_map(d, 100000, false, &m, &h), GNTST_bad_gntref);
	assert_int_equal(dom0_map(d, refs[G_OTHER], false, &m, &h),
			 GNTST_general_error); /* granted to another domain */
	assert_int_equal(dom0_map(d, refs[G_ENDED], false, &m, &h),
			 GNTST_general_error); /* revoked */
	assert_int_equal(dom0_map(d, refs[G_RO], false, &m, &h),
			 GNTST_general_error); /* r/o grant mapped writable */
	assert_int_equal(dom0_map(1000, refs[G_RW], false, &m, &h),
			 GNTST_bad_domain);
	assert_int_equal(dom0_unmap(4242), GNTST_bad_handle);
	/* A read-only map of the r/o grant works. */
	assert_int_equal(dom0_map(d, refs[G_RO], true, &m, &h), 0);
	assert_int_equal(((uint8_t *)m)[0], 0x40 + G_RO);
	munmap(m, 4096);
	assert_int_equal(dom0_unmap(h), GNTST_okay);
	assert_int_equal(dom0_unmap(h), GNTST_bad_handle); /* twice */
	/* Map G_RW writable, write through it. */
	assert_int_equal(dom0_map(d, refs[G_RW], false, &m, &h), 0);
	assert_int_equal(((uint8_t *)m)[0], 0x40 + G_RW);
	((uint8_t *)m)[7] = 0xd0;
	chan_put(&a.down, 1);
	assert_int_equal(chan_get(&a.up, &v), 0);
	munmap(m, 4096);
	assert_int_equal(dom0_unmap(h), GNTST_okay);
	/* Copy grant -> grant inside the guest, with Dom0 as the copier:
	 * G_RO (readable by 0) into G_PAGE2. */
	memset(&cp, 0, sizeof(cp));
	cp.source.u.ref = refs[G_RO];
	cp.source.domid = d;
	cp.dest.u.ref = refs[G_PAGE2];
	cp.dest.domid = d;
	cp.len = 4096;
	cp.flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	assert_int_equal(dom0_copy(&cp), GNTST_okay);
	/* Invalid copies. */
	cp.dest.offset = 1; /* crosses the page */
	assert_int_equal(dom0_copy(&cp), GNTST_bad_copy_arg);
	cp.dest.offset = 0;
	cp.dest.u.ref = refs[G_RO]; /* writing a read-only grant */
	assert_int_equal(dom0_copy(&cp), GNTST_general_error);
	cp.dest.u.ref = refs[G_ENDED];
	assert_int_equal(dom0_copy(&cp), GNTST_general_error);
	cp.flags = 0x80 | GNTCOPY_source_gref;
	assert_int_equal(dom0_copy(&cp), GNTST_bad_copy_arg);
	/* Dom0 writes the guest's frame by number (privileged). */
	chan_put(&a.down, 2);
	assert_int_equal(chan_get(&a.up, &v), 0);
	chan_put(&a.down, 3);
	assert_int_equal(harness_wait(p), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
}

/* ---- Dom0 copiers pinning in the shared active table ---- */

enum { C_RW, C_RO, C_ENDED, C_OTHER, C_COUNT };

static int copier_guest(struct pvk_rt *rt, void *p)
{
	struct gnt_arg *a = p;
	grant_ref_t refs[C_COUNT];
	xen_pfn_t pfn[C_COUNT];
	grant_entry_v1_t *e;
	uint8_t *rw;
	uint64_t v;
	int i;

	for (i = 0; i < C_COUNT; i++) {
		if (pvk_page_alloc(rt, &pfn[i]))
			return 2;
		memset(pvk_rt_gpfn_to_ptr(rt, pfn[i]), 0x40 + i, 4096);
	}
	if (pvk_gnt_grant(rt, 0, pfn[C_RW], false, &refs[C_RW]) ||
	    pvk_gnt_grant(rt, 0, pfn[C_RO], true, &refs[C_RO]) ||
	    pvk_gnt_grant(rt, 0, pfn[C_ENDED], false, &refs[C_ENDED]) ||
	    pvk_gnt_grant(rt, 999, pfn[C_OTHER], false, &refs[C_OTHER]))
		return 3;
	if (pvk_gnt_end(rt, refs[C_ENDED]))
		return 4;
	for (i = 0; i < C_COUNT; i++)
		chan_put(&a->up, refs[i]);
	rw = pvk_rt_gpfn_to_ptr(rt, pfn[C_RW]);
	e = pvk_gnt_entry(rt, refs[C_RW]);
	/* 1: Dom0's copies are done: C_RW holds C_RO's bytes then 0xd1
	 * from offset 2048, and no flag is left set. */
	if (chan_get(&a->down, &v))
		return 5;
	if (rw[0] != 0x40 + C_RO || rw[2047] != 0x40 + C_RO ||
	    rw[2048] != 0xd1 || rw[4095] != 0xd1)
		return 6;
	if (e->flags & (GTF_reading | GTF_writing))
		return 7;
	chan_put(&a->up, 1);
	/* 2: a copier holds C_RW pinned: access cannot end. */
	if (chan_get(&a->down, &v))
		return 8;
	if (!(e->flags & GTF_writing) || pvk_gnt_end(rt, refs[C_RW]) != -EBUSY)
		return 9;
	chan_put(&a->up, 2);
	/* 3: the copier was killed: its pin is gone. */
	if (chan_get(&a->down, &v))
		return 10;
	if (e->flags & (GTF_reading | GTF_writing))
		return 11;
	if (pvk_gnt_end(rt, refs[C_RW]))
		return 12;
	chan_put(&a->up, 3);
	if (chan_get(&a->down, &v))
		return 13;
	return 0;
}

struct pinner_arg {
	char sock[300];
	domid_t dom;
	grant_ref_t ref;
	struct chan up;
};

/* A second Dom0 process that takes domain dom's active table, pins ref
 * writable, keeps the table's lock, says so and waits to be killed. */
static int pinner_entry(int fd, uintptr_t fn, void *p)
{
	struct pinner_arg *a = p;
	struct pvk_hc_domid q = {.domid = a->dom};
	struct pvk_rt *rt;
	struct pvk_gact g;
	int fds[PVK_MAX_FDS];
	unsigned int nfds = PVK_MAX_FDS;
	void *mem, *tab;
	size_t mlen, tlen;
	xen_pfn_t frame;
	long slot;

	(void)fd;
	(void)fn;
	if (pvk_rt_open(a->sock, -1, &rt))
		return 2;
	slot = pvk_rt_hypercall(rt, PVK_HC_gnt_share, 0, 0, &q, sizeof(q),
				sizeof(q), fds, &nfds);
	if (slot <= 0 || nfds != 2)
		return 3;
	mlen = (size_t)lseek(fds[0], 0, SEEK_END);
	tlen = (size_t)lseek(fds[1], 0, SEEK_END);
	mem = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	tab = mmap(NULL, tlen, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
	if (mem == MAP_FAILED || tab == MAP_FAILED ||
	    pvk_gact_view(tab, tlen, mem, mlen, &g))
		return 4;
	if (pvk_gact_lock(&g, (unsigned int)slot, 1000000000ull, NULL, NULL))
		return 5;
	if (pvk_gact_pin(&g, (unsigned int)slot, 0, a->ref, true, &frame) !=
	    GNTST_okay)
		return 6;
	chan_put(&a->up, (uint64_t)slot);
	pause();
	return 0;
}

/* pinned()'s callback: checks what it is handed, and writes fill (if
 * nonzero) into each segment it got. */
struct pin_use {
	int calls;
	uint8_t expect, fill;
	uint32_t got; /* bit per segment handed over */
};

static int pin_use_fn(void *arg, struct iovec *iov, uint32_t count)
{
	struct pin_use *u = arg;
	uint32_t i;

	u->calls++;
	for (i = 0; i < count; i++) {
		const uint8_t *b = iov[i].iov_base;

		if (!b) {
			if (iov[i].iov_len)
				return -EINVAL;
			continue;
		}
		u->got |= 1u << i;
		if (u->expect &&
		    (b[0] != u->expect || b[iov[i].iov_len - 1] != u->expect))
			return -EIO;
		if (u->fill)
			memset(iov[i].iov_base, u->fill, iov[i].iov_len);
	}
	return 42;
}

/* pinned(): the bytes in place while pinned, the checks a copy gets, the
 * pins gone after (the guest finds no flag left).  C_RW is left as it
 * was. */
static void pinned_checks(struct pvk_platform *plat, struct pvk_gnttab *gt,
			  domid_t d, const grant_ref_t *refs, uint8_t *buf)
{
	struct pvk_gnt_seg sg[5];
	struct iovec iov[5];
	struct gnttab_copy cp;
	struct pin_use u;

	assert_non_null(plat->gnttab->pinned);
	if (getenv("PVKIT_GNT_SHARE") &&
	    !strcmp(getenv("PVKIT_GNT_SHARE"), "0")) {
		memset(&u, 0, sizeof(u));
		sg[0] = (struct pvk_gnt_seg){.ref = refs[C_RO], .len = 8};
		assert_int_equal(plat->gnttab->pinned(gt, d, sg, iov, 1, false,
						      pin_use_fn, &u),
				 -EOPNOTSUPP);
		assert_int_equal(u.calls, 0);
		return;
	}
	/* read: C_RO whole and in part; what cannot be pinned is named */
	memset(&u, 0, sizeof(u));
	u.expect = 0x40 + C_RO;
	sg[0] = (struct pvk_gnt_seg){.ref = refs[C_RO], .len = 4096};
	sg[1] =
	    (struct pvk_gnt_seg){.ref = refs[C_RO], .offset = 4000, .len = 96};
	sg[2] = (struct pvk_gnt_seg){.ref = refs[C_ENDED], .len = 8};
	sg[3] = (struct pvk_gnt_seg){.ref = refs[C_OTHER], .len = 8};
	sg[4] =
	    (struct pvk_gnt_seg){.ref = refs[C_RO], .offset = 4000, .len = 97};
	assert_int_equal(
	    plat->gnttab->pinned(gt, d, sg, iov, 5, false, pin_use_fn, &u), 42);
	assert_int_equal(u.calls, 1);
	assert_int_equal(u.got, 3);
	assert_int_equal(sg[0].status, GNTST_okay);
	assert_int_equal(sg[1].status, GNTST_okay);
	assert_int_equal(sg[2].status, GNTST_general_error);
	assert_int_equal(sg[3].status, GNTST_general_error);
	assert_int_equal(sg[4].status, GNTST_bad_copy_arg);
	/* write: not into a read-only grant; into C_RW, seen by a copy */
	memset(&u, 0, sizeof(u));
	u.fill = 0x99;
	sg[0] = (struct pvk_gnt_seg){.ref = refs[C_RO], .len = 8};
	sg[1] = (struct pvk_gnt_seg){.ref = refs[C_RW], .offset = 10, .len = 4};
	sg[2] = (struct pvk_gnt_seg){.ref = 100000, .len = 4};
	assert_int_equal(
	    plat->gnttab->pinned(gt, d, sg, iov, 3, true, pin_use_fn, &u), 42);
	assert_int_equal(sg[0].status, GNTST_general_error);
	assert_int_equal(sg[1].status, GNTST_okay);
	assert_int_equal(sg[2].status, GNTST_bad_gntref);
	assert_int_equal(u.got, 2);
	memset(&cp, 0, sizeof(cp));
	cp.source.u.ref = refs[C_RW];
	cp.source.domid = d;
	cp.dest.u.gmfn = (uintptr_t)buf >> 12;
	cp.dest.domid = DOMID_SELF;
	cp.len = 4096;
	cp.flags = GNTCOPY_source_gref;
	assert_int_equal(plat->gnttab->copy(gt, &cp, 1), 0);
	assert_int_equal(cp.status, GNTST_okay);
	assert_int_equal(buf[9], 0x40 + C_RO);
	assert_int_equal(buf[10], 0x99);
	assert_int_equal(buf[13], 0x99);
	assert_int_equal(buf[14], 0x40 + C_RO);
	/* put back what the guest expects */
	u.fill = 0x40 + C_RO;
	assert_int_equal(
	    plat->gnttab->pinned(gt, d, &sg[1], iov, 1, true, pin_use_fn, &u),
	    42);
	/* no domain of ours: nothing pinned, nothing called */
	memset(&u, 0, sizeof(u));
	assert_int_equal(
	    plat->gnttab->pinned(gt, 1000, sg, iov, 1, false, pin_use_fn, &u),
	    -EOPNOTSUPP);
	assert_int_equal(u.calls, 0);
}

static void test_copier_pins(void **state)
{
	struct gnt_arg a;
	struct pinner_arg pa;
	struct pvk_platform *plat;
	struct pvk_gnttab *gt;
	grant_ref_t refs[C_COUNT];
	struct gnttab_copy cp[2];
	uint8_t buf[4096] __attribute__((aligned(4096)));
	void *m;
	grant_handle_t h;
	uint64_t v;
	domid_t d;
	pid_t p, pp;
	int i;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(harness_guest(&H, "copier", 1, 4096, copier_guest, &a,
				       sizeof(a), &d, &p),
			 0);
	for (i = 0; i < C_COUNT; i++) {
		assert_int_equal(chan_get(&a.up, &v), 0);
		refs[i] = (grant_ref_t)v;
	}
	assert_int_equal(pvk_platform_emulated_from_rt(H.dom0, &plat), 0);
	assert_int_equal(plat->gnttab->open(plat, &gt), 0);
	/* Grant to grant (C_RO into C_RW), then a local buffer into the
	 * upper half of C_RW, in one batch: each op pinned and copied here. */
	memset(buf, 0xd1, sizeof(buf));
	memset(cp, 0, sizeof(cp));
	cp[0].source.u.ref = refs[C_RO];
	cp[0].source.domid = d;
	cp[0].dest.u.ref = refs[C_RW];
	cp[0].dest.domid = d;
	cp[0].len = 4096;
	cp[0].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	cp[1].source.u.gmfn = (uintptr_t)buf >> 12;
	cp[1].source.domid = DOMID_SELF;
	cp[1].dest.u.ref = refs[C_RW];
	cp[1].dest.domid = d;
	cp[1].dest.offset = 2048;
	cp[1].len = 2048;
	cp[1].flags = GNTCOPY_dest_gref;
	assert_int_equal(plat->gnttab->copy(gt, cp, 2), 0);
	assert_int_equal(cp[0].status, GNTST_okay);
	assert_int_equal(cp[1].status, GNTST_okay);
	/* Reading a grant into a local buffer. */
	cp[1].source.u.ref = refs[C_RO];
	cp[1].source.domid = d;
	cp[1].source.offset = 0;
	cp[1].dest.u.gmfn = (uintptr_t)buf >> 12;
	cp[1].dest.domid = DOMID_SELF;
	cp[1].dest.offset = 0;
	cp[1].len = 4096;
	cp[1].flags = GNTCOPY_source_gref;
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_okay);
	assert_int_equal(buf[0], 0x40 + C_RO);
	assert_int_equal(buf[4095], 0x40 + C_RO);
	/* Every invalid use gets hvd's answer. */
	cp[1].flags = GNTCOPY_dest_gref; /* buf into ... */
	cp[1].source.u.gmfn = (uintptr_t)buf >> 12;
	cp[1].source.domid = DOMID_SELF;
	cp[1].dest.domid = d;
	cp[1].dest.u.ref = refs[C_RO]; /* a read-only grant */
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_general_error);
	cp[1].dest.u.ref = refs[C_ENDED]; /* revoked */
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_general_error);
	cp[1].dest.u.ref = refs[C_OTHER]; /* granted to another domain */
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_general_error);
	cp[1].dest.u.ref = 100000; /* beyond the table */
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_bad_gntref);
	cp[1].dest.domid = 1000; /* no such domain */
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_bad_domain);
	pinned_checks(plat, gt, d, refs, buf);
	chan_put(&a.down, 1);
	assert_int_equal(chan_get(&a.up, &v), 0);

	/* Another copier pins C_RW and dies holding the pin and the lock:
	 * hvd's own pin (a map) still works once it is gone, and the pin
	 * goes with it. */
	memset(&pa, 0, sizeof(pa));
	snprintf(pa.sock, sizeof(pa.sock), "%s", H.sock);
	pa.dom = d;
	pa.ref = refs[C_RW];
	assert_int_equal(chan_init(&pa.up), 0);
	assert_int_equal(
	    harness_spawn(H.dom0, pinner_entry, 0, &pa, sizeof(pa), -1, &pp),
	    0);
	assert_int_equal(chan_get(&pa.up, &v), 0);
	/* Slot 1 is this process's, taken by the copies above: they were
	 * served here (PVKIT_GNT_SHARE=0 sends them through hvd). */
	if (getenv("PVKIT_GNT_SHARE") &&
	    !strcmp(getenv("PVKIT_GNT_SHARE"), "0"))
		assert_int_equal(v, 1);
	else
		assert_int_equal(v, 2);
	chan_put(&a.down, 2);
	assert_int_equal(chan_get(&a.up, &v), 0);
	kill(pp, SIGKILL);
	assert_int_equal(dom0_map(d, refs[C_RO], true, &m, &h), 0);
	munmap(m, 4096);
	assert_int_equal(dom0_unmap(h), GNTST_okay);
	assert_int_equal(harness_wait(pp), 128 + SIGKILL);
	/* and this process's copies go on */
	cp[1].dest.u.ref = refs[C_RW];
	cp[1].dest.domid = d;
	assert_int_equal(plat->gnttab->copy(gt, &cp[1], 1), 0);
	assert_int_equal(cp[1].status, GNTST_okay);
	chan_put(&a.down, 3);
	assert_int_equal(chan_get(&a.up, &v), 0);
	plat->gnttab->close(gt);
	pvk_platform_close(plat);
	chan_put(&a.down, 4);
	assert_int_equal(harness_wait(p), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
}

/* ---- kill -9: everything the guest held is reclaimed ---- */

static int holder_guest(struct pvk_rt *rt, void *p)
{
	struct gnt_arg *a = p;
	evtchn_port_t port;
	xen_pfn_t pfn;
	grant_ref_t ref;
	uint64_t v;

	if (pvk_evtchn_alloc_unbound(rt, 0, &port) || pvk_page_alloc(rt, &pfn))
		return 2;
	memset(pvk_rt_gpfn_to_ptr(rt, pfn), 0x77, 4096);
	if (pvk_gnt_grant(rt, 0, pfn, false, &ref))
		return 3;
	chan_put(&a->up, port);
	chan_put(&a->up, ref);
	chan_get(&a->down, &v); /* wait to be killed */
	return 0;
}

static void test_kill9_reclaim(void **state)
{
	struct gnt_arg a;
	struct pvk_dominfo info;
	struct evtchn_bind_interdomain bi;
	struct evtchn_status st;
	grant_handle_t h;
	void *m;
	uint64_t port, ref;
	domid_t d;
	pid_t p;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(harness_guest(&H, "victim", 1, 8192, holder_guest, &a,
				       sizeof(a), &d, &p),
			 0);
	assert_int_equal(chan_get(&a.up, &port), 0);
	assert_int_equal(chan_get(&a.up, &ref), 0);
	/* Dom0 binds to its port and maps its grant. */
	assert_int_equal(pvk_evtchn_bind_interdomain(
			     H.dom0, d, (evtchn_port_t)port, &bi.local_port),
			 0);
	assert_int_equal(dom0_map(d, (grant_ref_t)ref, false, &m, &h), 0);
	kill(p, SIGKILL);
	assert_int_equal(harness_wait(p), 128 + SIGKILL);
	/* The hypervisor notices: the domain has crashed. */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
		if (info.flags & PVK_DOMINFO_SHUTDOWN)
			break;
		usleep(10000);
	}
	assert_true(info.flags & PVK_DOMINFO_SHUTDOWN);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_crash);
	/* Destroy: its ports close and Dom0's end goes back to unbound. */
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
	memset(&st, 0, sizeof(st));
	st.dom = DOMID_SELF;
	st.port = bi.local_port;
	assert_int_equal(pvk_evtchn_status(H.dom0, &st), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	/* Dom0 still maps its page: the domain is dying, not gone. */
	assert_int_equal(((uint8_t *)m)[0], 0x77);
	assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
	assert_int_equal(info.domid, d);
	assert_true(info.flags & PVK_DOMINFO_DYING);
	/* The last unmap frees it. */
	munmap(m, 4096);
	assert_int_equal(dom0_unmap(h), GNTST_okay);
	assert_true(pvk_dom_list(H.dom0, d, &info, 1) == 0 || info.domid != d);
	assert_int_equal(pvk_evtchn_close(H.dom0, bi.local_port), 0);
}

/* ---- memory: ballooned pages go back to the host ---- */

static bool resident(struct pvk_rt *rt, xen_pfn_t pfn)
{
	unsigned char v = 0;

	if (mincore(pvk_rt_gpfn_to_ptr(rt, pfn), 4096, &v) < 0)
		return true;
	return v & 1;
}

static int mem_guest(struct pvk_rt *rt, void *p)
{
	struct gnt_arg *a = p;
	uint64_t ack;
	static xen_pfn_t pfns[1024];
	uint64_t i;
	long n;

	for (i = 0; i < 1024; i++) {
		if (pvk_page_alloc(rt, &pfns[i]))
			return 2;
		memset(pvk_rt_gpfn_to_ptr(rt, pfns[i]), 1, 4096);
	}
	if (!resident(rt, pfns[0]) || !resident(rt, pfns[1023]))
		return 7;
	n = pvk_mem_decrease(rt, pfns, 1024);
	if (n != 1024)
		return 3;
	/* Really given back: the pages left the page cache (holes). */
	for (i = 0; i < 1024; i++)
		if (resident(rt, pfns[i]))
			return 8;
	chan_put(&a->up, 1);
	if (chan_get(&a->down, &ack))
		return 6;
	/* Not populated any more: a second decrease fails at once. */
	if (pvk_mem_decrease(rt, pfns, 1) != 0)
		return 4;
	if (pvk_mem_populate(rt, pfns, 512) != 512)
		return 5;
	chan_put(&a->up, 2);
	return 0;
}

static void test_memory_reservation(void **state)
{
	struct pvk_dominfo info;
	struct gnt_arg a;
	uint64_t v;
	domid_t d;
	pid_t p;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(harness_guest(&H, "balloon", 1, 16384, mem_guest, &a,
				       sizeof(a), &d, &p),
			 0);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
	assert_int_equal(info.tot_pages, 4096 - 1024);
	chan_put(&a.down, 0);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
	assert_int_equal(info.tot_pages, 4096 - 512);
	assert_int_equal(harness_wait(p), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
}

/* ---- a malicious guest: every bad argument gets an error ---- */

static int evil_guest(struct pvk_rt *rt, void *p)
{
	struct chan *up = p;
	uint8_t big[4096];
	struct evtchn_status st = {.dom = 0, .port = 1};
	struct evtchn_bind_interdomain bi = {.remote_dom = 0, .remote_port = 1};
	struct gnttab_map_grant_ref mop = {.flags = GNTMAP_host_map, .dom = 0};
	struct gnttab_copy cp = {0};
	evtchn_port_t port;
	domid_t nd;
	int fd, fails = 0;

#define EXPECT(cond)                                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "evil: line %d: %s\n", __LINE__,       \
				#cond);                                        \
			fails++;                                               \
		}                                                              \
	} while (0)
	EXPECT(pvk_evtchn_send(rt, 99999, true) == -EINVAL);
	EXPECT(pvk_evtchn_send(rt, 0, true) == -EINVAL);
	EXPECT(pvk_evtchn_close(rt, 0xffffffff) == -EINVAL);
	EXPECT(pvk_evtchn_bind_virq(rt, 9999, 0, &port) == -EINVAL);
	EXPECT(pvk_evtchn_bind_virq(rt, VIRQ_TIMER, 40, &port) == -ENOENT);
	EXPECT(pvk_evtchn_bind_ipi(rt, 1000, &port) == -ENOENT);
	EXPECT(pvk_evtchn_status(rt, &st) == -EPERM); /* Dom0's ports */
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
				EVTCHNOP_bind_interdomain, 0, &bi, sizeof(bi),
				sizeof(bi), NULL, NULL) == -EINVAL);
	EXPECT(pvk_evtchn_bind_interdomain(rt, 31000, 1, &port) == -ESRCH);
	EXPECT(pvk_evtchn_alloc_unbound(rt, 0, &port) == 0);
	{
		struct evtchn_alloc_unbound au = {.dom = 0, .remote_dom = 0};

		EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_alloc_unbound, 0, &au,
					sizeof(au), sizeof(au), NULL,
					NULL) == -EPERM);
	}
	/* Grant ops on Dom0 (no grant table) or with lying counts. */
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
				GNTTABOP_map_grant_ref, 1, &mop, sizeof(mop),
				sizeof(mop), NULL, NULL) == 0 &&
	       mop.status != GNTST_okay);
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
				GNTTABOP_map_grant_ref, 1000, &mop, sizeof(mop),
				0, NULL, NULL) == -EINVAL);
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				0xffffffffu, &cp, sizeof(cp), 0, NULL,
				NULL) == -EINVAL);
	cp.flags = GNTCOPY_source_gref;
	cp.source.domid = 0;
	cp.dest.domid = DOMID_SELF;
	cp.dest.u.gmfn = 0x7fffffff; /* not our frame */
	cp.len = 8;
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				1, &cp, sizeof(cp), sizeof(cp), NULL,
				NULL) == 0 &&
	       cp.status != GNTST_okay);
	/* Another domain's frames by number: not without privilege. */
	cp.flags = 0;
	cp.source.domid = 0;
	cp.source.u.gmfn = 1;
	cp.dest.u.gmfn = 1;
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
				1, &cp, sizeof(cp), sizeof(cp), NULL,
				NULL) == 0 &&
	       cp.status != GNTST_okay);
	/* Privileged operations. */
	EXPECT(pvk_dom_create(rt, "x", 4096, 4096, 1, "", &nd, &fd) == -EPERM);
	EXPECT(pvk_dom_simple(rt, PVK_HC_dom_destroy, 0) == -EPERM);
	{ /* naming domains is Dom0's */
		struct pvk_hc_dom_rename rn = {.domid = pvk_rt_domid(rt)};

		memcpy(rn.name, "evil", 5);
		EXPECT(pvk_rt_hypercall(rt, PVK_HC_dom_rename, 0, 0, &rn,
					sizeof(rn), 0, NULL, NULL) == -EPERM);
	}
	EXPECT(pvk_dom_set_param(rt, 0, HVM_PARAM_STORE_EVTCHN, 1) == -EPERM);
	EXPECT(pvk_dom_set_param(rt, DOMID_SELF, HVM_PARAM_STORE_PFN, 1) ==
	       -EPERM);
	{ /* the active grant tables and memory files are Dom0's only */
		struct pvk_hc_domid q = {.domid = pvk_rt_domid(rt)};
		int fds[PVK_MAX_FDS];
		unsigned int nfds = PVK_MAX_FDS;

		EXPECT(pvk_rt_hypercall(rt, PVK_HC_gnt_share, 0, 0, &q,
					sizeof(q), sizeof(q), fds,
					&nfds) == -EPERM &&
		       nfds == 0);
	}
	/* Garbage and oversized datagrams. */
	memset(big, 0xff, sizeof(big));
	EXPECT(pvk_rt_hypercall(rt, 0xdeadbeef, 7, 7, big, sizeof(big), 0, NULL,
				NULL) == -ENOSYS);
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_memory_op,
				XENMEM_decrease_reservation, 0, big,
				sizeof(big), 0, NULL, NULL) == -EINVAL);
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_sched_op, SCHEDOP_shutdown, 0,
				big, 4, 0, NULL, NULL) == -EINVAL);
	EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_hvm_op, 1 /* get */, 0, big,
				16, 0, NULL, NULL) != 0);
	/* FIFO ABI set-up with bad frames, offsets, vCPUs, priorities. */
	{
		struct evtchn_init_control ic = {.control_gfn = 0x7fffffff};
		struct evtchn_expand_array ea = {.array_gfn = 0x7fffffff};
		struct evtchn_set_priority sp = {.port = 99999, .priority = 3};

		EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_init_control, 0, &ic,
					sizeof(ic), sizeof(ic), NULL,
					NULL) == -EINVAL);
		ic.control_gfn = 1;
		ic.offset = 4093; /* unaligned, and past the page */
		EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_init_control, 0, &ic,
					sizeof(ic), sizeof(ic), NULL,
					NULL) == -EINVAL);
		ic.offset = 0;
		ic.vcpu = 77;
		EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_init_control, 0, &ic,
					sizeof(ic), sizeof(ic), NULL,
					NULL) == -ENOENT);
		EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_expand_array, 0, &ea,
					sizeof(ea), 0, NULL, NULL) == -EINVAL);
		EXPECT(pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_set_priority, 0, &sp,
					sizeof(sp), 0, NULL, NULL) == -EINVAL);
	}
	/* The send ring: bogus ports, then a producer index far ahead. */
	{
		struct pvk_send_ring *r;
		struct waiter w;
		evtchn_port_t ipi;
		uint64_t one = 1;
		uint32_t k;
		int bell;

		waiter_init(&w);
		EXPECT(pvk_evtchn_bind_ipi(rt, 0, &ipi) == 0);
		pvk_evtchn_set_handler(rt, ipi, on_event, &w);
		EXPECT(pvk_evtchn_send(rt, 99999, false) == 0); /* dropped */
		pvk_rt_send_ring(rt, &r, &bell);
		for (k = 0; k < 10; k++)
			r->port[(r->prod + k) % PVK_SEND_RING_SLOTS] =
			    0xfffffff0u + k;
		__atomic_store_n(&r->prod, r->prod + 10, __ATOMIC_RELEASE);
		EXPECT(write(bell, &one, sizeof(one)) == sizeof(one));
		usleep(20000);
		__atomic_store_n(&r->prod, r->prod + 100000, __ATOMIC_RELEASE);
		EXPECT(write(bell, &one, sizeof(one)) == sizeof(one));
		usleep(20000);
		/* hvd discarded the bogus ring (cons caught up with prod);
		 * sends work again. */
		EXPECT(__atomic_load_n(&r->cons, __ATOMIC_ACQUIRE) == r->prod);
		EXPECT(pvk_evtchn_send(rt, ipi, false) == 0);
		EXPECT(waiter_wait(&w, 1, 5000) == 0);
	}
	/* Still alive and well: a valid call works. */
	EXPECT(pvk_sched_yield(rt) == 0);
	chan_put(up, (uint64_t)fails);
	return fails ? 1 : 0;
}

static void test_malicious_guest(void **state)
{
	struct pvk_dominfo info[8];
	struct chan up;
	uint64_t fails;
	domid_t d;
	pid_t p;

	(void)state;
	assert_int_equal(chan_init(&up), 0);
	assert_int_equal(harness_guest(&H, "evil", 1, 4096, evil_guest, &up,
				       sizeof(up), &d, &p),
			 0);
	assert_int_equal(chan_get(&up, &fails), 0);
	assert_int_equal(fails, 0);
	assert_int_equal(harness_wait(p), 0);
	/* The daemon and Dom0 carry on. */
	assert_true(pvk_dom_list(H.dom0, 0, info, 8) >= 1);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
}

/* ---- direct delivery (PVK_HC_evtchn_direct) ---- */

struct dd_arg {
	struct chan up, down;
	bool sender;
};

static int dd_call(struct pvk_rt *rt, uint32_t cmd, evtchn_port_t port, int *fd)
{
	struct pvk_hc_direct a = {.port = port};
	unsigned int nfds = 1;
	long rc;

	*fd = -1;
	rc = pvk_rt_hypercall(rt, PVK_HC_evtchn_direct, cmd, 0, &a, sizeof(a),
			      0, fd, &nfds);
	if (rc == 0 && nfds != 1)
		return -EPROTO;
	return (int)rc;
}

static bool dd_hint(struct pvk_rt *rt, evtchn_port_t port)
{
	struct pvk_send_ring *r;
	int bell;

	pvk_rt_send_ring(rt, &r, &bell);
	return (__atomic_load_n(&r->direct_hint[port / 64], __ATOMIC_ACQUIRE) >>
		(port % 64)) &
	       1;
}

/* A receiver and a sender that also plays foul with the raw interface:
 * the receiver's inbox is polled by its vCPU, the sender's sends skip
 * hvd, a flood of raw datagrams costs the receiver nothing but an event,
 * a closed receiver leaves its sender with EPIPE (and the runtime falls
 * back to the hypercall), and a new binding works directly again. */
static int dd_guest(struct pvk_rt *rt, void *p)
{
	struct dd_arg *a = p;
	struct waiter w;
	evtchn_port_t port, ipi;
	uint64_t v;
	int fd, fd2, fails = 0, i;
	uint8_t b = 1;

	waiter_init(&w);
#define DD_EXPECT(cond)                                                        \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s: line %d: %s\n",                   \
				a->sender ? "sender" : "receiver", __LINE__,   \
				#cond);                                        \
			fails++;                                               \
		}                                                              \
	} while (0)
	for (int round = 0; round < 2; round++) {
		if (chan_get(&a->down, &v))
			return 100;
		if (!a->sender) {
			DD_EXPECT(pvk_evtchn_alloc_unbound(rt, (domid_t)v,
							   &port) == 0);
			pvk_evtchn_set_handler(rt, port, on_event, &w);
			/* the runtime took the inbox already */
			DD_EXPECT(dd_call(rt, PVK_DIRECT_rx, port, &fd) ==
				  -EEXIST);
			chan_put(&a->up,
				 (uint64_t)pvk_rt_domid(rt) << 32 | port);
			/* the sender sends 1 event, then floods, then 1 */
			DD_EXPECT(waiter_wait(&w, 1, 5000) == 0);
			chan_put(&a->up, 1);
			if (chan_get(&a->down, &v)) /* flood done */
				return 101;
			DD_EXPECT(waiter_wait(&w, 2, 5000) == 0);
			pthread_mutex_lock(&w.lock);
			w.count = 0;
			pthread_mutex_unlock(&w.lock);
			chan_put(&a->up, 2);
			if (chan_get(&a->down, &v)) /* one more */
				return 102;
			DD_EXPECT(waiter_wait(&w, 1, 5000) == 0);
			DD_EXPECT(pvk_evtchn_close(rt, port) == 0);
			pthread_mutex_lock(&w.lock);
			w.count = 0;
			pthread_mutex_unlock(&w.lock);
			chan_put(&a->up, 3);
			continue;
		}
		/* sender */
		DD_EXPECT(pvk_evtchn_bind_interdomain(rt, (domid_t)(v >> 32),
						      (evtchn_port_t)v,
						      &port) == 0);
		DD_EXPECT(dd_hint(rt, port));
		/* misuse of the op */
		DD_EXPECT(pvk_evtchn_bind_ipi(rt, 0, &ipi) == 0);
		DD_EXPECT(dd_call(rt, PVK_DIRECT_rx, ipi, &fd2) == -EINVAL);
		DD_EXPECT(dd_call(rt, PVK_DIRECT_tx, ipi, &fd2) == -ENOTCONN);
		DD_EXPECT(dd_call(rt, PVK_DIRECT_tx, 4000, &fd2) == -EINVAL);
		DD_EXPECT(dd_call(rt, 7, port, &fd2) == -EINVAL);
		pvk_evtchn_close(rt, ipi);
		DD_EXPECT(pvk_evtchn_send(rt, port, false) == 0);
		if (chan_get(&a->down, &v))
			return 103;
		/* the raw write end: flood it; it cannot be read from */
		DD_EXPECT(dd_call(rt, PVK_DIRECT_tx, port, &fd) == 0);
		for (i = 0; i < 100000; i++)
			if (send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
				break;
		/* full (EAGAIN) unless the receiver drained as fast */
		DD_EXPECT(i > 0 && (i == 100000 || errno == EAGAIN));
		DD_EXPECT(recv(fd, &b, 1, MSG_DONTWAIT) <= 0);
		chan_put(&a->up, 1);
		if (chan_get(&a->down, &v)) /* receiver reset its count */
			return 104;
		DD_EXPECT(pvk_evtchn_send(rt, port, false) == 0);
		chan_put(&a->up, 2);
		if (chan_get(&a->down, &v)) /* receiver closed its port */
			return 105;
		errno = 0;
		/* ECONNRESET when the flood was still unread at close */
		DD_EXPECT(send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
			  (errno == EPIPE || errno == ECONNRESET));
		DD_EXPECT(!dd_hint(rt, port));
		/* the runtime's cached copy is stale too: falls back */
		DD_EXPECT(pvk_evtchn_send(rt, port, false) == 0);
		close(fd);
		DD_EXPECT(pvk_evtchn_close(rt, port) == 0);
		chan_put(&a->up, 3);
	}
	chan_put(&a->up, (uint64_t)fails);
	if (chan_get(&a->down, &v))
		return 106;
	return 0;
#undef DD_EXPECT
}

static void test_direct_delivery(void **state)
{
	struct dd_arg r = {0}, snd = {0};
	domid_t dr, ds;
	pid_t pr, ps;
	uint64_t v, fr, fs;
	int round;

	(void)state;
	if (getenv("PVKIT_EVTCHN_DIRECT") &&
	    !strcmp(getenv("PVKIT_EVTCHN_DIRECT"), "0"))
		skip();
	assert_int_equal(chan_init(&r.up), 0);
	assert_int_equal(chan_init(&r.down), 0);
	assert_int_equal(chan_init(&snd.up), 0);
	assert_int_equal(chan_init(&snd.down), 0);
	snd.sender = true;
	assert_int_equal(harness_guest(&H, "dd-rx", 1, 4096, dd_guest, &r,
				       sizeof(r), &dr, &pr),
			 0);
	assert_int_equal(harness_guest(&H, "dd-tx", 1, 4096, dd_guest, &snd,
				       sizeof(snd), &ds, &ps),
			 0);
	for (round = 0; round < 2; round++) {
		chan_put(&r.down, ds);
		assert_int_equal(chan_get(&r.up, &v), 0); /* port */
		chan_put(&snd.down, v);
		assert_int_equal(chan_get(&r.up, &v), 0); /* got 1 */
		chan_put(&snd.down, 0);			  /* flood */
		assert_int_equal(chan_get(&snd.up, &v), 0);
		chan_put(&r.down, 0);
		assert_int_equal(chan_get(&r.up, &v), 0); /* reset */
		chan_put(&snd.down, 0);			  /* one more */
		assert_int_equal(chan_get(&snd.up, &v), 0);
		chan_put(&r.down, 0);
		assert_int_equal(chan_get(&r.up, &v), 0); /* closed */
		chan_put(&snd.down, 0);
		assert_int_equal(chan_get(&snd.up, &v), 0);
	}
	assert_int_equal(chan_get(&r.up, &fr), 0);
	assert_int_equal(chan_get(&snd.up, &fs), 0);
	chan_put(&r.down, 0);
	chan_put(&snd.down, 0);
	assert_int_equal(harness_wait(pr), 0);
	assert_int_equal(harness_wait(ps), 0);
	assert_int_equal(fr, 0);
	assert_int_equal(fs, 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, dr), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, ds), 0);
}

/* ---- suspend and resume in place; remote shutdown by Dom0 ---- */

static int suspend_guest(struct pvk_rt *rt, void *p)
{
	struct gnt_arg *a = p;
	uint64_t v;
	int rc;

	chan_put(&a->up, 1);
	rc = pvk_sched_shutdown(rt, SHUTDOWN_suspend);
	/* Xen: 1 means the suspend was cancelled, we resume in place. */
	chan_put(&a->up, (uint64_t)(int64_t)rc);
	if (chan_get(&a->down, &v))
		return 2;
	/* Now Dom0 shuts us down remotely; wait to be stopped. */
	chan_put(&a->up, 3);
	pause();
	return 4;
}

static long rename_call(uint32_t domid, const char *name, size_t n)
{
	struct pvk_hc_dom_rename a = {.domid = domid};

	memcpy(a.name, name, n);
	return pvk_rt_hypercall(H.dom0, PVK_HC_dom_rename, 0, 0, &a, sizeof(a),
				0, NULL, NULL);
}

/* xl rename's hypervisor half: a live domain's name, unique, terminated,
 * not empty; Domain-0 and unknown domains refused. */
static void test_rename(void **state)
{
	struct pvk_dominfo info;
	char full[64];
	domid_t a, b;
	int fa, fb;

	(void)state;
	assert_int_equal(pvk_dom_create(H.dom0, "ra", 4096, 4096, 1, "", &a,
					&fa),
			 0);
	assert_int_equal(pvk_dom_create(H.dom0, "rb", 4096, 4096, 1, "", &b,
					&fb),
			 0);
	assert_int_equal(rename_call(a, "ra2", 4), 0);
	assert_int_equal(pvk_dom_list(H.dom0, a, &info, 1), 1);
	assert_string_equal(info.name, "ra2");
	assert_int_equal(rename_call(a, "rb", 3), -EEXIST);
	assert_int_equal(rename_call(b, "ra2", 4), -EEXIST);
	assert_int_equal(rename_call(a, "", 1), -EINVAL);
	memset(full, 'x', sizeof(full)); /* no terminating NUL */
	assert_int_equal(rename_call(a, full, sizeof(full)), -EINVAL);
	assert_int_equal(rename_call(0, "z", 2), -EPERM);
	assert_int_equal(rename_call(DOMID_FIRST_RESERVED - 1, "z", 2), -ESRCH);
	assert_int_equal(rename_call(0xfffff, "z", 2), -ESRCH);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, a), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, b), 0);
	close(fa);
	close(fb);
}

static void test_suspend_resume_remote_shutdown(void **state)
{
	struct pvk_dominfo info;
	struct sched_remote_shutdown rs;
	struct gnt_arg a;
	uint64_t v;
	domid_t d;
	pid_t p;
	int i;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(harness_guest(&H, "suspender", 1, 4096, suspend_guest,
				       &a, sizeof(a), &d, &p),
			 0);
	assert_int_equal(chan_get(&a.up, &v), 0);
	for (i = 0; i < 200; i++) {
		assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
		if (info.flags & PVK_DOMINFO_SHUTDOWN)
			break;
		usleep(10000);
	}
	assert_true(info.flags & PVK_DOMINFO_SHUTDOWN);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_suspend);
	/* Resuming a running domain is refused; this one resumes. */
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_resume, 0), -EPERM);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_resume, d), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_resume, d), -EINVAL);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal((int64_t)v, 1);
	assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
	assert_true(info.flags & PVK_DOMINFO_RUNNING);
	chan_put(&a.down, 0);
	assert_int_equal(chan_get(&a.up, &v), 0);
	/* The toolstack's watchdog-style remote shutdown. */
	memset(&rs, 0, sizeof(rs));
	rs.domain_id = d;
	rs.reason = SHUTDOWN_watchdog;
	assert_int_equal(pvk_rt_hypercall(H.dom0, __HYPERVISOR_sched_op,
					  SCHEDOP_remote_shutdown, 0, &rs,
					  sizeof(rs), 0, NULL, NULL),
			 0);
	assert_int_equal(harness_wait(p), 128 + SIGKILL);
	assert_int_equal(pvk_dom_list(H.dom0, d, &info, 1), 1);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_watchdog);
	rs.reason = 99;
	assert_int_equal(pvk_rt_hypercall(H.dom0, __HYPERVISOR_sched_op,
					  SCHEDOP_remote_shutdown, 0, &rs,
					  sizeof(rs), 0, NULL, NULL),
			 -EINVAL);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_evtchn_pingpong),
	    cmocka_unit_test(test_events_survive_connection_churn),
	    cmocka_unit_test(test_vcpus_ipi_timer),
	    cmocka_unit_test(test_grants),
	    cmocka_unit_test(test_copier_pins),
	    cmocka_unit_test(test_kill9_reclaim),
	    cmocka_unit_test(test_memory_reservation),
	    cmocka_unit_test(test_malicious_guest),
	    cmocka_unit_test(test_direct_delivery),
	    cmocka_unit_test(test_suspend_resume_remote_shutdown),
	    cmocka_unit_test(test_rename),
	};

	return cmocka_run_group_tests_name("hv-integration", tests, setup,
					   teardown);
}
