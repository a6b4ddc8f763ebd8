/*
 * storage_nbd.c - a disk on an NBD server (nbdkit, qemu-nbd, possibly on
 * another machine) through libnbd's asynchronous API.  params is an NBD
 * URI: nbd://host[:port]/export or nbd+unix:///export?socket=PATH (nbds://
 * for TLS).  One connection per ring; the ring thread drives libnbd's state
 * machine itself: the fd it polls is an epoll set holding the socket (for
 * reading, and for writing while libnbd has bytes to send) and a "kick"
 * eventfd for operations finished without the server.
 *
 * A batch of queued operations is issued back to back by submit(); their
 * replies are reaped in one pass.  A write that must be durable is
 * followed by NBD_CMD_FLUSH once it has completed (NBD does not order
 * commands, and a flush only covers writes already answered).  DISCARD is
 * NBD_CMD_TRIM.  A server that goes away completes everything in flight
 * with -EIO and makes reap() return -ENOTCONN, so the ring fails the
 * device; later operations fail at once.
 */
#include "storage.h"

#include <errno.h>
#include <libnbd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define NBD_CONNECT_TIMEOUT_MS 10000

struct nio {
	struct bk_io io;
	uint8_t *bounce; /* when iov is not one contiguous buffer */
	size_t bounce_cap;
	uint8_t *buf;    /* what the command reads into / writes from */
	int res;
	bool issued;     /* an NBD command owns it (its callback is due) */
	bool flushing;   /* the write is done; its flush is in flight */
	struct bk_storage *st;
	struct nio *next; /* free, queued or done list */
};

struct bk_storage {
	struct nbd_handle *nbd;
	int epfd, kick, sock;
	uint32_t sock_events; /* registered with epfd; 0: not registered */
	uint64_t size;
	bool readonly, can_flush, can_trim, dead;
	unsigned int depth, inflight;
	struct nio *nios, *free;
	struct nio *q_head, **q_tail; /* queued, not yet issued */
	struct nio *d_head, **d_tail; /* finished, not yet reaped */
};

static void nbd_st_close(struct bk_storage *st)
{
	unsigned int i;

	if (!st)
		return;
	if (st->nbd) {
		/* Tell a live server goodbye; never wait long for it. */
		if (!st->dead && nbd_aio_is_ready(st->nbd))
			nbd_aio_disconnect(st->nbd, 0);
		nbd_close(st->nbd);
	}
	if (st->epfd >= 0)
		close(st->epfd);
	if (st->kick >= 0)
		close(st->kick);
	for (i = 0; st->nios && i < st->depth; i++)
		free(st->nios[i].bounce);
	free(st->nios);
	free(st);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nbd_errno_or(int fallback)
{
	int e = nbd_get_errno();

	return e > 0 ? -e : fallback;
}

/* Connect with a deadline (a TCP connect to a dead host would otherwise
 * take minutes, on the xenstore thread). */
static int nbd_st_connect(struct bk_storage *st, const char *uri)
{
	int64_t deadline = now_ms() + NBD_CONNECT_TIMEOUT_MS;

	if (nbd_set_uri_allow_transports(st->nbd, LIBNBD_ALLOW_TRANSPORT_TCP |
							  LIBNBD_ALLOW_TRANSPORT_UNIX) ||
	    nbd_set_uri_allow_local_file(st->nbd, false))
		return nbd_errno_or(-EINVAL);
	if (nbd_aio_connect_uri(st->nbd, uri) < 0)
		return nbd_errno_or(-EINVAL);
	while (nbd_aio_is_connecting(st->nbd) > 0) {
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (nbd_poll(st->nbd, (int)left) < 0)
			return nbd_errno_or(-ECONNREFUSED);
	}
	if (nbd_aio_is_ready(st->nbd) <= 0)
		return nbd_errno_or(-ECONNREFUSED);
	return 0;
}

static int nbd_st_open(const char *uri, bool readonly, unsigned int depth,
		       struct bk_storage **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct bk_storage *st;
	unsigned int i;
	int64_t size;
	int rc;

	if (!depth)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->epfd = st->kick = st->sock = -1;
	st->depth = depth;
	st->readonly = readonly;
	st->q_tail = &st->q_head;
	st->d_tail = &st->d_head;
	st->nios = calloc(depth, sizeof(*st->nios));
	if (!st->nios) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < depth; i++) {
		st->nios[i].st = st;
		st->nios[i].next = st->free;
		st->free = &st->nios[i];
	}
	st->nbd = nbd_create();
	if (!st->nbd) {
		rc = nbd_errno_or(-ENOMEM);
		goto fail;
	}
	rc = nbd_st_connect(st, uri);
	if (rc) {
		pvk_warn("nbd %s: %s", uri,
			 nbd_get_error() ? nbd_get_error() : strerror(-rc));
		goto fail;
	}
	size = nbd_get_size(st->nbd);
	if (size < 0) {
		rc = nbd_errno_or(-EIO);
		goto fail;
	}
	st->size = (uint64_t)size;
	if (!readonly && nbd_is_read_only(st->nbd) == 1) {
		pvk_warn("nbd %s: the export is read-only; the disk must be "
			 "too (access=ro)", uri);
		rc = -EROFS;
		goto fail;
	}
	st->can_flush = nbd_can_flush(st->nbd) == 1;
	st->can_trim = !readonly && nbd_can_trim(st->nbd) == 1;
	st->sock = nbd_aio_get_fd(st->nbd);
	st->epfd = epoll_create1(EPOLL_CLOEXEC);
	st->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->sock < 0 || st->epfd < 0 || st->kick < 0) {
		rc = -EIO;
		goto fail;
	}
	ev.data.fd = st->kick;
	if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->kick, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	ev.data.fd = st->sock;
	if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->sock, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	st->sock_events = EPOLLIN;
	*out = st;
	return 0;
fail:
	nbd_st_close(st);
	return rc;
}

static uint64_t nbd_st_size(const struct bk_storage *st)
{
	return st->size;
}

static bool nbd_st_can_discard(const struct bk_storage *st)
{
	return st->can_trim;
}

static int nbd_st_fd(const struct bk_storage *st)
{
	return st->epfd;
}

static void push_done(struct bk_storage *st, struct nio *n)
{
	n->next = NULL;
	*st->d_tail = n;
	st->d_tail = &n->next;
}

/* Finished without the server: through the kick eventfd. */
static void finish_local(struct bk_storage *st, struct nio *n, int res)
{
	uint64_t one = 1;

	n->res = res;
	push_done(st, n);
	if (write(st->kick, &one, sizeof(one)) < 0)
		pvk_debug("nbd: kick: %s", strerror(errno));
}

static int nbd_st_done_cb(void *user_data, int *error)
{
	struct nio *n = user_data;

	if (!n->issued)
		return 1;
	n->issued = false;
	if (*error && n->res >= 0)
		n->res = -*error;
	push_done(n->st, n);
	return 1;
}

/* Hand one operation to libnbd. */
static void issue(struct bk_storage *st, struct nio *n, bool flush)
{
	nbd_completion_callback cb = {.callback = nbd_st_done_cb,
				      .user_data = n};
	const struct bk_io *io = &n->io;
	int64_t cookie = -1;

	if (st->dead) {
		finish_local(st, n, -EIO);
		return;
	}
	n->issued = true;
	if (flush) {
		cookie = nbd_aio_flush(st->nbd, cb, 0);
	} else {
		switch (io->op) {
		case BK_IO_READ:
			cookie = nbd_aio_pread(st->nbd, n->buf, io->len, io->off,
					       cb, 0);
			break;
		case BK_IO_WRITE:
			cookie = nbd_aio_pwrite(st->nbd, n->buf, io->len,
						io->off, cb, 0);
			break;
		case BK_IO_FLUSH:
			cookie = nbd_aio_flush(st->nbd, cb, 0);
			break;
		case BK_IO_DISCARD:
			cookie = nbd_aio_trim(st->nbd, io->len, io->off, cb, 0);
			break;
		}
	}
	if (cookie < 0 && n->issued) { /* refused before it was sent */
		n->issued = false;
		finish_local(st, n, nbd_errno_or(-EIO));
	}
}

/* One buffer for the whole transfer: the iovecs themselves when they are
 * contiguous (the grant-copy bounce), else a private bounce. */
static int prepare_buf(struct nio *n)
{
	const struct bk_io *io = &n->io;
	size_t off = 0;
	unsigned int i;

	n->buf = NULL;
	if (io->op != BK_IO_READ && io->op != BK_IO_WRITE)
		return 0;
	if (!io->iovcnt)
		return -EINVAL;
	for (i = 1; i < io->iovcnt; i++)
		if ((uint8_t *)io->iov[i - 1].iov_base + io->iov[i - 1].iov_len !=
		    io->iov[i].iov_base)
			break;
	if (i == io->iovcnt) {
		n->buf = io->iov[0].iov_base;
		return 0;
	}
	if (n->bounce_cap < io->len) {
		uint8_t *b = realloc(n->bounce, io->len);

		if (!b)
			return -ENOMEM;
		n->bounce = b;
		n->bounce_cap = io->len;
	}
	n->buf = n->bounce;
	if (io->op == BK_IO_WRITE)
		for (i = 0; i < io->iovcnt && off < io->len; i++) {
			memcpy(n->bounce + off, io->iov[i].iov_base,
			       io->iov[i].iov_len);
			off += io->iov[i].iov_len;
		}
	return 0;
}

static int nbd_st_queue(struct bk_storage *st, const struct bk_io *io)
{
	struct nio *n = st->free;

	if (!n)
		return -EBUSY;
	st->free = n->next;
	st->inflight++;
	n->io = *io;
	n->res = 0;
	n->flushing = false;
	n->next = NULL;
	if (io->op == BK_IO_DISCARD && !st->can_trim) {
		finish_local(st, n, -EOPNOTSUPP);
		return 0;
	}
	if (prepare_buf(n)) {
		finish_local(st, n, -ENOMEM);
		return 0;
	}
	*st->q_tail = n;
	st->q_tail = &n->next;
	return 0;
}

/* Watch the socket for writing while libnbd has something to send. */
static void update_events(struct bk_storage *st)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = st->sock};

	if (st->dead)
		return;
	if (nbd_aio_get_direction(st->nbd) & LIBNBD_AIO_DIRECTION_WRITE)
		ev.events |= EPOLLOUT;
	if (ev.events == st->sock_events)
		return;
	if (epoll_ctl(st->epfd, EPOLL_CTL_MOD, st->sock, &ev) == 0)
		st->sock_events = ev.events;
}

static int nbd_st_submit(struct bk_storage *st)
{
	struct nio *n;

	while ((n = st->q_head)) {
		st->q_head = n->next;
		if (!st->q_head)
			st->q_tail = &st->q_head;
		/* A flush without a server cache has nothing to do. */
		if (n->io.op == BK_IO_FLUSH && !st->can_flush)
			finish_local(st, n, 0);
		else
			issue(st, n, false);
	}
	update_events(st);
	return 0;
}

/* The server went away: everything libnbd still holds fails. */
static void mark_dead(struct bk_storage *st)
{
	unsigned int i;

	if (st->dead)
		return;
	st->dead = true;
	pvk_err("nbd: connection to the server lost: %s",
		nbd_get_error() ? nbd_get_error() : "closed");
	epoll_ctl(st->epfd, EPOLL_CTL_DEL, st->sock, NULL);
	st->sock_events = 0;
	for (i = 0; i < st->depth; i++)
		if (st->nios[i].issued) {
			st->nios[i].issued = false;
			finish_local(st, &st->nios[i], -EIO);
		}
}

static int nbd_st_reap(struct bk_storage *st, bk_io_done_fn done, void *arg)
{
	struct epoll_event evs[2];
	struct nio *n;
	uint64_t v;
	int i, ne, count = 0;

	if (read(st->kick, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	ne = st->dead ? 0 : epoll_wait(st->epfd, evs, 2, 0);
	for (i = 0; i < ne; i++) {
		if (evs[i].data.fd != st->sock)
			continue;
		if ((evs[i].events & EPOLLOUT) &&
		    nbd_aio_notify_write(st->nbd) < 0)
			break;
		if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
		    nbd_aio_notify_read(st->nbd) < 0)
			break;
	}
	if (!st->dead && (nbd_aio_is_dead(st->nbd) == 1 ||
			  nbd_aio_is_closed(st->nbd) == 1))
		mark_dead(st);
	while ((n = st->d_head)) {
		st->d_head = n->next;
		if (!st->d_head)
			st->d_tail = &st->d_head;
		/* A durable write: now that it is answered, the flush. */
		if (n->io.op == BK_IO_WRITE && n->io.flush_after &&
		    !n->flushing && n->res >= 0 && st->can_flush) {
			n->flushing = true;
			issue(st, n, true);
			continue;
		}
		if (n->res >= 0 && n->io.op == BK_IO_READ &&
		    n->buf == n->bounce) {
			size_t off = 0;
			unsigned int k;

			for (k = 0; k < n->io.iovcnt && off < n->io.len; k++) {
				memcpy(n->io.iov[k].iov_base, n->bounce + off,
				       n->io.iov[k].iov_len);
				off += n->io.iov[k].iov_len;
			}
		}
		if (n->res >= 0 &&
		    (n->io.op == BK_IO_READ || n->io.op == BK_IO_WRITE))
			n->res = (int)n->io.len;
		else if (n->res > 0)
			n->res = 0;
		st->inflight--;
		n->next = st->free;
		st->free = n;
		done(n->io.tag, n->res, arg);
		count++;
	}
	update_events(st);
	return st->dead ? -ENOTCONN : count;
}

const struct bk_storage_ops bk_storage_nbd = {
	.name = "nbd",
	.open = nbd_st_open,
	.close = nbd_st_close,
	.size = nbd_st_size,
	.can_discard = nbd_st_can_discard,
	.fd = nbd_st_fd,
	.queue = nbd_st_queue,
	.submit = nbd_st_submit,
	.reap = nbd_st_reap,
};
