/*
 * fuzz_netif.c - libFuzzer target: arbitrary bytes as a frontend's TX
 * ring into netback's request path in the netif core (netif_tx_take: one
 * copy out of the ring, the slot rules, extras), then as a frame for the
 * header parser, the checksum helpers and the Toeplitz hash, and as
 * control-ring requests (netif_ctrl_serve).
 *
 * Input: bytes 0-3 are req_prod (LE), bytes 4-5 (LE) the number L of the
 * following bytes that fill the ring's slots; the bytes after those are
 * the frame, and, 16 bytes each, the control requests.
 *
 * Checked: a packet taken is within the rules (at most 1 + 20 slots, each
 * inside its page, the fragments of a forwarded packet adding up to its
 * length, its first one an Ethernet header at least); the consumer never
 * passes the producer; a parsed frame's offsets lie inside it; the hash
 * table only ever names existing queues.  A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netif/netif.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			abort();                                               \
	} while (0)

static uint8_t ring_mem[NETIF_PAGE_SIZE] __attribute__((aligned(4096)));
static uint8_t frame[NETIF_PAGE_SIZE];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_pkt(const struct netif_tx_pkt *p)
{
	uint32_t sum = 0;
	unsigned int i;

	CHECK(p->nreq >= 1 && p->nreq <= NETIF_TX_MAX_SLOTS);
	CHECK(p->nextra <= NETIF_MAX_EXTRAS);
	if (p->mcast || p->drop)
		return;
	CHECK(p->nreq <= 1 + NETIF_TX_MAX_FOLLOW);
	CHECK(p->frag[0] >= NETIF_ETH_HLEN);
	for (i = 0; i < p->nreq; i++) {
		CHECK((uint32_t)p->req[i].offset + p->frag[i] <=
		      NETIF_PAGE_SIZE);
		sum += p->frag[i];
	}
	CHECK(sum == p->len);
}

static int fetch(void *arg, grant_ref_t ref, void *dst, size_t len)
{
	const uint8_t *src = arg;

	if (ref & 1)
		return -1;
	CHECK(len <= NETIF_PAGE_SIZE);
	memcpy(dst, src, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t page[NETIF_PAGE_SIZE];
	netif_tx_sring_t *s = (netif_tx_sring_t *)ring_mem;
	struct netif_tx_back b;
	struct netif_tx_pkt p;
	struct netif_hash h;
	struct netif_l4 l4;
	const char *why;
	size_t L, cap, flen, i;
	uint32_t prod, v;
	uint8_t type;
	int rc, n = 0;

	if (size < 6)
		return 0;
	memcpy(&prod, data, 4);
	L = (size_t)data[4] | (size_t)data[5] << 8;
	data += 6;
	size -= 6;
	if (L > size)
		L = size;
	memset(ring_mem, 0, sizeof(ring_mem));
	SHARED_RING_INIT(s);
	cap = sizeof(ring_mem) - (size_t)((uint8_t *)s->ring - ring_mem);
	memcpy(s->ring, data, L < cap ? L : cap);
	s->req_prod = prod;
	netif_tx_back_init(&b, s);
	while ((rc = netif_tx_take(&b, &p, &why)) == 1 && n++ < 300) {
		check_pkt(&p);
		CHECK(b.r.req_cons - b.r.rsp_prod_pvt <= NETIF_TX_RING_SIZE);
		netif_tx_respond(&b, &p, NETIF_RSP_OKAY);
		CHECK(b.r.rsp_prod_pvt == b.r.req_cons);
	}
	CHECK(rc <= 1);
	CHECK(b.r.req_cons <= NETIF_TX_RING_SIZE);
	data += L;
	size -= L;
	/* the rest as a frame */
	flen = size < sizeof(frame) ? size : sizeof(frame);
	memcpy(frame, data, flen);
	if (!netif_parse_l4(frame, flen, &l4)) {
		CHECK(l4.csum_start >= NETIF_ETH_HLEN);
		CHECK((size_t)l4.csum_start + l4.csum_offset + 2 <= flen);
		CHECK(l4.hdr_len <= flen && l4.hdr_len > l4.csum_start);
		netif_csum_pseudo(frame, flen, &l4);
		CHECK(!netif_csum_finish(frame, flen, l4.csum_start,
					 l4.csum_offset));
	}
	/* and as control requests on a 4-queue vif, then a hash */
	memset(&h, 0, sizeof(h));
	memcpy(page, data, flen);
	for (i = 0; i + sizeof(struct xen_netif_ctrl_request) <= size &&
		    i < 64 * sizeof(struct xen_netif_ctrl_request);
	     i += sizeof(struct xen_netif_ctrl_request)) {
		struct xen_netif_ctrl_request rq;
		struct xen_netif_ctrl_response rs;

		memcpy(&rq, data + i, sizeof(rq));
		netif_ctrl_serve(&h, 4, &rq, fetch, page, &rs);
		CHECK(rs.id == rq.id && rs.type == rq.type);
		CHECK(h.size <= NETIF_HASH_MAPPING_MAX);
	}
	for (i = 0; i < h.size; i++)
		CHECK(h.mapping[i] < 4);
	if (netif_hash_frame(&h, frame, flen, &v, &type))
		CHECK(netif_hash_queue(&h, v, 4) < 4 &&
		      type <= _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
	return 0;
}
