/*
 * blkif.c - the blkif protocol core: ABI layouts, ring ends, request
 * decoding (one copy out of shared memory) and validation.  See blkif.h.
 */
#include "blkif/blkif.h"

#include <errno.h>

/* After copying out of shared memory: the compiler may not re-read the
 * source in place of the copy (no double fetch). */
#define barrier() __asm__ __volatile__("" ::: "memory")

#define OFF(t, f) offsetof(struct t, f)
/* x86_32-abi layout (i386 alignment). */
_Static_assert(sizeof(struct blkif_x86_32_request) == 108, "x86_32 req");
_Static_assert(OFF(blkif_x86_32_request, id) == 4, "x86_32 id");
_Static_assert(OFF(blkif_x86_32_request, sector_number) == 12, "x86_32 sect");
_Static_assert(OFF(blkif_x86_32_request, seg) == 20, "x86_32 seg");
_Static_assert(OFF(blkif_x86_32_request_discard, nr_sectors) == 20, "disc");
_Static_assert(OFF(blkif_x86_32_request_indirect, handle) == 20, "ind h");
_Static_assert(OFF(blkif_x86_32_request_indirect, indirect_grefs) == 24,
	       "ind g");
_Static_assert(sizeof(struct blkif_x86_32_request_indirect) == 64, "ind32");
_Static_assert(sizeof(struct blkif_x86_32_response) == 12, "x86_32 rsp");
_Static_assert(sizeof(union blkif_x86_32_sring_entry) == 108, "x86_32 ent");
/* x86_64-abi layout. */
_Static_assert(sizeof(struct blkif_x86_64_request) == 112, "x86_64 req");
_Static_assert(OFF(blkif_x86_64_request, id) == 8, "x86_64 id");
_Static_assert(OFF(blkif_x86_64_request, seg) == 24, "x86_64 seg");
_Static_assert(OFF(blkif_x86_64_request_discard, nr_sectors) == 24, "disc");
_Static_assert(OFF(blkif_x86_64_request_indirect, indirect_grefs) == 28,
	       "ind g");
_Static_assert(sizeof(struct blkif_x86_64_request_indirect) == 64, "ind64");
_Static_assert(sizeof(struct blkif_x86_64_response) == 16, "x86_64 rsp");
_Static_assert(sizeof(struct blkif_request_segment) == 8, "segment");
#if defined(__x86_64__)
/* Xen's own structs are the x86_64 layout on this build host. */
_Static_assert(sizeof(struct blkif_request) == 112, "native req");
_Static_assert(OFF(blkif_request, seg) == OFF(blkif_x86_64_request, seg),
	       "native seg");
_Static_assert(OFF(blkif_request_indirect, indirect_grefs) ==
		       OFF(blkif_x86_64_request_indirect, indirect_grefs),
	       "native indirect");
_Static_assert(OFF(blkif_response, status) ==
		       OFF(blkif_x86_64_response, status),
	       "native rsp");
#endif
#undef OFF

int blkif_abi_parse(const char *protocol, enum blkif_abi *out)
{
	if (!protocol || !*protocol ||
	    !strcmp(protocol, XEN_IO_PROTO_ABI_X86_64))
		*out = BLKIF_ABI_X86_64;
	else if (!strcmp(protocol, XEN_IO_PROTO_ABI_X86_32))
		*out = BLKIF_ABI_X86_32;
	else
		return -EINVAL;
	return 0;
}

const char *blkif_abi_name(enum blkif_abi abi)
{
	return abi == BLKIF_ABI_X86_32 ? XEN_IO_PROTO_ABI_X86_32
				       : XEN_IO_PROTO_ABI_X86_64;
}

unsigned int blkif_ring_size(enum blkif_abi abi, unsigned int order)
{
	size_t sz = (size_t)BLKIF_PAGE_SIZE << order;

	if (order > BLKIF_MAX_RING_PAGE_ORDER)
		return 0;
	if (abi == BLKIF_ABI_X86_32)
		return __CONST_RING_SIZE(blkif_x86_32, sz);
	return __CONST_RING_SIZE(blkif_x86_64, sz);
}

/* ---- validation ---------------------------------------------------------- */

#define FAIL(e, msg)                                                           \
	do {                                                                   \
		if (why)                                                       \
			*why = (msg);                                          \
		return (e);                                                    \
	} while (0)

int16_t blkif_status_for(int err)
{
	if (err == 0)
		return BLKIF_RSP_OKAY;
	return err == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
}

static bool op_writes(uint8_t op)
{
	return op == BLKIF_OP_WRITE || op == BLKIF_OP_WRITE_BARRIER ||
	       op == BLKIF_OP_FLUSH_DISKCACHE;
}

/* Segments and the sector range, on the private copy. */
static int check_segs(const struct blkif_limits *lim, struct blkif_req *req,
		      const char **why)
{
	uint64_t total = 0, end;
	unsigned int i;

	for (i = 0; i < req->nr_segs; i++) {
		const struct blkif_request_segment *s = &req->seg[i];

		if (s->first_sect >= BLKIF_SECTORS_PER_PAGE ||
		    s->last_sect >= BLKIF_SECTORS_PER_PAGE)
			FAIL(-EINVAL, "segment sector beyond its page");
		if (s->last_sect < s->first_sect)
			FAIL(-EINVAL, "segment last_sect before first_sect");
		total += (uint64_t)(s->last_sect - s->first_sect + 1);
	}
	/* No data (a pure flush or barrier): no range to check.  Linux's
	 * blkfront sends its empty flushes with sector (sector_t)-1, the
	 * block layer's "no position", and Linux's blkback ignores it. */
	if (__builtin_add_overflow(req->sector, total, &end))
		FAIL(-EINVAL, "sector range overflows");
	if (total && end > lim->sectors)
		FAIL(-EINVAL, "sector range beyond the disk");
	if (total && lim->readonly && op_writes(req->op))
		FAIL(-EROFS, "write to a read-only disk");
	req->nr_sectors = total;
	return 0;
}

int blkif_req_check(const struct blkif_limits *lim, struct blkif_req *req,
		    const char **why)
{
	uint64_t end;

	if (req->operation != BLKIF_OP_DISCARD)
		req->nr_sectors = 0; /* set from the segments below */
	switch (req->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		req->op = req->operation;
		if (req->nr_segs == 0)
			FAIL(-EINVAL, "read/write without segments");
		break;
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		req->op = req->operation;
		if ((req->op == BLKIF_OP_WRITE_BARRIER && !lim->barrier) ||
		    (req->op == BLKIF_OP_FLUSH_DISKCACHE && !lim->flush))
			FAIL(-EOPNOTSUPP, "barrier/flush not advertised");
		break; /* may carry data: 0..11 segments */
	case BLKIF_OP_DISCARD:
		req->op = req->operation;
		if (!lim->discard)
			FAIL(-EOPNOTSUPP, "discard not advertised");
		if (lim->readonly)
			FAIL(-EROFS, "discard on a read-only disk");
		if (__builtin_add_overflow(req->sector, req->nr_sectors, &end))
			FAIL(-EINVAL, "discard range overflows");
		if (end > lim->sectors)
			FAIL(-EINVAL, "discard range beyond the disk");
		return 0;
	case BLKIF_OP_INDIRECT:
		if (!lim->max_indirect_segs)
			FAIL(-EOPNOTSUPP, "indirect not advertised");
		if (req->op != BLKIF_OP_READ && req->op != BLKIF_OP_WRITE)
			FAIL(-EINVAL, "indirect operation not read/write");
		if (req->nr_segs == 0 || req->nr_segs > lim->max_indirect_segs)
			FAIL(-EINVAL, "indirect segment count out of range");
		if (req->nr_segs > req->seg_cap)
			FAIL(-EINVAL, "indirect segments exceed storage");
		/* nr_indirect was derived from nr_segs when decoding. */
		if (req->nr_indirect == 0 ||
		    req->nr_indirect > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
			FAIL(-EINVAL, "indirect page count out of range");
		return 0;
	default:
		FAIL(-EOPNOTSUPP, "unknown operation");
	}
	if (req->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST ||
	    req->nr_segs > req->seg_cap)
		FAIL(-EINVAL, "too many segments");
	return check_segs(lim, req, why);
}

int blkif_req_load_indirect(const struct blkif_limits *lim,
			    struct blkif_req *req, const void *pages,
			    const char **why)
{
	if (!req->indirect || req->nr_segs > req->seg_cap ||
	    (size_t)req->nr_segs * sizeof(req->seg[0]) >
		    (size_t)req->nr_indirect * BLKIF_PAGE_SIZE)
		FAIL(-EINVAL, "indirect request not validated");
	memcpy(req->seg, pages, (size_t)req->nr_segs * sizeof(req->seg[0]));
	barrier();
	return check_segs(lim, req, why);
}

/* ---- decoding (from the private copy of one ring slot) ------------------ */

/* seg: the segment array inside a (packed) private copy. */
static void decode_segs(struct blkif_req *req, const void *seg, uint8_t n)
{
	unsigned int i;

	req->nr_segs = n;
	/* Copy only what fits; validation rejects n > 11. */
	for (i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST &&
		    i < req->seg_cap;
	     i++)
		memcpy(&req->seg[i], (const uint8_t *)seg + i * sizeof(req->seg[0]),
		       sizeof(req->seg[0]));
}

static void decode_indirect(struct blkif_req *req, uint8_t indirect_op,
			    uint16_t nr_segs, const void *grefs)
{
	unsigned int pages = ((unsigned int)nr_segs +
			      BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
			     BLKIF_SEGS_PER_INDIRECT_PAGE;

	req->indirect = true;
	req->op = indirect_op;
	req->nr_segs = nr_segs;
	req->nr_indirect = pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST
				   ? 0xff
				   : (uint8_t)pages;
	memcpy(req->indirect_grefs, grefs, sizeof(req->indirect_grefs));
}

/*
 * One decoder and one encoder per request layout, generated from the same
 * text: the two ABIs differ only in their struct types (x86_32's are
 * packed, so members are reached through offsetof, never by address).
 */
#define BLKIF_LAYOUT_CODEC(sfx, req_t, ind_t, disc_t)                          \
	static void decode##sfx(struct blkif_req *req, const void *slot)       \
	{                                                                      \
		req_t r;                                                       \
                                                                               \
		memcpy(&r, slot, sizeof(r));                                   \
		barrier(); /* the copy is all we look at from now on */        \
		req->operation = r.operation;                                  \
		if (r.operation == BLKIF_OP_INDIRECT) {                        \
			ind_t ind;                                             \
                                                                               \
			memcpy(&ind, &r, sizeof(ind));                         \
			req->id = ind.id;                                      \
			req->sector = ind.sector_number;                       \
			req->handle = ind.handle;                              \
			decode_indirect(req, ind.indirect_op,                  \
					ind.nr_segments,                       \
					(const uint8_t *)&ind +                \
						offsetof(ind_t,                \
							 indirect_grefs));     \
		} else if (r.operation == BLKIF_OP_DISCARD) {                  \
			disc_t d;                                              \
                                                                               \
			memcpy(&d, &r, sizeof(d));                             \
			req->id = d.id;                                        \
			req->sector = d.sector_number;                         \
			req->nr_sectors = d.nr_sectors;                        \
			req->discard_flag = d.flag;                            \
			req->handle = d.handle;                                \
		} else {                                                       \
			req->id = r.id;                                        \
			req->sector = r.sector_number;                         \
			req->handle = r.handle;                                \
			decode_segs(req,                                       \
				    (const uint8_t *)&r + offsetof(req_t, seg), \
				    r.nr_segments);                            \
		}                                                              \
	}                                                                      \
                                                                               \
	static void encode##sfx(void *slot, const struct blkif_req *q)         \
	{                                                                      \
		req_t r;                                                       \
		unsigned int i;                                                \
                                                                               \
		memset(&r, 0, sizeof(r));                                      \
		if (q->operation == BLKIF_OP_INDIRECT) {                       \
			ind_t ind;                                             \
                                                                               \
			memset(&ind, 0, sizeof(ind));                          \
			ind.operation = BLKIF_OP_INDIRECT;                     \
			ind.indirect_op = q->op;                               \
			ind.nr_segments = q->nr_segs;                          \
			ind.id = q->id;                                        \
			ind.sector_number = q->sector;                         \
			ind.handle = q->handle;                                \
			memcpy((uint8_t *)&ind + offsetof(ind_t, indirect_grefs), \
			       q->indirect_grefs, sizeof(ind.indirect_grefs)); \
			memcpy(&r, &ind, sizeof(ind));                         \
		} else if (q->operation == BLKIF_OP_DISCARD) {                 \
			disc_t d;                                              \
                                                                               \
			memset(&d, 0, sizeof(d));                              \
			d.operation = BLKIF_OP_DISCARD;                        \
			d.flag = q->discard_flag;                              \
			d.handle = q->handle;                                  \
			d.id = q->id;                                          \
			d.sector_number = q->sector;                           \
			d.nr_sectors = q->nr_sectors;                          \
			memcpy(&r, &d, sizeof(d));                             \
		} else {                                                       \
			r.operation = q->operation;                            \
			r.nr_segments = (uint8_t)q->nr_segs;                   \
			r.handle = q->handle;                                  \
			r.id = q->id;                                          \
			r.sector_number = q->sector;                           \
			for (i = 0; i < q->nr_segs; i++)                       \
				r.seg[i] = q->seg[i];                          \
		}                                                              \
		memcpy(slot, &r, sizeof(r));                                   \
	}

BLKIF_LAYOUT_CODEC(32, struct blkif_x86_32_request,
		   struct blkif_x86_32_request_indirect,
		   struct blkif_x86_32_request_discard)
BLKIF_LAYOUT_CODEC(64, struct blkif_x86_64_request,
		   struct blkif_x86_64_request_indirect,
		   struct blkif_x86_64_request_discard)

/* ---- backend ring --------------------------------------------------------- */

int blkif_back_init(struct blkif_back *b, enum blkif_abi abi, void *sring,
		    size_t size)
{
	if (!sring || size < BLKIF_PAGE_SIZE ||
	    size > (size_t)BLKIF_PAGE_SIZE * BLKIF_MAX_RING_PAGES)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->abi = abi;
	if (abi == BLKIF_ABI_X86_32)
		BACK_RING_INIT(&b->r.n32, (blkif_x86_32_sring_t *)sring, size);
	else
		BACK_RING_INIT(&b->r.n64, (blkif_x86_64_sring_t *)sring, size);
	b->rp = b->r.n64.req_cons; /* both start at 0 */
	return 0;
}

/* The ring fields common to both layouts sit at the same offsets. */
#define BR(b, field)                                                           \
	((b)->abi == BLKIF_ABI_X86_32 ? (b)->r.n32.field : (b)->r.n64.field)

unsigned int blkif_back_nr_ents(const struct blkif_back *b)
{
	return BR(b, nr_ents);
}

int blkif_back_poll(struct blkif_back *b)
{
	RING_IDX rp, cons = BR(b, req_cons), pvt = BR(b, rsp_prod_pvt);
	unsigned int n = BR(b, nr_ents), inflight;
	volatile RING_IDX *prod;

	if (b->broken)
		return -EPROTO;
	prod = b->abi == BLKIF_ABI_X86_32 ? &b->r.n32.sring->req_prod
					  : &b->r.n64.sring->req_prod;
	rp = *prod;
	rmb(); /* requests are read after the index */
	/* More requests than slots, or an index that went backwards. */
	if (rp - pvt > n || rp - cons > n) {
		b->broken = true;
		return -EPROTO;
	}
	b->rp = rp;
	inflight = cons - pvt; /* taken, not yet answered */
	if (inflight >= n)
		return 0;
	return (int)((rp - cons) < n - inflight ? rp - cons : n - inflight);
}

int blkif_back_take(struct blkif_back *b, struct blkif_req *req)
{
	RING_IDX cons = BR(b, req_cons);
	struct blkif_request_segment *seg = req->seg;
	uint16_t cap = req->seg_cap;

	if (b->broken)
		return -EPROTO;
	if (cons == b->rp)
		return -EAGAIN;
	memset(req, 0, sizeof(*req));
	req->seg = seg;
	req->seg_cap = cap;
	if (b->abi == BLKIF_ABI_X86_32) {
		if (RING_REQUEST_CONS_OVERFLOW(&b->r.n32, cons))
			return -EAGAIN;
		decode32(req, RING_GET_REQUEST(&b->r.n32, cons));
		b->r.n32.req_cons = cons + 1;
	} else {
		if (RING_REQUEST_CONS_OVERFLOW(&b->r.n64, cons))
			return -EAGAIN;
		decode64(req, RING_GET_REQUEST(&b->r.n64, cons));
		b->r.n64.req_cons = cons + 1;
	}
	return 0;
}

void blkif_back_respond(struct blkif_back *b, uint64_t id, uint8_t operation,
			int16_t status)
{
	if (b->abi == BLKIF_ABI_X86_32) {
		struct blkif_x86_32_response r;

		memset(&r, 0, sizeof(r));
		r.id = id;
		r.operation = operation;
		r.status = status;
		memcpy(RING_GET_RESPONSE(&b->r.n32, b->r.n32.rsp_prod_pvt), &r,
		       sizeof(r));
		b->r.n32.rsp_prod_pvt++;
	} else {
		struct blkif_x86_64_response r;

		memset(&r, 0, sizeof(r)); /* padding too (XSA-216) */
		r.id = id;
		r.operation = operation;
		r.status = status;
		memcpy(RING_GET_RESPONSE(&b->r.n64, b->r.n64.rsp_prod_pvt), &r,
		       sizeof(r));
		b->r.n64.rsp_prod_pvt++;
	}
}

bool blkif_back_push(struct blkif_back *b)
{
	int notify;

	if (b->abi == BLKIF_ABI_X86_32)
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->r.n32, notify);
	else
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->r.n64, notify);
	return notify;
}

bool blkif_back_final_check(struct blkif_back *b)
{
	volatile RING_IDX *prod, *ev;
	RING_IDX cons = BR(b, req_cons);

	if (b->broken)
		return false;
	prod = b->abi == BLKIF_ABI_X86_32 ? &b->r.n32.sring->req_prod
					  : &b->r.n64.sring->req_prod;
	ev = b->abi == BLKIF_ABI_X86_32 ? &b->r.n32.sring->req_event
					: &b->r.n64.sring->req_event;
	if (*prod != cons)
		return true;
	*ev = cons + 1;
	mb();
	return *prod != cons;
}

bool blkif_back_peek(const struct blkif_back *b)
{
	const volatile RING_IDX *prod;

	if (b->broken)
		return false;
	prod = b->abi == BLKIF_ABI_X86_32 ? &b->r.n32.sring->req_prod
					  : &b->r.n64.sring->req_prod;
	return *prod != BR(b, req_cons);
}

/* ---- frontend ring -------------------------------------------------------- */

int blkif_front_init(struct blkif_front *f, enum blkif_abi abi, void *sring,
		     size_t size)
{
	if (!sring || size < BLKIF_PAGE_SIZE ||
	    size > (size_t)BLKIF_PAGE_SIZE * BLKIF_MAX_RING_PAGES)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->abi = abi;
	if (abi == BLKIF_ABI_X86_32) {
		blkif_x86_32_sring_t *s = sring;

		SHARED_RING_INIT(s);
		FRONT_RING_INIT(&f->r.n32, s, size);
	} else {
		blkif_x86_64_sring_t *s = sring;

		SHARED_RING_INIT(s);
		FRONT_RING_INIT(&f->r.n64, s, size);
	}
	return 0;
}

unsigned int blkif_front_nr_ents(const struct blkif_front *f)
{
	return BR(f, nr_ents);
}

unsigned int blkif_front_free(const struct blkif_front *f)
{
	return f->abi == BLKIF_ABI_X86_32 ? RING_FREE_REQUESTS(&f->r.n32)
					  : RING_FREE_REQUESTS(&f->r.n64);
}

static void encode(enum blkif_abi abi, void *slot, const struct blkif_req *q)
{
	if (abi == BLKIF_ABI_X86_32)
		encode32(slot, q);
	else
		encode64(slot, q);
}

int blkif_front_queue(struct blkif_front *f, const struct blkif_req *req)
{
	if (req->operation != BLKIF_OP_INDIRECT &&
	    req->operation != BLKIF_OP_DISCARD &&
	    req->nr_segs > BLKIF_MAX_SEGMENTS_PER_REQUEST)
		return -EINVAL;
	if (req->operation == BLKIF_OP_INDIRECT &&
	    req->nr_segs > BLKIF_INDIRECT_SEGS_LIMIT)
		return -EINVAL;
	if (!blkif_front_free(f))
		return -ENOSPC;
	if (f->abi == BLKIF_ABI_X86_32) {
		encode(f->abi, RING_GET_REQUEST(&f->r.n32, f->r.n32.req_prod_pvt),
		       req);
		f->r.n32.req_prod_pvt++;
	} else {
		encode(f->abi, RING_GET_REQUEST(&f->r.n64, f->r.n64.req_prod_pvt),
		       req);
		f->r.n64.req_prod_pvt++;
	}
	return 0;
}

bool blkif_front_push(struct blkif_front *f)
{
	int notify;

	if (f->abi == BLKIF_ABI_X86_32)
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->r.n32, notify);
	else
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->r.n64, notify);
	return notify;
}

int blkif_front_poll(struct blkif_front *f)
{
	RING_IDX rp, cons = BR(f, rsp_cons), pvt = BR(f, req_prod_pvt);
	volatile RING_IDX *prod;

	if (f->broken)
		return -EPROTO;
	prod = f->abi == BLKIF_ABI_X86_32 ? &f->r.n32.sring->rsp_prod
					  : &f->r.n64.sring->rsp_prod;
	rp = *prod;
	rmb();
	/* Responses beyond what was requested: a bogus backend. */
	if (rp - cons > pvt - cons) {
		f->broken = true;
		return -EPROTO;
	}
	f->rp = rp;
	return (int)(rp - cons);
}

int blkif_front_take(struct blkif_front *f, struct blkif_rsp *rsp)
{
	RING_IDX cons = BR(f, rsp_cons);

	if (f->broken)
		return -EPROTO;
	if (cons == f->rp)
		return -EAGAIN;
	if (f->abi == BLKIF_ABI_X86_32) {
		struct blkif_x86_32_response r;

		memcpy(&r, RING_GET_RESPONSE(&f->r.n32, cons), sizeof(r));
		barrier();
		rsp->id = r.id;
		rsp->operation = r.operation;
		rsp->status = r.status;
		f->r.n32.rsp_cons = cons + 1;
	} else {
		struct blkif_x86_64_response r;

		memcpy(&r, RING_GET_RESPONSE(&f->r.n64, cons), sizeof(r));
		barrier();
		rsp->id = r.id;
		rsp->operation = r.operation;
		rsp->status = r.status;
		f->r.n64.rsp_cons = cons + 1;
	}
	return 0;
}

bool blkif_front_final_check(struct blkif_front *f)
{
	volatile RING_IDX *prod, *ev;
	RING_IDX cons = BR(f, rsp_cons);

	if (f->broken)
		return false;
	prod = f->abi == BLKIF_ABI_X86_32 ? &f->r.n32.sring->rsp_prod
					  : &f->r.n64.sring->rsp_prod;
	ev = f->abi == BLKIF_ABI_X86_32 ? &f->r.n32.sring->rsp_event
					: &f->r.n64.sring->rsp_event;
	if (*prod != cons)
		return true;
	*ev = cons + 1;
	mb();
	return *prod != cons;
}

bool blkif_front_peek(const struct blkif_front *f)
{
	const volatile RING_IDX *prod;

	if (f->broken)
		return false;
	prod = f->abi == BLKIF_ABI_X86_32 ? &f->r.n32.sring->rsp_prod
					  : &f->r.n64.sring->rsp_prod;
	return *prod != BR(f, rsp_cons);
}
