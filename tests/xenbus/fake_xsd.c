/*
 * fake_xsd.c - fake event channels and a tiny in-memory xenstored for the
 * client unit tests (see fake_xsd.h).  Transactions are not isolated:
 * writes apply at once; only commit failures are simulated.
 */
#include "fake_xsd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenbus/xs_internal.h"

/* ---- fake event channels --------------------------------------------- */

struct pvk_evtchn {
	int rfd, wfd;  /* our pipe */
	int peer_wfd;  /* the other end's pipe */
	evtchn_port_t port;
};

static int fe_fd(struct pvk_evtchn *h)
{
	return h->rfd;
}

static int fe_pending(struct pvk_evtchn *h, evtchn_port_t *port)
{
	char buf[64];
	ssize_t n, total = 0;

	while ((n = read(h->rfd, buf, sizeof(buf))) > 0)
		total += n;
	if (!total)
		return -EAGAIN;
	*port = h->port;
	return 0;
}

static int fe_unmask(struct pvk_evtchn *h, evtchn_port_t port)
{
	(void)h;
	(void)port;
	return 0;
}

static int fe_notify(struct pvk_evtchn *h, evtchn_port_t port)
{
	char c = 1;

	(void)port;
	if (write(h->peer_wfd, &c, 1) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

const struct pvk_evtchn_ops fake_evtchn_ops = {
	.fd = fe_fd,
	.pending = fe_pending,
	.unmask = fe_unmask,
	.notify = fe_notify,
};

static int fe_new(struct pvk_evtchn **out, evtchn_port_t port)
{
	struct pvk_evtchn *h = calloc(1, sizeof(*h));
	int p[2];

	if (!h || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(h);
		return -ENOMEM;
	}
	h->rfd = p[0];
	h->wfd = p[1];
	h->port = port;
	*out = h;
	return 0;
}

int fake_evtchn_pair(struct pvk_evtchn **a, struct pvk_evtchn **b,
		     evtchn_port_t port)
{
	if (fe_new(a, port) < 0 || fe_new(b, port) < 0)
		return -ENOMEM;
	(*a)->peer_wfd = (*b)->wfd;
	(*b)->peer_wfd = (*a)->wfd;
	return 0;
}

void fake_evtchn_free(struct pvk_evtchn *h)
{
	if (!h)
		return;
	close(h->rfd);
	close(h->wfd);
	free(h);
}

/* ---- the store ------------------------------------------------------- */

struct node {
	struct node *next;
	char *path, *val, *perms;
	size_t len, perms_len; /* perms: NUL-separated, as on the wire */
};

struct fwatch {
	struct fwatch *next;
	char *path, *token;
};

struct fake_xsd {
	int fd; /* socket, or -1 for the ring */
	struct xenstore_domain_interface *intf;
	struct pvk_evtchn *h;
	evtchn_port_t port;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t lock; /* knobs and counters, send serialisation */
	struct node *nodes;
	struct fwatch *watches;
	unsigned int fail_commits, commits, requests;
	uint32_t next_tx;
	fake_xsd_hook hook;
	void *hook_arg;
};

static struct node *node_find(struct fake_xsd *f, const char *path)
{
	struct node *n;

	for (n = f->nodes; n; n = n->next)
		if (!strcmp(n->path, path))
			return n;
	return NULL;
}

static void node_set(struct fake_xsd *f, const char *path, const char *val,
		     size_t len)
{
	struct node *n = node_find(f, path);

	if (!n) {
		n = calloc(1, sizeof(*n));
		n->path = strdup(path);
		n->perms = strdup("n0");
		n->perms_len = 3;
		n->next = f->nodes;
		f->nodes = n;
	}
	free(n->val);
	n->val = malloc(len + 1);
	memcpy(n->val, val, len);
	n->val[len] = '\0';
	n->len = len;
}

static void node_free(struct node *n)
{
	free(n->path);
	free(n->val);
	free(n->perms);
	free(n);
}

static bool under(const char *path, const char *dir)
{
	size_t l = strlen(dir);

	return !strncmp(path, dir, l) && (path[l] == '/' || path[l] == '\0');
}

/* ---- transport ------------------------------------------------------- */

static int srv_write(struct fake_xsd *f, const void *buf, size_t len)
{
	const char *p = buf;

	if (f->fd >= 0) {
		while (len) {
			ssize_t n = send(f->fd, p, len, MSG_NOSIGNAL);

			if (n < 0)
				return -errno;
			p += n;
			len -= (size_t)n;
		}
		return 0;
	}
	while (len) {
		ssize_t n = xs_ring_server_put(f->intf, p, len);

		if (n < 0)
			return (int)n;
		if (n > 0)
			fake_evtchn_ops.notify(f->h, f->port);
		else
			usleep(1000);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0, or < 0 on EOF/stop/error. */
static int srv_read(struct fake_xsd *f, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		struct pollfd pf[2] = {
			{.fd = f->fd >= 0 ? f->fd : f->h->rfd, .events = POLLIN},
			{.fd = f->stop[0], .events = POLLIN}};
		ssize_t n;

		if (f->fd < 0) {
			evtchn_port_t port;

			n = xs_ring_server_get(f->intf, p, len);
			if (n < 0)
				return (int)n;
			if (n > 0) {
				fake_evtchn_ops.notify(f->h, f->port);
				p += n;
				len -= (size_t)n;
				continue;
			}
			if (poll(pf, 2, 5) < 0 || pf[1].revents)
				return -ECANCELED;
			fe_pending(f->h, &port);
			continue;
		}
		if (poll(pf, 2, -1) < 0 || pf[1].revents)
			return -ECANCELED;
		n = read(f->fd, p, len);
		if (n <= 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fake_xsd_send(struct fake_xsd *f, uint32_t type, uint32_t req_id,
		  uint32_t tx, const void *body, size_t len)
{
	struct xsd_sockmsg h = {type, req_id, tx, (uint32_t)len};
	char *buf = malloc(sizeof(h) + len);
	int rc;

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), body, len);
	pthread_mutex_lock(&f->lock);
	rc = srv_write(f, buf, sizeof(h) + len);
	pthread_mutex_unlock(&f->lock);
	free(buf);
	return rc;
}

int fake_xsd_send_raw(struct fake_xsd *f, const void *buf, size_t len)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	rc = srv_write(f, buf, len);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static void reply_str(struct fake_xsd *f, const struct xsd_sockmsg *h,
		      const char *s)
{
	fake_xsd_send(f, h->type, h->req_id, h->tx_id, s, strlen(s) + 1);
}

static void reply_err(struct fake_xsd *f, const struct xsd_sockmsg *h,
		      const char *e)
{
	fake_xsd_send(f, XS_ERROR, h->req_id, h->tx_id, e, strlen(e) + 1);
}

static void fire(struct fake_xsd *f, const char *path)
{
	struct fwatch *w;

	for (w = f->watches; w; w = w->next)
		if (under(path, w->path)) {
			size_t pl = strlen(path) + 1, tl = strlen(w->token) + 1;
			char *b = malloc(pl + tl);

			memcpy(b, path, pl);
			memcpy(b + pl, w->token, tl);
			fake_xsd_send(f, XS_WATCH_EVENT, 0, 0, b, pl + tl);
			free(b);
		}
}

static void do_write(struct fake_xsd *f, const char *path, const char *val,
		     size_t len)
{
	char *p = strdup(path), *s;

	/* Parents spring into existence, as in xenstored. */
	for (s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (!node_find(f, p))
			node_set(f, p, "", 0);
		*s = '/';
	}
	free(p);
	node_set(f, path, val, len);
	fire(f, path);
}

static void handle(struct fake_xsd *f, const struct xsd_sockmsg *h,
		   char *body)
{
	const char *arg2 = body + strnlen(body, h->len) + 1;
	size_t arg2len = h->len > strlen(body) ? h->len - strlen(body) - 1 : 0;
	struct node *n, **pp;
	char buf[4096];

	switch (h->type) {
	case XS_READ:
		n = node_find(f, body);
		if (!n)
			return reply_err(f, h, "ENOENT");
		fake_xsd_send(f, h->type, h->req_id, h->tx_id, n->val, n->len);
		return;
	case XS_WRITE:
		do_write(f, body, arg2, arg2len);
		return reply_str(f, h, "OK");
	case XS_MKDIR:
		if (!node_find(f, body))
			do_write(f, body, "", 0);
		return reply_str(f, h, "OK");
	case XS_RM:
		if (!node_find(f, body))
			return reply_err(f, h, "ENOENT");
		for (pp = &f->nodes; *pp;) {
			n = *pp;
			if (under(n->path, body)) {
				*pp = n->next;
				node_free(n);
			} else {
				pp = &n->next;
			}
		}
		fire(f, body);
		return reply_str(f, h, "OK");
	case XS_DIRECTORY: {
		size_t off = 0, bl = strlen(body);

		if (!node_find(f, body))
			return reply_err(f, h, "ENOENT");
		for (n = f->nodes; n; n = n->next)
			if (!strncmp(n->path, body, bl) &&
			    n->path[bl] == '/' &&
			    !strchr(n->path + bl + 1, '/')) {
				size_t l = strlen(n->path + bl + 1) + 1;

				memcpy(buf + off, n->path + bl + 1, l);
				off += l;
			}
		fake_xsd_send(f, h->type, h->req_id, h->tx_id, buf, off);
		return;
	}
	case XS_GET_PERMS:
		n = node_find(f, body);
		if (!n)
			return reply_err(f, h, "ENOENT");
		fake_xsd_send(f, h->type, h->req_id, h->tx_id, n->perms,
			      n->perms_len);
		return;
	case XS_SET_PERMS:
		n = node_find(f, body);
		if (!n)
			return reply_err(f, h, "ENOENT");
		free(n->perms);
		n->perms = malloc(arg2len + 1);
		memcpy(n->perms, arg2, arg2len);
		n->perms[arg2len] = '\0';
		n->perms_len = arg2len;
		return reply_str(f, h, "OK");
	case XS_WATCH: {
		struct fwatch *w = calloc(1, sizeof(*w));

		w->path = strdup(body);
		w->token = strdup(arg2);
		w->next = f->watches;
		f->watches = w;
		reply_str(f, h, "OK");
		snprintf(buf, sizeof(buf), "%s", body);
		{
			size_t pl = strlen(buf) + 1, tl = strlen(arg2) + 1;

			memcpy(buf + pl, arg2, tl);
			fake_xsd_send(f, XS_WATCH_EVENT, 0, 0, buf, pl + tl);
		}
		return;
	}
	case XS_UNWATCH: {
		struct fwatch **wp, *w;

		for (wp = &f->watches; (w = *wp); wp = &w->next)
			if (!strcmp(w->path, body) && !strcmp(w->token, arg2)) {
				*wp = w->next;
				free(w->path);
				free(w->token);
				free(w);
				return reply_str(f, h, "OK");
			}
		return reply_err(f, h, "ENOENT");
	}
	case XS_TRANSACTION_START:
		snprintf(buf, sizeof(buf), "%u", f->next_tx++);
		return reply_str(f, h, buf);
	case XS_TRANSACTION_END:
		if (!strcmp(body, "T")) {
			bool fail;

			pthread_mutex_lock(&f->lock);
			f->commits++;
			fail = f->fail_commits > 0;
			if (fail)
				f->fail_commits--;
			pthread_mutex_unlock(&f->lock);
			if (fail)
				return reply_err(f, h, "EAGAIN");
		}
		return reply_str(f, h, "OK");
	case XS_GET_DOMAIN_PATH:
		snprintf(buf, sizeof(buf), "/local/domain/%s", body);
		return reply_str(f, h, buf);
	case XS_IS_DOMAIN_INTRODUCED:
		return reply_str(f, h, strcmp(body, "0") ? "F" : "T");
	case XS_INTRODUCE:
	case XS_RELEASE:
	case XS_RESUME:
	case XS_SET_TARGET:
	case XS_CONTROL:
		return reply_str(f, h, "OK");
	default:
		return reply_err(f, h, "EINVAL");
	}
}

static void *serve(void *arg)
{
	struct fake_xsd *f = arg;

	for (;;) {
		struct xsd_sockmsg h;
		char *body;
		fake_xsd_hook hook;
		void *harg;

		if (srv_read(f, &h, sizeof(h)) < 0)
			break;
		if (h.len > XENSTORE_PAYLOAD_MAX)
			break;
		body = calloc(1, h.len + 2);
		if (srv_read(f, body, h.len) < 0) {
			free(body);
			break;
		}
		pthread_mutex_lock(&f->lock);
		f->requests++;
		hook = f->hook;
		harg = f->hook_arg;
		pthread_mutex_unlock(&f->lock);
		if (!hook || !hook(f, &h, body, harg))
			handle(f, &h, body);
		free(body);
	}
	return NULL;
}

static int start(struct fake_xsd *f, struct fake_xsd **out)
{
	f->next_tx = 1;
	pthread_mutex_init(&f->lock, NULL);
	if (pipe2(f->stop, O_CLOEXEC) < 0)
		return -errno;
	node_set(f, "/", "", 0);
	pthread_create(&f->thread, NULL, serve, f);
	*out = f;
	return 0;
}

int fake_xsd_start_fd(int fd, struct fake_xsd **out)
{
	struct fake_xsd *f = calloc(1, sizeof(*f));

	f->fd = fd;
	return start(f, out);
}

int fake_xsd_start_ring(struct xenstore_domain_interface *intf,
			struct pvk_evtchn *h, evtchn_port_t port,
			struct fake_xsd **out)
{
	struct fake_xsd *f = calloc(1, sizeof(*f));

	f->fd = -1;
	f->intf = intf;
	f->h = h;
	f->port = port;
	return start(f, out);
}

void fake_xsd_stop(struct fake_xsd *f)
{
	struct node *n;
	struct fwatch *w;

	if (!f)
		return;
	if (write(f->stop[1], "x", 1) < 0)
		abort();
	pthread_join(f->thread, NULL);
	close(f->stop[0]);
	close(f->stop[1]);
	if (f->fd >= 0)
		close(f->fd);
	while ((n = f->nodes)) {
		f->nodes = n->next;
		node_free(n);
	}
	while ((w = f->watches)) {
		f->watches = w->next;
		free(w->path);
		free(w->token);
		free(w);
	}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void fake_xsd_fail_commits(struct fake_xsd *f, unsigned int n)
{
	pthread_mutex_lock(&f->lock);
	f->fail_commits = n;
	pthread_mutex_unlock(&f->lock);
}

unsigned int fake_xsd_commits(struct fake_xsd *f)
{
	unsigned int n;

	pthread_mutex_lock(&f->lock);
	n = f->commits;
	pthread_mutex_unlock(&f->lock);
	return n;
}

unsigned int fake_xsd_requests(struct fake_xsd *f)
{
	unsigned int n;

	pthread_mutex_lock(&f->lock);
	n = f->requests;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_xsd_set_hook(struct fake_xsd *f, fake_xsd_hook hook, void *arg)
{
	pthread_mutex_lock(&f->lock);
	f->hook = hook;
	f->hook_arg = arg;
	pthread_mutex_unlock(&f->lock);
}

int fake_xsd_socketpair(struct fake_xsd **f, struct xs_client **xs)
{
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	rc = fake_xsd_start_fd(sv[1], f);
	if (rc < 0)
		return rc;
	return xs_client_open_fd(sv[0], xs);
}

int fake_xsd_env_setup(void **state)
{
	struct fake_xsd_env *e = calloc(1, sizeof(*e));

	assert_int_equal(fake_xsd_socketpair(&e->fake, &e->xs), 0);
	*state = e;
	return 0;
}

int fake_xsd_env_teardown(void **state)
{
	struct fake_xsd_env *e = *state;

	xs_client_close(e->xs);
	fake_xsd_stop(e->fake);
	free(e);
	return 0;
}
