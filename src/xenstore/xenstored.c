/*
 * xenstored.c - pvkit-xenstored: the xenstore daemon's socket shell.
 *
 * One epoll loop serves unix-socket clients (privileged, Dom0: the protocol
 * libxenstore speaks over $XENSTORED_PATH) and, through xsd_domains.c,
 * domain rings.  All xenstore semantics live in xs_core.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "xenstore/xs_core.h"
#include "xenstore/xsd.h"

struct client {
	struct xsd_src src; /* XSD_CLIENT */
	struct client *next;
	struct xsd *xsd;
	int fd;
	bool dead;
	uint32_t events;
	struct xs_conn *conn;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t inoff, inlen;
};

struct xsd {
	struct xs_core *core;
	struct xsd_domains *doms;
	int epfd;
	struct xsd_src listen_src, signal_src;
	int lfd, sigfd;
	struct client *clients;
	bool quit;
};

struct opts {
	const char *socket;
	const char *pid_file;
	const char *platform;
	bool use_platform;
	struct xs_quota q;
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [options]\n"
		"  -s, --socket PATH        listen here (default $XENSTORED_PATH,\n"
		"                           else $XENSTORED_RUNDIR/socket, else\n"
		"                           /var/run/xenstored/socket)\n"
		"  -N, --no-fork            stay in the foreground (the default)\n"
		"  -F, --pid-file PATH      write the daemon's pid here\n"
		"  -p, --platform[=NAME]    open the platform (emulated|xen) at\n"
		"                           start and watch VIRQ_DOM_EXC; else\n"
		"                           it opens on the first INTRODUCE\n"
		"  -E, --entry-nb N         nodes per domain quota\n"
		"  -S, --entry-size N       node size quota (bytes)\n"
		"  -W, --watch-nb N         watches per connection quota\n"
		"  -t, --transaction N      transactions per connection quota\n"
		"  -A, --perm-nb N          permission entries per node quota\n"
		"  -Q, --quota NAME=N       any core quota: nodes, node-size,\n"
		"                           watches, transactions, outstanding,\n"
		"                           out-bytes, tx-nodes, tx-rate, perms\n"
		"  -v, --verbose            debug logging\n"
		"  -h, --help               this text\n",
		prog);
}

static int set_quota(struct xs_quota *q, const char *name, const char *val)
{
	struct xs_core *tmp = NULL;
	uint64_t v;
	int rc;

	rc = pvk_parse_u64(val, 0, UINT32_MAX, &v);
	if (rc)
		return rc;
	/* validate the name through the core's own table */
	rc = xs_core_new(q, NULL, &tmp);
	if (rc)
		return rc;
	rc = xs_core_set_quota(tmp, name, v);
	if (!rc)
		*q = *xs_core_quota(tmp);
	xs_core_free(tmp);
	return rc;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"no-fork", no_argument, NULL, 'N'},
		{"pid-file", required_argument, NULL, 'F'},
		{"platform", optional_argument, NULL, 'p'},
		{"entry-nb", required_argument, NULL, 'E'},
		{"entry-size", required_argument, NULL, 'S'},
		{"watch-nb", required_argument, NULL, 'W'},
		{"transaction", required_argument, NULL, 't'},
		{"perm-nb", required_argument, NULL, 'A'},
		{"quota", required_argument, NULL, 'Q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	xs_quota_default(&o->q);
	while ((c = getopt_long(argc, argv, "s:NF:p::E:S:W:t:A:Q:vh", lopts,
				NULL)) != -1) {
		char buf[64], *eq;

		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'N':
			break;
		case 'F':
			o->pid_file = optarg;
			break;
		case 'p':
			o->use_platform = true;
			o->platform = optarg;
			break;
		case 'E':
			rc = set_quota(&o->q, "nodes", optarg);
			break;
		case 'S':
			rc = set_quota(&o->q, "node-size", optarg);
			break;
		case 'W':
			rc = set_quota(&o->q, "watches", optarg);
			break;
		case 't':
			rc = set_quota(&o->q, "transactions", optarg);
			break;
		case 'A':
			rc = set_quota(&o->q, "perms", optarg);
			break;
		case 'Q':
			snprintf(buf, sizeof(buf), "%s", optarg);
			eq = strchr(buf, '=');
			if (!eq) {
				rc = -EINVAL;
				break;
			}
			*eq = '\0';
			rc = set_quota(&o->q, buf, eq + 1);
			break;
		case 'v':
			pvk_log_init("pvkit-xenstored", PVK_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(0);
		default:
			usage(stderr, argv[0]);
			return -EINVAL;
		}
		if (rc) {
			fprintf(stderr, "%s: bad value for -%c: %s\n", argv[0],
				c, optarg);
			return rc;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return -EINVAL;
	}
	return 0;
}

/* ---- socket clients ---------------------------------------------------- */

static void client_update(struct client *cl)
{
	const void *p;
	uint32_t want = 0;
	struct epoll_event ev;

	if (cl->dead)
		return;
	if (cl->inlen == 0)
		want |= EPOLLIN;
	if (xs_conn_peek(cl->conn, &p))
		want |= EPOLLOUT;
	if (want == cl->events)
		return;
	ev.events = want;
	ev.data.ptr = cl;
	if (epoll_ctl(cl->xsd->epfd, EPOLL_CTL_MOD, cl->fd, &ev) == 0)
		cl->events = want;
}

static void client_kill(struct client *cl, const char *why)
{
	if (cl->dead)
		return;
	pvk_debug("client fd %d closed: %s", cl->fd, why);
	cl->dead = true;
	epoll_ctl(cl->xsd->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
}

/* Feed what is buffered; returns false when the client was killed. */
static bool client_feed(struct client *cl)
{
	ssize_t n;

	if (cl->inoff == cl->inlen)
		return true;
	n = xs_conn_feed(cl->conn, cl->in + cl->inoff, cl->inlen - cl->inoff);
	if (n < 0) {
		client_kill(cl, "protocol violation");
		return false;
	}
	cl->inoff += (size_t)n;
	if (cl->inoff == cl->inlen)
		cl->inoff = cl->inlen = 0;
	return true;
}

static void client_write(struct client *cl)
{
	const void *p;
	size_t len;

	while (!cl->dead && (len = xs_conn_peek(cl->conn, &p)) > 0) {
		ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_kill(cl, "write error");
			return;
		}
		xs_conn_consume(cl->conn, (size_t)n);
	}
}

static void client_read(struct client *cl)
{
	ssize_t n;

	if (cl->inlen)
		return;
	n = recv(cl->fd, cl->in, sizeof(cl->in), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR &&
		       errno != EWOULDBLOCK)) {
		client_kill(cl, n == 0 ? "eof" : "read error");
		return;
	}
	if (n < 0)
		return;
	cl->inoff = 0;
	cl->inlen = (size_t)n;
	client_feed(cl);
}

static void accept_client(struct xsd *x)
{
	struct epoll_event ev;
	struct client *cl;
	int fd = accept4(x->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (!cl || xs_conn_new(x->core, 0, &cl->conn)) {
		free(cl);
		close(fd);
		return;
	}
	cl->src.kind = XSD_CLIENT;
	cl->xsd = x;
	cl->fd = fd;
	xs_conn_set_priv(cl->conn, cl);
	ev.events = EPOLLIN;
	ev.data.ptr = cl;
	if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		xs_conn_free(cl->conn);
		free(cl);
		close(fd);
		return;
	}
	cl->events = EPOLLIN;
	cl->next = x->clients;
	x->clients = cl;
}

/* Write output, resume paused input, reap the dead. */
static void flush_clients(struct xsd *x)
{
	struct client **pp = &x->clients;

	while (*pp) {
		struct client *cl = *pp;

		if (!cl->dead) {
			client_write(cl);
			if (!cl->dead && cl->inlen && client_feed(cl))
				client_write(cl);
			client_update(cl);
		}
		if (cl->dead) {
			*pp = cl->next;
			xs_conn_free(cl->conn);
			close(cl->fd);
			free(cl);
			continue;
		}
		pp = &cl->next;
	}
}

/* ---- hooks ------------------------------------------------------------- */

static int hook_introduce(void *opaque, struct xs_conn *conn, domid_t domid,
			  uint64_t gfn, evtchn_port_t port)
{
	struct xsd *x = opaque;

	return xsd_domains_introduce(x->doms, conn, domid, gfn, port);
}

static void hook_release(void *opaque, struct xs_conn *conn)
{
	struct xsd *x = opaque;

	xsd_domains_release(x->doms, conn);
}

static void hook_wake(void *opaque, struct xs_conn *conn)
{
	struct xsd *x = opaque;
	struct xsd_src *src = xs_conn_priv(conn);

	if (src && src->kind == XSD_RING)
		xsd_domains_kick(x->doms, conn);
}

static uint64_t hook_now(void *opaque)
{
	(void)opaque;
	return pvk_now_ns();
}

/* ---- setup ------------------------------------------------------------- */

static int mkdir_parents(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *s;

	snprintf(buf, sizeof(buf), "%s", path);
	s = strrchr(buf, '/');
	if (!s || s == buf)
		return 0;
	*s = '\0';
	for (s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	rc = mkdir_parents(path);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(path, 0600) || listen(fd, 64)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -errno : 0;
}

static int epoll_add(int epfd, int fd, void *ptr)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void run(struct xsd *x)
{
	struct epoll_event evs[64];

	while (!x->quit) {
		int n = epoll_wait(x->epfd, evs, 64, -1);

		if (n < 0 && errno != EINTR) {
			pvk_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct xsd_src *src = evs[i].data.ptr;
			struct client *cl;

			switch (src->kind) {
			case XSD_LISTEN:
				accept_client(x);
				break;
			case XSD_SIGNAL:
				x->quit = true;
				break;
			case XSD_EVTCHN:
				xsd_domains_event(x->doms);
				break;
			case XSD_CLIENT:
				cl = (struct client *)src;
				if (cl->dead)
					break;
				if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
				    !(evs[i].events & EPOLLIN)) {
					client_kill(cl, "hangup");
					break;
				}
				if (evs[i].events & EPOLLIN)
					client_read(cl);
				break;
			default:
				break;
			}
		}
		xsd_domains_flush(x->doms);
		flush_clients(x);
		xsd_domains_flush(x->doms);
	}
}

int main(int argc, char **argv)
{
	struct xsd x = {.epfd = -1, .lfd = -1, .sigfd = -1};
	struct xs_core_hooks hooks = {
		.opaque = &x,
		.introduce = hook_introduce,
		.release = hook_release,
		.wake = hook_wake,
		.now_ns = hook_now,
	};
	char pathbuf[256];
	const char *path;
	struct opts o;
	sigset_t mask;
	int rc = 1;

	pvk_log_init("pvkit-xenstored", PVK_LOG_INFO);
	if (parse_opts(argc, argv, &o))
		return 2;
	path = o.socket ? o.socket : getenv("XENSTORED_PATH");
	if (!path) {
		const char *rundir = getenv("XENSTORED_RUNDIR");

		snprintf(pathbuf, sizeof(pathbuf), "%s/socket",
			 rundir ? rundir : "/var/run/xenstored");
		path = pathbuf;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	x.epfd = epoll_create1(EPOLL_CLOEXEC);
	x.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (x.epfd < 0 || x.sigfd < 0) {
		pvk_err("epoll/signalfd: %s", strerror(errno));
		goto out;
	}
	if (xs_core_new(&o.q, &hooks, &x.core) ||
	    xsd_domains_new(x.core, x.epfd, o.platform, &x.doms)) {
		pvk_err("out of memory");
		goto out;
	}
	if (o.use_platform) {
		int prc = xsd_domains_start(x.doms);

		if (prc)
			pvk_warn("platform unavailable (%s): sockets only",
				 strerror(-prc));
	}
	x.lfd = listen_on(path);
	if (x.lfd < 0) {
		pvk_err("cannot listen on %s: %s", path, strerror(-x.lfd));
		goto out;
	}
	x.listen_src.kind = XSD_LISTEN;
	x.signal_src.kind = XSD_SIGNAL;
	if (epoll_add(x.epfd, x.lfd, &x.listen_src) ||
	    epoll_add(x.epfd, x.sigfd, &x.signal_src))
		goto out;
	if (o.pid_file && write_pid_file(o.pid_file)) {
		pvk_err("cannot write %s", o.pid_file);
		goto out;
	}
	pvk_info("listening on %s", path);
	run(&x);
	rc = 0;
out:
	while (x.clients) {
		struct client *cl = x.clients;

		x.clients = cl->next;
		xs_conn_free(cl->conn);
		close(cl->fd);
		free(cl);
	}
	xs_core_free(x.core); /* releases domain connections first */
	xsd_domains_free(x.doms);
	if (x.lfd >= 0) {
		close(x.lfd);
		unlink(path);
	}
	if (o.pid_file && rc == 0)
		unlink(o.pid_file);
	if (x.sigfd >= 0)
		close(x.sigfd);
	if (x.epfd >= 0)
		close(x.epfd);
	return rc;
}
