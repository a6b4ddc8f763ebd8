/*
 * gnt_active.h - a granting domain's active grant table, shared by
 * pvkit-hvd and the Dom0 processes that copy grants themselves.
 *
 * Xen keeps, per granted entry in use, an active entry: how many mappings
 * and copies pin it for reading and for writing, and the frame it pinned.
 * While any pin exists GTF_reading (and, for a writable one, GTF_writing)
 * stays set in the granter's shared entry, so the granter cannot end access
 * under a user.  pvkit-hvd pins for mappings and for the copies it does;
 * a Dom0 backend that holds the granter's memory file anyway (as a foreign
 * mapper could) pins here itself and copies without a round trip through
 * the hypervisor.  Both must keep one set of counts, so the table lives in
 * a memory file pvkit-hvd makes per domain and hands to privileged
 * processes only (never to a DomU, not even the granter: it could hold the
 * lock).
 *
 * Layout (one file per domain): a header page, the populated bitmap of the
 * domain's RAM (page aligned), then one 64-byte line per grant entry with
 * each pinner's counts and their totals.  Slot 0 is pvkit-hvd's; slots
 * 1..PVK_GACT_SLOTS-1
 * are Dom0 processes' (pvkit-hvd hands them out, one per connection).
 *
 * Every change takes the header's lock (a word holding the holder's slot +
 * 1), for a few loads and stores.  A pinner raises its count before it
 * sets a flag and clears a flag before it lowers its count, so a process
 * that dies anywhere leaves counts that say at least what it held: when
 * its connection closes pvkit-hvd breaks a lock it held, forgets its
 * counts (pvk_gact_drop_slot) and clears the flags nobody pins any more.
 */
#ifndef PVKIT_COMMON_GNT_ACTIVE_H
#define PVKIT_COMMON_GNT_ACTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/grant_table.h>
#include <xen/xen.h>

#define PVK_GACT_SLOTS 14u /* 0: pvkit-hvd; 1..13: Dom0 copiers */
#define PVK_GACT_HVD 0u
#define PVK_GACT_PER_FRAME (4096u / sizeof(grant_entry_v1_t))
#define PVK_GACT_MAGIC 0x70676163u /* "pgac" */

/* One cache line.  tr/tw are the sums of r[]/w[]: a pinner raises its
 * own count before the total and lowers the total before its own, so a
 * total is off only where a dead pinner's own count is nonzero, and
 * pvk_gact_drop_slot recounts exactly those. */
struct pvk_gact_ent {
	uint32_t frame;	 /* the frame pinned while any count is nonzero */
	uint16_t tr, tw; /* all slots' read-only and writable pins */
	uint16_t r[PVK_GACT_SLOTS];
	uint16_t w[PVK_GACT_SLOTS];
};

struct pvk_gact_hdr {
	uint32_t magic;
	uint32_t lock;	     /* 0: free; else the holder's slot + 1 */
	uint32_t dead;	     /* destroyed: nothing pins it any more */
	uint32_t gnt_frames; /* the table's current size (grows) */
	uint32_t max_gnt_frames;
	uint32_t domid;
	uint64_t gen;	       /* the domain's incarnation */
	uint64_t max_pages;    /* RAM frames [0, max_pages) */
	uint64_t special_gpfn; /* special pages and grant frames from here */
	uint64_t mem_pages;    /* size of the memory file in pages */
	uint64_t pop_off, ent_off, size; /* bitmap, entries, file size */
	uint64_t copier_pins; /* pins held by slots other than pvkit-hvd's */
};

/* A process's view of one domain's table and memory. */
struct pvk_gact {
	struct pvk_gact_hdr *hdr;
	uint64_t *populated;
	struct pvk_gact_ent *ent;
	uint8_t *mem; /* the domain's memory file, mem_pages pages */
};

/* Size of the file for a domain of this shape. */
size_t pvk_gact_size(uint64_t max_pages, uint32_t max_gnt_frames);
/* Lay out a fresh (zeroed) file at base and fill *g. */
void pvk_gact_init(void *base, size_t size, domid_t domid, uint64_t gen,
		   uint64_t max_pages, uint64_t mem_pages,
		   uint32_t max_gnt_frames, uint8_t *mem, struct pvk_gact *g);
/* A view of a file made by pvk_gact_init (size: of the mapping at base;
 * mem_len: of the mapping at mem): -EPROTO if they do not agree. */
int pvk_gact_view(void *base, size_t size, uint8_t *mem, size_t mem_len,
		  struct pvk_gact *g);

/*
 * Take the lock as slot.  While another holds it: spin, then yield, then
 * sleep; holder_dead (optional) is asked now and then whether the holder's
 * process is gone, and when it says so the lock is broken and that slot's
 * pins dropped (pvkit-hvd's way).  timeout_ns 0 waits for ever; else
 * -ETIMEDOUT after that long (a copier's way: pvkit-hvd, which breaks
 * locks, may be gone).
 */
int pvk_gact_lock(struct pvk_gact *g, unsigned int slot, uint64_t timeout_ns,
		  bool (*holder_dead)(void *arg, unsigned int slot), void *arg);
void pvk_gact_unlock(struct pvk_gact *g);

/*
 * Locked: pin entry ref for domain who's access as slot (writable: for a
 * copy into it or a writable mapping).  Checks the entry as Xen does
 * (GTF_permit_access, the domid, GTF_readonly, read together with one
 * compare-and-swap), the frame (read once, inside the granter's populated
 * RAM or its special pages) and sets GTF_reading/GTF_writing.  Returns a
 * GNTST_* code; *frame receives the pinned frame.
 */
int16_t pvk_gact_pin(struct pvk_gact *g, unsigned int slot, domid_t who,
		     grant_ref_t ref, bool writable, xen_pfn_t *frame);
/* Locked: drop one pin of slot; false if slot held none of that kind. */
bool pvk_gact_unpin(struct pvk_gact *g, unsigned int slot, grant_ref_t ref,
		    bool writable);
/* Locked: whether any pin holds an entry whose frame is gpfn. */
bool pvk_gact_frame_pinned(const struct pvk_gact *g, xen_pfn_t gpfn);
/* Locked (or the lock broken): forget every pin of slot, clear the flags
 * nobody holds any more and recount copier_pins.  Returns pins dropped. */
uint64_t pvk_gact_drop_slot(struct pvk_gact *g, unsigned int slot);
/* Whether gpfn is a frame of the domain's (populated RAM or special). */
bool pvk_gact_frame_valid(const struct pvk_gact *g, xen_pfn_t gpfn);

#endif
