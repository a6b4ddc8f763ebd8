/*
 * test_netif.c - the netif protocol core (src/netif): a frontend's ring
 * end and the backend's on one page, Linux netback's TX slot rules and
 * hostile frontends (XSA-39 ring pointers, XSA-155 double fetch, slots
 * crossing pages, too many slots, bad extra info), RX answers in their
 * request's slot.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "netif/netif.h"

struct rings {
	void *txp, *rxp;
	netif_tx_front_ring_t txf;
	netif_rx_front_ring_t rxf;
	struct netif_tx_back txb;
	struct netif_rx_back rxb;
};

static int setup(void **state)
{
	struct rings *r = calloc(1, sizeof(*r));

	r->txp = aligned_alloc(NETIF_PAGE_SIZE, NETIF_PAGE_SIZE);
	r->rxp = aligned_alloc(NETIF_PAGE_SIZE, NETIF_PAGE_SIZE);
	SHARED_RING_INIT((netif_tx_sring_t *)r->txp);
	SHARED_RING_INIT((netif_rx_sring_t *)r->rxp);
	FRONT_RING_INIT(&r->txf, (netif_tx_sring_t *)r->txp, NETIF_PAGE_SIZE);
	FRONT_RING_INIT(&r->rxf, (netif_rx_sring_t *)r->rxp, NETIF_PAGE_SIZE);
	assert_int_equal(netif_tx_back_init(&r->txb, r->txp), 0);
	assert_int_equal(netif_rx_back_init(&r->rxb, r->rxp), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rings *r = *state;

	free(r->txp);
	free(r->rxp);
	free(r);
	return 0;
}

/* Queue one TX request (not published). */
static void txq(struct rings *r, uint16_t id, uint16_t off, uint16_t size,
		uint16_t flags)
{
	struct netif_tx_request *t =
	    RING_GET_REQUEST(&r->txf, r->txf.req_prod_pvt++);

	t->gref = 100 + id;
	t->offset = off;
	t->size = size;
	t->id = id;
	t->flags = flags;
}

static void txx(struct rings *r, uint8_t type, uint8_t flags, uint16_t a,
		uint8_t b)
{
	struct netif_extra_info *x =
	    (struct netif_extra_info *)RING_GET_REQUEST(&r->txf,
							r->txf.req_prod_pvt++);

	memset(x, 0, sizeof(*x));
	x->type = type;
	x->flags = flags;
	x->u.gso.size = a;
	x->u.gso.type = b;
}

static void txpub(struct rings *r)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&r->txf, notify);
	(void)notify;
}

/* A packet of one slot, then one of three: sizes, ids, responses. */
static void test_tx_simple(void **state)
{
	struct rings *r = *state;
	struct netif_tx_pkt p;
	const char *why = NULL;

	assert_false(netif_tx_back_peek(&r->txb));
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 0);
	txq(r, 1, 0, 60, 0);
	txq(r, 2, 100, 5000, NETTXF_more_data);
	txq(r, 3, 0, 4096, NETTXF_more_data);
	txq(r, 4, 0, 4, 0);
	txpub(r);
	assert_true(netif_tx_back_peek(&r->txb));
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_OK);
	assert_int_equal(p.nreq, 1);
	assert_int_equal(p.len, 60);
	assert_int_equal(p.frag[0], 60);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_OKAY);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_OK);
	assert_int_equal(p.nreq, 3);
	assert_int_equal(p.len, 5000);
	assert_int_equal(p.frag[0], 900);
	assert_int_equal(p.frag[1], 4096);
	assert_int_equal(p.frag[2], 4);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_OKAY);
	netif_tx_back_push(&r->txb);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 0);
	/* four responses, in ring order */
	assert_int_equal(RING_HAS_UNCONSUMED_RESPONSES(&r->txf), 4);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 1)->id, 2);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 3)->id, 4);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 3)->status, NETIF_RSP_OKAY);
}

/* GSO and hash extras: taken, answered NULL in their slots. */
static void test_tx_extras(void **state)
{
	struct rings *r = *state;
	struct netif_tx_pkt p;
	const char *why = NULL;

	txq(r, 7, 0, 3000, NETTXF_extra_info | NETTXF_csum_blank);
	txx(r, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE, 1448,
	    XEN_NETIF_GSO_TYPE_TCPV4);
	txx(r, XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	txpub(r);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_OK);
	assert_int_equal(p.nextra, 2);
	assert_true(p.has_extra & (1u << XEN_NETIF_EXTRA_TYPE_GSO));
	assert_int_equal(p.extra[XEN_NETIF_EXTRA_TYPE_GSO - 1].u.gso.size,
			 1448);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_OKAY);
	netif_tx_back_push(&r->txb);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 0)->id, 7);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 0)->status, NETIF_RSP_OKAY);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 1)->status, NETIF_RSP_NULL);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 2)->status, NETIF_RSP_NULL);
}

/* A packet of first + n follow-ons of 100 bytes each. */
static void tx_chain(struct rings *r, unsigned int n)
{
	unsigned int i;

	txq(r, 0, 0, (uint16_t)(100 * (n + 1)), NETTXF_more_data);
	for (i = 1; i <= n; i++)
		txq(r, (uint16_t)i, 0, 100, i < n ? NETTXF_more_data : 0);
	txpub(r);
}

/* 18 follow-ons pass, 19 and 20 drop (every slot ERROR), 21 is fatal. */
static void test_tx_slot_limits(void **state)
{
	struct rings *r = *state;
	struct netif_tx_pkt p;
	const char *why = NULL;
	RING_IDX i;

	tx_chain(r, 18);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_OK);
	assert_int_equal(p.nreq, 19);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_OKAY);
	tx_chain(r, 19);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_DROP_TOO_MANY_SLOTS);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_ERROR);
	tx_chain(r, 20);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_DROP_TOO_MANY_SLOTS);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_ERROR);
	netif_tx_back_push(&r->txb);
	for (i = 19; i < 19 + 20 + 21; i++)
		assert_int_equal(RING_GET_RESPONSE(&r->txf, i)->status,
				 NETIF_RSP_ERROR);
	tx_chain(r, 21);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), -EPROTO);
	assert_string_equal(why, "too many slots");
	assert_false(netif_tx_back_peek(&r->txb));
}

static void expect_fatal(struct rings *r, const char *want)
{
	struct netif_tx_pkt p;
	const char *why = NULL;

	assert_int_equal(netif_tx_take(&r->txb, &p, &why), -EPROTO);
	assert_non_null(why);
	assert_string_equal(why, want);
	/* and it stays broken */
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), -EPROTO);
}

static void test_tx_ring_jump(void **state)
{
	struct rings *r = *state;

	r->txf.sring->req_prod = NETIF_TX_RING_SIZE + 1; /* XSA-39 */
	expect_fatal(r, "impossible number of requests");
}

static void test_tx_cross_page(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 4000, 200, 0);
	txpub(r);
	expect_fatal(r, "slot crosses its page");
}

static void test_tx_cross_page_follow(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_more_data);
	txq(r, 2, 4000, 200, 0);
	txpub(r);
	expect_fatal(r, "slot crosses its page");
}

static void test_tx_past_prod(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_more_data);
	txpub(r);
	expect_fatal(r, "packet runs past req_prod");
}

static void test_tx_missing_extra(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_extra_info);
	txpub(r);
	expect_fatal(r, "missing extra info");
}

static void test_tx_bad_extras(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_extra_info);
	txx(r, XEN_NETIF_EXTRA_TYPE_MAX, 0, 0, 0);
	txpub(r);
	expect_fatal(r, "bad extra info type");
}

static void test_tx_extra_twice(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_extra_info);
	txx(r, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	txx(r, XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	txpub(r);
	expect_fatal(r, "extra info type given twice");
}

static void test_tx_gso_zero(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_extra_info);
	txx(r, XEN_NETIF_EXTRA_TYPE_GSO, 0, 0, XEN_NETIF_GSO_TYPE_TCPV4);
	txpub(r);
	expect_fatal(r, "GSO size 0");
}

static void test_tx_gso_type(void **state)
{
	struct rings *r = *state;

	txq(r, 1, 0, 300, NETTXF_extra_info);
	txx(r, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1400, 3);
	txpub(r);
	expect_fatal(r, "bad GSO type");
}

/* Dropped, not fatal: runts and follow-ons beyond the packet; the ring
 * goes on.  Zero-length follow-ons are valid (XSA-448's input). */
static void test_tx_drops(void **state)
{
	struct rings *r = *state;
	struct netif_tx_pkt p;
	const char *why = NULL;

	txq(r, 1, 0, 10, 0);
	txq(r, 2, 0, 100, NETTXF_more_data);
	txq(r, 3, 0, 200, 0);
	txq(r, 4, 0, 100, NETTXF_more_data);
	txq(r, 5, 0, 0, NETTXF_more_data);
	txq(r, 6, 0, 0, 0);
	txpub(r);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_DROP_RUNT);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_DROP_SLOT_TOO_BIG);
	assert_int_equal(p.nreq, 2);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_int_equal(p.drop, NETIF_TX_OK);
	assert_int_equal(p.nreq, 3);
	assert_int_equal(p.frag[0], 100);
	assert_int_equal(p.frag[1], 0);
	assert_int_equal(p.frag[2], 0);
}

/* A multicast-control request is taken alone and answered; the packet
 * after it is a packet. */
static void test_tx_mcast(void **state)
{
	struct rings *r = *state;
	struct netif_tx_pkt p;
	const char *why = NULL;
	struct netif_extra_info *x;

	txq(r, 9, 0, 0, NETTXF_extra_info);
	x = (struct netif_extra_info *)RING_GET_REQUEST(&r->txf,
							 r->txf.req_prod_pvt++);
	memset(x, 0, sizeof(*x));
	x->type = XEN_NETIF_EXTRA_TYPE_MCAST_ADD;
	memcpy(x->u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6);
	txq(r, 10, 0, 60, 0);
	txpub(r);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_true(p.mcast);
	assert_int_equal(p.drop, NETIF_TX_OK);
	assert_memory_equal(
	    p.extra[XEN_NETIF_EXTRA_TYPE_MCAST_ADD - 1].u.mcast.addr,
	    "\x01\x00\x5e\x00\x00\x01", 6);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_OKAY);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	assert_false(p.mcast);
	assert_int_equal(p.len, 60);
	netif_tx_respond(&r->txb, &p, NETIF_RSP_OKAY);
	netif_tx_back_push(&r->txb);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 0)->id, 9);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 1)->status,
			 NETIF_RSP_NULL);
	assert_int_equal(RING_GET_RESPONSE(&r->txf, 2)->id, 10);
}

/* XSA-155: the frontend rewrites a slot after the backend read it; the
 * backend's copy is what it validated and uses. */
static void test_tx_copy_once(void **state)
{
	struct rings *r = *state;
	struct netif_tx_pkt p;
	const char *why = NULL;

	txq(r, 1, 0, 100, 0);
	txpub(r);
	assert_int_equal(netif_tx_take(&r->txb, &p, &why), 1);
	RING_GET_REQUEST(&r->txf, 0)->offset = 4095;
	RING_GET_REQUEST(&r->txf, 0)->size = 60000;
	assert_int_equal(p.req[0].offset, 0);
	assert_int_equal(p.frag[0], 100);
}

/* RX: answers in the request's slot; extras take a slot; the producer
 * is checked. */
static void test_rx(void **state)
{
	struct rings *r = *state;
	struct netif_rx_request q;
	struct netif_extra_info x = {.type = XEN_NETIF_EXTRA_TYPE_GSO};
	const char *why = NULL;
	unsigned int n, i;
	RING_IDX idx;
	int notify;

	assert_int_equal(netif_rx_slots(0, 0), 1);
	assert_int_equal(netif_rx_slots(4096, 0), 1);
	assert_int_equal(netif_rx_slots(4097, 1), 3);
	assert_int_equal(netif_rx_slots(65535, 1), 17);
	assert_int_equal(netif_rx_avail(&r->rxb, &n, &why), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < 4; i++) {
		struct netif_rx_request *rq =
		    RING_GET_REQUEST(&r->rxf, r->rxf.req_prod_pvt++);

		rq->id = (uint16_t)(40 + i);
		rq->gref = 500 + i;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&r->rxf, notify);
	(void)notify;
	assert_int_equal(netif_rx_avail(&r->rxb, &n, &why), 0);
	assert_int_equal(n, 4);
	netif_rx_take(&r->rxb, &q, &idx);
	assert_int_equal(q.id, 40);
	assert_int_equal(q.gref, 500);
	netif_rx_respond(&r->rxb, idx, q.id, 0,
			 NETRXF_extra_info | NETRXF_more_data, 4096);
	netif_rx_take(&r->rxb, &q, &idx);
	x.u.gso.size = 1448;
	netif_rx_respond_extra(&r->rxb, idx, &x);
	netif_rx_take(&r->rxb, &q, &idx);
	netif_rx_respond(&r->rxb, idx, q.id, 0, 0, 100);
	assert_true(netif_rx_back_push(&r->rxb, idx + 1) || true);
	assert_int_equal(RING_HAS_UNCONSUMED_RESPONSES(&r->rxf), 3);
	assert_int_equal(RING_GET_RESPONSE(&r->rxf, 0)->id, 40);
	assert_int_equal(RING_GET_RESPONSE(&r->rxf, 2)->id, 42);
	assert_int_equal(RING_GET_RESPONSE(&r->rxf, 2)->status, 100);
	assert_int_equal(
	    ((struct netif_extra_info *)RING_GET_RESPONSE(&r->rxf, 1))
		->u.gso.size,
	    1448);
	assert_int_equal(netif_rx_avail(&r->rxb, &n, &why), 0);
	assert_int_equal(n, 1);
	/* peeked, it stays; consumed, it goes (the copy is what counts: a
	 * frontend rewriting the ring after the peek changes nothing) */
	netif_rx_peek(&r->rxb, 0, &q);
	assert_int_equal(q.id, 43);
	assert_int_equal(q.gref, 503);
	RING_GET_REQUEST(&r->rxf, 3)->gref = 999;
	assert_int_equal(netif_rx_avail(&r->rxb, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(q.gref, 503);
	netif_rx_consume(&r->rxb, &idx);
	assert_int_equal(idx, 3);
	assert_int_equal(netif_rx_avail(&r->rxb, &n, &why), 0);
	assert_int_equal(n, 0);
	netif_rx_respond(&r->rxb, idx, q.id, 0, 0, 60);
	assert_true(netif_rx_back_push(&r->rxb, idx + 1) || true);
	assert_int_equal(RING_GET_RESPONSE(&r->rxf, 3)->id, 43);
	/* want 2: not there; the event index asks for req_cons + 2 */
	assert_false(netif_rx_back_want(&r->rxb, 2));
	assert_int_equal(r->rxf.sring->req_event, 6);
	/* XSA-39 on RX: more than a ring ahead of what was answered */
	r->rxf.sring->req_prod += NETIF_RX_RING_SIZE + 1;
	assert_int_equal(netif_rx_avail(&r->rxb, &n, &why), -EPROTO);
	assert_string_equal(why, "impossible number of RX requests");
}

/* An IPv4/UDP frame with a VLAN tag, and one IPv6/TCP frame with a
 * hop-by-hop header: found, pseudo-header summed, checksum finished; the
 * result verifies (the sum over pseudo-header and segment is 0xffff). */
static uint16_t be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t verify_sum(const uint8_t *f, size_t len, size_t ip, bool v6,
			   size_t l4, uint8_t proto)
{
	uint32_t s = 0;
	size_t i;

	for (i = v6 ? ip + 8 : ip + 12; i < (v6 ? ip + 40 : ip + 20); i += 2)
		s += be(f + i);
	s += proto + (uint32_t)(len - l4);
	for (i = l4; i + 1 < len; i += 2)
		s += be(f + i);
	if ((len - l4) & 1)
		s += (uint32_t)f[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void test_csum(void **state)
{
	uint8_t f[200];
	struct netif_l4 l4;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(f); i++)
		f[i] = (uint8_t)(i * 7 + 3);
	/* Ethernet + 802.1Q + IPv4 (ihl 5, no fragment) + UDP */
	f[12] = 0x81, f[13] = 0x00, f[16] = 0x08, f[17] = 0x00;
	f[18] = 0x45, f[24] = 0x40, f[25] = 0, f[27] = 17;
	assert_int_equal(netif_parse_l4(f, 101, &l4), 0);
	assert_int_equal(l4.csum_start, 38);
	assert_int_equal(l4.csum_offset, 6);
	assert_int_equal(l4.hdr_len, 46);
	assert_false(l4.ipv6);
	netif_csum_pseudo(f, 101, &l4);
	assert_int_equal(
	    netif_csum_finish(f, 101, l4.csum_start, l4.csum_offset), 0);
	assert_int_equal(verify_sum(f, 101, 18, false, 38, 17), 0xffff);
	/* a fragment is not offloadable; too short is invalid */
	f[24] = 0x20;
	assert_int_equal(netif_parse_l4(f, 101, &l4), -EPROTONOSUPPORT);
	assert_int_equal(netif_parse_l4(f, 30, &l4), -EINVAL);
	/* Ethernet + IPv6 + hop-by-hop (8 bytes) + TCP (doff 5) */
	f[12] = 0x86, f[13] = 0xdd, f[14] = 0x60, f[20] = 0;
	f[54] = 6, f[55] = 0;
	f[62 + 12] = 0x50;
	assert_int_equal(netif_parse_l4(f, 150, &l4), 0);
	assert_int_equal(l4.csum_start, 62);
	assert_int_equal(l4.csum_offset, 16);
	assert_int_equal(l4.hdr_len, 82);
	assert_true(l4.ipv6);
	netif_csum_pseudo(f, 150, &l4);
	assert_int_equal(netif_csum_finish(f, 150, 62, 16), 0);
	assert_int_equal(verify_sum(f, 150, 14, true, 62, 6), 0xffff);
	assert_int_equal(netif_csum_finish(f, 60, 62, 16), -EINVAL);
}

/* The control ring (XSA-270: sizes and offsets that wrap or overrun the
 * table, queue numbers out of range) and the Toeplitz hash against the
 * RSS verification suite's first vector. */
static int fetch_from(void *arg, grant_ref_t ref, void *dst, size_t len)
{
	const uint8_t *page = arg;

	if (ref != 7)
		return -EPERM;
	memcpy(dst, page, len);
	return 0;
}

static uint32_t ctrl(struct netif_hash *h, unsigned int nq, uint16_t type,
		     uint32_t d0, uint32_t d1, uint32_t d2, void *page,
		     uint32_t *data)
{
	struct xen_netif_ctrl_request rq = {
	    .id = 3, .type = type, .data = {d0, d1, d2}};
	struct xen_netif_ctrl_response rs;

	netif_ctrl_serve(h, nq, &rq, fetch_from, page, &rs);
	assert_int_equal(rs.id, 3);
	assert_int_equal(rs.type, type);
	if (data)
		*data = rs.data;
	return rs.status;
}

static void test_ctrl_hash(void **state)
{
	static const uint8_t key[40] = {
	    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	    0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	    0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	    0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
	struct netif_hash h;
	uint8_t page[4096] = {0}, f[80] = {0}, type;
	uint32_t data, v, *map = (uint32_t *)page;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0,
			      0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 9,
			      0, 0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			      XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0,
			      page, NULL),
			 0);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0,
			      0, page, &data),
			 0);
	assert_int_equal(data, NETIF_HASH_TYPES);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1u << 4,
			      0, 0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	memcpy(page, key, sizeof(key));
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 41,
			      0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 8, 40,
			      0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 7, 40,
			      0, page, NULL),
			 0);
	/* mapping: size bounds, then sub-tables that overrun or wrap */
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			      129, 0, 0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
			      16, 0, 0, page, NULL),
			 0);
	memset(page, 0, sizeof(page));
	map[0] = 3, map[1] = 2;
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7,
			      2, 15, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7,
			      2, 0xffffffffu, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7,
			      0xfffffff0u, 0x20, page, NULL),
			 XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW);
	map[1] = 4; /* no such queue */
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7,
			      2, 14, page, NULL),
			 XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	assert_int_equal(h.mapping[14], 0);
	map[1] = 2;
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 7,
			      2, 14, page, NULL),
			 0);
	assert_int_equal(h.mapping[15], 2);
	assert_int_equal(ctrl(&h, 4, XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, 0,
			      0, 0, page, NULL),
			 XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	/* 66.9.149.187:2794 -> 161.142.100.80:1766 over TCP/IPv4 */
	f[12] = 0x08, f[14] = 0x45, f[23] = 6;
	memcpy(f + 26, "\x42\x09\x95\xbb\xa1\x8e\x64\x50", 8);
	f[34] = 2794 >> 8, f[35] = 2794 & 255, f[36] = 1766 >> 8,
	f[37] = 1766 & 255, f[46] = 0x50;
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	assert_true(netif_hash_frame(&h, f, sizeof(f), &v, &type));
	assert_int_equal(v, 0x323e8fc2);
	assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4);
	h.flags |= XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	assert_true(netif_hash_frame(&h, f, sizeof(f), &v, &type));
	assert_int_equal(v, 0x51ccc178);
	assert_int_equal(type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	assert_int_equal(netif_hash_queue(&h, 15, 4), 2);
	h.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	assert_false(netif_hash_frame(&h, f, sizeof(f), &v, &type));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_tx_simple),
	    T(test_tx_extras),
	    T(test_tx_slot_limits),
	    T(test_tx_ring_jump),
	    T(test_tx_cross_page),
	    T(test_tx_cross_page_follow),
	    T(test_tx_past_prod),
	    T(test_tx_missing_extra),
	    T(test_tx_bad_extras),
	    T(test_tx_extra_twice),
	    T(test_tx_gso_zero),
	    T(test_tx_gso_type),
	    T(test_tx_drops),
	    T(test_tx_copy_once),
	    T(test_rx),		     T(test_tx_mcast),
	    cmocka_unit_test(test_ctrl_hash),
	    cmocka_unit_test(test_csum),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
