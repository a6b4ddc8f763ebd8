/*
 * vbd_stats.h - a vbd's request counters as pvkit-blkback publishes them
 * for `pvkit top` (xentop's VBD_OO, VBD_RD, VBD_WR, VBD_RSECT and
 * VBD_WSECT; Linux blkback's sysfs statistics/{oo,rd,wr}_req and
 * {rd,wr}_sect).
 *
 * The file <dir>/vbd-<domid>-<devid> (blkback's --stats-dir) holds a
 * struct pvk_vbd_stats_head and then nqueues per-queue records stride
 * bytes apart, each starting with a struct pvk_vbd_qstats.  blkback maps
 * it shared and its ring threads count into it as they go (single writer
 * per queue, relaxed 64-bit stores); readers sum the queues.
 */
#ifndef PVKIT_COMMON_VBD_STATS_H
#define PVKIT_COMMON_VBD_STATS_H

#include <stdint.h>

#define PVK_VBD_STATS_MAGIC 0x3153425642564b50ull /* "PVKVBVS1" */
#define PVK_VBD_STATS_HEAD 64u /* bytes before the first queue's record */

struct pvk_vbd_stats_head {
	uint64_t magic;
	uint32_t nqueues;
	uint32_t stride; /* bytes from one queue's record to the next */
};

struct pvk_vbd_qstats {
	uint64_t oo_req;  /* requests waiting for a free slot (rounds) */
	uint64_t rd_req;  /* BLKIF_OP_READ */
	uint64_t wr_req;  /* BLKIF_OP_WRITE and barriers with data */
	uint64_t rd_sect; /* 512-byte sectors read */
	uint64_t wr_sect; /* and written */
};

#endif
