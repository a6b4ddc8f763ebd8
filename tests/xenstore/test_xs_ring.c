/* test_xs_ring.c - the ring transport with both ends in one process: a
 * plain page as the guest's xenstore page, a fake platform (evtchn, fmem,
 * domctl) under the daemon's domain shell, and the guest side written here
 * as a tiny ring client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pvkit/platform.h>

#include "xenstore/xs_ring.h"
#include "xenstore/xsd.h"
#include "xs_test_util.h"

#define NPAGES 4
#define VIRQ_PORT 99

/* ---- the fake platform ---------------------------------------------- */

struct fake {
	struct pvk_platform plat;
	struct xenstore_domain_interface *pages[NPAGES]; /* by gfn */
	evtchn_port_t pending[64];
	unsigned int npending;
	unsigned int notified[256]; /* by local port */
	unsigned int unbound, unmapped;
	struct pvk_dominfo doms[8];
	unsigned int ndoms;
	int fail_map;
};

static struct fake fk; /* one test at a time; reset in setup */
struct pvk_evtchn {
	int dummy;
};
struct pvk_fmem {
	int dummy;
};
static struct pvk_evtchn fake_evh;
static struct pvk_fmem fake_fmem;

static int ev_open(struct pvk_platform *p, struct pvk_evtchn **out)
{
	(void)p;
	*out = &fake_evh;
	return 0;
}
static void ev_close(struct pvk_evtchn *h) { (void)h; }
static int ev_fd(struct pvk_evtchn *h)
{
	(void)h;
	return -1;
}
static int ev_pending(struct pvk_evtchn *h, evtchn_port_t *port)
{
	(void)h;
	if (!fk.npending)
		return -EAGAIN;
	*port = fk.pending[0];
	memmove(fk.pending, fk.pending + 1, --fk.npending * sizeof(*port));
	return 0;
}
static int ev_unmask(struct pvk_evtchn *h, evtchn_port_t port)
{
	(void)h;
	(void)port;
	return 0;
}
static int ev_notify(struct pvk_evtchn *h, evtchn_port_t port)
{
	(void)h;
	fk.notified[port & 255]++;
	return 0;
}
static int ev_bind_inter(struct pvk_evtchn *h, domid_t dom,
			 evtchn_port_t remote, evtchn_port_t *local)
{
	(void)h;
	(void)dom;
	*local = 100 + remote;
	return 0;
}
static int ev_bind_virq(struct pvk_evtchn *h, uint32_t virq,
			evtchn_port_t *local)
{
	(void)h;
	assert_int_equal(virq, VIRQ_DOM_EXC);
	*local = VIRQ_PORT;
	return 0;
}
static int ev_unbind(struct pvk_evtchn *h, evtchn_port_t port)
{
	(void)h;
	(void)port;
	fk.unbound++;
	return 0;
}
static const struct pvk_evtchn_ops ev_ops = {
    .open = ev_open,
    .close = ev_close,
    .fd = ev_fd,
    .pending = ev_pending,
    .unmask = ev_unmask,
    .notify = ev_notify,
    .bind_interdomain = ev_bind_inter,
    .bind_virq = ev_bind_virq,
    .unbind = ev_unbind,
};

static int fm_open(struct pvk_platform *p, struct pvk_fmem **out)
{
	(void)p;
	*out = &fake_fmem;
	return 0;
}
static void fm_close(struct pvk_fmem *h) { (void)h; }
static int fm_map(struct pvk_fmem *h, domid_t dom, const xen_pfn_t *gfns,
		  uint32_t count, int writable, void **addr)
{
	(void)h;
	(void)dom;
	(void)writable;
	if (fk.fail_map || count != 1 || gfns[0] >= NPAGES)
		return -EINVAL;
	*addr = fk.pages[gfns[0]];
	return 0;
}
static int fm_unmap(struct pvk_fmem *h, void *addr, uint32_t count)
{
	(void)h;
	(void)addr;
	(void)count;
	fk.unmapped++;
	return 0;
}
static const struct pvk_fmem_ops fm_ops = {
    .open = fm_open,
    .close = fm_close,
    .map = fm_map,
    .unmap = fm_unmap,
};

static int dc_list(struct pvk_platform *p, domid_t first,
		   struct pvk_dominfo *out, unsigned int max)
{
	unsigned int n = 0;

	(void)p;
	for (unsigned int i = 0; i < fk.ndoms && n < max; i++)
		if (fk.doms[i].domid >= first)
			out[n++] = fk.doms[i];
	return (int)n;
}
static const struct pvk_domctl_ops dc_ops = {.list = dc_list};

/* The daemon's shell opens the platform through these. */
int pvk_platform_open(const char *which, struct pvk_platform **out)
{
	(void)which;
	fk.plat.name = "fake";
	fk.plat.evtchn = &ev_ops;
	fk.plat.fmem = &fm_ops;
	fk.plat.domctl = &dc_ops;
	*out = &fk.plat;
	return 0;
}

void pvk_platform_close(struct pvk_platform *plat) { (void)plat; }

/* ---- fixture: a core wired to the domain shell, like the daemon ------ */

struct fx {
	struct xs_core *core;
	struct xsd_domains *doms;
	struct xs_conn *d0;
};

static int hk_introduce(void *o, struct xs_conn *c, domid_t dom, uint64_t gfn,
			evtchn_port_t port)
{
	struct fx *f = o;

	return xsd_domains_introduce(f->doms, c, dom, gfn, port);
}
static void hk_release(void *o, struct xs_conn *c)
{
	struct fx *f = o;

	xsd_domains_release(f->doms, c);
}
static void hk_wake(void *o, struct xs_conn *c)
{
	struct fx *f = o;

	xsd_domains_kick(f->doms, c);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct xs_core_hooks hooks = {.opaque = f,
				      .introduce = hk_introduce,
				      .release = hk_release,
				      .wake = hk_wake};

	memset(&fk, 0, sizeof(fk));
	for (int i = 0; i < NPAGES; i++) {
		fk.pages[i] = aligned_alloc(4096, 4096);
		memset(fk.pages[i], 0, 4096);
	}
	assert_int_equal(xs_core_new(NULL, &hooks, &f->core), 0);
	assert_int_equal(xsd_domains_new(f->core, -1, NULL, &f->doms), 0);
	assert_int_equal(xs_conn_new(f->core, 0, &f->d0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	xs_core_free(f->core);
	xsd_domains_free(f->doms);
	for (int i = 0; i < NPAGES; i++)
		free(fk.pages[i]);
	free(f);
	return 0;
}

/* ---- the guest's side of the ring ------------------------------------ */

static size_t guest_put(struct xenstore_domain_interface *in, const void *p,
			size_t len)
{
	XENSTORE_RING_IDX cons = in->req_cons, prod = in->req_prod;
	size_t n = 0;

	while (n < len && prod - cons < XENSTORE_RING_SIZE) {
		in->req[MASK_XENSTORE_IDX(prod)] = ((const char *)p)[n++];
		prod++;
	}
	__atomic_store_n(&in->req_prod, prod, __ATOMIC_RELEASE);
	return n;
}

static size_t guest_get(struct xenstore_domain_interface *in, void *p,
			size_t len)
{
	XENSTORE_RING_IDX cons = in->rsp_cons, prod = in->rsp_prod;
	size_t n = 0;

	while (n < len && cons != prod) {
		((char *)p)[n++] = in->rsp[MASK_XENSTORE_IDX(cons)];
		cons++;
	}
	__atomic_store_n(&in->rsp_cons, cons, __ATOMIC_RELEASE);
	return n;
}

static void kick_port(struct fx *f, evtchn_port_t port)
{
	fk.pending[fk.npending++] = port;
	xsd_domains_event(f->doms);
	xsd_domains_flush(f->doms);
}

/* Send one request from the guest on gfn/port, pushing the ring along. */
static void guest_send(struct fx *f, int gfn, evtchn_port_t port, uint32_t type,
		       const void *p, size_t len)
{
	struct xenstore_domain_interface *in = fk.pages[gfn];
	struct xsd_sockmsg h = {
	    .type = type, .req_id = 42, .len = (uint32_t)len};
	unsigned char buf[sizeof(h) + XENSTORE_PAYLOAD_MAX];
	size_t off = 0;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), p, len);
	while (off < sizeof(h) + len) {
		off += guest_put(in, buf + off, sizeof(h) + len - off);
		kick_port(f, 100 + port);
	}
}

/* Receive one message on the guest side; 0 or -1 if none. */
static int guest_recv(struct fx *f, int gfn, evtchn_port_t port, struct tmsg *m)
{
	struct xenstore_domain_interface *in = fk.pages[gfn];
	size_t got = 0;

	if (in->rsp_prod == in->rsp_cons)
		return -1;
	while (got < sizeof(m->hdr)) {
		got +=
		    guest_get(in, (char *)&m->hdr + got, sizeof(m->hdr) - got);
		kick_port(f, 100 + port);
	}
	assert_true(m->hdr.len <= XENSTORE_PAYLOAD_MAX);
	got = 0;
	while (got < m->hdr.len) {
		got += guest_get(in, m->data + got, m->hdr.len - got);
		kick_port(f, 100 + port);
	}
	m->data[m->hdr.len] = '\0';
	return 0;
}

static void introduce(struct fx *f, unsigned int dom, int gfn, int port)
{
	char buf[64];
	struct tmsg m;
	int n =
	    snprintf(buf, sizeof(buf), "%u%c%d%c%d%c", dom, 0, gfn, 0, port, 0);

	assert_int_equal(t_req(f->d0, XS_INTRODUCE, 0, buf, (size_t)n, &m),
			 XS_INTRODUCE);
	xsd_domains_flush(f->doms);
}

/* ---- tests ------------------------------------------------------------ */

static void test_ring_roundtrip(void **state)
{
	struct fx *f = *state;
	struct xenstore_domain_interface *in = fk.pages[1];
	static char big[4001]; /* 4000 bytes and a nul */
	struct tmsg m;
	char req[4096];

	introduce(f, 5, 1, 7);
	assert_int_equal(in->connection, XENSTORE_CONNECTED);
	assert_true(in->server_features & XENSTORE_SERVER_FEATURE_ERROR);
	/* toolstack gives the domain its home */
	assert_int_equal(T_REQ(f->d0, XS_MKDIR, 0, "/local/domain/5\0", &m),
			 XS_MKDIR);
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "/local/domain/5\0n5\0", &m),
	    XS_SET_PERMS);
	guest_send(f, 1, 7, XS_WRITE, "data/x\0hello", 12);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_int_equal(m.hdr.type, XS_WRITE);
	assert_int_equal(m.hdr.req_id, 42);
	assert_string_equal(m.data, "OK");
	assert_true(fk.notified[107] > 0);
	assert_int_equal(t_read(f->d0, 0, "/local/domain/5/data/x", &m),
			 XS_READ);
	assert_string_equal(m.data, "hello");
	/* a 4 KiB request and reply wrap the 1 KiB rings several times */
	memset(big, 'q', sizeof(big) - 1);
	memcpy(req, "data/big", 9);
	memcpy(req + 9, big, sizeof(big) - 1);
	guest_send(f, 1, 7, XS_WRITE, req, 9 + sizeof(big) - 1);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	/* ... and the node-size quota (2048) applies to domains */
	assert_int_equal(m.hdr.type, XS_ERROR);
	assert_string_equal(m.data, "ENOSPC");
	assert_int_equal(t_write(f->d0, 0, "/local/domain/5/data/big", big),
			 XS_WRITE);
	guest_send(f, 1, 7, XS_READ, "data/big", 9);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_int_equal(m.hdr.type, XS_READ);
	assert_int_equal(m.hdr.len, sizeof(big) - 1);
	assert_memory_equal(m.data, big, sizeof(big) - 1);
	/* watch events reach the guest through the ring */
	guest_send(f, 1, 7, XS_WATCH, "data\0tk\0", 8);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_int_equal(m.hdr.type, XS_WATCH);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_string_equal(m.data, "data");
	assert_int_equal(t_write(f->d0, 0, "/local/domain/5/data/y", "1"),
			 XS_WRITE);
	xsd_domains_flush(f->doms);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_string_equal(m.data, "data/y");
	assert_string_equal(m.data + 7, "tk");
}

static void test_ring_bad_index(void **state)
{
	struct fx *f = *state;
	struct xenstore_domain_interface *bad = fk.pages[1];
	struct tmsg m;

	introduce(f, 5, 1, 7);
	introduce(f, 6, 2, 8);
	/* dom5 claims 5000 bytes in a 1 KiB ring */
	bad->req_prod = bad->req_cons + 5000;
	kick_port(f, 107);
	assert_int_equal(bad->error, XENSTORE_ERROR_RINGIDX);
	/* nothing else is hurt */
	guest_send(f, 2, 8, XS_GET_DOMAIN_PATH, "6", 2);
	assert_int_equal(guest_recv(f, 2, 8, &m), 0);
	assert_string_equal(m.data, "/local/domain/6");
	assert_int_equal(T_REQ(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, "5\0", &m),
			 XS_IS_DOMAIN_INTRODUCED);
	assert_string_equal(m.data, "T");
	/* an oversized payload length is a protocol error for that ring */
	{
		struct xenstore_domain_interface *in = fk.pages[2];
		struct xsd_sockmsg h = {.type = XS_READ, .len = 5000};

		guest_put(in, &h, sizeof(h));
		kick_port(f, 108);
		assert_int_equal(in->error, XENSTORE_ERROR_PROTO);
	}
	/* a reconnection revives the broken ring */
	bad->connection = XENSTORE_RECONNECT;
	kick_port(f, 107);
	assert_int_equal(bad->error, XENSTORE_ERROR_NONE);
	guest_send(f, 1, 7, XS_GET_DOMAIN_PATH, "5", 2);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_string_equal(m.data, "/local/domain/5");
	/* the response index is validated too */
	introduce(f, 7, 3, 9);
	fk.pages[3]->rsp_cons = fk.pages[3]->rsp_prod + 4000;
	guest_send(f, 3, 9, XS_GET_DOMAIN_PATH, "7", 2);
	assert_int_equal(fk.pages[3]->error, XENSTORE_ERROR_RINGIDX);
}

static void test_ring_reconnect(void **state)
{
	struct fx *f = *state;
	struct xenstore_domain_interface *in = fk.pages[1];
	struct xs_conn *c;
	struct tmsg m;

	introduce(f, 5, 1, 7);
	guest_send(f, 1, 7, XS_WATCH, "/x\0t\0", 5);
	c = xs_core_domain_conn(f->core, 5);
	assert_int_equal(xs_conn_nwatches(c), 1);
	/* garbage in the ring, then the guest asks for a reconnection */
	in->req_prod += 3;
	in->connection = XENSTORE_RECONNECT;
	kick_port(f, 107);
	assert_int_equal(in->connection, XENSTORE_CONNECTED);
	assert_int_equal(in->req_prod, 0);
	assert_int_equal(xs_conn_nwatches(c), 0);
	guest_send(f, 1, 7, XS_GET_DOMAIN_PATH, "5", 2);
	assert_int_equal(guest_recv(f, 1, 7, &m), 0);
	assert_string_equal(m.data, "/local/domain/5");
}

static void test_virq_release(void **state)
{
	struct fx *f = *state;
	struct tmsg m;

	fk.doms[0] = (struct pvk_dominfo){.domid = 0};
	fk.doms[1] = (struct pvk_dominfo){.domid = 5};
	fk.doms[2] = (struct pvk_dominfo){.domid = 6};
	fk.ndoms = 3;
	introduce(f, 5, 1, 7);
	introduce(f, 6, 2, 8);
	assert_int_equal(T_REQ(f->d0, XS_WATCH, 0, "@releaseDomain\0r\0", &m),
			 XS_WATCH);
	t_events(f->d0, NULL);
	/* dom6 shuts down: one event, still introduced */
	fk.doms[2].flags = PVK_DOMINFO_SHUTDOWN;
	kick_port(f, VIRQ_PORT);
	assert_int_equal(t_events(f->d0, NULL), 1);
	kick_port(f, VIRQ_PORT);
	assert_int_equal(t_events(f->d0, NULL), 0);
	/* dom5 is gone: released, unbound and unmapped */
	fk.doms[1] = fk.doms[2];
	fk.ndoms = 2;
	kick_port(f, VIRQ_PORT);
	assert_int_equal(t_events(f->d0, &m), 1);
	assert_string_equal(m.data, "@releaseDomain");
	assert_null(xs_core_domain_conn(f->core, 5));
	assert_int_equal(fk.unbound, 1);
	assert_int_equal(fk.unmapped, 1);
	/* dom6 dying */
	fk.doms[1].flags = PVK_DOMINFO_DYING;
	kick_port(f, VIRQ_PORT);
	assert_null(xs_core_domain_conn(f->core, 6));
	/* failures to map fail the INTRODUCE, not the daemon */
	fk.fail_map = 1;
	assert_int_equal(T_REQ(f->d0, XS_INTRODUCE, 0,
			       "8\0"
			       "1\0"
			       "1\0",
			       &m),
			 XS_ERROR);
	assert_int_equal(T_REQ(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, "8\0", &m),
			 XS_IS_DOMAIN_INTRODUCED);
	assert_string_equal(m.data, "F");
}

static int plain_notify(void *opaque)
{
	(*(int *)opaque)++;
	return 0;
}

/* xs_ring alone, over a page and a counter. */
static void test_ring_pure(void **state)
{
	struct fx *f = *state;
	struct xenstore_domain_interface *in = fk.pages[0];
	struct xs_ring r;
	struct xs_conn *c;
	int notes = 0;
	struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH, .len = 2};
	struct xsd_sockmsg rh;

	assert_int_equal(xs_conn_new(f->core, 3, &c), 0);
	xs_ring_init(&r, in, plain_notify, &notes);
	assert_int_equal(xs_ring_process(&r, c), 0);
	assert_int_equal(notes, 0); /* nothing moved, nobody woken */
	guest_put(in, &h, sizeof(h));
	guest_put(in, "3", 2);
	assert_int_equal(xs_ring_process(&r, c), 0);
	assert_int_equal(notes, 1);
	assert_int_equal(in->req_cons, in->req_prod);
	assert_int_equal(guest_get(in, &rh, sizeof(rh)), sizeof(rh));
	assert_int_equal(rh.type, XS_GET_DOMAIN_PATH);
	assert_int_equal(rh.len, 16);
	xs_conn_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ring_pure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_roundtrip, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ring_bad_index, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ring_reconnect, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_virq_release, setup, teardown),
	};

	return cmocka_run_group_tests_name("xs_ring", tests, NULL, NULL);
}
