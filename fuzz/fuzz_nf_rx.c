/*
 * fuzz_nf_rx.c - libFuzzer target: arbitrary bytes as the rx responses a
 * hostile backend writes, parsed as netfront parses them (nf_rx_parse on
 * copies, one packet after another while each is complete).
 *
 * Input: bytes 0-3 (LE) the ring index of the first response, byte 4 how
 * many responses are there; the rest fills the 8-byte slots.
 *
 * Checked: a packet takes at least one slot and no more than were there;
 * its fragments lie inside their pages, each in a data slot's own ring
 * slot, in ring order, adding up to its length; a kept packet is not
 * empty and no longer than its slots can hold; a hash's type is one netif
 * names.  A violation aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/netfront/nf_rx.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			abort();                                               \
	} while (0)

#define RING 256u
#define SLOTS (NF_RX_MAX_SLOTS + 16u)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_pkt(const struct nf_rx_pkt *p, unsigned int avail,
		      uint32_t first)
{
	unsigned int i;
	size_t sum = 0;

	CHECK(p->nslots >= 1 && p->nslots <= avail);
	CHECK(p->nslots <= NF_RX_MAX_SLOTS);
	CHECK(p->nfrags <= p->nslots);
	for (i = 0; i < p->nfrags; i++) {
		const struct nf_rx_frag *f = &p->frag[i];
		uint16_t rel = (uint16_t)((f->slot - first) & (RING - 1));

		CHECK((unsigned int)f->offset + f->size <= NF_PAGE_SIZE);
		CHECK(rel < p->nslots);
		if (i)
			CHECK(rel > (uint16_t)((p->frag[i - 1].slot - first) &
					       (RING - 1)));
		sum += f->size;
	}
	CHECK(sum == p->len);
	if (!p->err)
		CHECK(p->len > 0 && p->len <= (size_t)p->nslots * NF_PAGE_SIZE);
	if (p->has_hash)
		CHECK(p->hash_type <= _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union nf_rx_slot rsp[SLOTS];
	struct nf_rx_pkt pkt;
	unsigned int n, at = 0;
	uint32_t first;
	size_t body;
	int rc;

	if (size < 5)
		return 0;
	memcpy(&first, data, 4);
	n = data[4] % (SLOTS + 1);
	body = size - 5;
	if (body > sizeof(rsp))
		body = sizeof(rsp);
	memset(rsp, 0, sizeof(rsp));
	memcpy(rsp, data + 5, body);
	while (at < n) {
		rc = nf_rx_parse(rsp + at, n - at, first + at, RING, &pkt);
		CHECK(rc == 1 || rc == 0 || rc == -EPROTO);
		if (rc != 1)
			break;
		check_pkt(&pkt, n - at, first + at);
		at += pkt.nslots;
	}
	return 0;
}
