/*
 * storage_uring.c - raw files and block devices through io_uring: readv /
 * writev (O_DIRECT where the file system allows it, falling back to the
 * page cache per request when a direct transfer is refused), fdatasync for
 * FLUSH (linked after the write it belongs to), and fallocate(PUNCH_HOLE)
 * for DISCARD.  Completions wake an eventfd registered with the ring.
 *
 * A file on tmpfs is served inline instead: tmpfs cannot do non-blocking
 * I/O (no FMODE_NOWAIT), so io_uring would hand every request to an io-wq
 * worker thread and wake us again through the eventfd, two thread hops
 * per request for what is a copy to or from memory.  There each operation
 * up to INLINE_MAX_BYTES (and every flush and discard) runs in queue()
 * with preadv/pwritev (fdatasync, fallocate) and its completion waits on
 * a list for the reap() that follows the submit(); larger transfers still
 * go through io_uring, whose workers copy in parallel.  fd() is the
 * eventfd only while io_uring has work: a ring served inline costs no
 * eventfd system call at all.
 */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define INLINE_MAX_BYTES (64u << 10)

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

struct bk_storage {
	struct io_uring ring;
	int fd;          /* O_DIRECT when possible */
	int fd_buffered; /* the same file through the page cache */
	int efd;
	uint64_t size;
	bool discard;
	bool inline_io; /* tmpfs: synchronous in queue() */
	unsigned int depth, queued, inflight;
	unsigned int ring_busy; /* of inflight: in io_uring, not reaped */
	/* Per io: the original, kept for a buffered retry. */
	struct uio {
		struct bk_io io;
		unsigned int parts; /* SQEs outstanding */
		int res;
		bool direct;
		struct uio *next_free; /* also: the inline done list */
	} *uios, *free;
	struct uio *idone, **idone_tail; /* inline completions, in order */
};

static int uring_submit_io(struct bk_storage *st, struct uio *u);

static void uring_close(struct bk_storage *st)
{
	if (!st)
		return;
	io_uring_queue_exit(&st->ring);
	if (st->fd >= 0)
		close(st->fd);
	if (st->fd_buffered >= 0 && st->fd_buffered != st->fd)
		close(st->fd_buffered);
	if (st->efd >= 0)
		close(st->efd);
	free(st->uios);
	free(st);
}

/* An exclusive lock can be had only when no other open file of the
 * storage holds its shared one: no other backend serves it and no request
 * of a killed backend is still on its way to it (whose write would land
 * after the frontend's replay of a newer one). */
static int uring_claim(const char *path, unsigned int wait_ms)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -EBUSY;
	unsigned int waited = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			rc = 0;
			break;
		}
		if (errno != EWOULDBLOCK) {
			rc = -errno;
			break;
		}
		if (waited >= wait_ms)
			break;
		usleep(10000);
		waited += 10;
	}
	close(fd); /* and the exclusive lock with it */
	return rc;
}

static int uring_open(const char *path, bool readonly, unsigned int depth,
		      struct bk_storage **out)
{
	struct bk_storage *st;
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, rc;
	unsigned int i;
	struct stat sb;

	if (!depth)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->fd = st->fd_buffered = st->efd = -1;
	st->depth = depth;
	st->fd_buffered = open(path, flags);
	if (st->fd_buffered < 0) {
		rc = -errno;
		free(st);
		return rc;
	}
	st->fd = open(path, flags | O_DIRECT);
	if (st->fd < 0)
		st->fd = st->fd_buffered; /* e.g. tmpfs */
	/* Every file that carries I/O holds a shared lock, which the
	 * kernel keeps until the last reference goes: a killed backend's
	 * io_uring requests still in flight keep it (see uring_claim). */
	if (flock(st->fd_buffered, LOCK_SH | LOCK_NB) < 0 ||
	    flock(st->fd, LOCK_SH | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	if (fstat(st->fd_buffered, &sb) < 0) {
		rc = -errno;
		goto fail;
	}
	if (S_ISBLK(sb.st_mode)) {
		if (ioctl(st->fd_buffered, BLKGETSIZE64, &st->size) < 0) {
			rc = -errno;
			goto fail;
		}
		st->discard = !readonly;
	} else if (S_ISREG(sb.st_mode)) {
		st->size = (uint64_t)sb.st_size;
		st->discard = !readonly;
	} else {
		rc = -EINVAL;
		goto fail;
	}
	{
		struct statfs fs;

		st->inline_io = fstatfs(st->fd_buffered, &fs) == 0 &&
				fs.f_type == TMPFS_MAGIC;
	}
	st->idone_tail = &st->idone;
	st->uios = calloc(depth, sizeof(*st->uios));
	if (!st->uios) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < depth; i++) {
		st->uios[i].next_free = st->free;
		st->free = &st->uios[i];
	}
	rc = io_uring_queue_init(depth * 2, &st->ring, 0);
	if (rc < 0)
		goto fail_noring;
	st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->efd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = io_uring_register_eventfd(&st->ring, st->efd);
	if (rc < 0)
		goto fail;
	*out = st;
	return 0;
fail_noring:
	memset(&st->ring, 0, sizeof(st->ring));
	st->ring.ring_fd = -1;
	if (st->fd >= 0 && st->fd != st->fd_buffered)
		close(st->fd);
	if (st->fd_buffered >= 0)
		close(st->fd_buffered);
	free(st->uios);
	free(st);
	return rc;
fail:
	uring_close(st);
	return rc;
}

static uint64_t uring_size(const struct bk_storage *st)
{
	return st->size;
}

static bool uring_can_discard(const struct bk_storage *st)
{
	return st->discard;
}

static int uring_fd(const struct bk_storage *st)
{
	/* Idle: nothing to watch (a completion's late signal stays in the
	 * eventfd until the next busy spell drains it: one spurious wake at
	 * most). */
	return st->ring_busy ? st->efd : -1;
}

static int uring_submit_io(struct bk_storage *st, struct uio *u)
{
	const struct bk_io *io = &u->io;
	int fd = u->direct ? st->fd : st->fd_buffered;
	struct io_uring_sqe *sqe;
	unsigned int need = 1 + (io->flush_after ? 1 : 0);

	if (io_uring_sq_space_left(&st->ring) < need)
		return -EBUSY;
	sqe = io_uring_get_sqe(&st->ring);
	switch (io->op) {
	case BK_IO_READ:
		io_uring_prep_readv(sqe, fd, io->iov, io->iovcnt, io->off);
		break;
	case BK_IO_WRITE:
		io_uring_prep_writev(sqe, fd, io->iov, io->iovcnt, io->off);
		break;
	case BK_IO_FLUSH:
		io_uring_prep_fsync(sqe, st->fd_buffered,
				    IORING_FSYNC_DATASYNC);
		need = 1;
		break;
	case BK_IO_DISCARD:
		io_uring_prep_fallocate(sqe, st->fd_buffered,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					io->off, io->len);
		need = 1;
		break;
	}
	io_uring_sqe_set_data(sqe, u);
	u->parts = need;
	u->res = 0;
	if (need == 2) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(&st->ring);
		io_uring_prep_fsync(sqe, st->fd_buffered, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data(sqe, u);
	}
	st->queued += need;
	return 0;
}

/* Run io now (tmpfs); the result in u->res. */
static void inline_run(struct bk_storage *st, struct uio *u)
{
	const struct bk_io *io = &u->io;
	ssize_t n = 0;

	switch (io->op) {
	case BK_IO_READ:
		n = preadv(st->fd_buffered, io->iov, (int)io->iovcnt,
			   (off_t)io->off);
		break;
	case BK_IO_WRITE:
		n = pwritev(st->fd_buffered, io->iov, (int)io->iovcnt,
			    (off_t)io->off);
		if (n >= 0 && io->flush_after && fdatasync(st->fd_buffered))
			n = -1;
		break;
	case BK_IO_FLUSH:
		n = fdatasync(st->fd_buffered);
		break;
	case BK_IO_DISCARD:
		n = fallocate(st->fd_buffered,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)io->off, (off_t)io->len);
		break;
	}
	u->res = n < 0 ? -errno : (int)n;
	u->next_free = NULL;
	*st->idone_tail = u;
	st->idone_tail = &u->next_free;
}

static int uring_queue(struct bk_storage *st, const struct bk_io *io)
{
	struct uio *u = st->free;
	int rc;

	if (!u)
		return -EBUSY;
	u->io = *io;
	/* Small transfers only: large ones gain from io-wq's workers
	 * running several copies at once. */
	if (st->inline_io &&
	    (io->op > BK_IO_WRITE || io->len <= INLINE_MAX_BYTES)) {
		st->free = u->next_free;
		st->inflight++;
		inline_run(st, u);
		return 0;
	}
	u->direct = st->fd != st->fd_buffered;
	rc = uring_submit_io(st, u);
	if (rc)
		return rc;
	st->free = u->next_free;
	st->inflight++;
	st->ring_busy++;
	return 0;
}

static int uring_submit(struct bk_storage *st)
{
	int rc;

	/* Inline completions wait for the reap() that follows. */
	if (!st->queued)
		return 0;
	do
		rc = io_uring_submit(&st->ring);
	while (rc == -EINTR);
	if (rc < 0)
		return rc;
	st->queued = 0;
	return 0;
}

static int uring_reap(struct bk_storage *st, bk_io_done_fn done, void *arg)
{
	struct io_uring_cqe *cqe;
	uint64_t v;
	int n = 0;
	bool resubmit = false;

	if (st->ring_busy && read(st->efd, &v, sizeof(v)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	while (st->idone) {
		struct uio *u = st->idone;

		st->idone = u->next_free;
		if (!st->idone)
			st->idone_tail = &st->idone;
		if ((u->io.op == BK_IO_READ || u->io.op == BK_IO_WRITE) &&
		    u->res >= 0 && (uint64_t)u->res != u->io.len)
			u->res = -EIO; /* short transfer */
		st->inflight--;
		u->next_free = st->free;
		st->free = u;
		done(u->io.tag, u->res, arg);
		n++;
	}
	while (io_uring_peek_cqe(&st->ring, &cqe) == 0) {
		struct uio *u = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&st->ring, cqe);
		if (res < 0 && u->res >= 0)
			u->res = res;
		else if (res > 0 && u->res == 0 &&
			 (u->io.op == BK_IO_READ || u->io.op == BK_IO_WRITE))
			u->res = res;
		if (--u->parts)
			continue;
		/* O_DIRECT refused this transfer (alignment): the page
		 * cache takes it instead. */
		if (u->res == -EINVAL && u->direct &&
		    (u->io.op == BK_IO_READ || u->io.op == BK_IO_WRITE)) {
			u->direct = false;
			if (uring_submit_io(st, u) == 0) {
				resubmit = true;
				continue;
			}
		}
		if ((u->io.op == BK_IO_READ || u->io.op == BK_IO_WRITE) &&
		    u->res >= 0 && (uint64_t)u->res != u->io.len)
			u->res = -EIO; /* short transfer */
		st->inflight--;
		st->ring_busy--;
		u->next_free = st->free;
		st->free = u;
		done(u->io.tag, u->res >= 0 ? u->res : u->res, arg);
		n++;
	}
	if (resubmit)
		uring_submit(st);
	return n;
}

const struct bk_storage_ops bk_storage_uring = {
	.name = "file",
	.open = uring_open,
	.claim = uring_claim,
	.close = uring_close,
	.size = uring_size,
	.can_discard = uring_can_discard,
	.fd = uring_fd,
	.queue = uring_queue,
	.submit = uring_submit,
	.reap = uring_reap,
};
