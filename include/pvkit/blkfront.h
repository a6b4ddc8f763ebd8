/*
 * blkfront.h - the PV block frontend for guest-native programs: open a
 * virtual disk by its vdev ("xvda", "51712"), then read, write, flush,
 * barrier and discard by 512-byte sector, synchronously or with a
 * completion callback.  It runs in a DomU: the platform's gntshr and evtchn
 * ops and a xenstore client (usually over the domain's ring).
 *
 * Functions return 0 or a negative errno.  A backend that violates the
 * protocol (bogus ring indices, unknown or duplicate response ids) marks
 * the device broken: everything in flight and everything after fails with
 * -EIO; nothing crashes.
 *
 * I/O is spread over up to BLKFRONT_MAX_QUEUES rings (multi-queue): each
 * submitting thread keeps to one queue.  A backend that goes away (its
 * state leaves Connected: InitWait from a restarted backend, Closing,
 * Closed) is reconnected: the rings are torn down and renegotiated and
 * every request still unanswered is sent again, in submission order, before
 * anything new; submitters wait meanwhile.
 */
#ifndef PVKIT_BLKFRONT_H
#define PVKIT_BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_platform;
struct xs_client;
struct blkfront;

struct blkfront_opts {
	/* Segments per request when the backend offers indirect requests
	 * (0: never use BLKIF_OP_INDIRECT); default 32 when opts is NULL.
	 * This sizes the pages each ring slot keeps for copied data; a
	 * request on a zero-copy buffer (blkfront_buf_alloc) needs none of
	 * them and carries up to the backend's maximum, at most 256 (1 MiB),
	 * whenever indirect requests are used at all. */
	unsigned int max_indirect_segs;
	bool no_persistent;	      /* do not ask for feature-persistent */
	unsigned int ring_page_order; /* wanted; the backend's max caps it */
	const char *protocol; /* "x86_32-abi"/"x86_64-abi"; NULL native */
	int timeout_ms;	      /* for each xenbus step; 0: 10 s */
	/* Queues wanted (the backend's multi-queue-max-queues caps it);
	 * 0: min(4, the backend's maximum). */
	unsigned int num_queues;
	/* Busy-poll budget per queue in us: how long the queue's thread
	 * watches the ring for responses before re-arming the event and
	 * sleeping (adaptive, src/common/spin.h).  0: $PVKIT_BLK_POLL_US or
	 * 50; < 0: never. */
	int poll_us;
};

#define BLKFRONT_MAX_QUEUES 16u

struct blkfront_info {
	uint64_t sectors;	  /* 512-byte sectors */
	unsigned int sector_size; /* "sector-size" */
	unsigned int physical_sector_size;
	bool readonly, cdrom, removable;
	bool flush, barrier, discard, persistent; /* negotiated */
	unsigned int indirect_segs;		  /* 0: direct requests only */
	unsigned int ring_pages;		  /* per queue */
	unsigned int nr_queues;
	unsigned int discard_granularity;
	char protocol[16];
};

/* Parse "xvda".."xvdp", "xvdq".."xvdzz" (extended) or a decimal id. */
int blkfront_vdev_parse(const char *vdev, uint32_t *devid);

/* Connect the disk vdev of this domain.  plat and xs stay the caller's and
 * must outlive the device.  opts may be NULL. */
int blkfront_open(struct pvk_platform *plat, struct xs_client *xs,
		  const char *vdev, const struct blkfront_opts *opts,
		  struct blkfront **out);
/* Close the device (Closing/Closed handshake), failing what is in flight
 * with -EIO, and free it. */
void blkfront_close(struct blkfront *bf);
const struct blkfront_info *blkfront_info(const struct blkfront *bf);
/* True once the backend violated the protocol or the device failed. */
bool blkfront_broken(const struct blkfront *bf);

enum blkfront_op {
	BLKFRONT_READ,
	BLKFRONT_WRITE,
	BLKFRONT_FLUSH,	  /* buf NULL, nsectors 0 */
	BLKFRONT_BARRIER, /* a write ordered after everything before it
			     (nsectors may be 0: a pure barrier) */
	BLKFRONT_DISCARD, /* buf NULL */
};

/* status: 0, -EIO (BLKIF_RSP_ERROR or a broken device), -EOPNOTSUPP. */
typedef void (*blkfront_done_fn)(void *arg, int status);

/* Start an operation; done runs on a queue's completion thread (and must
 * not block on this device).  buf (nsectors * 512 bytes) must stay valid
 * until then (a reconnection sends writes again from it).  May wait for
 * ring space or for a reconnection.  Large transfers are split into
 * several ring requests; done runs once.  With several queues a barrier
 * first waits for everything in flight and holds later submissions until
 * it completes. */
int blkfront_submit(struct blkfront *bf, enum blkfront_op op, uint64_t sector,
		    void *buf, uint32_t nsectors, blkfront_done_fn done,
		    void *arg);

/* Zero-copy buffers.  blkfront_buf_alloc returns bytes (rounded up to
 * whole pages) of zeroed, page-aligned memory made of pages dedicated to
 * this device and shared with its backend, or NULL with errno set.  A
 * read or write whose buf (512-byte aligned) lies within one such buffer
 * is granted straight from it: no copy in blkfront, none in the backend
 * with persistent grants; any other buffer is copied through blkfront's
 * own shared pages.  The pages hold nothing but what the caller puts there
 * (XSA-403 holds), but the backend can read and write them while the
 * buffer exists, and a read lands in it as the backend writes: use the
 * data only after a successful completion, and never keep anything but
 * payload there.  blkfront_buf_free returns a buffer to the device's pool
 * (zeroed, kept shared for reuse): 0, -EINVAL when buf is not a live
 * buffer of bf (freed already, from another device, not from
 * blkfront_buf_alloc or not its start), -EBUSY while an operation on it is
 * in flight.  blkfront_close ends the sharing of them all: every buffer
 * goes with its device. */
void *blkfront_buf_alloc(struct blkfront *bf, size_t bytes);
int blkfront_buf_free(struct blkfront *bf, void *buf);

/* Synchronous forms. */
int blkfront_read(struct blkfront *bf, uint64_t sector, void *buf,
		  uint32_t nsectors);
int blkfront_write(struct blkfront *bf, uint64_t sector, const void *buf,
		   uint32_t nsectors);
int blkfront_flush(struct blkfront *bf);
int blkfront_barrier(struct blkfront *bf, uint64_t sector, const void *buf,
		     uint32_t nsectors);
int blkfront_discard(struct blkfront *bf, uint64_t sector, uint64_t nsectors);

/* Suspend (the control driver's suspend, or a save): new submissions wait;
 * what is in flight gets up to timeout_ms (<= 0: 5 s) to complete, and
 * what is still in flight then is kept in its ring slots.  0. */
int blkfront_suspend(struct blkfront *bf, int timeout_ms);
/* Resume after blkfront_suspend.  cancelled (SCHEDOP_shutdown(suspend)
 * returned 1: the same domain goes on): the rings are untouched, kept
 * requests complete as they would have, nothing is sent twice; waiting
 * submissions go on.  Not cancelled (a restored domain): the backend is
 * looked up again (its path or domain may have changed), everything is
 * negotiated from scratch and every request still unanswered is sent
 * again, in submission order, before the waiting submissions.  Zero-copy
 * buffers stay shared with the domain they were made for: if the backend
 * now lives in another domain, requests on them are copied through the
 * slots' pages. */
int blkfront_resume(struct blkfront *bf, bool cancelled);

/* blkfront as a frontend driver for the xenbus bus
 * (include/pvkit/xenbus_frontend.h): type "vbd"; probe opens the disk with
 * default options (priv is its struct blkfront *), remove flushes a
 * writable disk and closes it, suspend/resume as above. */
struct xenbus_frontend_driver;
extern const struct xenbus_frontend_driver blkfront_driver;

/* Counters, for tests: spurious events seen and rate-limited, ring
 * requests per queue, reconnections and requests sent again. */
struct blkfront_stats {
	uint64_t requests, responses, events, spurious_events, throttled;
	uint64_t queue_requests[BLKFRONT_MAX_QUEUES];
	uint64_t reconnects, replayed;
	/* The queue threads' busy-polling (src/common/spin.h): watches
	 * begun, of which work came, of which the watcher lost its CPU;
	 * watches not begun while backing off after such a loss. */
	uint64_t poll_watches, poll_hits, poll_preempted, poll_backed_off;
};
void blkfront_get_stats(const struct blkfront *bf, struct blkfront_stats *st);
/* Log each queue's ring indices, requests in flight and event channel at
 * info level: for finding out why a device seems stuck. */
void blkfront_log_state(struct blkfront *bf);

#ifdef __cplusplus
}
#endif

#endif
