/*
 * fuzz_blkif.c - libFuzzer target: arbitrary bytes as a frontend's shared
 * ring (and indirect pages) into blkback's request path in the blkif core:
 * blkif_back_poll/take (one copy out of the ring), blkif_req_check and
 * blkif_req_load_indirect, responses; in both ABIs, 1-4 ring pages.
 *
 * Input: byte 0 selects the ABI (bit 0), read-only (1), flush (2),
 * barrier (3), discard (4) and the indirect limit (bits 5-6: none, 32,
 * 256, the most a request can name); byte 1 the ring order (bits 0-1) and
 * the disk size (bits 2-7); bytes 2-5 are req_prod, bytes 6-7 (LE) the
 * number L of the following bytes that fill the ring after its header;
 * the bytes after those fill the indirect pages (cyclically).
 *
 * Checked: whatever the core accepts is within the limits (segment
 * sectors, sector range, counts, read-only), re-encoding an accepted
 * request with the frontend end and decoding it again gives the same
 * request, and response padding is zero.  A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blkif/blkif.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGS BLKIF_INDIRECT_SEGS_LIMIT
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			abort();                                               \
	} while (0)

static uint8_t ring_mem[BLKIF_PAGE_SIZE * 8] __attribute__((aligned(4096)));
static uint8_t echo_mem[BLKIF_PAGE_SIZE * 8] __attribute__((aligned(4096)));
static uint8_t ipages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLKIF_PAGE_SIZE];
static struct blkif_request_segment segs[MAX_SEGS], segs2[MAX_SEGS];

static void fill_cyclic(uint8_t *dst, size_t len, const uint8_t *src,
			size_t n, size_t *pos)
{
	size_t i;

	for (i = 0; i < len; i++) {
		dst[i] = n ? src[*pos % n] : 0;
		(*pos)++;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* What validation promised. */
static void check_accepted(const struct blkif_limits *lim,
			   const struct blkif_req *r)
{
	uint64_t total = 0;
	unsigned int i;

	if (r->op == BLKIF_OP_DISCARD) {
		CHECK(lim->discard && !lim->readonly);
		CHECK(r->sector <= lim->sectors &&
		      r->nr_sectors <= lim->sectors - r->sector);
		return;
	}
	CHECK(r->op == BLKIF_OP_READ || r->op == BLKIF_OP_WRITE ||
	      r->op == BLKIF_OP_WRITE_BARRIER ||
	      r->op == BLKIF_OP_FLUSH_DISKCACHE);
	CHECK(r->nr_segs <= r->seg_cap);
	if (!r->indirect)
		CHECK(r->nr_segs <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
	else
		CHECK(r->nr_segs <= lim->max_indirect_segs);
	for (i = 0; i < r->nr_segs; i++) {
		CHECK(r->seg[i].first_sect <= r->seg[i].last_sect);
		CHECK(r->seg[i].last_sect < BLKIF_SECTORS_PER_PAGE);
		total += blkif_seg_bytes(&r->seg[i]) >> BLKIF_SECTOR_SHIFT;
	}
	CHECK(total == r->nr_sectors);
	/* A request without data (a pure flush or barrier) has no range:
	 * Linux's blkfront sends empty flushes at sector (sector_t)-1. */
	if (total)
		CHECK(r->sector <= lim->sectors &&
		      total <= lim->sectors - r->sector);
	if (lim->readonly && total)
		CHECK(r->op == BLKIF_OP_READ);
	if (r->op == BLKIF_OP_READ || r->op == BLKIF_OP_WRITE)
		CHECK(r->nr_segs > 0);
}

/* Encode with the frontend end, decode with a second backend end: the
 * same request comes out. */
static void check_roundtrip(enum blkif_abi abi, const struct blkif_req *r)
{
	struct blkif_front f;
	struct blkif_back b;
	struct blkif_req q = *r, back;

	if (!r->indirect && r->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return;
	CHECK(blkif_front_init(&f, abi, echo_mem, BLKIF_PAGE_SIZE) == 0);
	CHECK(blkif_front_queue(&f, &q) == 0);
	blkif_front_push(&f);
	CHECK(blkif_back_init(&b, abi, echo_mem, BLKIF_PAGE_SIZE) == 0);
	CHECK(blkif_back_poll(&b) == 1);
	memset(&back, 0, sizeof(back));
	back.seg = segs2;
	back.seg_cap = MAX_SEGS;
	CHECK(blkif_back_take(&b, &back) == 0);
	CHECK(back.operation == r->operation && back.id == r->id &&
	      back.sector == r->sector && back.handle == r->handle);
	if (r->operation == BLKIF_OP_DISCARD) {
		CHECK(back.nr_sectors == r->nr_sectors &&
		      back.discard_flag == r->discard_flag);
		return;
	}
	CHECK(back.nr_segs == r->nr_segs && back.indirect == r->indirect);
	if (r->indirect) /* the segments live in the indirect pages */
		CHECK(back.op == r->op && back.nr_indirect == r->nr_indirect &&
		      !memcmp(back.indirect_grefs, r->indirect_grefs,
			      sizeof(r->indirect_grefs)));
	else
		CHECK(!memcmp(back.seg, r->seg,
			      r->nr_segs * sizeof(r->seg[0])));
}

/* Response slots carry nothing but id, operation and status. */
static void check_response(const struct blkif_back *b, RING_IDX idx)
{
	const uint8_t *p;

	if (b->abi == BLKIF_ABI_X86_32) {
		p = (const uint8_t *)RING_GET_RESPONSE(&b->r.n32, idx);
		CHECK(p[9] == 0);
	} else {
		p = (const uint8_t *)RING_GET_RESPONSE(&b->r.n64, idx);
		CHECK(p[9] == 0 && p[12] == 0 && p[13] == 0 && p[14] == 0 &&
		      p[15] == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t indirect[] = {0, 32, 256, MAX_SEGS};
	struct blkif_limits lim;
	struct blkif_back b;
	struct blkif_req req;
	enum blkif_abi abi;
	unsigned int order, rounds;
	size_t ring_bytes, pos = 0, hdr, ring_len;
	const uint8_t *rest, *ind;
	size_t nrest, nind;
	uint32_t prod;
	int n;

	if (size < 8)
		return 0;
	abi = data[0] & 1 ? BLKIF_ABI_X86_32 : BLKIF_ABI_X86_64;
	memset(&lim, 0, sizeof(lim));
	lim.readonly = data[0] & 2;
	lim.flush = data[0] & 4;
	lim.barrier = data[0] & 8;
	lim.discard = data[0] & 16;
	lim.max_indirect_segs = indirect[(data[0] >> 5) & 3];
	order = data[1] & 3;
	/* 0, tiny, or big disks: the range checks at both ends. */
	lim.sectors = (data[1] >> 2) == 63 ? UINT64_MAX
					    : (uint64_t)(data[1] >> 2) << 12;
	memcpy(&prod, data + 2, 4);
	ring_len = (size_t)data[6] | (size_t)data[7] << 8;
	rest = data + 8;
	nrest = size - 8;
	ring_bytes = (size_t)BLKIF_PAGE_SIZE << order;
	if (ring_len > nrest)
		ring_len = nrest;
	if (ring_len > ring_bytes - 64)
		ring_len = ring_bytes - 64;
	ind = rest + ring_len;
	nind = nrest - ring_len;

	/* A ring the frontend initialised, then scribbled on. */
	memset(ring_mem, 0, ring_bytes);
	if (abi == BLKIF_ABI_X86_32) {
		SHARED_RING_INIT((blkif_x86_32_sring_t *)ring_mem);
		hdr = offsetof(blkif_x86_32_sring_t, ring);
	} else {
		SHARED_RING_INIT((blkif_x86_64_sring_t *)ring_mem);
		hdr = offsetof(blkif_x86_64_sring_t, ring);
	}
	memcpy(ring_mem + hdr, rest, ring_len);
	((blkif_x86_64_sring_t *)ring_mem)->req_prod = prod;
	CHECK(blkif_back_init(&b, abi, ring_mem, ring_bytes) == 0);
	memset(&req, 0, sizeof(req));
	req.seg = segs;
	req.seg_cap = MAX_SEGS;
	/* A few rounds: the frontend's producer moves on each time. */
	for (rounds = 0; rounds < 3; rounds++) {
		n = blkif_back_poll(&b);
		if (n < 0)
			break;
		CHECK((unsigned int)n <= blkif_back_nr_ents(&b));
		while (n-- > 0) {
			RING_IDX rsp;
			const char *why = NULL;
			int rc;

			if (blkif_back_take(&b, &req))
				break;
			rc = blkif_req_check(&lim, &req, &why);
			if (!rc && req.indirect) {
				fill_cyclic(ipages,
					    (size_t)req.nr_indirect *
						    BLKIF_PAGE_SIZE,
					    ind, nind, &pos);
				rc = blkif_req_load_indirect(&lim, &req, ipages,
							     &why);
			}
			if (rc)
				CHECK(why != NULL);
			else
				check_accepted(&lim, &req);
			if (!rc)
				check_roundtrip(abi, &req);
			rsp = abi == BLKIF_ABI_X86_32 ? b.r.n32.rsp_prod_pvt
						      : b.r.n64.rsp_prod_pvt;
			blkif_back_respond(&b, req.id, req.operation,
					   blkif_status_for(rc));
			check_response(&b, rsp);
		}
		blkif_back_push(&b);
		blkif_back_final_check(&b);
		prod += nind ? ind[rounds % nind] % 40 : 1;
		((blkif_x86_64_sring_t *)ring_mem)->req_prod = prod;
	}
	return 0;
}
