/*
 * storage.h - what blkback stores a disk on, behind a small ops table.
 * One instance per ring (queue), so each ring submits and reaps on its own.
 * Functions return 0 or -errno.
 */
#ifndef PVKIT_BLKBACK_STORAGE_H
#define PVKIT_BLKBACK_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

enum bk_io_op { BK_IO_READ, BK_IO_WRITE, BK_IO_FLUSH, BK_IO_DISCARD };

/* One storage operation; tag is echoed at completion.  A write with
 * flush_after is followed by a durable flush, ordered after it. */
struct bk_io {
	enum bk_io_op op;
	uint64_t off, len; /* bytes; len unused for FLUSH */
	const struct iovec *iov;
	unsigned int iovcnt;
	bool flush_after;
	void *tag;
};

struct bk_storage;
typedef void (*bk_io_done_fn)(void *tag, int res, void *arg);

struct bk_storage_ops {
	const char *name;
	/* depth: operations in flight at most (twice the ring's slots). */
	int (*open)(const char *path, bool readonly, unsigned int depth,
		    struct bk_storage **out);
	void (*close)(struct bk_storage *st);
	uint64_t (*size)(const struct bk_storage *st); /* bytes */
	bool (*can_discard)(const struct bk_storage *st);
	/* Readable when completions of submitted I/O are waiting; -1 when
	 * nothing needs watching (asked again before every wait).  What
	 * completes inside queue() or submit() is not announced: the caller
	 * calls reap() after submit() before it waits. */
	int (*fd)(const struct bk_storage *st);
	/* Queue io (not yet started); -EBUSY when the queue is full. */
	int (*queue)(struct bk_storage *st, const struct bk_io *io);
	/* Start everything queued with one system call. */
	int (*submit)(struct bk_storage *st);
	/* Run done(tag, res, arg) for each finished io, res = bytes moved
	 * (0 for flush/discard) or -errno.  Returns the number reaped. */
	int (*reap)(struct bk_storage *st, bk_io_done_fn done, void *arg);
	/* Optional: before a writable device is served, wait up to wait_ms
	 * until nobody else has the storage open for I/O (another backend,
	 * or the requests a killed one left in the kernel); -EBUSY if that
	 * does not happen. */
	int (*claim)(const char *path, unsigned int wait_ms);
};

/* Raw files and block devices through io_uring. */
extern const struct bk_storage_ops bk_storage_uring;
/* An export of an NBD server through libnbd: params is an NBD URI. */
extern const struct bk_storage_ops bk_storage_nbd;

/* The storage a vbd's params names: nbd://, nbds://, nbd+unix:// and
 * nbds+unix:// URIs are NBD exports, anything else a file or device. */
static inline const struct bk_storage_ops *bk_storage_for(const char *params)
{
	if (!strncmp(params, "nbd://", 6) || !strncmp(params, "nbds://", 7) ||
	    !strncmp(params, "nbd+unix://", 11) ||
	    !strncmp(params, "nbds+unix://", 12))
		return &bk_storage_nbd;
	return &bk_storage_uring;
}

#endif
