/*
 * test_nf_rx.c - netfront's receive-side parsing (src/frontends/netfront/
 * nf_rx.c) against well-formed and hostile response chains: single and
 * chained slots, GSO and HASH extra info, zero-length fragments, error
 * statuses, bad offsets, slots answered out of place, chains without end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka needs the headers above */
#include <cmocka.h>

#include "nf_rx.h"

#define RING 256u

static union nf_rx_slot S[NF_RX_MAX_SLOTS + 8];

static void data(unsigned int i, uint32_t first, uint16_t off, int16_t st,
		 uint16_t flags)
{
	S[i].r.id = (uint16_t)((first + i) & (RING - 1));
	S[i].r.offset = off;
	S[i].r.status = st;
	S[i].r.flags = flags;
}

static void gso(unsigned int i, uint8_t type, uint16_t size, uint8_t flags)
{
	memset(&S[i], 0, sizeof(S[i]));
	S[i].e.type = XEN_NETIF_EXTRA_TYPE_GSO;
	S[i].e.flags = flags;
	S[i].e.u.gso.type = type;
	S[i].e.u.gso.size = size;
}

static void test_single(void **state)
{
	struct nf_rx_pkt p;

	(void)state;
	data(0, 5, 10, 1500, NETRXF_data_validated);
	assert_int_equal(nf_rx_parse(S, 1, 5, RING, &p), 1);
	assert_int_equal(p.nslots, 1);
	assert_int_equal(p.nfrags, 1);
	assert_int_equal(p.len, 1500);
	assert_int_equal(p.frag[0].slot, 5);
	assert_int_equal(p.frag[0].offset, 10);
	assert_int_equal(p.flags, NETRXF_data_validated);
	assert_int_equal(p.err, 0);
	/* Nothing available yet. */
	assert_int_equal(nf_rx_parse(S, 0, 5, RING, &p), 0);
}

static void test_chain_and_gso(void **state)
{
	struct nf_rx_pkt p;
	uint32_t first = 254; /* wraps */

	(void)state;
	data(0, first, 0, 4096,
	     NETRXF_more_data | NETRXF_extra_info | NETRXF_csum_blank);
	gso(1, XEN_NETIF_GSO_TYPE_TCPV6, 1440, 0);
	data(2, first, 0, 0, NETRXF_more_data); /* zero-length fragment */
	data(3, first, 100, 200, 0);
	/* Incomplete until the last slot is there. */
	assert_int_equal(nf_rx_parse(S, 3, first, RING, &p), 0);
	assert_int_equal(nf_rx_parse(S, 4, first, RING, &p), 1);
	assert_int_equal(p.nslots, 4);
	assert_int_equal(p.nfrags, 3);
	assert_int_equal(p.len, 4296);
	assert_int_equal(p.gso_type, XEN_NETIF_GSO_TYPE_TCPV6);
	assert_int_equal(p.gso_size, 1440);
	assert_int_equal(p.frag[2].slot, 1);
	assert_int_equal(p.err, 0);
}

static void hash(unsigned int i, uint8_t alg, uint8_t type, uint32_t v,
		 uint8_t flags)
{
	memset(&S[i], 0, sizeof(S[i]));
	S[i].e.type = XEN_NETIF_EXTRA_TYPE_HASH;
	S[i].e.flags = flags;
	S[i].e.u.hash.algorithm = alg;
	S[i].e.u.hash.type = type;
	S[i].e.u.hash.value[0] = (uint8_t)v;
	S[i].e.u.hash.value[1] = (uint8_t)(v >> 8);
	S[i].e.u.hash.value[2] = (uint8_t)(v >> 16);
	S[i].e.u.hash.value[3] = (uint8_t)(v >> 24);
}

/* A HASH extra (little endian) after a GSO one; an unknown algorithm or
 * hash type is passed over, the packet kept. */
static void test_hash(void **state)
{
	struct nf_rx_pkt p;

	(void)state;
	data(0, 0, 0, 100, NETRXF_extra_info);
	gso(1, XEN_NETIF_GSO_TYPE_TCPV4, 1448, XEN_NETIF_EXTRA_FLAG_MORE);
	hash(2, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
	     _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0x51ccc178, 0);
	assert_int_equal(nf_rx_parse(S, 3, 0, RING, &p), 1);
	assert_int_equal(p.err, 0);
	assert_true(p.has_hash);
	assert_int_equal(p.hash, 0x51ccc178);
	assert_int_equal(p.hash_type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	assert_int_equal(p.gso_size, 1448);
	/* no stale hash from the packet before */
	data(0, 0, 0, 100, 0);
	assert_int_equal(nf_rx_parse(S, 1, 0, RING, &p), 1);
	assert_false(p.has_hash);
	data(0, 0, 0, 100, NETRXF_extra_info);
	hash(1, 7, _XEN_NETIF_CTRL_HASH_TYPE_IPV4, 1, 0);
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 1);
	assert_int_equal(p.err, 0);
	assert_false(p.has_hash);
	hash(1, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 9, 1, 0);
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 1);
	assert_int_equal(p.err, 0);
	assert_false(p.has_hash);
}

static void test_drops(void **state)
{
	struct nf_rx_pkt p;

	(void)state;
	/* An error status: the whole chain goes, the slots are taken. */
	data(0, 0, 0, NETIF_RSP_ERROR, NETRXF_more_data);
	data(1, 0, 0, 100, 0);
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 1);
	assert_int_equal(p.nslots, 2);
	assert_int_equal(p.err, -EIO);
	/* offset + size beyond the page. */
	data(0, 0, 4000, 97, 0);
	assert_int_equal(nf_rx_parse(S, 1, 0, RING, &p), 1);
	assert_int_equal(p.err, -EINVAL);
	data(0, 0, 0xffff, 0x7fff, 0);
	assert_int_equal(nf_rx_parse(S, 1, 0, RING, &p), 1);
	assert_int_equal(p.err, -EINVAL);
	/* An empty packet. */
	data(0, 0, 0, 0, 0);
	assert_int_equal(nf_rx_parse(S, 1, 0, RING, &p), 1);
	assert_int_equal(p.err, -EINVAL);
	/* Bad extra info: unknown type, GSO of size 0 or a bad type. */
	data(0, 0, 0, 60, NETRXF_extra_info);
	memset(&S[1], 0, sizeof(S[1]));
	S[1].e.type = XEN_NETIF_EXTRA_TYPE_MAX;
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 1);
	assert_int_equal(p.nslots, 2);
	assert_int_equal(p.err, -EINVAL);
	gso(1, XEN_NETIF_GSO_TYPE_TCPV4, 0, 0);
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 1);
	assert_int_equal(p.err, -EINVAL);
	gso(1, 7, 1000, 0);
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 1);
	assert_int_equal(p.err, -EINVAL);
	/* Extras chained by MORE; a hash extra is skipped. */
	gso(1, XEN_NETIF_GSO_TYPE_TCPV4, 1000, XEN_NETIF_EXTRA_FLAG_MORE);
	memset(&S[2], 0, sizeof(S[2]));
	S[2].e.type = XEN_NETIF_EXTRA_TYPE_HASH;
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), 0);
	assert_int_equal(nf_rx_parse(S, 3, 0, RING, &p), 1);
	assert_int_equal(p.nslots, 3);
	assert_int_equal(p.err, 0);
	assert_int_equal(p.gso_size, 1000);
}

static void test_violations(void **state)
{
	struct nf_rx_pkt p;
	unsigned int i;

	(void)state;
	/* Answered out of its slot. */
	data(0, 0, 0, 60, 0);
	S[0].r.id = 3;
	assert_int_equal(nf_rx_parse(S, 1, 0, RING, &p), -EPROTO);
	data(0, 0, 0, 60, NETRXF_more_data);
	data(1, 0, 0, 60, 0);
	S[1].r.id = 0xffff;
	assert_int_equal(nf_rx_parse(S, 2, 0, RING, &p), -EPROTO);
	/* A chain without end. */
	for (i = 0; i < NF_RX_MAX_SLOTS + 4; i++)
		data(i, 0, 0, 1, NETRXF_more_data);
	assert_int_equal(nf_rx_parse(S, NF_RX_MAX_SLOTS - 1, 0, RING, &p), 0);
	assert_int_equal(nf_rx_parse(S, NF_RX_MAX_SLOTS, 0, RING, &p), -EPROTO);
	assert_int_equal(nf_rx_parse(S, NF_RX_MAX_SLOTS + 4, 0, RING, &p),
			 -EPROTO);
	/* Extras without end. */
	data(0, 0, 0, 60, NETRXF_extra_info);
	for (i = 1; i < NF_RX_MAX_SLOTS + 4; i++)
		gso(i, XEN_NETIF_GSO_TYPE_TCPV4, 1000,
		    XEN_NETIF_EXTRA_FLAG_MORE);
	assert_int_equal(nf_rx_parse(S, NF_RX_MAX_SLOTS + 4, 0, RING, &p),
			 -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single),
	    cmocka_unit_test(test_chain_and_gso),
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_drops),
	    cmocka_unit_test(test_violations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
