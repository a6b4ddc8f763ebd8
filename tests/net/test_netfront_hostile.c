/*
 * test_netfront_hostile.c - netfront against a hostile backend: the test
 * process plays netback (the emulated platform's Dom0: it maps the
 * guest's rings, binds its event channel and writes responses by hand).
 * A backend that breaks the protocol breaks the device (every call after
 * fails with -EIO, nothing crashes):
 *   - rx responses past what was requested (XSA-39's lesson, the other
 *     way round), an rx slot answered out of its place, an rx chain that
 *     never ends;
 *   - a control-ring answer to another request, or control responses
 *     past the requests;
 *   - a tx response with an id never sent, a tx id answered twice, an id
 *     a zero-copy sender holds (reserved, not sent).
 * A tx page holds the frame and zeros only: a short frame written in place
 * after a long one in the same page leaves nothing of it (XSA-403).
 * A malformed packet is only dropped (offset + size beyond the page), and
 * an event flood is throttled (XSA-391): the device goes on and takes
 * the next good packet.
 *
 * No netback and no TAP: it runs without privileges.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "common/util.h"
#include "net_env.h"
#include "netif/netif.h"
#include "pvkit/netfront.h"
#include "pvkit/xenbus.h"

enum evil {
	EVIL_RX_RSP_PROD,
	EVIL_RX_OUT_OF_SLOT,
	EVIL_RX_ENDLESS,
	EVIL_RX_BAD_OFFSET,
	EVIL_TX_UNKNOWN_ID,
	EVIL_TX_DUP_ID,
	EVIL_FLOOD,
	EVIL_TX_RESERVED_ID,   /* answers an id a zero-copy sender holds */
	EVIL_TX_STALE,	       /* reads a whole page behind a short frame */
	EVIL_RX_BAD_OFFSET_ZC, /* RX_BAD_OFFSET and a chain past 64 KiB,
				  received in place */
	EVIL_CTRL_WRONG_ID,    /* a control answer to another request */
	EVIL_CTRL_RSP_PROD,    /* control responses past the requests */
};

/* Zero-copy receive: the handler keeps the first frame it is given. */
struct zc_got {
	uint8_t buf[4096];
	size_t len;
	unsigned int frames;
};

static void zc_keep(void *arg, const struct netfront_rx_frame *f)
{
	struct zc_got *g = arg;
	size_t off = 0;
	unsigned int i;

	if (__atomic_load_n(&g->frames, __ATOMIC_ACQUIRE) || f->len > 4096)
		return;
	for (i = 0; i < f->niov; i++) {
		memcpy(g->buf + off, f->iov[i].iov_base, f->iov[i].iov_len);
		off += f->iov[i].iov_len;
	}
	g->len = off;
	__atomic_store_n(&g->frames, 1, __ATOMIC_RELEASE);
}

/* A frame written in place: len bytes of v. */
static int zc_send_fill(struct netfront *nf, uint8_t v, size_t len)
{
	struct netfront_txbuf b;
	size_t off = 0;
	unsigned int i;
	int rc = netfront_tx_reserve(nf, 0, len, &b, 5000);

	for (i = 0; !rc && i < b.niov; i++) {
		memset(b.iov[i].iov_base, v, b.iov[i].iov_len);
		off += b.iov[i].iov_len;
	}
	return rc ? rc : netfront_tx_commit(nf, &b, off, NULL, 5000);
}

#define GOOD_LEN 60u

static struct net_env E;
static struct pvk_platform *P0;

static void good_fill(uint8_t *f)
{
	unsigned int i;

	for (i = 0; i < GOOD_LEN; i++)
		f[i] = (uint8_t)(i * 7 + 3);
}

/* ---- the victim: netfront in a DomU ------------------------------------- */

static int victim(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	enum evil mode = *(const enum evil *)p;
	struct netfront_opts o = {
	    .num_queues = 1, .sg = true, .timeout_ms = 5000, .ctrl_ring = true};
	uint8_t buf[4096], want[GOOD_LEN];
	struct netfront_stats st;
	struct netfront *nf;
	int n, i;

	if (netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 2;
	good_fill(want);
	memset(buf, 0x5a, sizeof(buf));
	switch (mode) {
	case EVIL_RX_RSP_PROD:
	case EVIL_RX_OUT_OF_SLOT:
	case EVIL_RX_ENDLESS:
		n = netfront_recv(nf, buf, sizeof(buf), NULL, 10000);
		if (n != -EIO || !netfront_broken(nf))
			return 3;
		break;
	case EVIL_RX_BAD_OFFSET:
	case EVIL_FLOOD:
		n = netfront_recv(nf, buf, sizeof(buf), NULL, 10000);
		netfront_get_stats(nf, &st);
		if (n != (int)GOOD_LEN || memcmp(buf, want, GOOD_LEN) ||
		    netfront_broken(nf))
			return 4;
		if (mode == EVIL_RX_BAD_OFFSET && st.rx_errors != 1)
			return 5;
		if (mode == EVIL_FLOOD) {
			fprintf(stderr,
				"flood: %llu events, %llu spurious, %llu "
				"throttled\n",
				(unsigned long long)st.events,
				(unsigned long long)st.spurious_events,
				(unsigned long long)st.throttled);
			if (st.spurious_events < 65 || !st.throttled)
				return 6;
		}
		break;
	case EVIL_RX_BAD_OFFSET_ZC: {
		static struct zc_got g;

		if (netfront_set_rx_handler(nf, zc_keep, &g))
			return 10;
		for (i = 0;
		     i < 1000 && !__atomic_load_n(&g.frames, __ATOMIC_ACQUIRE);
		     i++)
			usleep(10000);
		netfront_get_stats(nf, &st);
		if (g.len != GOOD_LEN || memcmp(g.buf, want, GOOD_LEN) ||
		    st.rx_errors != 1 || st.rx_too_big != 1 ||
		    netfront_broken(nf))
			return 11;
		if (netfront_set_rx_handler(nf, NULL, NULL))
			return 12;
		break;
	}
	case EVIL_TX_RESERVED_ID: {
		/* id 0 held by a reservation, the frame sent goes as id 1 */
		struct netfront_txbuf b;

		if (netfront_tx_reserve(nf, 0, 100, &b, 5000) ||
		    netfront_send(nf, want, GOOD_LEN, NULL, 5000))
			return 13;
		for (i = 0; i < 1000 && !netfront_broken(nf); i++)
			usleep(10000);
		memset(b.iov[0].iov_base, 0, b.iov[0].iov_len);
		if (netfront_tx_commit(nf, &b, GOOD_LEN, NULL, 1000) != -EIO)
			return 14;
		break;
	}
	case EVIL_TX_STALE:
		/* A long frame in every page, then a short one. */
		for (i = 0; i < (int)NETIF_TX_RING_SIZE; i++)
			if (zc_send_fill(nf, 0xee, 4000))
				return 15;
		{
			/* written, then given back: never seen */
			struct netfront_txbuf b;

			if (netfront_tx_reserve(nf, 0, 8000, &b, 5000) ||
			    b.niov != 2)
				return 17;
			memset(b.iov[0].iov_base, 0x77, b.iov[0].iov_len);
			memset(b.iov[1].iov_base, 0x77, b.iov[1].iov_len);
			netfront_tx_cancel(nf, &b, 8000);
		}
		if (zc_send_fill(nf, 0x11, GOOD_LEN))
			return 16;
		for (i = 0; i < 1000 && !netfront_broken(nf); i++)
			usleep(10000);
		break;
	case EVIL_CTRL_WRONG_ID:
	case EVIL_CTRL_RSP_PROD: {
		uint32_t flags;

		if (!netfront_info(nf)->ctrl_ring ||
		    netfront_hash_flags(nf, &flags) != -EIO ||
		    !netfront_broken(nf))
			return 17;
		break;
	}
	case EVIL_TX_UNKNOWN_ID:
	case EVIL_TX_DUP_ID:
		for (i = 0; i < (mode == EVIL_TX_DUP_ID ? 2 : 1); i++)
			if (netfront_send(nf, want, GOOD_LEN, NULL, 5000))
				return 7;
		for (i = 0; i < 1000 && !netfront_broken(nf); i++)
			usleep(10000);
		if (!netfront_broken(nf))
			return 8;
		break;
	}
	/* A broken device refuses new work cleanly. */
	if (mode != EVIL_RX_BAD_OFFSET && mode != EVIL_FLOOD &&
	    mode != EVIL_RX_BAD_OFFSET_ZC &&
	    (netfront_send(nf, want, GOOD_LEN, NULL, 1000) != -EIO ||
	     netfront_recv(nf, buf, sizeof(buf), NULL, 0) != -EIO))
		return 9;
	netfront_close(nf);
	return 0;
}

/* ---- the hostile backend ------------------------------------------------ */

struct evil_be {
	domid_t d;
	struct pvk_gnttab *gt;
	struct pvk_evtchn *ev;
	evtchn_port_t local;
	void *txs, *rxs;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	void *ctrls;
	xen_netif_ctrl_back_ring_t ctrl;
	evtchn_port_t ctrl_local;
};

static void be_node(domid_t d, const char *node, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/%s", d,
		 NET_DEVID, node);
	assert_int_equal(xs_write_str(E.pv.xs, XS_TX_NONE, path, val), 0);
}

static uint64_t fe_u64(domid_t d, const char *node)
{
	char path[128];
	uint64_t v;

	snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u/%s", d,
		 NET_DEVID, node);
	assert_int_equal(
	    xs_read_u64(E.pv.xs, XS_TX_NONE, path, 0, UINT32_MAX, &v), 0);
	return v;
}

static void *map_ref_as(struct evil_be *b, grant_ref_t ref, int writable)
{
	void *p = NULL;

	assert_int_equal(
	    P0->gnttab->map(b->gt, b->d, &ref, 1, writable, &p, NULL), 0);
	return p;
}

static void *map_ref(struct evil_be *b, grant_ref_t ref)
{
	return map_ref_as(b, ref, 1);
}

/* Advertise, wait for the frontend's Connected, map and bind, say
 * Connected. */
static void be_connect(struct evil_be *b)
{
	char fe[96];

	be_node(b->d, "feature-rx-copy", "1");
	be_node(b->d, "feature-sg", "1");
	be_node(b->d, "feature-ctrl-ring", "1");
	be_node(b->d, "state", "2");
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", b->d,
		 NET_DEVID);
	assert_int_equal(
	    xenbus_wait_for_state(E.pv.xs, fe,
				  XENBUS_STATE_BIT(XenbusStateConnected), 10000,
				  NULL),
	    0);
	assert_int_equal(P0->gnttab->open(P0, &b->gt), 0);
	b->txs = map_ref(b, (grant_ref_t)fe_u64(b->d, "tx-ring-ref"));
	b->rxs = map_ref(b, (grant_ref_t)fe_u64(b->d, "rx-ring-ref"));
	BACK_RING_INIT(&b->tx, (netif_tx_sring_t *)b->txs, NETIF_PAGE_SIZE);
	BACK_RING_INIT(&b->rx, (netif_rx_sring_t *)b->rxs, NETIF_PAGE_SIZE);
	assert_int_equal(P0->evtchn->open(P0, &b->ev), 0);
	assert_int_equal(P0->evtchn->bind_interdomain(
			     b->ev, b->d,
			     (evtchn_port_t)fe_u64(b->d, "event-channel"),
			     &b->local),
			 0);
	b->ctrls = map_ref(b, (grant_ref_t)fe_u64(b->d, "ctrl-ring-ref"));
	BACK_RING_INIT(&b->ctrl, (xen_netif_ctrl_sring_t *)b->ctrls,
		       NETIF_PAGE_SIZE);
	assert_int_equal(P0->evtchn->bind_interdomain(
			     b->ev, b->d,
			     (evtchn_port_t)fe_u64(b->d, "event-channel-ctrl"),
			     &b->ctrl_local),
			 0);
	be_node(b->d, "state", "4");
}

static void be_push(struct evil_be *b, RING_IDX rx_prod, RING_IDX tx_prod)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (rx_prod)
		b->rx.sring->rsp_prod = rx_prod;
	if (tx_prod)
		b->tx.sring->rsp_prod = tx_prod;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	P0->evtchn->notify(b->ev, b->local);
}

/* Wait for n requests on a ring whose req_prod is at *prod. */
static void wait_reqs(volatile RING_IDX *prod, RING_IDX n)
{
	int i;

	for (i = 0; i < 1000 && *prod < n; i++)
		usleep(10000);
	assert_true(*prod >= n);
}

/* The rx response at ring index i: a data slot answered in its place. */
static void rx_rsp(struct evil_be *b, RING_IDX i, uint16_t off, int16_t st,
		   uint16_t flags)
{
	struct netif_rx_request req = *RING_GET_REQUEST(&b->rx, i);
	struct netif_rx_response *r = RING_GET_RESPONSE(&b->rx, i);

	r->id = req.id;
	r->offset = off;
	r->flags = flags;
	r->status = st;
}

/* A good packet in rx slot i: the data written into the posted page. */
static void rx_good(struct evil_be *b, RING_IDX i)
{
	struct netif_rx_request req = *RING_GET_REQUEST(&b->rx, i);
	uint8_t *page = map_ref(b, req.gref);

	good_fill(page + 100);
	P0->gnttab->unmap(b->gt, page, 1);
	rx_rsp(b, i, 100, GOOD_LEN, 0);
}

static void run_evil(enum evil mode)
{
	struct evil_be b = {0};
	char fe[96];
	RING_IDX i;
	pid_t pid;

	net_env_backend_stop(&E); /* we are the backend */
	assert_int_equal(
	    net_env_guest(&E, 1500, victim, &mode, sizeof(mode), &b.d, &pid),
	    0);
	be_connect(&b);
	wait_reqs(&b.rx.sring->req_prod, NETIF_RX_RING_SIZE);
	switch (mode) {
	case EVIL_RX_RSP_PROD:
		rx_good(&b, 0);
		be_push(&b, NETIF_RX_RING_SIZE + 5, 0);
		break;
	case EVIL_RX_OUT_OF_SLOT:
		rx_good(&b, 0);
		RING_GET_RESPONSE(&b.rx, 0)->id = 1;
		be_push(&b, 1, 0);
		break;
	case EVIL_RX_ENDLESS:
		for (i = 0; i < 80; i++)
			rx_rsp(&b, i, 0, 1, NETRXF_more_data);
		be_push(&b, 80, 0);
		break;
	case EVIL_RX_BAD_OFFSET:
		rx_rsp(&b, 0, 4000, 200, 0);
		rx_good(&b, 1);
		be_push(&b, 2, 0);
		break;
	case EVIL_RX_BAD_OFFSET_ZC:
		/* a bad offset, then 17 full pages (68 KiB: more than a
		 * frame), then a good packet */
		rx_rsp(&b, 0, 4000, 200, 0);
		for (i = 1; i <= 17; i++)
			rx_rsp(&b, i, 0, 4096, i < 17 ? NETRXF_more_data : 0);
		rx_good(&b, 18);
		be_push(&b, 19, 0);
		break;
	case EVIL_FLOOD: {
		/* Events without responses for a while (they coalesce
		 * while the port is masked, so spread them out). */
		uint64_t until = pvk_now_ns() + 400000000ull;

		for (i = 0; pvk_now_ns() < until; i++) {
			P0->evtchn->notify(b.ev, b.local);
			if (i % 4 == 3)
				usleep(50);
		}
		rx_good(&b, 0);
		be_push(&b, 1, 0);
		break;
	}
	case EVIL_TX_UNKNOWN_ID:
		wait_reqs(&b.tx.sring->req_prod, 1);
		RING_GET_RESPONSE(&b.tx, 0)->id = 77;
		RING_GET_RESPONSE(&b.tx, 0)->status = NETIF_RSP_OKAY;
		be_push(&b, 0, 1);
		break;
	case EVIL_CTRL_WRONG_ID:
	case EVIL_CTRL_RSP_PROD: {
		struct xen_netif_ctrl_request q;

		wait_reqs(&b.ctrl.sring->req_prod, 1);
		q = *RING_GET_REQUEST(&b.ctrl, 0);
		RING_GET_RESPONSE(&b.ctrl, 0)->id =
		    (uint16_t)(q.id + (mode == EVIL_CTRL_WRONG_ID));
		RING_GET_RESPONSE(&b.ctrl, 0)->type = q.type;
		RING_GET_RESPONSE(&b.ctrl, 0)->status =
		    XEN_NETIF_CTRL_STATUS_SUCCESS;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		b.ctrl.sring->rsp_prod = mode == EVIL_CTRL_WRONG_ID ? 1 : 9;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		P0->evtchn->notify(b.ev, b.ctrl_local);
		break;
	}
	case EVIL_TX_RESERVED_ID:
		wait_reqs(&b.tx.sring->req_prod, 1);
		assert_int_equal(RING_GET_REQUEST(&b.tx, 0)->id, 1);
		RING_GET_RESPONSE(&b.tx, 0)->id = 0;
		RING_GET_RESPONSE(&b.tx, 0)->status = NETIF_RSP_OKAY;
		be_push(&b, 0, 1);
		break;
	case EVIL_TX_STALE: {
		/* Every id carries a long frame; answered, one page is used
		 * again for the short frame, which must hold it and zeros
		 * (XSA-403), nothing of the long one. */
		struct netif_tx_request r1;
		grant_ref_t all[NETIF_TX_RING_SIZE];
		uint8_t *page;
		unsigned int k, j;

		wait_reqs(&b.tx.sring->req_prod, NETIF_TX_RING_SIZE);
		for (k = 0; k < NETIF_TX_RING_SIZE; k++) {
			struct netif_tx_request r0 =
			    *RING_GET_REQUEST(&b.tx, k);

			all[k] = r0.gref;
			assert_int_equal(r0.size, 4000);
			RING_GET_RESPONSE(&b.tx, k)->id = r0.id;
			RING_GET_RESPONSE(&b.tx, k)->status = NETIF_RSP_OKAY;
		}
		be_push(&b, 0, NETIF_TX_RING_SIZE);
		wait_reqs(&b.tx.sring->req_prod, NETIF_TX_RING_SIZE + 1);
		r1 = *RING_GET_REQUEST(&b.tx, NETIF_TX_RING_SIZE);
		assert_int_equal(r1.size, GOOD_LEN);
		page = map_ref_as(&b, r1.gref, 0); /* shared read-only */
		for (k = 0; k < GOOD_LEN; k++)
			assert_int_equal(page[k], 0x11);
		for (k = GOOD_LEN; k < NETIF_PAGE_SIZE; k++)
			if (page[k])
				fail_msg("tx page byte %u left: %#x", k,
					 page[k]);
		P0->gnttab->unmap(b.gt, page, 1);
		/* what the guest wrote into a reservation it gave back
		 * (netfront_tx_cancel) is in no page */
		for (k = 0; k < NETIF_TX_RING_SIZE; k++) {
			page = map_ref_as(&b, all[k], 0);
			for (j = 0; j < NETIF_PAGE_SIZE; j++)
				if (page[j] == 0x77)
					fail_msg("tx page %u byte %u: a "
						 "cancelled write",
						 k, j);
			P0->gnttab->unmap(b.gt, page, 1);
		}
		/* then break it, so that the frontend closes */
		RING_GET_RESPONSE(&b.tx, NETIF_TX_RING_SIZE)->id = 300;
		RING_GET_RESPONSE(&b.tx, NETIF_TX_RING_SIZE)->status =
		    NETIF_RSP_OKAY;
		be_push(&b, 0, NETIF_TX_RING_SIZE + 1);
		break;
	}
	case EVIL_TX_DUP_ID:
		wait_reqs(&b.tx.sring->req_prod, 2);
		for (i = 0; i < 2; i++) {
			RING_GET_RESPONSE(&b.tx, i)->id =
			    RING_GET_REQUEST(&b.tx, 0)->id;
			RING_GET_RESPONSE(&b.tx, i)->status = NETIF_RSP_OKAY;
		}
		be_push(&b, 0, 2);
		break;
	}
	/* The frontend closes; follow it. */
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", b.d,
		 NET_DEVID);
	assert_int_equal(
	    xenbus_wait_for_state(E.pv.xs, fe,
				  XENBUS_STATE_BIT(XenbusStateClosing) |
				      XENBUS_STATE_BIT(XenbusStateClosed),
				  20000, NULL),
	    0);
	be_node(b.d, "state", "6");
	assert_int_equal(net_env_guest_end(&E, b.d, pid), 0);
	P0->evtchn->unbind(b.ev, b.local);
	P0->evtchn->unbind(b.ev, b.ctrl_local);
	P0->gnttab->unmap(b.gt, b.ctrls, 1);
	P0->evtchn->close(b.ev);
	P0->gnttab->unmap(b.gt, b.txs, 1);
	P0->gnttab->unmap(b.gt, b.rxs, 1);
	P0->gnttab->close(b.gt);
}

static void test_rx_rsp_prod(void **state)
{
	(void)state;
	run_evil(EVIL_RX_RSP_PROD);
}

static void test_rx_out_of_slot(void **state)
{
	(void)state;
	run_evil(EVIL_RX_OUT_OF_SLOT);
}

static void test_rx_endless(void **state)
{
	(void)state;
	run_evil(EVIL_RX_ENDLESS);
}

static void test_rx_bad_offset(void **state)
{
	(void)state;
	run_evil(EVIL_RX_BAD_OFFSET);
}

static void test_tx_unknown_id(void **state)
{
	(void)state;
	run_evil(EVIL_TX_UNKNOWN_ID);
}

static void test_tx_dup_id(void **state)
{
	(void)state;
	run_evil(EVIL_TX_DUP_ID);
}

static void test_flood(void **state)
{
	(void)state;
	run_evil(EVIL_FLOOD);
}

static void test_tx_reserved_id(void **state)
{
	(void)state;
	run_evil(EVIL_TX_RESERVED_ID);
}

static void test_tx_stale(void **state)
{
	(void)state;
	run_evil(EVIL_TX_STALE);
}

static void test_rx_bad_offset_zc(void **state)
{
	(void)state;
	run_evil(EVIL_RX_BAD_OFFSET_ZC);
}

static void test_ctrl_wrong_id(void **state)
{
	(void)state;
	run_evil(EVIL_CTRL_WRONG_ID);
}

static void test_ctrl_rsp_prod(void **state)
{
	(void)state;
	run_evil(EVIL_CTRL_RSP_PROD);
}

static int setup(void **state)
{
	int rc;

	(void)state;
	rc = net_env_start(&E);
	if (!rc)
		rc = pvk_platform_emulated_from_rt(E.pv.h.dom0, &P0);
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	pvk_platform_close(P0);
	net_env_stop(&E);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rx_rsp_prod),
	    cmocka_unit_test(test_rx_out_of_slot),
	    cmocka_unit_test(test_rx_endless),
	    cmocka_unit_test(test_rx_bad_offset),
	    cmocka_unit_test(test_tx_unknown_id),
	    cmocka_unit_test(test_tx_dup_id),
	    cmocka_unit_test(test_flood),
	    cmocka_unit_test(test_tx_reserved_id),
	    cmocka_unit_test(test_tx_stale),
	    cmocka_unit_test(test_rx_bad_offset_zc),
	    cmocka_unit_test(test_ctrl_wrong_id),
	    cmocka_unit_test(test_ctrl_rsp_prod),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
