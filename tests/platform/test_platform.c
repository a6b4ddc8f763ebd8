/*
 * test_platform.c - the emulated platform end to end: a private pvkit-hvd,
 * Dom0 (this process) and a DomU kernel (a forked child), each wrapped with
 * pvk_platform_emulated_from_rt and driven only through the ops tables.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

#include "harness.h"
#include "hv/hc_wire.h"
#include "common/util.h"

#define PAGE 4096u
#define NPAGES 2
#define BAD_REF 60000u

static struct harness H;
static struct pvk_platform *P0;

static int setup(void **state)
{
	int rc;

	(void)state;
	rc = harness_start(&H);
	if (rc)
		return rc;
	return pvk_platform_emulated_from_rt(H.dom0, &P0);
}

static int teardown(void **state)
{
	(void)state;
	pvk_platform_close(P0);
	harness_stop(&H);
	return 0;
}

static uint8_t pattern(unsigned int page, unsigned int off)
{
	return (uint8_t)(page * 7 + off * 13 + 1);
}

/* Wait for the handle's fd, then take one pending port. */
static int wait_port(const struct pvk_evtchn_ops *ev, struct pvk_evtchn *h,
		     evtchn_port_t want)
{
	struct pollfd p = {.fd = ev->fd(h), .events = POLLIN};
	evtchn_port_t got;
	int i;

	for (i = 0; i < 50; i++) {
		if (poll(&p, 1, 200) < 0)
			return -errno;
		while (ev->pending(h, &got) == 0) {
			ev->unmask(h, got);
			if (got == want)
				return 0;
		}
	}
	return -ETIMEDOUT;
}

/* ---- the DomU side ---- */

struct guest_arg {
	struct chan up, down;
};

/* Exit codes name the step that failed. */
static int share_guest(struct pvk_rt *rt, void *p)
{
	struct guest_arg *a = p;
	struct pvk_platform *plat;
	struct pvk_gntshr *shr;
	struct pvk_evtchn *ev;
	grant_ref_t refs[NPAGES];
	evtchn_port_t port, got;
	uint8_t *pg;
	unsigned int i, j;
	uint64_t v;
	int rc;

	if (pvk_platform_emulated_from_rt(rt, &plat))
		return 10;
	if (plat->gntshr->open(plat, &shr) || plat->evtchn->open(plat, &ev))
		return 11;
	if (plat->gntshr->share(shr, 0, NPAGES, 1, refs, (void **)&pg))
		return 12;
	for (i = 0; i < NPAGES; i++)
		for (j = 0; j < PAGE; j++)
			if (pg[i * PAGE + j] != 0)
				return 13; /* share hands out zeroed pages */
	for (i = 0; i < NPAGES; i++)
		for (j = 0; j < PAGE; j++)
			pg[i * PAGE + j] = pattern(i, j);
	if (plat->evtchn->bind_unbound(ev, 0, &port))
		return 14;
	if (plat->evtchn->pending(ev, &got) != -EAGAIN)
		return 15;
	chan_put(&a->up, refs[0]);
	chan_put(&a->up, refs[1]);
	chan_put(&a->up, port);

	/* Dom0 maps, writes 0x5a to the second page and notifies. */
	if (wait_port(plat->evtchn, ev, port))
		return 16;
	for (j = 0; j < 64; j++)
		if (pg[PAGE + j] != 0x5a)
			return 17;
	if (plat->evtchn->pending(ev, &got) != -EAGAIN)
		return 18;
	if (plat->evtchn->notify(ev, port))
		return 19;

	/* Still mapped by Dom0: unshare must refuse. */
	if (chan_get(&a->down, &v))
		return 20;
	rc = plat->gntshr->unshare(shr, pg, NPAGES);
	chan_put(&a->up, (uint64_t)(int64_t)rc);
	/* Unmapped now: unshare succeeds. */
	if (chan_get(&a->down, &v))
		return 21;
	rc = plat->gntshr->unshare(shr, pg, NPAGES);
	chan_put(&a->up, (uint64_t)(int64_t)rc);
	if (plat->evtchn->unbind(ev, port))
		return 22;
	plat->evtchn->close(ev);
	plat->gntshr->close(shr);
	pvk_platform_close(plat);
	if (chan_get(&a->down, &v)) /* stay alive until told */
		return 23;
	return 0;
}

/* ---- the Dom0 side ---- */

static void check_copy(struct pvk_gnttab *gt, domid_t dom,
		       const grant_ref_t *refs, uint8_t *mapped)
{
	uint8_t *buf = aligned_alloc(PAGE, PAGE), *out = aligned_alloc(PAGE, PAGE);
	struct gnttab_copy op[4];
	unsigned int j;

	assert_non_null(buf);
	assert_non_null(out);
	memset(buf, 0, PAGE);
	memset(out, 0xc3, PAGE);
	memset(op, 0, sizeof(op));
	/* guest ref -> our buffer */
	op[0].flags = GNTCOPY_source_gref;
	op[0].source.u.ref = refs[0];
	op[0].source.domid = dom;
	op[0].source.offset = 0;
	op[0].dest.domid = DOMID_SELF;
	op[0].dest.u.gmfn = (uintptr_t)buf >> 12;
	op[0].dest.offset = 100;
	op[0].len = 256;
	/* our buffer -> guest ref */
	op[1].flags = GNTCOPY_dest_gref;
	op[1].source.domid = DOMID_SELF;
	op[1].source.u.gmfn = (uintptr_t)out >> 12;
	op[1].source.offset = 0;
	op[1].dest.u.ref = refs[1];
	op[1].dest.domid = dom;
	op[1].dest.offset = 1024;
	op[1].len = 100;
	/* guest ref -> guest ref (done by the hypervisor) */
	op[2].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
	op[2].source.u.ref = refs[0];
	op[2].source.domid = dom;
	op[2].source.offset = 2048;
	op[2].dest.u.ref = refs[1];
	op[2].dest.domid = dom;
	op[2].dest.offset = 3000;
	op[2].len = 16;
	/* a bad ref fails only its own op */
	op[3].flags = GNTCOPY_source_gref;
	op[3].source.u.ref = BAD_REF;
	op[3].source.domid = dom;
	op[3].dest.domid = DOMID_SELF;
	op[3].dest.u.gmfn = (uintptr_t)buf >> 12;
	op[3].len = 8;
	assert_int_equal(P0->gnttab->copy(gt, op, 4), 0);
	assert_int_equal(op[0].status, GNTST_okay);
	assert_int_equal(op[1].status, GNTST_okay);
	assert_int_equal(op[2].status, GNTST_okay);
	assert_int_not_equal(op[3].status, GNTST_okay);
	for (j = 0; j < 256; j++)
		assert_int_equal(buf[100 + j], pattern(0, j));
	for (j = 0; j < 8; j++)
		assert_int_equal(buf[j], 0); /* the failed op wrote nothing */
	for (j = 0; j < 100; j++)
		assert_int_equal(mapped[PAGE + 1024 + j], 0xc3);
	for (j = 0; j < 16; j++)
		assert_int_equal(mapped[PAGE + 3000 + j], pattern(0, 2048 + j));
	/* Without the bad op the local copies go as one map batch. */
	memset(buf, 0, PAGE);
	memset(out, 0x77, PAGE);
	op[0].source.offset = 512;
	op[1].dest.offset = 0;
	op[1].len = 32;
	assert_int_equal(P0->gnttab->copy(gt, op, 2), 0);
	assert_int_equal(op[0].status, GNTST_okay);
	assert_int_equal(op[1].status, GNTST_okay);
	for (j = 0; j < 256; j++)
		assert_int_equal(buf[100 + j], pattern(0, 512 + j));
	for (j = 0; j < 32; j++)
		assert_int_equal(mapped[PAGE + j], 0x77);
	assert_int_equal(mapped[PAGE + 32], 0x5a);
	free(buf);
	free(out);
}

static void check_bad_map(struct pvk_gnttab *gt, domid_t dom,
			  const grant_ref_t *refs)
{
	grant_ref_t bad[2] = {refs[0], BAD_REF};
	int16_t st[2] = {99, 99};
	void *addr = NULL;

	assert_true(P0->gnttab->map(gt, dom, bad, 2, 1, &addr, st) < 0);
	assert_true(st[0] == GNTST_general_error || st[0] == GNTST_bad_gntref);
	assert_true(st[1] == GNTST_general_error || st[1] == GNTST_bad_gntref);
	/* The handle survives: a good map still works, read-only too. */
	assert_int_equal(P0->gnttab->map(gt, dom, refs, 1, 0, &addr, st), 0);
	assert_int_equal(st[0], GNTST_okay);
	assert_int_equal(((uint8_t *)addr)[5], pattern(0, 5));
	assert_int_equal(P0->gnttab->unmap(gt, addr, 1), 0);
	assert_int_equal(P0->gnttab->unmap(gt, addr, 1), -EINVAL);
}

static void check_fmem(domid_t dom)
{
	struct pvk_fmem *fm;
	uint64_t store;
	xen_pfn_t gfn;
	void *addr;

	assert_int_equal(pvk_dom_get_param(H.dom0, dom, HVM_PARAM_STORE_PFN,
					   &store), 0);
	gfn = store - PVK_SPECIAL_XENSTORE + PVK_SPECIAL_START_INFO;
	assert_int_equal(P0->fmem->open(P0, &fm), 0);
	assert_int_equal(P0->fmem->map(fm, dom, &gfn, 1, 0, &addr), 0);
	assert_int_equal(*(volatile uint32_t *)addr, 0x336ec578u);
	assert_int_equal(P0->fmem->unmap(fm, addr, 1), 0);
	P0->fmem->close(fm);
}

static void check_domlist(domid_t dom)
{
	struct pvk_dominfo info[8];
	int n, i;
	bool seen = false;

	n = P0->domctl->list(P0, 0, info, 8);
	assert_true(n >= 2);
	for (i = 0; i < n; i++)
		if (info[i].domid == dom)
			seen = true;
	assert_true(seen);
}

static void test_share_map_notify(void **state)
{
	struct guest_arg a;
	struct pvk_gnttab *gt;
	struct pvk_evtchn *ev;
	grant_ref_t refs[NPAGES];
	evtchn_port_t rport, local;
	uint8_t *m;
	int16_t st[NPAGES];
	unsigned int i, j;
	uint64_t v;
	domid_t dom;
	pid_t pid;

	(void)state;
	assert_int_equal(chan_init(&a.up), 0);
	assert_int_equal(chan_init(&a.down), 0);
	assert_int_equal(harness_guest(&H, "plat-u", 1, 4096, share_guest, &a,
				       sizeof(a), &dom, &pid),
			 0);
	assert_int_equal(chan_get(&a.up, &v), 0);
	refs[0] = (grant_ref_t)v;
	assert_int_equal(chan_get(&a.up, &v), 0);
	refs[1] = (grant_ref_t)v;
	assert_int_equal(chan_get(&a.up, &v), 0);
	rport = (evtchn_port_t)v;

	assert_int_equal(P0->gnttab->open(P0, &gt), 0);
	assert_int_equal(P0->gnttab->map(gt, dom, refs, NPAGES, 1, (void **)&m,
					 st), 0);
	for (i = 0; i < NPAGES; i++) {
		assert_int_equal(st[i], GNTST_okay);
		for (j = 0; j < PAGE; j++)
			assert_int_equal(m[i * PAGE + j], pattern(i, j));
	}
	memset(m + PAGE, 0x5a, 64);

	assert_int_equal(P0->evtchn->open(P0, &ev), 0);
	assert_int_equal(P0->evtchn->bind_interdomain(ev, dom, rport, &local),
			 0);
	assert_int_equal(P0->evtchn->unbind(ev, local + 1), -EINVAL);
	/* Binding raised our end once (as Xen does): take that first, or
	 * it passes for the guest's answer and the grant copies below
	 * overwrite the page before the guest has checked it. */
	assert_int_equal(wait_port(P0->evtchn, ev, local), 0);
	assert_int_equal(P0->evtchn->notify(ev, local), 0);
	/* The guest saw it and notifies back. */
	assert_int_equal(wait_port(P0->evtchn, ev, local), 0);

	check_copy(gt, dom, refs, m);
	check_bad_map(gt, dom, refs);
	check_fmem(dom);
	check_domlist(dom);

	chan_put(&a.down, 1);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal((int64_t)v, -EBUSY);
	assert_int_equal(P0->gnttab->unmap(gt, m, NPAGES), 0);
	chan_put(&a.down, 2);
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal((int64_t)v, 0);
	chan_put(&a.down, 3);
	assert_int_equal(harness_wait(pid), 0);

	/* The shares are gone: mapping them again fails. */
	assert_true(P0->gnttab->map(gt, dom, refs, 1, 0, (void **)&m, st) < 0);
	assert_int_equal(P0->evtchn->unbind(ev, local), 0);
	P0->evtchn->close(ev);
	P0->gnttab->close(gt);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, dom), 0);
}

/* Loopback in Dom0: a fired port stays masked until unmask(); events while
 * masked coalesce and are delivered at unmask; ports are per handle. */
static void test_evtchn_semantics(void **state)
{
	const struct pvk_evtchn_ops *ops = P0->evtchn;
	struct pvk_evtchn *a, *b;
	evtchn_port_t pa, pb, got;
	struct pollfd p;

	(void)state;
	assert_int_equal(ops->open(P0, &a), 0);
	assert_int_equal(ops->open(P0, &b), 0);
	assert_int_equal(ops->bind_unbound(a, 0, &pa), 0);
	assert_int_equal(ops->bind_interdomain(b, 0, pa, &pb), 0);
	/* Binding leaves b's end pending once, as Xen does. */
	assert_int_equal(wait_port(ops, b, pb), 0);
	assert_int_equal(ops->unmask(a, pb), -EINVAL);
	assert_int_equal(ops->notify(a, pb), -EINVAL);
	assert_int_equal(ops->unbind(a, pb), -EINVAL);

	assert_int_equal(ops->notify(b, pb), 0);
	p = (struct pollfd){.fd = ops->fd(a), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(ops->pending(a, &got), 0);
	assert_int_equal(got, pa);
	/* Masked now: two more sends queue nothing until unmask. */
	assert_int_equal(ops->notify(b, pb), 0);
	assert_int_equal(ops->notify(b, pb), 0);
	usleep(100000);
	assert_int_equal(ops->pending(a, &got), -EAGAIN);
	p.revents = 0;
	assert_int_equal(poll(&p, 1, 0), 0); /* drained when empty */
	assert_int_equal(ops->unmask(a, pa), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(ops->pending(a, &got), 0);
	assert_int_equal(got, pa);
	assert_int_equal(ops->pending(a, &got), -EAGAIN);
	assert_int_equal(ops->unmask(a, pa), 0);

	assert_int_equal(ops->unbind(b, pb), 0);
	ops->close(a); /* unbinds pa */
	ops->close(b);
}

static void test_dom0_cannot_share(void **state)
{
	struct pvk_gntshr *shr;
	grant_ref_t ref;
	void *addr;

	(void)state;
	assert_int_equal(P0->gntshr->open(P0, &shr), 0);
	assert_int_equal(P0->gntshr->share(shr, 1, 1, 1, &ref, &addr),
			 -EOPNOTSUPP);
	P0->gntshr->close(shr);
}

static void test_open_by_name(void **state)
{
	struct pvk_platform *p = NULL;
	struct pvk_dominfo info[4];

	(void)state;
	assert_int_equal(setenv("PVKIT_HV_SOCK", H.sock, 1), 0);
	unsetenv("PVKIT_HV_FD");
	assert_int_equal(pvk_platform_open("emulated", &p), 0);
	assert_string_equal(p->name, "emulated");
	assert_true(p->domctl->list(p, 0, info, 4) >= 1);
	pvk_platform_close(p);

	unsetenv("PVKIT_PLATFORM");
	if (access("/dev/xen/privcmd", F_OK) != 0) {
		assert_int_equal(pvk_platform_open("xen", &p), -ENODEV);
		assert_int_equal(pvk_platform_open(NULL, &p), 0);
		assert_string_equal(p->name, "emulated");
		pvk_platform_close(p);
	}
	assert_int_equal(setenv("PVKIT_PLATFORM", "emulated", 1), 0);
	assert_int_equal(pvk_platform_open(NULL, &p), 0);
	pvk_platform_close(p);
	unsetenv("PVKIT_PLATFORM");
	assert_int_equal(pvk_platform_open("bogus", &p), -EINVAL);
}

/* A DomU kernel opens the platform from $PVKIT_HV_FD. */
static void test_open_domu_from_env(void **state)
{
	char fdstr[16];
	domid_t dom;
	pid_t pid;
	int fd;

	(void)state;
	assert_int_equal(pvk_dom_create(H.dom0, "plat-env", 4096, 4096, 1,
					"env", &dom, &fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pvk_platform *p;
		struct pvk_gntshr *shr;
		grant_ref_t ref;
		void *addr;
		int rc;

		snprintf(fdstr, sizeof(fdstr), "%d", fd);
		setenv("PVKIT_HV_FD", fdstr, 1);
		if (pvk_platform_open("emulated", &p))
			_exit(10);
		if (p->self != dom || p->xs_path)
			_exit(11);
		if (p->gntshr->open(p, &shr))
			_exit(12);
		rc = p->gntshr->share(shr, 0, 1, 0, &ref, &addr);
		if (rc || p->gntshr->unshare(shr, addr, 1))
			_exit(13);
		if (p->gntshr->unshare(shr, addr, 1) != -EINVAL)
			_exit(14);
		p->gntshr->close(shr);
		pvk_platform_close(p);
		_exit(0);
	}
	close(fd);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_unpause, dom), 0);
	assert_int_equal(harness_wait(pid), 0);
	assert_int_equal(pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, dom), 0);
}

/* The toolstack's domctl ops over hvd: a domain's whole life without a
 * kernel process (it never needs to run for any of them). */
static void test_domctl(void **state)
{
	const struct pvk_domctl_ops *dc = P0->domctl;
	const struct pvk_domain_config cfg = {
		.name = "plat-dc", .max_kib = 8192, .mem_kib = 4096, .vcpus = 2};
	struct pvk_dominfo info;
	unsigned int major = 0, minor = 0;
	evtchn_port_t port = 0;
	uint64_t v = 0;
	domid_t dom;
	int kfd = -1;

	(void)state;
	assert_null(dc->save);
	assert_null(dc->restore);
	assert_int_equal(dc->create(P0, &cfg, &dom, NULL), -EINVAL);
	assert_int_equal(dc->create(P0, &cfg, &dom, &kfd), 0);
	assert_true(kfd >= 0);

	assert_int_equal(dc->info(P0, dom, &info), 0);
	assert_int_equal(info.domid, dom);
	assert_string_equal(info.name, "plat-dc");
	assert_int_equal(info.vcpus, 2);
	assert_int_equal(info.max_pages, 8192 / 4);
	assert_int_equal(info.tot_pages, 4096 / 4);
	assert_true(info.flags & PVK_DOMINFO_PAUSED);

	assert_int_equal(dc->alloc_unbound(P0, dom, 0, &port), 0);
	assert_true(port > 0);
	assert_int_equal(dc->set_param(P0, dom, HVM_PARAM_STORE_EVTCHN, port),
			 0);
	assert_int_equal(dc->get_param(P0, dom, HVM_PARAM_STORE_EVTCHN, &v),
			 0);
	assert_int_equal(v, port);
	assert_int_equal(dc->version(P0, &major, &minor), 0);
	assert_true(major >= 4);

	assert_int_equal(dc->unpause(P0, dom), 0);
	assert_int_equal(dc->info(P0, dom, &info), 0);
	assert_false(info.flags & PVK_DOMINFO_PAUSED);
	assert_int_equal(dc->pause(P0, dom), 0);
	assert_int_equal(dc->info(P0, dom, &info), 0);
	assert_true(info.flags & PVK_DOMINFO_PAUSED);

	assert_int_equal(dc->shutdown(P0, dom, SHUTDOWN_reboot), 0);
	assert_int_equal(dc->info(P0, dom, &info), 0);
	assert_true(info.flags & PVK_DOMINFO_SHUTDOWN);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_reboot);
	assert_int_equal(dc->shutdown(P0, 0, SHUTDOWN_poweroff), -EPERM);

	assert_int_equal(dc->destroy(P0, dom), 0);
	close(kfd);
	assert_int_equal(dc->info(P0, dom, &info), -ESRCH);
	assert_int_equal(dc->pause(P0, dom), -ESRCH);
	assert_int_equal(dc->shutdown(P0, dom, SHUTDOWN_poweroff), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_map_notify),
		cmocka_unit_test(test_evtchn_semantics),
		cmocka_unit_test(test_dom0_cannot_share),
		cmocka_unit_test(test_open_by_name),
		cmocka_unit_test(test_open_domu_from_env),
		cmocka_unit_test(test_domctl),
	};

	return cmocka_run_group_tests_name("platform", tests, setup,
					   teardown);
}
