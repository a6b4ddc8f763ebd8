/*
 * test_block_hostile.c - misbehaving peers.  A malicious frontend (a DomU
 * writing raw ring entries) meets pvkit-blkback: every bad request is
 * answered with an error, response padding is zero, a ring overflow fails
 * that device (Closing) and the backend keeps serving.  A malicious backend
 * (this test process, Dom0, answering by hand) meets blkfront: unknown and
 * duplicate ids and a bogus producer index break the device without a
 * crash, and an event flood is throttled while I/O still completes.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "block_env.h"
#include "blkif/blkif.h"
#include "common/util.h"
#include "pvkit/blkfront.h"
#include "pvkit/xenbus.h"

#define DISK_BYTES (4u << 20)
#define DISK_SECTORS (DISK_BYTES / 512)

static struct blk_env E;
static struct pvk_platform *P0;

static int setup(void **state)
{
	int rc;

	(void)state;
	rc = blk_env_start(&E);
	if (!rc)
		rc = pvk_platform_emulated_from_rt(E.pv.h.dom0, &P0);
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	pvk_platform_close(P0);
	blk_env_stop(&E);
	return 0;
}

/* ---- a malicious frontend ------------------------------------------------- */

#define NDATA 2

struct bad {
	const char *what;
	struct blkif_req q;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	int16_t want;
};

static int wait_rsp(struct pvk_platform *plat, struct pvk_evtchn *ev,
		    struct blkif_front *f, struct blkif_rsp *rsp)
{
	struct pollfd p = {.fd = plat->evtchn->fd(ev), .events = POLLIN};
	evtchn_port_t got;
	int i;

	for (i = 0; i < 100; i++) {
		if (blkif_front_poll(f) > 0)
			return blkif_front_take(f, rsp);
		poll(&p, 1, 50);
		while (plat->evtchn->pending(ev, &got) == 0)
			plat->evtchn->unmask(ev, got);
	}
	return -ETIMEDOUT;
}

static int evil_front(struct pvk_platform *plat, struct xs_client *xs,
		      void *arg)
{
	char fe[96], *be = NULL, path[160];
	struct pvk_gntshr *shr;
	struct pvk_evtchn *ev;
	grant_ref_t ring_ref, data[NDATA];
	evtchn_port_t port;
	struct blkif_front f;
	struct blkif_rsp rsp;
	struct bad b[16];
	void *sring, *pages;
	domid_t be_id;
	enum xenbus_state st;
	unsigned int i, n = 0;
	uint8_t *slot;

	(void)arg;
	xenbus_frontend_path(fe, sizeof(fe), plat->self, "vbd", BLK_DEVID);
	if (xenbus_read_backend(xs, XS_TX_NONE, fe, &be, &be_id) ||
	    xenbus_wait_for_state(xs, be, XENBUS_STATE_BIT(XenbusStateInitWait),
				  10000, NULL))
		return 2;
	if (plat->gntshr->open(plat, &shr) ||
	    plat->gntshr->share(shr, be_id, 1, 1, &ring_ref, &sring) ||
	    plat->gntshr->share(shr, be_id, NDATA, 1, data, &pages) ||
	    plat->evtchn->open(plat, &ev) ||
	    plat->evtchn->bind_unbound(ev, be_id, &port))
		return 3;
	blkif_front_init(&f, BLKIF_ABI_X86_64, sring, BLKIF_PAGE_SIZE);
	snprintf(path, sizeof(path), "%s/ring-ref", fe);
	xs_printf(xs, XS_TX_NONE, path, "%u", ring_ref);
	snprintf(path, sizeof(path), "%s/event-channel", fe);
	xs_printf(xs, XS_TX_NONE, path, "%u", port);
	snprintf(path, sizeof(path), "%s/protocol", fe);
	xs_write_str(xs, XS_TX_NONE, path, "x86_64-abi");
	if (xenbus_switch_state(xs, fe, XenbusStateInitialised) ||
	    xenbus_wait_for_state(xs, be, XENBUS_STATE_BIT(XenbusStateConnected),
				  10000, NULL))
		return 4;

	memset(b, 0, sizeof(b));
#define RW(op_, sect, nseg)                                                    \
	do {                                                                   \
		b[n].q.operation = b[n].q.op = (op_);                          \
		b[n].q.sector = (sect);                                        \
		b[n].q.nr_segs = (nseg);                                       \
		for (i = 0; (int)i < (int)(nseg); i++)                         \
			b[n].seg[i] = (struct blkif_request_segment){          \
				.gref = data[i % NDATA], .last_sect = 7};      \
	} while (0)
	RW(BLKIF_OP_READ, 0, 1);
	b[n].what = "a good read";
	b[n++].want = BLKIF_RSP_OKAY;
	RW(BLKIF_OP_RESERVED_1, 0, 1);
	b[n].what = "unknown operation";
	b[n++].want = BLKIF_RSP_EOPNOTSUPP;
	RW(BLKIF_OP_READ, 0, 0);
	b[n].what = "no segments";
	b[n++].want = BLKIF_RSP_ERROR;
	RW(BLKIF_OP_READ, 0, 1);
	b[n].seg[0].last_sect = 8;
	b[n].what = "last_sect 8";
	b[n++].want = BLKIF_RSP_ERROR;
	RW(BLKIF_OP_READ, 0, 1);
	b[n].seg[0].first_sect = 5;
	b[n].seg[0].last_sect = 3;
	b[n].what = "first after last";
	b[n++].want = BLKIF_RSP_ERROR;
	RW(BLKIF_OP_WRITE, DISK_SECTORS - 4, 1);
	b[n].what = "beyond the disk";
	b[n++].want = BLKIF_RSP_ERROR;
	RW(BLKIF_OP_WRITE, UINT64_MAX - 2, 1);
	b[n].what = "sector overflow";
	b[n++].want = BLKIF_RSP_ERROR;
	RW(BLKIF_OP_READ, 0, 1);
	b[n].seg[0].gref = 60000;
	b[n].what = "bad grant ref";
	b[n++].want = BLKIF_RSP_ERROR;
	b[n].q.operation = BLKIF_OP_INDIRECT;
	b[n].q.op = BLKIF_OP_READ;
	b[n].q.nr_segs = 4000;
	b[n].what = "indirect beyond the advertised segments";
	b[n++].want = BLKIF_RSP_ERROR;
	b[n].q.operation = BLKIF_OP_INDIRECT;
	b[n].q.op = BLKIF_OP_READ;
	b[n].q.nr_segs = 16;
	b[n].q.indirect_grefs[0] = 60001;
	b[n].what = "indirect page with a bad grant ref";
	b[n++].want = BLKIF_RSP_ERROR;
	b[n].q.operation = BLKIF_OP_INDIRECT;
	b[n].q.op = BLKIF_OP_FLUSH_DISKCACHE;
	b[n].q.nr_segs = 16;
	b[n].what = "indirect flush";
	b[n++].want = BLKIF_RSP_ERROR;
	b[n].q.operation = b[n].q.op = BLKIF_OP_DISCARD;
	b[n].q.sector = 8;
	b[n].q.nr_sectors = DISK_SECTORS;
	b[n].what = "discard beyond the disk";
	b[n++].want = BLKIF_RSP_ERROR;
	RW(BLKIF_OP_WRITE, 8, 2);
	b[n].what = "a good write afterwards";
	b[n++].want = BLKIF_RSP_OKAY;
#undef RW
	for (i = 0; i < n; i++) {
		b[i].q.id = 0x5000 + i;
		b[i].q.seg = b[i].seg;
		if (blkif_front_queue(&f, &b[i].q))
			return 5;
		if (blkif_front_push(&f))
			plat->evtchn->notify(ev, port);
		slot = (uint8_t *)sring + 64 +
		       112 * ((f.r.n64.rsp_cons) & (blkif_front_nr_ents(&f) - 1));
		if (wait_rsp(plat, ev, &f, &rsp))
			return 6;
		if (rsp.id != b[i].q.id || rsp.status != b[i].want) {
			fprintf(stderr, "evil front: %s: status %d, id %llx\n",
				b[i].what, rsp.status,
				(unsigned long long)rsp.id);
			return 20 + (int)i;
		}
		/* XSA-216: the padding of the response is zero. */
		if (slot[9] || slot[12] || slot[13] || slot[14] || slot[15])
			return 7;
	}
	/* Now more requests than the ring holds: the device fails. */
	f.r.n64.sring->req_prod = f.r.n64.rsp_cons + 33;
	plat->evtchn->notify(ev, port);
	if (xenbus_wait_for_state(xs, be, XENBUS_STATE_BIT(XenbusStateClosing),
				  10000, &st))
		return 8;
	xenbus_switch_state(xs, fe, XenbusStateClosing);
	xenbus_switch_state(xs, fe, XenbusStateClosed);
	xenbus_wait_for_state(xs, be, XENBUS_STATE_BIT(XenbusStateClosed), 5000,
			      NULL);
	free(be);
	return 0;
}

static int good_front(struct pvk_platform *plat, struct xs_client *xs,
		      void *arg)
{
	struct blkfront *bf;
	uint8_t buf[4096], back[4096];

	(void)arg;
	if (blkfront_open(plat, xs, "xvda", NULL, &bf))
		return 2;
	memset(buf, 0x3c, sizeof(buf));
	if (blkfront_write(bf, 16, buf, 8) || blkfront_read(bf, 16, back, 8) ||
	    memcmp(buf, back, sizeof(buf)))
		return 3;
	blkfront_close(bf);
	return 0;
}

static void test_malicious_frontend(void **state)
{
	char disk[128], disk2[128];
	domid_t d, d2;
	pid_t pid, pid2;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, "evil.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(blk_env_disk(&E, "good.img", DISK_BYTES, disk2,
				      sizeof(disk2)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", evil_front, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	/* The backend survived and serves the next disk. */
	assert_int_equal(kill(E.bk, 0), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk2, "w", good_front, NULL, 0, &d2, &pid2), 0);
	assert_int_equal(blk_env_guest_end(&E, d2, pid2), 0);
	assert_int_equal(kill(E.bk, 0), 0);
}

/* ---- a malicious backend -------------------------------------------------- */

enum evil_mode { EVIL_UNKNOWN_ID, EVIL_DUP_ID, EVIL_RSP_PROD, EVIL_FLOOD };

struct done_wait {
	pthread_mutex_t m;
	pthread_cond_t c;
	int n, status[2];
};

static void done_cb(void *arg, int status)
{
	struct done_wait *w = arg;

	pthread_mutex_lock(&w->m);
	w->status[w->n < 2 ? w->n : 1] = status;
	w->n++;
	pthread_cond_broadcast(&w->c);
	pthread_mutex_unlock(&w->m);
}

static int wait_done(struct done_wait *w, int n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&w->m);
	while (w->n < n)
		if (pthread_cond_timedwait(&w->c, &w->m, &ts))
			break;
	pthread_mutex_unlock(&w->m);
	return w->n >= n ? 0 : -ETIMEDOUT;
}

static int victim_front(struct pvk_platform *plat, struct xs_client *xs,
			void *arg)
{
	enum evil_mode mode = *(const enum evil_mode *)arg;
	struct blkfront_opts o = {.max_indirect_segs = 0, .timeout_ms = 500};
	struct done_wait w = {PTHREAD_MUTEX_INITIALIZER,
			      PTHREAD_COND_INITIALIZER, 0, {1, 1}};
	struct blkfront_stats st;
	static uint8_t buf[2][4096];
	struct blkfront *bf;

	if (blkfront_open(plat, xs, "xvda", &o, &bf))
		return 2;
	if (blkfront_submit(bf, BLKFRONT_READ, 0, buf[0], 8, done_cb, &w))
		return 3;
	if (mode == EVIL_DUP_ID &&
	    blkfront_submit(bf, BLKFRONT_READ, 8, buf[1], 8, done_cb, &w))
		return 3;
	if (wait_done(&w, mode == EVIL_DUP_ID ? 2 : 1))
		return 4;
	blkfront_get_stats(bf, &st);
	switch (mode) {
	case EVIL_UNKNOWN_ID:
	case EVIL_RSP_PROD:
		if (w.status[0] != -EIO || !blkfront_broken(bf))
			return 5;
		break;
	case EVIL_DUP_ID:
		if (w.status[0] != 0 || w.status[1] != -EIO ||
		    !blkfront_broken(bf))
			return 6;
		break;
	case EVIL_FLOOD:
		fprintf(stderr, "flood: %llu events, %llu spurious, %llu "
				"throttled\n",
			(unsigned long long)st.events,
			(unsigned long long)st.spurious_events,
			(unsigned long long)st.throttled);
		if (w.status[0] != 0 || blkfront_broken(bf) ||
		    st.spurious_events < 65 || !st.throttled)
			return 7;
		break;
	}
	/* Broken devices refuse new work cleanly. */
	if (mode != EVIL_FLOOD && blkfront_read(bf, 0, buf[0], 8) != -EIO)
		return 8;
	blkfront_close(bf);
	return 0;
}

static void be_node(domid_t d, const char *node, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u/%u/%s", d,
		 BLK_DEVID, node);
	assert_int_equal(xs_write_str(E.pv.xs, XS_TX_NONE, path, val), 0);
}

static void take_one(struct blkif_back *b, struct blkif_req *req)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (blkif_back_poll(b) > 0 && blkif_back_take(b, req) == 0)
			return;
		usleep(5000);
	}
	fail_msg("no request from the frontend");
}

static void run_evil_backend(enum evil_mode mode)
{
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
	struct blkif_req req = {.seg = seg, .seg_cap = 11};
	char disk[128], fe[96], path[160], be[96];
	struct pvk_gnttab *gt;
	struct pvk_evtchn *ev;
	struct blkif_back b;
	uint64_t ref, port;
	evtchn_port_t local;
	uint64_t id0;
	void *ring;
	domid_t d;
	pid_t pid;
	int i;

	blk_env_backend_stop(&E); /* we are the backend */
	assert_int_equal(blk_env_disk(&E, "x.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(blk_env_guest(&E, disk, "w", victim_front, &mode,
				       sizeof(mode), &d, &pid),
			 0);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", d,
		 BLK_DEVID);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", d,
		 BLK_DEVID);
	be_node(d, "sectors", "8192");
	be_node(d, "info", "0");
	be_node(d, "sector-size", "512");
	be_node(d, "state", "2");
	assert_int_equal(xenbus_wait_for_state(
				 E.pv.xs, fe, XENBUS_STATE_BIT(XenbusStateInitialised),
				 10000, NULL), 0);
	snprintf(path, sizeof(path), "%s/ring-ref", fe);
	assert_int_equal(xs_read_u64(E.pv.xs, XS_TX_NONE, path, 0, UINT32_MAX,
				     &ref), 0);
	snprintf(path, sizeof(path), "%s/event-channel", fe);
	assert_int_equal(xs_read_u64(E.pv.xs, XS_TX_NONE, path, 0, UINT32_MAX,
				     &port), 0);
	assert_int_equal(P0->gnttab->open(P0, &gt), 0);
	{
		grant_ref_t r = (grant_ref_t)ref;

		assert_int_equal(P0->gnttab->map(gt, d, &r, 1, 1, &ring, NULL),
				 0);
	}
	assert_int_equal(P0->evtchn->open(P0, &ev), 0);
	assert_int_equal(P0->evtchn->bind_interdomain(ev, d,
						      (evtchn_port_t)port,
						      &local), 0);
	assert_int_equal(blkif_back_init(&b, BLKIF_ABI_X86_64, ring, 4096), 0);
	be_node(d, "state", "4");

	take_one(&b, &req);
	id0 = req.id;
	switch (mode) {
	case EVIL_UNKNOWN_ID:
		blkif_back_respond(&b, id0 ^ 0x7777, req.operation, 0);
		break;
	case EVIL_DUP_ID:
		take_one(&b, &req);
		blkif_back_respond(&b, id0, BLKIF_OP_READ, 0);
		blkif_back_respond(&b, id0, BLKIF_OP_READ, 0);
		break;
	case EVIL_RSP_PROD:
		blkif_back_respond(&b, id0, req.operation, 0);
		b.r.n64.rsp_prod_pvt += 1000;
		break;
	case EVIL_FLOOD:
		/* Events without responses for a while (they coalesce
		 * while the port is masked, so spread them out). */
		{
			uint64_t until = pvk_now_ns() + 400000000ull;

			for (i = 0; pvk_now_ns() < until; i++) {
				P0->evtchn->notify(ev, local);
				if (i % 4 == 3)
					usleep(50);
			}
		}
		blkif_back_respond(&b, id0, req.operation, 0);
		break;
	}
	blkif_back_push(&b);
	P0->evtchn->notify(ev, local);
	/* The frontend closes; follow it. */
	assert_int_equal(xenbus_wait_for_state(
				 E.pv.xs, fe,
				 XENBUS_STATE_BIT(XenbusStateClosing) |
					 XENBUS_STATE_BIT(XenbusStateClosed),
				 20000, NULL), 0);
	be_node(d, "state", "6");
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	P0->evtchn->unbind(ev, local);
	P0->evtchn->close(ev);
	P0->gnttab->unmap(gt, ring, 1);
	P0->gnttab->close(gt);
	unlink(disk);
}

/* A backend that says Connected before the frontend has published any ring
 * (still connected to an earlier program's rings, as Linux's blkback is
 * when a close was not followed in time): blkfront must not take it for a
 * connection to its own rings. */
struct stale_arg {
	struct chan go;
};

static int stale_front(struct pvk_platform *plat, struct xs_client *xs,
		       void *arg)
{
	struct stale_arg *a = arg;
	struct blkfront_opts o = {.timeout_ms = 500};
	struct blkfront *bf;
	uint64_t v;

	if (chan_get(&a->go, &v))
		return 2;
	if (!blkfront_open(plat, xs, "xvda", &o, &bf)) {
		blkfront_close(bf);
		return 3; /* it "connected" to rings nobody serves */
	}
	return 0;
}

static void test_backend_stale_connected(void **state)
{
	struct stale_arg a;
	char disk[128];
	domid_t d;
	pid_t pid;

	(void)state;
	blk_env_backend_stop(&E); /* we are the backend */
	assert_int_equal(chan_init(&a.go), 0);
	assert_int_equal(blk_env_disk(&E, "stale.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(blk_env_guest(&E, disk, "w", stale_front, &a,
				       sizeof(a), &d, &pid),
			 0);
	be_node(d, "sectors", "8192");
	be_node(d, "info", "0");
	be_node(d, "sector-size", "512");
	be_node(d, "state", "4");
	assert_int_equal(chan_put(&a.go, 1), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	close(a.go.fd[0]);
	close(a.go.fd[1]);
	unlink(disk);
}

static void test_backend_unknown_id(void **state)
{
	(void)state;
	run_evil_backend(EVIL_UNKNOWN_ID);
}

static void test_backend_duplicate_id(void **state)
{
	(void)state;
	run_evil_backend(EVIL_DUP_ID);
}

static void test_backend_bogus_rsp_prod(void **state)
{
	(void)state;
	run_evil_backend(EVIL_RSP_PROD);
}

static void test_backend_event_flood(void **state)
{
	(void)state;
	run_evil_backend(EVIL_FLOOD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malicious_frontend),
		cmocka_unit_test(test_backend_unknown_id),
		cmocka_unit_test(test_backend_duplicate_id),
		cmocka_unit_test(test_backend_bogus_rsp_prod),
		cmocka_unit_test(test_backend_event_flood),
		cmocka_unit_test(test_backend_stale_connected),
	};

	return cmocka_run_group_tests_name("block-hostile", tests, setup,
					   teardown);
}
