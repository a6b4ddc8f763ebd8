/*
 * xs_client.c - the xenstore client: request/reply matching by req_id on a
 * reader thread, watch events queued to a dispatch thread, and the stream
 * fd transport.  Operations built on xs_request() live in xs_ops.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "pvkit/platform.h"
#include "xenbus/xs_internal.h"

/* Events queued but not yet dispatched; beyond this they are dropped. */
#define XS_MAX_QUEUED_EVENTS 4096

struct xs_pending {
	struct xs_pending *next;
	uint32_t req_id;
	uint32_t type; /* of the request */
	uint32_t tx;   /* its transaction */
	const void *msg; /* the request as written (sent again on reconnect) */
	size_t msglen;
	bool resent;
	bool done;
	int err;
	uint32_t rtype; /* of the reply */
	char *body;     /* len bytes plus a NUL */
	size_t len;
};

struct xs_watch {
	struct xs_watch *next;
	char *path, *token;
	xs_watch_fn fn;
	void *arg;
	unsigned int refs; /* held by the dispatcher while in use */
	bool removed, orphan;
};

struct xs_event {
	struct xs_event *next;
	char *path, *token; /* one allocation with the event */
};

struct xs_client {
	struct xs_transport *t;
	int stopfd;
	pthread_t reader, dispatcher;
	bool reader_started, dispatcher_started;

	pthread_mutex_t wlock; /* serialises writes to the transport */
	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t reply_cond;
	pthread_cond_t event_cond;
	pthread_cond_t watch_cond;
	uint32_t next_req_id;
	struct xs_pending *pending;
	struct xs_watch *watches;
	struct xs_event *ev_head, **ev_tail;
	unsigned int ev_count;
	unsigned long ev_dropped;
	bool stopping;
	int err; /* 0, or why the connection broke */
	/* reconnection (xs_client_set_reconnect) */
	char *path;		/* the socket, for a path connection */
	unsigned int reconnect_ms; /* 0: a broken connection stays broken */
	unsigned int epoch;	   /* reconnections so far */
	uint32_t *txs;		   /* transactions open on this connection */
	size_t ntxs, ctxs;
	void (*on_break)(void *arg, int err);
	void *on_break_arg;
};

/* req_id of the watches registered again after a reconnection: their
 * replies are not waited for */
#define XS_REQ_ID_INTERNAL 0u

/* ---- the stream fd transport ----------------------------------------- */

struct fd_transport {
	struct xs_transport t;
	int fd;
};

static int fd_write(struct xs_transport *t, const void *buf, size_t len,
		    int stopfd)
{
	struct fd_transport *f = (struct fd_transport *)t;
	const char *p = buf;

	while (len) {
		struct pollfd pf[2] = {{.fd = f->fd, .events = POLLOUT},
				       {.fd = stopfd, .events = POLLIN}};
		ssize_t n;

		/* Write first, poll only when a socket is full: Linux's
		 * /dev/xen/xenbus takes every write at once and never
		 * reports POLLOUT, so polling first would wait forever. */
		n = send(f->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = write(f->fd, p, len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (poll(pf, 2, -1) < 0 && errno != EINTR)
				return -errno;
			if (pf[1].revents)
				return -ECANCELED;
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t fd_read(struct xs_transport *t, void *buf, size_t len,
		       int stopfd)
{
	struct fd_transport *f = (struct fd_transport *)t;

	for (;;) {
		struct pollfd pf[2] = {{.fd = f->fd, .events = POLLIN},
				       {.fd = stopfd, .events = POLLIN}};
		ssize_t n;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pf[1].revents)
			return -ECANCELED;
		n = read(f->fd, buf, len);
		if (n > 0)
			return n;
		if (n == 0)
			return -EPIPE;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

static void fd_close(struct xs_transport *t)
{
	struct fd_transport *f = (struct fd_transport *)t;

	close(f->fd);
	free(f);
}

static const struct xs_transport_ops fd_ops = {
	.write = fd_write,
	.read = fd_read,
	.close = fd_close,
};

/* A reconnected socket in place of the old one (reader thread, wlock
 * held: nobody else uses the fd). */
static void fd_replace(struct xs_transport *t, int fd)
{
	struct fd_transport *f = (struct fd_transport *)t;

	close(f->fd);
	f->fd = fd;
}

int xs_transport_fd_new(int fd, struct xs_transport **out)
{
	struct fd_transport *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->t.ops = &fd_ops;
	f->fd = fd;
	*out = &f->t;
	return 0;
}

/* ---- reader thread --------------------------------------------------- */

/* Fail the connection: every waiting and future call gets err. */
static void client_break(struct xs_client *xs, int err)
{
	struct xs_pending *p;

	pthread_mutex_lock(&xs->lock);
	if (!xs->err)
		xs->err = err;
	for (p = xs->pending; p; p = p->next)
		if (!p->done) {
			p->done = true;
			p->err = xs->err;
		}
	pthread_cond_broadcast(&xs->reply_cond);
	pthread_mutex_unlock(&xs->lock);
}

static int read_exact(struct xs_client *xs, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = xs->t->ops->read(xs->t, p, len, xs->stopfd);

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Queue a watch event for the dispatcher (called with lock held). */
static void queue_event(struct xs_client *xs, const char *path,
			const char *token)
{
	size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
	struct xs_event *e;

	/* Coalesce with an identical event still waiting. */
	for (e = xs->ev_head; e; e = e->next)
		if (!strcmp(e->path, path) && !strcmp(e->token, token))
			return;
	if (xs->ev_count >= XS_MAX_QUEUED_EVENTS) {
		if (xs->ev_dropped++ == 0)
			pvk_warn("xenstore: watch event queue full, dropping");
		return;
	}
	e = malloc(sizeof(*e) + pl + tl);
	if (!e) {
		xs->ev_dropped++;
		return;
	}
	e->next = NULL;
	e->path = (char *)(e + 1);
	e->token = e->path + pl;
	memcpy(e->path, path, pl);
	memcpy(e->token, token, tl);
	*xs->ev_tail = e;
	xs->ev_tail = &e->next;
	xs->ev_count++;
	pthread_cond_signal(&xs->event_cond);
}

/* Remember (open) or forget a transaction of this connection (called with
 * lock held): after a reconnection, the old ones are gone. */
static void tx_track(struct xs_client *xs, uint32_t id, bool open)
{
	size_t i;

	for (i = 0; i < xs->ntxs; i++)
		if (xs->txs[i] == id)
			break;
	if (!open) {
		if (i < xs->ntxs)
			xs->txs[i] = xs->txs[--xs->ntxs];
		return;
	}
	if (i < xs->ntxs || !id)
		return;
	if (xs->ntxs == xs->ctxs) {
		size_t n = xs->ctxs ? xs->ctxs * 2 : 8;
		uint32_t *t = realloc(xs->txs, n * sizeof(*t));

		if (!t)
			return; /* untracked: it fails with ENOENT if stale */
		xs->txs = t;
		xs->ctxs = n;
	}
	xs->txs[xs->ntxs++] = id;
}

static bool tx_known(const struct xs_client *xs, uint32_t id)
{
	for (size_t i = 0; i < xs->ntxs; i++)
		if (xs->txs[i] == id)
			return true;
	return false;
}

/* Handle one message; takes ownership of body.  0 or -EIO. */
static int handle_message(struct xs_client *xs, const struct xsd_sockmsg *h,
			  char *body)
{
	struct xs_pending *p;
	int rc = 0;

	pthread_mutex_lock(&xs->lock);
	if (h->type == XS_WATCH_EVENT) {
		const char *path, *token;

		if (xs_wire_parse_event(body, h->len, &path, &token) < 0)
			pvk_warn("xenstore: malformed watch event ignored");
		else
			queue_event(xs, path, token);
		goto out;
	}
	if (h->req_id == XS_REQ_ID_INTERNAL)
		goto out; /* a watch registered again */
	for (p = xs->pending; p; p = p->next)
		if (p->req_id == h->req_id && !p->done)
			break;
	if (!p) {
		pvk_warn("xenstore: reply to unknown request %u ignored",
			 h->req_id);
		goto out;
	}
	p->done = true;
	p->rtype = h->type;
	if (h->type == XS_ERROR) {
		p->err = xs_errno_from_string(body);
		/* sent again after a reconnection: the first may have done
		 * it */
		if (p->resent && p->type == XS_RM && p->err == -ENOENT)
			p->err = 0; /* no body: xs_rm() takes none */
	} else if (h->type != p->type) {
		pvk_warn("xenstore: reply type %u to request type %u", h->type,
			 p->type);
		p->err = -EIO;
	} else {
		if (p->type == XS_TRANSACTION_START)
			tx_track(xs, (uint32_t)strtoul(body, NULL, 10), true);
		p->body = body;
		p->len = h->len;
		body = NULL;
	}
	pthread_cond_broadcast(&xs->reply_cond);
out:
	pthread_mutex_unlock(&xs->lock);
	free(body);
	return rc;
}

static bool stop_wait(int stopfd, int ms)
{
	struct pollfd p = {.fd = stopfd, .events = POLLIN};

	return poll(&p, 1, ms) > 0;
}

static void fd_replace(struct xs_transport *t, int fd);

/* The daemon went away (rc): connect again within reconnect_ms, send the
 * watches and the unanswered requests again.  0, or why not. */
/* Connected again on fd: take it, fail or mark the unanswered requests,
 * send the watches and the requests again.  0 or -errno (the new daemon
 * went away too).  What is sent is gathered under lock first: other
 * threads unlink their finished requests and change the watch list
 * meanwhile (a request marked for sending again stays: only this, the
 * reader thread, can finish it). */
static int resend(struct xs_client *xs, int fd)
{
	struct xs_pending *p;
	struct xs_watch *w;
	unsigned int nw = 0, nr = 0, i;
	const struct xs_pending **again = NULL;
	char *wbuf = NULL;
	size_t wlen = 0, n = 0;
	FILE *m;
	int rc = 0;

	pthread_mutex_lock(&xs->wlock);
	fd_replace(xs->t, fd);
	pthread_mutex_lock(&xs->lock);
	xs->epoch++;
	xs->ntxs = 0; /* the transactions died with the daemon's end */
	for (p = xs->pending; p; p = p->next) {
		if (p->done)
			continue;
		/* in a transaction, or ending one: it is gone, retry it
		 * (whether the end committed is not known: a transaction
		 * must be safe to run again, as EAGAIN always asked) */
		if (p->tx || p->type == XS_TRANSACTION_END) {
			p->done = true;
			p->err = -EAGAIN;
			continue;
		}
		/* the watch list below registers it (again) */
		if (p->type == XS_WATCH || p->type == XS_UNWATCH) {
			p->done = true;
			continue;
		}
		p->resent = true;
		n++;
	}
	again = calloc(n ? n : 1, sizeof(*again));
	for (p = xs->pending; p && again; p = p->next)
		if (p->resent && !p->done)
			again[nr++] = p;
	/* the daemon fires each watch once as it is registered: its owner
	 * looks again at what it watches */
	m = open_memstream(&wbuf, &wlen);
	for (w = xs->watches; w && m; w = w->next) {
		struct xs_arg a[2] = {{w->path, strlen(w->path)},
				      {w->token, strlen(w->token)}};
		struct {
			struct xsd_sockmsg h;
			char payload[XENSTORE_PAYLOAD_MAX];
		} msg;
		ssize_t plen = xs_wire_build(&msg.h, XS_WATCH,
					     XS_REQ_ID_INTERNAL, 0, a, 2, false,
					     msg.payload);

		if (plen >= 0) {
			fwrite(&msg, 1, sizeof(msg.h) + (size_t)plen, m);
			nw++;
		}
	}
	pthread_cond_broadcast(&xs->reply_cond);
	pthread_mutex_unlock(&xs->lock);
	if (!m || fclose(m) || !again)
		rc = -ENOMEM;
	if (!rc && wlen)
		rc = xs->t->ops->write(xs->t, wbuf, wlen, xs->stopfd);
	for (i = 0; !rc && i < nr; i++)
		rc = xs->t->ops->write(xs->t, again[i]->msg, again[i]->msglen,
				       xs->stopfd);
	pthread_mutex_unlock(&xs->wlock);
	free(wbuf);
	free(again);
	if (rc == 0)
		pvk_info("xenstore: connected again to %s; %u watch(es) and "
			 "%u request(s) sent again",
			 xs->path, nw, nr);
	return rc;
}

/* The daemon went away (rc): connect again within reconnect_ms and send
 * what it had not answered.  0, or why not. */
static int reconnect(struct xs_client *xs, int rc)
{
	unsigned int waited = 0;
	int fd;

	pvk_warn("xenstore: connection to %s lost (%s); connecting again",
		 xs->path, strerror(-rc));
	for (;;) {
		fd = pvk_unix_connect(xs->path, SOCK_STREAM);
		/* a daemon that died again as we came: go on trying */
		if (fd >= 0 && (rc = resend(xs, fd)) == 0)
			return 0;
		if (fd >= 0 && rc == -ECANCELED)
			return rc;
		if (waited >= xs->reconnect_ms) {
			pvk_err("xenstore: %s did not come back in %u ms",
				xs->path, xs->reconnect_ms);
			return fd < 0 ? fd : rc;
		}
		if (stop_wait(xs->stopfd, 50))
			return -ECANCELED;
		waited += 50;
	}
}

static void *reader_main(void *arg)
{
	struct xs_client *xs = arg;
	int rc;

	for (;;) {
		struct xsd_sockmsg h;
		char *body;

		rc = read_exact(xs, &h, sizeof(h));
		if (rc < 0 && rc != -ECANCELED && xs->reconnect_ms &&
		    reconnect(xs, rc) == 0)
			continue;
		if (rc < 0)
			break;
		rc = xs_wire_check_header(&h);
		if (rc < 0) {
			pvk_err("xenstore: bad message from daemon (type %u, "
				"len %u)",
				h.type, h.len);
			break;
		}
		body = malloc((size_t)h.len + 1);
		if (!body) {
			rc = -ENOMEM;
			break;
		}
		rc = read_exact(xs, body, h.len);
		if (rc < 0) {
			free(body);
			break;
		}
		body[h.len] = '\0';
		handle_message(xs, &h, body);
	}
	if (rc == -EPIPE)
		pvk_debug("xenstore: connection closed by daemon");
	else if (rc != -ECANCELED)
		pvk_err("xenstore: connection failed: %s", strerror(-rc));
	client_break(xs, rc == -ECANCELED ? -ECANCELED : -EIO);
	if (rc != -ECANCELED && xs->on_break)
		xs->on_break(xs->on_break_arg, -EIO);
	return NULL;
}

/* ---- dispatch thread ------------------------------------------------- */

static bool path_under(const char *path, const char *watched)
{
	size_t l = strlen(watched);

	if (strncmp(path, watched, l))
		return false;
	return path[l] == '\0' || path[l] == '/' ||
	       (l > 0 && watched[l - 1] == '/');
}

static void watch_put(struct xs_client *xs, struct xs_watch *w)
{
	if (--w->refs == 0 && w->orphan) {
		free(w->path);
		free(w->token);
		free(w);
	}
	pthread_cond_broadcast(&xs->watch_cond);
}

static void dispatch_event(struct xs_client *xs, struct xs_event *e)
{
	struct xs_watch *w, **snap = NULL;
	unsigned int n = 0, tok = 0, i;

	for (w = xs->watches; w; w = w->next)
		if (!strcmp(w->token, e->token))
			tok++;
	if (!tok)
		return;
	snap = malloc(sizeof(*snap) * tok);
	if (!snap)
		return;
	/* A token shared by several watches goes to those whose path
	 * covers the event; a unique token always goes to its watch. */
	for (w = xs->watches; w; w = w->next)
		if (!strcmp(w->token, e->token) &&
		    (tok == 1 || path_under(e->path, w->path))) {
			w->refs++;
			snap[n++] = w;
		}
	for (i = 0; i < n; i++) {
		w = snap[i];
		if (!w->removed) {
			xs_watch_fn fn = w->fn;
			void *arg = w->arg;

			pthread_mutex_unlock(&xs->lock);
			fn(xs, e->path, e->token, arg);
			pthread_mutex_lock(&xs->lock);
		}
		watch_put(xs, w);
	}
	free(snap);
}

static void *dispatcher_main(void *arg)
{
	struct xs_client *xs = arg;

	pthread_mutex_lock(&xs->lock);
	for (;;) {
		struct xs_event *e;

		while (!xs->ev_head && !xs->stopping)
			pthread_cond_wait(&xs->event_cond, &xs->lock);
		if (xs->stopping)
			break;
		e = xs->ev_head;
		xs->ev_head = e->next;
		if (!xs->ev_head)
			xs->ev_tail = &xs->ev_head;
		xs->ev_count--;
		dispatch_event(xs, e);
		free(e);
	}
	pthread_mutex_unlock(&xs->lock);
	return NULL;
}

/* ---- opening and closing --------------------------------------------- */

int xs_client_open_transport(struct xs_transport *t, struct xs_client **out)
{
	struct xs_client *xs;
	int rc;

	xs = calloc(1, sizeof(*xs));
	if (!xs) {
		t->ops->close(t);
		return -ENOMEM;
	}
	xs->t = t;
	xs->next_req_id = 1;
	xs->ev_tail = &xs->ev_head;
	pthread_mutex_init(&xs->wlock, NULL);
	pthread_mutex_init(&xs->lock, NULL);
	pthread_cond_init(&xs->reply_cond, NULL);
	pthread_cond_init(&xs->event_cond, NULL);
	pthread_cond_init(&xs->watch_cond, NULL);
	xs->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (xs->stopfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = -pthread_create(&xs->reader, NULL, reader_main, xs);
	if (rc < 0)
		goto out;
	xs->reader_started = true;
	rc = -pthread_create(&xs->dispatcher, NULL, dispatcher_main, xs);
	if (rc < 0)
		goto out;
	xs->dispatcher_started = true;
	*out = xs;
	xs = NULL;
out:
	xs_client_close(xs);
	return rc;
}

void xs_client_close(struct xs_client *xs)
{
	struct xs_watch *w;
	struct xs_event *e;
	uint64_t one = 1;

	if (!xs)
		return;
	pthread_mutex_lock(&xs->lock);
	xs->stopping = true;
	pthread_cond_broadcast(&xs->event_cond);
	pthread_mutex_unlock(&xs->lock);
	if (xs->stopfd >= 0 && write(xs->stopfd, &one, sizeof(one)) < 0)
		pvk_warn("xenstore: cannot stop reader: %s", strerror(errno));
	if (xs->reader_started)
		pthread_join(xs->reader, NULL);
	if (xs->dispatcher_started)
		pthread_join(xs->dispatcher, NULL);
	client_break(xs, -ECANCELED);
	while ((w = xs->watches)) {
		xs->watches = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
	while ((e = xs->ev_head)) {
		xs->ev_head = e->next;
		free(e);
	}
	xs->t->ops->close(xs->t);
	if (xs->stopfd >= 0)
		close(xs->stopfd);
	pthread_cond_destroy(&xs->watch_cond);
	pthread_cond_destroy(&xs->event_cond);
	pthread_cond_destroy(&xs->reply_cond);
	pthread_mutex_destroy(&xs->lock);
	pthread_mutex_destroy(&xs->wlock);
	free(xs->path);
	free(xs->txs);
	free(xs);
}

int xs_client_open_fd(int fd, struct xs_client **out)
{
	struct xs_transport *t;
	int rc = xs_transport_fd_new(fd, &t);

	if (rc < 0) {
		close(fd);
		return rc;
	}
	return xs_client_open_transport(t, out);
}

int xs_client_open_path(const char *path, struct xs_client **out)
{
	int fd, rc;

	if (!path)
		path = getenv("XENSTORED_PATH");
	if (!path || !*path)
		path = "/var/run/xenstored/socket";
	fd = pvk_unix_connect(path, SOCK_STREAM);
	if (fd < 0)
		return fd;
	rc = xs_client_open_fd(fd, out);
	if (rc == 0 && !((*out)->path = strdup(path))) {
		xs_client_close(*out);
		*out = NULL;
		rc = -ENOMEM;
	}
	return rc;
}

int xs_client_set_reconnect(struct xs_client *xs, unsigned int timeout_ms,
			    void (*on_break)(void *arg, int err), void *arg)
{
	if (!xs->path || xs->t->ops != &fd_ops)
		return -EOPNOTSUPP;
	/* set before the connection can break for good (reader started) */
	pthread_mutex_lock(&xs->lock);
	xs->reconnect_ms = timeout_ms;
	xs->on_break = on_break;
	xs->on_break_arg = arg;
	pthread_mutex_unlock(&xs->lock);
	return 0;
}

int xs_client_open_ring(struct xenstore_domain_interface *intf,
			const struct pvk_evtchn_ops *ops, struct pvk_evtchn *h,
			evtchn_port_t port, struct xs_client **out)
{
	struct xs_transport *t;
	int rc = xs_transport_ring_new(intf, ops, h, port, &t);

	if (rc < 0)
		return rc;
	return xs_client_open_transport(t, out);
}

int xs_client_open_platform(const struct pvk_platform *plat,
			    struct xs_client **out)
{
	int rc, fd;

	if (plat && plat->xs_path)
		return xs_client_open_path(plat->xs_path, out);
	rc = xs_client_open_path(NULL, out);
	if (rc == 0)
		return 0;
	fd = open("/dev/xen/xenbus", O_RDWR | O_CLOEXEC);
	if (fd < 0) /* xenfs's copy of the device, as libxenstore tries */
		fd = open("/proc/xen/xenbus", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return rc;
	return xs_client_open_fd(fd, out);
}

int xs_client_error(struct xs_client *xs)
{
	int err;

	pthread_mutex_lock(&xs->lock);
	err = xs->err;
	pthread_mutex_unlock(&xs->lock);
	return err;
}

bool xs_client_in_callback(struct xs_client *xs)
{
	return xs->dispatcher_started &&
	       pthread_equal(pthread_self(), xs->dispatcher);
}

/* ---- requests -------------------------------------------------------- */

int xs_request(struct xs_client *xs, xs_tx_t tx, enum xsd_sockmsg_type type,
	       const struct xs_arg *args, unsigned int nargs, bool last_raw,
	       char **reply, size_t *len)
{
	struct {
		struct xsd_sockmsg h;
		char payload[XENSTORE_PAYLOAD_MAX];
	} *msg = NULL;
	struct xs_pending p = {.type = type, .tx = tx}, **pp;
	bool queued = false;
	ssize_t plen;
	int rc;

	if (type == XS_WATCH_EVENT || type == XS_ERROR ||
	    type >= XS_TYPE_COUNT)
		return -EINVAL;
	msg = malloc(sizeof(*msg));
	if (!msg)
		return -ENOMEM;
	pthread_mutex_lock(&xs->wlock);
	pthread_mutex_lock(&xs->lock);
	rc = xs->err ? -EIO : 0;
	/* a transaction of the connection before a reconnection is gone */
	if (!rc && tx && xs->epoch && !tx_known(xs, tx))
		rc = -EAGAIN;
	if (type == XS_TRANSACTION_END)
		tx_track(xs, tx, false);
	p.req_id = xs->next_req_id++;
	if (xs->next_req_id == 0 || xs->next_req_id == XS_REQ_ID_INTERNAL)
		xs->next_req_id = 1;
	plen = xs_wire_build(&msg->h, type, p.req_id, tx, args, nargs,
			     last_raw, msg->payload);
	if (plen < 0)
		rc = (int)plen;
	if (rc == 0) {
		p.msg = msg;
		p.msglen = sizeof(msg->h) + (size_t)plen;
		p.next = xs->pending;
		xs->pending = &p;
		queued = true;
	}
	pthread_mutex_unlock(&xs->lock);
	if (rc == 0) {
		rc = xs->t->ops->write(xs->t, msg, p.msglen, xs->stopfd);
		if (rc < 0 && rc != -ECANCELED && !xs->reconnect_ms)
			pvk_err("xenstore: write failed: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&xs->wlock);
	if (!queued) {
		free(msg);
		return rc;
	}
	/* reconnecting, the reader sends it again */
	if (rc < 0 && (!xs->reconnect_ms || rc == -ECANCELED))
		client_break(xs, -EIO);

	pthread_mutex_lock(&xs->lock);
	while (!p.done)
		pthread_cond_wait(&xs->reply_cond, &xs->lock);
	for (pp = &xs->pending; *pp != &p; pp = &(*pp)->next)
		;
	*pp = p.next;
	pthread_mutex_unlock(&xs->lock);
	free(msg);
	if (p.err) {
		free(p.body);
		return p.err == -ECANCELED ? -EIO : p.err;
	}
	if (reply)
		*reply = p.body;
	else
		free(p.body);
	if (len)
		*len = p.len;
	return 0;
}

/* ---- watches --------------------------------------------------------- */

static struct xs_watch *watch_find(struct xs_client *xs, const char *path,
				   const char *token)
{
	struct xs_watch *w;

	for (w = xs->watches; w; w = w->next)
		if (!strcmp(w->path, path) && !strcmp(w->token, token))
			return w;
	return NULL;
}

static void watch_unlink(struct xs_client *xs, struct xs_watch *w)
{
	struct xs_watch **pp;

	for (pp = &xs->watches; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
}

/* Remove w and free it once no callback of it is running (or let the
 * dispatcher free it when we are that callback). */
static void watch_drop(struct xs_client *xs, struct xs_watch *w)
{
	watch_unlink(xs, w);
	w->removed = true;
	if (xs_client_in_callback(xs) && w->refs) {
		w->orphan = true;
		return;
	}
	while (w->refs)
		pthread_cond_wait(&xs->watch_cond, &xs->lock);
	free(w->path);
	free(w->token);
	free(w);
}

int xs_watch(struct xs_client *xs, const char *path, const char *token,
	     xs_watch_fn fn, void *arg)
{
	struct xs_arg a[2] = {{path, strlen(path)}, {token, strlen(token)}};
	struct xs_watch *w;
	int rc;

	if (!fn)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	w->fn = fn;
	w->arg = arg;
	if (!w->path || !w->token) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Register first: the daemon fires the new watch at once. */
	pthread_mutex_lock(&xs->lock);
	if (watch_find(xs, path, token)) {
		pthread_mutex_unlock(&xs->lock);
		rc = -EEXIST;
		goto fail;
	}
	w->next = xs->watches;
	xs->watches = w;
	pthread_mutex_unlock(&xs->lock);

	rc = xs_request(xs, XS_TX_NONE, XS_WATCH, a, 2, false, NULL, NULL);
	if (rc < 0) {
		pthread_mutex_lock(&xs->lock);
		watch_drop(xs, w);
		pthread_mutex_unlock(&xs->lock);
	}
	return rc;
fail:
	free(w->path);
	free(w->token);
	free(w);
	return rc;
}

int xs_unwatch(struct xs_client *xs, const char *path, const char *token)
{
	struct xs_arg a[2] = {{path, strlen(path)}, {token, strlen(token)}};
	struct xs_watch *w;
	int rc;

	pthread_mutex_lock(&xs->lock);
	w = watch_find(xs, path, token);
	if (w)
		watch_drop(xs, w);
	pthread_mutex_unlock(&xs->lock);
	if (!w)
		return -ENOENT;
	rc = xs_request(xs, XS_TX_NONE, XS_UNWATCH, a, 2, false, NULL, NULL);
	/* A broken connection has no watches left to remove. */
	return rc == -EIO && xs_client_error(xs) ? 0 : rc;
}
