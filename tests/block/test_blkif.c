/*
 * test_blkif.c - the blkif protocol core with the front and back ring on
 * one page in one process: round trips in both ABIs, every validation
 * check with a malicious request, zeroed response padding (XSA-216), one
 * copy out of the ring (XSA-155) and ring index sanity.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "blkif/blkif.h"

#define DISK_SECTORS 4096u

static uint8_t page[BLKIF_PAGE_SIZE * 4] __attribute__((aligned(4096)));

struct pair {
	struct blkif_front f;
	struct blkif_back b;
	struct blkif_request_segment seg[BLKIF_INDIRECT_SEGS_LIMIT];
	struct blkif_req in;
};

static const struct blkif_limits LIM = {
	.sectors = DISK_SECTORS,
	.max_indirect_segs = 256,
	.flush = true,
	.barrier = true,
	.discard = true,
};

static void pair_init(struct pair *p, enum blkif_abi abi, size_t size)
{
	memset(page, 0xee, sizeof(page));
	assert_int_equal(blkif_front_init(&p->f, abi, page, size), 0);
	assert_int_equal(blkif_back_init(&p->b, abi, page, size), 0);
	memset(&p->in, 0, sizeof(p->in));
	p->in.seg = p->seg;
	p->in.seg_cap = BLKIF_INDIRECT_SEGS_LIMIT;
}

/* Queue q from the front, take it at the back and validate it. */
static int roundtrip(struct pair *p, const struct blkif_req *q,
		     const struct blkif_limits *lim)
{
	assert_int_equal(blkif_front_queue(&p->f, q), 0);
	blkif_front_push(&p->f);
	assert_int_equal(blkif_back_poll(&p->b), 1);
	assert_int_equal(blkif_back_take(&p->b, &p->in), 0);
	return blkif_req_check(lim, &p->in, NULL);
}

static void rw_req(struct blkif_req *q, struct blkif_request_segment *seg,
		   uint8_t op, uint64_t sector, unsigned int nsegs)
{
	unsigned int i;

	memset(q, 0, sizeof(*q));
	q->operation = op;
	q->op = op;
	q->id = 0x1122334455667788ull;
	q->sector = sector;
	q->handle = 51712;
	q->nr_segs = (uint16_t)nsegs;
	q->seg = seg;
	for (i = 0; i < nsegs; i++) {
		seg[i].gref = 100 + i;
		seg[i].first_sect = 0;
		seg[i].last_sect = 7;
	}
}

static void check_abi(enum blkif_abi abi)
{
	struct blkif_request_segment seg[11];
	struct blkif_req q;
	struct blkif_rsp r;
	struct pair p;
	unsigned int i;

	pair_init(&p, abi, BLKIF_PAGE_SIZE);
	assert_int_equal(blkif_back_nr_ents(&p.b), 32);
	assert_int_equal(blkif_front_nr_ents(&p.f), 32);
	rw_req(&q, seg, BLKIF_OP_WRITE, 8, 11);
	seg[3].first_sect = 2;
	seg[3].last_sect = 5;
	assert_int_equal(roundtrip(&p, &q, &LIM), 0);
	assert_int_equal(p.in.operation, BLKIF_OP_WRITE);
	assert_int_equal(p.in.id, q.id);
	assert_int_equal(p.in.sector, 8);
	assert_int_equal(p.in.handle, 51712);
	assert_int_equal(p.in.nr_segs, 11);
	assert_int_equal(p.in.nr_sectors, 10 * 8 + 4);
	for (i = 0; i < 11; i++)
		assert_int_equal(p.in.seg[i].gref, 100 + i);
	assert_int_equal(p.in.seg[3].first_sect, 2);
	blkif_back_respond(&p.b, p.in.id, p.in.operation, BLKIF_RSP_OKAY);
	assert_true(blkif_back_push(&p.b)); /* front asked for events */
	assert_int_equal(blkif_front_poll(&p.f), 1);
	assert_int_equal(blkif_front_take(&p.f, &r), 0);
	assert_int_equal(r.id, q.id);
	assert_int_equal(r.operation, BLKIF_OP_WRITE);
	assert_int_equal(r.status, BLKIF_RSP_OKAY);
	assert_int_equal(blkif_front_take(&p.f, &r), -EAGAIN);
	assert_false(blkif_front_final_check(&p.f));

	/* Discard and indirect headers survive the layout. */
	memset(&q, 0, sizeof(q));
	q.operation = q.op = BLKIF_OP_DISCARD;
	q.id = 7;
	q.sector = 100;
	q.nr_sectors = 200;
	q.discard_flag = BLKIF_DISCARD_SECURE;
	assert_int_equal(roundtrip(&p, &q, &LIM), 0);
	assert_int_equal(p.in.sector, 100);
	assert_int_equal(p.in.nr_sectors, 200);
	assert_int_equal(p.in.discard_flag, BLKIF_DISCARD_SECURE);

	memset(&q, 0, sizeof(q));
	q.operation = BLKIF_OP_INDIRECT;
	q.op = BLKIF_OP_READ;
	q.id = 9;
	q.sector = 16;
	q.nr_segs = 600; /* two indirect pages */
	q.handle = 5;
	for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		q.indirect_grefs[i] = 1000 + i;
	{
		struct blkif_limits big = LIM;

		big.max_indirect_segs = 1024;
		assert_int_equal(roundtrip(&p, &q, &big), 0);
	}
	assert_true(p.in.indirect);
	assert_int_equal(p.in.op, BLKIF_OP_READ);
	assert_int_equal(p.in.nr_segs, 600);
	assert_int_equal(p.in.nr_indirect, 2);
	assert_int_equal(p.in.indirect_grefs[1], 1001);
	assert_int_equal(p.in.handle, 5);
	assert_int_equal(p.in.sector, 16);
}

static void test_abi_x86_64(void **state)
{
	(void)state;
	check_abi(BLKIF_ABI_X86_64);
}

static void test_abi_x86_32(void **state)
{
	(void)state;
	check_abi(BLKIF_ABI_X86_32);
}

static void test_abi_parse(void **state)
{
	enum blkif_abi a;

	(void)state;
	assert_int_equal(blkif_abi_parse(NULL, &a), 0);
	assert_int_equal(a, BLKIF_ABI_X86_64);
	assert_int_equal(blkif_abi_parse("x86_32-abi", &a), 0);
	assert_int_equal(a, BLKIF_ABI_X86_32);
	assert_int_equal(blkif_abi_parse("x86_64-abi", &a), 0);
	assert_int_equal(a, BLKIF_ABI_X86_64);
	assert_int_equal(blkif_abi_parse("arm-abi", &a), -EINVAL);
	assert_int_equal(blkif_abi_parse("x86_32-abi ", &a), -EINVAL);
	assert_int_equal(blkif_ring_size(BLKIF_ABI_X86_64, 0), 32);
	assert_int_equal(blkif_ring_size(BLKIF_ABI_X86_32, 0), 32);
	assert_int_equal(blkif_ring_size(BLKIF_ABI_X86_64, 2), 128);
	assert_int_equal(blkif_ring_size(BLKIF_ABI_X86_64, 5), 0);
}

/* The raw x86_32 bytes a 32-bit guest writes decode to the same request. */
static void test_x86_32_raw_layout(void **state)
{
	struct pair p;
	uint8_t *slot;
	uint64_t v;

	(void)state;
	pair_init(&p, BLKIF_ABI_X86_32, BLKIF_PAGE_SIZE);
	slot = page + 64; /* the ring starts after the 64-byte header */
	memset(slot, 0, 108);
	slot[0] = BLKIF_OP_READ;
	slot[1] = 1;
	v = 0xabcdef;
	memcpy(slot + 4, &v, 8); /* id at 4 on i386 */
	v = 24;
	memcpy(slot + 12, &v, 8); /* sector at 12 */
	slot[20] = 77;            /* seg[0].gref at 20 */
	slot[24] = 1;
	slot[25] = 6;
	*(volatile RING_IDX *)page = 1; /* req_prod */
	assert_int_equal(blkif_back_poll(&p.b), 1);
	assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
	assert_int_equal(blkif_req_check(&LIM, &p.in, NULL), 0);
	assert_int_equal(p.in.id, 0xabcdef);
	assert_int_equal(p.in.sector, 24);
	assert_int_equal(p.in.seg[0].gref, 77);
	assert_int_equal(p.in.nr_sectors, 6);
	/* The response is 12 bytes: id, op, pad, status. */
	blkif_back_respond(&p.b, p.in.id, p.in.operation, BLKIF_RSP_ERROR);
	blkif_back_push(&p.b);
	memcpy(&v, slot, 8);
	assert_int_equal(v, 0xabcdef);
	assert_int_equal(slot[8], BLKIF_OP_READ);
	assert_int_equal(slot[9], 0);
	assert_int_equal((int16_t)(slot[10] | slot[11] << 8), BLKIF_RSP_ERROR);
}

/* XSA-216: the response's padding bytes are zero, whatever was there. */
static void test_response_padding(void **state)
{
	struct pair p;
	uint8_t *slot = page + 64;

	(void)state;
	pair_init(&p, BLKIF_ABI_X86_64, BLKIF_PAGE_SIZE);
	memset(slot, 0xa5, 112);
	blkif_back_respond(&p.b, 1, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_int_equal(slot[9], 0);
	assert_int_equal(slot[12], 0);
	assert_int_equal(slot[13], 0);
	assert_int_equal(slot[14], 0);
	assert_int_equal(slot[15], 0);
	assert_int_equal(slot[16], 0xa5); /* nothing beyond the response */
}

/* Each check, one malicious request at a time. */
static void expect_bad(struct pair *p, const struct blkif_req *q,
		       const struct blkif_limits *lim, int err)
{
	assert_int_equal(roundtrip(p, q, lim), err);
	blkif_back_respond(&p->b, p->in.id, p->in.operation,
			   blkif_status_for(err));
	blkif_back_push(&p->b);
	{
		struct blkif_rsp r;

		assert_int_equal(blkif_front_poll(&p->f), 1);
		assert_int_equal(blkif_front_take(&p->f, &r), 0);
		assert_int_equal(r.status, blkif_status_for(err));
	}
}

static void test_malicious_requests(void **state)
{
	struct blkif_request_segment seg[11];
	struct blkif_limits lim = LIM, ro = LIM, none = LIM;
	struct blkif_req q;
	struct pair p;
	const char *why = NULL;

	(void)state;
	ro.readonly = true;
	none.flush = none.barrier = none.discard = false;
	none.max_indirect_segs = 0;
	pair_init(&p, BLKIF_ABI_X86_64, BLKIF_PAGE_SIZE);

	rw_req(&q, seg, 4 /* RESERVED_1 */, 0, 1);
	expect_bad(&p, &q, &lim, -EOPNOTSUPP);
	rw_req(&q, seg, 200, 0, 1);
	expect_bad(&p, &q, &lim, -EOPNOTSUPP);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 0); /* no segments */
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 11);
	q.nr_segs = 12; /* more than a direct request holds */
	{
		/* The layout cannot carry 12; write the byte by hand. */
		rw_req(&q, seg, BLKIF_OP_READ, 0, 11);
		assert_int_equal(blkif_front_queue(&p.f, &q), 0);
		page[64 + 112 * ((p.f.r.n64.req_prod_pvt - 1) & 31) + 1] = 12;
		blkif_front_push(&p.f);
		assert_int_equal(blkif_back_poll(&p.b), 1);
		assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
		assert_int_equal(blkif_req_check(&lim, &p.in, &why), -EINVAL);
		assert_string_equal(why, "too many segments");
		blkif_back_respond(&p.b, p.in.id, p.in.operation,
				   BLKIF_RSP_ERROR);
		blkif_back_push(&p.b);
		assert_int_equal(blkif_front_poll(&p.f), 1);
		{
			struct blkif_rsp r;

			assert_int_equal(blkif_front_take(&p.f, &r), 0);
		}
	}
	rw_req(&q, seg, BLKIF_OP_READ, 0, 2);
	seg[1].first_sect = 8; /* beyond the page */
	seg[1].last_sect = 8;
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 2);
	seg[1].last_sect = 9;
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 2);
	seg[1].first_sect = 5; /* last before first */
	seg[1].last_sect = 4;
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_READ, DISK_SECTORS - 8, 1); /* the last page */
	assert_int_equal(roundtrip(&p, &q, &lim), 0);
	blkif_back_respond(&p.b, 0, 0, 0);
	blkif_back_push(&p.b);
	blkif_front_poll(&p.f);
	{
		struct blkif_rsp r;

		blkif_front_take(&p.f, &r);
	}
	rw_req(&q, seg, BLKIF_OP_READ, DISK_SECTORS - 7, 1); /* one past */
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_READ, UINT64_MAX - 3, 1); /* wraps */
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_WRITE, 0, 1);
	expect_bad(&p, &q, &ro, -EROFS);
	rw_req(&q, seg, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	expect_bad(&p, &q, &none, -EOPNOTSUPP);
	rw_req(&q, seg, BLKIF_OP_WRITE_BARRIER, 0, 0);
	expect_bad(&p, &q, &none, -EOPNOTSUPP);
	rw_req(&q, seg, BLKIF_OP_FLUSH_DISKCACHE, 0, 0); /* pure flush: ok */
	assert_int_equal(roundtrip(&p, &q, &ro), 0);
	blkif_back_respond(&p.b, 0, 0, 0);
	blkif_back_push(&p.b);
	blkif_front_poll(&p.f);
	{
		struct blkif_rsp r;

		blkif_front_take(&p.f, &r);
	}
	/* Linux's empty flush: sector (sector_t)-1, the block layer's "no
	 * position" (refused once; Linux then turned flushes off). */
	rw_req(&q, seg, BLKIF_OP_FLUSH_DISKCACHE, UINT64_MAX, 0);
	assert_int_equal(roundtrip(&p, &q, &lim), 0);
	blkif_back_respond(&p.b, 0, 0, 0);
	blkif_back_push(&p.b);
	blkif_front_poll(&p.f);
	{
		struct blkif_rsp r;

		blkif_front_take(&p.f, &r);
	}
	rw_req(&q, seg, BLKIF_OP_FLUSH_DISKCACHE, UINT64_MAX, 1); /* with data */
	expect_bad(&p, &q, &lim, -EINVAL);
	rw_req(&q, seg, BLKIF_OP_WRITE_BARRIER, 0, 2); /* barrier with data */
	expect_bad(&p, &q, &ro, -EROFS);

	/* Discard. */
	memset(&q, 0, sizeof(q));
	q.operation = q.op = BLKIF_OP_DISCARD;
	q.sector = DISK_SECTORS - 10;
	q.nr_sectors = 11;
	expect_bad(&p, &q, &lim, -EINVAL);
	q.sector = 1;
	q.nr_sectors = UINT64_MAX;
	expect_bad(&p, &q, &lim, -EINVAL);
	q.nr_sectors = 1;
	expect_bad(&p, &q, &none, -EOPNOTSUPP);
	expect_bad(&p, &q, &ro, -EROFS);

	/* Indirect. */
	memset(&q, 0, sizeof(q));
	q.operation = BLKIF_OP_INDIRECT;
	q.op = BLKIF_OP_READ;
	q.nr_segs = 8;
	expect_bad(&p, &q, &none, -EOPNOTSUPP);
	q.op = BLKIF_OP_DISCARD;
	expect_bad(&p, &q, &lim, -EINVAL);
	q.op = BLKIF_OP_INDIRECT;
	expect_bad(&p, &q, &lim, -EINVAL);
	q.op = BLKIF_OP_WRITE;
	q.nr_segs = 0;
	expect_bad(&p, &q, &lim, -EINVAL);
	q.nr_segs = 257; /* more than advertised */
	expect_bad(&p, &q, &lim, -EINVAL);
	/* More than 8 indirect pages can hold: patch the u16 by hand. */
	q.nr_segs = 4096;
	lim.max_indirect_segs = 65535;
	assert_int_equal(blkif_front_queue(&p.f, &q), 0);
	page[64 + 112 * ((p.f.r.n64.req_prod_pvt - 1) & 31) + 2] = 0xff;
	page[64 + 112 * ((p.f.r.n64.req_prod_pvt - 1) & 31) + 3] = 0xff;
	blkif_front_push(&p.f);
	assert_int_equal(blkif_back_poll(&p.b), 1);
	assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
	assert_int_equal(p.in.nr_segs, 65535);
	assert_int_equal(blkif_req_check(&lim, &p.in, &why), -EINVAL);
}

/* Indirect segments come from the (private copy of the) indirect pages. */
static void test_indirect_segments(void **state)
{
	static struct blkif_request_segment ipages[2 * 512];
	struct blkif_req q;
	struct pair p;
	const char *why;
	unsigned int i;

	(void)state;
	pair_init(&p, BLKIF_ABI_X86_32, BLKIF_PAGE_SIZE);
	memset(&q, 0, sizeof(q));
	q.operation = BLKIF_OP_INDIRECT;
	q.op = BLKIF_OP_WRITE;
	q.nr_segs = 513;
	q.sector = 0;
	assert_int_equal(roundtrip(&p, &q, &(struct blkif_limits){
				.sectors = DISK_SECTORS * 2,
				.max_indirect_segs = 1024}), 0);
	for (i = 0; i < 513; i++)
		ipages[i] = (struct blkif_request_segment){
			.gref = i, .first_sect = 0, .last_sect = 7};
	assert_int_equal(blkif_req_load_indirect(&(struct blkif_limits){
				.sectors = DISK_SECTORS * 2,
				.max_indirect_segs = 1024}, &p.in, ipages,
				&why), 0);
	assert_int_equal(p.in.nr_sectors, 513 * 8);
	assert_int_equal(p.in.seg[512].gref, 512);
	/* A bad segment deep in the second page is caught. */
	ipages[600 - 88].last_sect = 8;
	assert_int_equal(blkif_req_load_indirect(&(struct blkif_limits){
				.sectors = DISK_SECTORS * 2,
				.max_indirect_segs = 1024}, &p.in, ipages,
				&why), -EINVAL);
	ipages[512].last_sect = 7;
	/* Beyond the disk. */
	assert_int_equal(blkif_req_load_indirect(&LIM, &p.in, ipages, &why),
			 -EINVAL);
	/* A read-only disk refuses indirect writes. */
	assert_int_equal(blkif_req_load_indirect(&(struct blkif_limits){
				.sectors = DISK_SECTORS * 2,
				.max_indirect_segs = 1024, .readonly = true},
				&p.in, ipages, &why), -EROFS);
}

/* Ring index sanity: a frontend producing more requests than the ring
 * holds, or moving req_prod backwards, breaks the ring for good. */
static void test_ring_overflow(void **state)
{
	struct blkif_request_segment seg[1];
	struct blkif_req q;
	struct pair p;
	unsigned int i;

	(void)state;
	pair_init(&p, BLKIF_ABI_X86_64, BLKIF_PAGE_SIZE);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 1);
	for (i = 0; i < 32; i++)
		assert_int_equal(blkif_front_queue(&p.f, &q), 0);
	assert_int_equal(blkif_front_queue(&p.f, &q), -ENOSPC);
	blkif_front_push(&p.f);
	assert_int_equal(blkif_back_poll(&p.b), 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
	assert_int_equal(blkif_back_take(&p.b, &p.in), -EAGAIN);
	/* All 32 in flight: a frontend that adds more without waiting. */
	p.f.r.n64.sring->req_prod += 1;
	assert_int_equal(blkif_back_poll(&p.b), -EPROTO);
	assert_true(p.b.broken);
	assert_int_equal(blkif_back_take(&p.b, &p.in), -EPROTO);
	assert_false(blkif_back_final_check(&p.b));

	/* Backwards. */
	pair_init(&p, BLKIF_ABI_X86_32, BLKIF_PAGE_SIZE);
	assert_int_equal(blkif_front_queue(&p.f, &q), 0);
	blkif_front_push(&p.f);
	assert_int_equal(blkif_back_poll(&p.b), 1);
	assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
	p.f.r.n32.sring->req_prod = 0xfffffff0u;
	assert_int_equal(blkif_back_poll(&p.b), -EPROTO);

	/* A full ring is taken only as far as free response slots allow. */
	pair_init(&p, BLKIF_ABI_X86_64, BLKIF_PAGE_SIZE);
	for (i = 0; i < 32; i++)
		assert_int_equal(blkif_front_queue(&p.f, &q), 0);
	blkif_front_push(&p.f);
	assert_int_equal(blkif_back_poll(&p.b), 32);
	for (i = 0; i < 16; i++)
		assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
	blkif_back_respond(&p.b, 1, 0, 0);
	blkif_back_push(&p.b);
	assert_int_equal(blkif_back_poll(&p.b), 16);
}

/* The frontend side: a backend publishing more responses than requests. */
static void test_bogus_rsp_prod(void **state)
{
	struct blkif_request_segment seg[1];
	struct blkif_req q;
	struct blkif_rsp r;
	struct pair p;

	(void)state;
	pair_init(&p, BLKIF_ABI_X86_64, BLKIF_PAGE_SIZE);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 1);
	assert_int_equal(blkif_front_queue(&p.f, &q), 0);
	blkif_front_push(&p.f);
	p.f.r.n64.sring->rsp_prod = 2;
	assert_int_equal(blkif_front_poll(&p.f), -EPROTO);
	assert_int_equal(blkif_front_take(&p.f, &r), -EPROTO);
}

/* Multi-page rings. */
static void test_multi_page(void **state)
{
	struct blkif_request_segment seg[1];
	struct blkif_req q;
	struct pair p;
	unsigned int i;

	(void)state;
	pair_init(&p, BLKIF_ABI_X86_64, BLKIF_PAGE_SIZE * 4);
	assert_int_equal(blkif_back_nr_ents(&p.b), 128);
	rw_req(&q, seg, BLKIF_OP_READ, 0, 1);
	for (i = 0; i < 128; i++) {
		q.id = i;
		assert_int_equal(blkif_front_queue(&p.f, &q), 0);
	}
	blkif_front_push(&p.f);
	assert_int_equal(blkif_back_poll(&p.b), 128);
	for (i = 0; i < 128; i++) {
		assert_int_equal(blkif_back_take(&p.b, &p.in), 0);
		assert_int_equal(p.in.id, i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_parse),
		cmocka_unit_test(test_abi_x86_64),
		cmocka_unit_test(test_abi_x86_32),
		cmocka_unit_test(test_x86_32_raw_layout),
		cmocka_unit_test(test_response_padding),
		cmocka_unit_test(test_malicious_requests),
		cmocka_unit_test(test_indirect_segments),
		cmocka_unit_test(test_ring_overflow),
		cmocka_unit_test(test_bogus_rsp_prod),
		cmocka_unit_test(test_multi_page),
	};

	return cmocka_run_group_tests_name("blkif", tests, NULL, NULL);
}
