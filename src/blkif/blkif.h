/*
 * blkif.h - the blkif protocol core shared by blkback and blkfront: both
 * request layouts (x86_64-abi, x86_32-abi) over Xen's ring macros, copying
 * a request out of the shared ring exactly once (XSA-155), validating the
 * private copy, and writing responses with zeroed padding (XSA-216).
 *
 * Pure: no I/O, no allocation; every function works on caller memory, so
 * a test can put a front and a back ring on one page in one process.
 * Functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef PVKIT_BLKIF_H
#define PVKIT_BLKIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#include "common/xen_ring.h"
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>

#define BLKIF_PAGE_SIZE 4096u
#define BLKIF_SECTOR_SHIFT 9 /* blkif sectors are 512 bytes */
#define BLKIF_SECTORS_PER_PAGE (BLKIF_PAGE_SIZE >> BLKIF_SECTOR_SHIFT)
#define BLKIF_SEGS_PER_INDIRECT_PAGE                                           \
	(BLKIF_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* The most segments an indirect request can name at all. */
#define BLKIF_INDIRECT_SEGS_LIMIT                                              \
	(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * BLKIF_SEGS_PER_INDIRECT_PAGE)
#define BLKIF_MAX_RING_PAGE_ORDER 4u
#define BLKIF_MAX_RING_PAGES (1u << BLKIF_MAX_RING_PAGE_ORDER)

/* ---- the two wire layouts ------------------------------------------------
 * x86_32-abi: 64-bit fields are 4-byte aligned (i386), so the structs are
 * packed with explicit padding; x86_64-abi: natural alignment.  Offsets are
 * checked with static asserts in blkif.c.                                  */
enum blkif_abi {
	BLKIF_ABI_X86_64 = 0,
	BLKIF_ABI_X86_32 = 1,
};

struct blkif_x86_32_request {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __attribute__((packed));
struct blkif_x86_32_request_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
} __attribute__((packed));
struct blkif_x86_32_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint64_t pad2;
} __attribute__((packed));
struct blkif_x86_32_response {
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;
} __attribute__((packed));

struct blkif_x86_64_request {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
struct blkif_x86_64_request_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
};
struct blkif_x86_64_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t pad1;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad2;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
};
struct blkif_x86_64_response {
	uint64_t id;
	uint8_t operation;
	uint8_t pad1;
	int16_t status;
	uint32_t pad2;
};

DEFINE_RING_TYPES(blkif_x86_32, struct blkif_x86_32_request,
		  struct blkif_x86_32_response);
DEFINE_RING_TYPES(blkif_x86_64, struct blkif_x86_64_request,
		  struct blkif_x86_64_response);

/* The frontend's "protocol" node: NULL or missing means the backend's
 * native ABI (x86_64-abi here).  -EINVAL for anything else. */
int blkif_abi_parse(const char *protocol, enum blkif_abi *out);
const char *blkif_abi_name(enum blkif_abi abi);
/* Requests per ring of 2^order pages (32 for one page in both ABIs). */
unsigned int blkif_ring_size(enum blkif_abi abi, unsigned int order);

/* ---- a request, ABI-neutral: the backend's private copy -------------- */
struct blkif_req {
	uint64_t id;
	uint64_t sector;     /* first sector (read/write/discard) */
	uint64_t nr_sectors; /* data sectors (set by validation) or discard */
	uint8_t operation;   /* as on the wire; echoed in the response, except
				that BLKIF_OP_INDIRECT is answered with op */
	uint8_t op;          /* effective: READ, WRITE, WRITE_BARRIER,
				FLUSH_DISKCACHE or DISCARD */
	uint8_t discard_flag;
	bool indirect;
	uint16_t handle;
	uint16_t nr_segs;
	uint8_t nr_indirect; /* indirect pages named */
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	/* Caller storage for at least BLKIF_MAX_SEGMENTS_PER_REQUEST (direct)
	 * or the advertised indirect maximum segments. */
	struct blkif_request_segment *seg;
	uint16_t seg_cap;
};

/* What the backend advertised and the disk it serves. */
struct blkif_limits {
	uint64_t sectors;             /* disk size in 512-byte sectors */
	uint32_t max_indirect_segs;   /* 0: BLKIF_OP_INDIRECT unsupported */
	bool readonly;
	bool flush, barrier, discard; /* features advertised */
};

/* Validate a decoded request against lim.  Direct requests are checked
 * completely; for an indirect one only the header is (operation, segment
 * and indirect page counts) and blkif_req_load_indirect() follows.
 * -EOPNOTSUPP: answer BLKIF_RSP_EOPNOTSUPP (unknown or unadvertised
 * operation); any other error: BLKIF_RSP_ERROR.  *why (may be NULL) gets a
 * static reason for the log. */
int blkif_req_check(const struct blkif_limits *lim, struct blkif_req *req,
		    const char **why);
/* Copy the segments of an indirect request out of pages, the backend's
 * private copy of its req->nr_indirect indirect pages (contiguous), and
 * validate them with the sector range.  Same errors as above. */
int blkif_req_load_indirect(const struct blkif_limits *lim,
			    struct blkif_req *req, const void *pages,
			    const char **why);
/* Status for a validation error. */
int16_t blkif_status_for(int err);
/* Bytes a segment moves: (last - first + 1) * 512, after validation. */
static inline uint32_t blkif_seg_bytes(const struct blkif_request_segment *s)
{
	return (uint32_t)(s->last_sect - s->first_sect + 1) << BLKIF_SECTOR_SHIFT;
}

/* ---- the backend end of a ring ------------------------------------------ */
struct blkif_back {
	enum blkif_abi abi;
	union {
		blkif_x86_64_back_ring_t n64;
		blkif_x86_32_back_ring_t n32;
	} r;
	RING_IDX rp;  /* req_prod as read once at the last blkif_back_poll */
	bool broken;  /* the frontend violated the ring protocol */
};

/* Attach to a shared ring of size bytes the frontend initialised. */
int blkif_back_init(struct blkif_back *b, enum blkif_abi abi, void *sring,
		    size_t size);
unsigned int blkif_back_nr_ents(const struct blkif_back *b);
/* Read req_prod once; -EPROTO (and b->broken) if the frontend claims more
 * requests than the ring can hold.  Returns the number available (>= 0)
 * that may be taken now (bounded by free response slots). */
int blkif_back_poll(struct blkif_back *b);
/* Copy the next request out of the ring once and decode it into req
 * (req->seg must be set).  0, or -EAGAIN when none is available per the
 * last blkif_back_poll. */
int blkif_back_take(struct blkif_back *b, struct blkif_req *req);
/* Queue a response; the slot is written from a zeroed local struct. */
void blkif_back_respond(struct blkif_back *b, uint64_t id, uint8_t operation,
			int16_t status);
/* Publish queued responses; true when the frontend must be notified. */
bool blkif_back_push(struct blkif_back *b);
/* After draining: re-arm req_event; true when more requests arrived. */
bool blkif_back_final_check(struct blkif_back *b);
/* Whether req_prod moved past what was taken (no re-arming: a busy-polling
 * backend leaves req_event behind so the frontend does not notify). */
bool blkif_back_peek(const struct blkif_back *b);

/* ---- the frontend end of a ring ----------------------------------------- */
struct blkif_rsp {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};

struct blkif_front {
	enum blkif_abi abi;
	union {
		blkif_x86_64_front_ring_t n64;
		blkif_x86_32_front_ring_t n32;
	} r;
	RING_IDX rp;
	bool broken; /* the backend violated the ring protocol */
};

/* Initialise the shared ring of size bytes (SHARED_RING_INIT) and attach. */
int blkif_front_init(struct blkif_front *f, enum blkif_abi abi, void *sring,
		     size_t size);
unsigned int blkif_front_nr_ents(const struct blkif_front *f);
unsigned int blkif_front_free(const struct blkif_front *f);
/* Encode req into the next slot (not yet published).  Direct requests
 * carry req->seg[0..nr_segs); indirect ones only the indirect_grefs (the
 * caller fills the indirect pages).  -ENOSPC when the ring is full,
 * -EINVAL for counts the layout cannot express. */
int blkif_front_queue(struct blkif_front *f, const struct blkif_req *req);
/* Publish; true when the backend must be notified. */
bool blkif_front_push(struct blkif_front *f);
/* Read rsp_prod once: number of responses available, or -EPROTO (and
 * f->broken) if the backend claims more than were requested. */
int blkif_front_poll(struct blkif_front *f);
/* Copy the next response out once: 0, or -EAGAIN when none. */
int blkif_front_take(struct blkif_front *f, struct blkif_rsp *rsp);
bool blkif_front_final_check(struct blkif_front *f);
/* Whether rsp_prod moved past what was taken, without re-arming. */
bool blkif_front_peek(const struct blkif_front *f);

#endif
