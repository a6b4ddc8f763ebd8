/*
 * xenstored.c - pvkit-xenstored: the xenstore daemon's socket shell.
 *
 * One epoll loop serves unix-socket clients (privileged, Dom0: the protocol
 * libxenstore speaks over $XENSTORED_PATH) and, through xsd_domains.c,
 * domain rings.  All xenstore semantics live in xs_core.c.
 *
 * Live update (SIGUSR2, or CONTROL live-update as Xen's xenstore-control
 * sends it): the core is saved (xs_lu.c) with each socket client's fd and
 * unfed input into a state file beside the socket, the listening and
 * client fds lose close-on-exec, the domain rings are unbound, and the
 * daemon execs itself (or the -f binary) with --restore FILE.  The new
 * image rebuilds the store, adopts the fds and binds the rings again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
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
#include "xenstore/xsd_journal.h"

struct client {
	struct xsd_src src; /* XSD_CLIENT */
	struct client *next;
	struct xsd *xsd;
	int fd;
	bool dead;
	uint32_t events;
	struct xs_conn *conn;
	uint32_t jid; /* in the journal */
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
	struct xsd_journal *jr; /* --journal, or NULL */
	/* live update */
	char **argv;	       /* ours, for the re-exec */
	char exe[PATH_MAX];    /* the image to exec */
	char state[PATH_MAX];  /* state file, beside the socket */
	bool lu_now, lu_force; /* CONTROL live-update -s accepted */
	bool lu_signal;	       /* SIGUSR2: retry while busy */
	uint64_t lu_deadline_ns;
};

struct opts {
	const char *socket;
	const char *pid_file;
	const char *platform;
	const char *restore;
	const char *journal;
	bool use_platform;
	struct xs_quota q;
};

#define LU_FILE_MAGIC "PVKXSDLU"
#define LU_SIGNAL_WAIT_NS (60ull * 1000000000ull) /* Xen's default */

/* Head of the state file; the core's image follows. */
struct lu_head {
	char magic[8];
	int32_t lfd;
	uint32_t len; /* of the core image */
};

/* A socket client's part of the image. */
struct lu_client {
	int32_t fd;
	uint32_t pending; /* bytes read from the socket, not yet fed */
};

static void usage(FILE *f, const char *prog)
{
	fprintf(
	    f,
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
	    "      --journal BASE       keep the store as it changes in\n"
	    "                           BASE.img and BASE.log, and start\n"
	    "                           from them: it survives SIGKILL\n"
	    "      --restore FILE       continue from a live update's state\n"
	    "                           (used by the daemon itself)\n"
	    "  -h, --help               this text\n"
	    "SIGUSR2 or 'xenstore-control live-update -s' restarts the\n"
	    "daemon in place, keeping nodes, watches and connections.\n",
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
	    {"restore", required_argument, NULL, 'R'},
	    {"journal", required_argument, NULL, 'J'},
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
		case 'R':
			o->restore = optarg;
			break;
		case 'J':
			o->journal = optarg;
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

	/* nothing the core did is seen before the journal has it */
	if (cl->xsd->jr && xs_conn_peek(cl->conn, &p))
		xsd_journal_flush(cl->xsd->jr);
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

/* Write what is queued and feed what is buffered, for as long as that
 * makes progress: a client that pipelines requests past the outstanding
 * quota pauses the feed until its replies are written, and once they are
 * nothing else would wake us for the input still buffered (no EPOLLIN
 * while input is buffered, no EPOLLOUT with nothing to write). */
static void client_pump(struct client *cl)
{
	size_t left;

	client_write(cl);
	while (!cl->dead && cl->inlen) {
		left = cl->inlen - cl->inoff;
		if (!client_feed(cl))
			return;
		client_write(cl);
		if (cl->inlen - cl->inoff == left)
			return; /* paused: output waits for EPOLLOUT */
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

/* Serve conn over fd.  0, or -errno and neither is taken. */
static int client_add(struct xsd *x, int fd, struct xs_conn *conn)
{
	struct epoll_event ev;
	struct client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return -ENOMEM;
	cl->src.kind = XSD_CLIENT;
	cl->xsd = x;
	cl->fd = fd;
	cl->conn = conn;
	ev.events = EPOLLIN;
	ev.data.ptr = cl;
	if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int rc = -errno;

		free(cl);
		return rc;
	}
	xs_conn_set_priv(conn, cl);
	if (x->jr)
		cl->jid = xsd_journal_new_jid(x->jr);
	cl->events = EPOLLIN;
	cl->next = x->clients;
	x->clients = cl;
	return 0;
}

static void accept_client(struct xsd *x)
{
	struct xs_conn *conn;
	int fd = accept4(x->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (xs_conn_new(x->core, 0, &conn)) {
		close(fd);
		return;
	}
	if (client_add(x, fd, conn)) {
		xs_conn_free(conn);
		close(fd);
		return;
	}
	if (x->jr)
		xsd_journal_record(x->jr, XSD_J_NEW, 0, x->clients->jid, 0,
				   NULL, 0, false);
}

/* Write output, resume paused input, reap the dead. */
static void flush_clients(struct xsd *x)
{
	struct client **pp = &x->clients;

	while (*pp) {
		struct client *cl = *pp;

		if (!cl->dead) {
			client_pump(cl);
			client_update(cl);
		}
		if (cl->dead) {
			*pp = cl->next;
			if (x->jr)
				xsd_journal_record(x->jr, XSD_J_CLOSE, 0,
						   cl->jid, 0, NULL, 0, false);
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

/* ---- journal ----------------------------------------------------------- */

static void hook_journal(void *opaque, struct xs_conn *conn,
			 enum xs_journal_kind kind, domid_t domid,
			 const void *data, size_t len, uint64_t arg,
			 bool failed)
{
	struct xsd *x = opaque;
	const struct xsd_src *src = conn ? xs_conn_priv(conn) : NULL;
	uint32_t jid = 0;

	if (!x->jr)
		return;
	if (src && src->kind == XSD_CLIENT)
		jid = ((const struct client *)src)->jid;
	xsd_journal_record(x->jr, (enum xsd_jkind)kind, domid, jid, arg, data,
			   len, failed);
}

/* A domain ring's indexes are about to be published. */
static void ring_commit(void *opaque, domid_t domid, XENSTORE_RING_IDX req_cons,
			XENSTORE_RING_IDX rsp_prod)
{
	struct xsd *x = opaque;

	if (!x->jr)
		return;
	xsd_journal_record(x->jr, XSD_J_RING, domid, 0,
			   (uint64_t)req_cons | (uint64_t)rsp_prod << 32, NULL,
			   0, false);
	xsd_journal_flush(x->jr);
}

static ssize_t jr_save_client(void *opaque, const struct xs_conn *conn,
			      void *buf, size_t cap)
{
	const struct client *cl = xs_conn_priv(conn);

	(void)opaque;
	/* our own kernel's ring (real Xen Dom0) is not journaled */
	if (!cl || cl->src.kind != XSD_CLIENT || cap < sizeof(cl->jid))
		return -EOPNOTSUPP;
	memcpy(buf, &cl->jid, sizeof(cl->jid));
	return (ssize_t)sizeof(cl->jid);
}

#define JOURNAL_COMPACT_BYTES (4u << 20)

/* A new image once the log has grown, when no transaction is open. */
static void maybe_compact(struct xsd *x)
{
	struct xs_lu_ops ops = {.opaque = x, .save_conn = jr_save_client};

	if (!x->jr || xsd_journal_broken(x->jr) ||
	    xsd_journal_log_bytes(x->jr) < JOURNAL_COMPACT_BYTES)
		return;
	xsd_journal_compact(x->jr, x->core, &ops, false);
}

/* Start from the journal's files, or a new store.  0 or -errno. */
static int journal_start(struct xsd *x, const char *base,
			 const struct xs_quota *q,
			 const struct xs_core_hooks *hooks)
{
	struct xs_lu_ops ops = {.opaque = x, .save_conn = jr_save_client};
	struct xsd_journal_loaded info;
	bool loaded = false;
	unsigned int from = 0;
	domid_t d;
	int rc;

	rc = xsd_journal_new(base, &x->jr);
	if (rc)
		return rc;
	for (struct client *cl = x->clients; cl; cl = cl->next)
		cl->jid = xsd_journal_new_jid(x->jr); /* a live update's */
	if (!x->core) { /* a live update restores from its own state */
		rc = xsd_journal_load(x->jr, &x->core, &info);
		if (rc == -ENOENT) {
			rc = xs_core_new(q, hooks, &x->core);
			if (rc)
				return rc;
			pvk_info("journal: a new store at %s", base);
		} else if (rc) {
			return rc;
		} else {
			loaded = true;
			xs_core_set_hooks(x->core, hooks);
			pvk_info("journal: %zu nodes from %s (%zu records "
				 "replayed, %zu socket connections gone)",
				 xs_core_node_count(x->core), base,
				 info.records, info.sockets);
			while (xs_core_next_domain(x->core, from, &d) == 0) {
				struct xs_conn *c =
				    xs_core_domain_conn(x->core, d);
				uint64_t gfn;
				evtchn_port_t port;

				from = d + 1u;
				if (xs_core_domain_ring(x->core, d, &gfn,
							&port) ||
				    !c ||
				    xsd_domains_reattach(x->doms, c, d, gfn,
							 port)) {
					pvk_warn("dom%u: ring not reattached; "
						 "released",
						 d);
					xs_core_release_domain(x->core, d);
				}
			}
			for (size_t i = 0; i < info.nrings; i++)
				xsd_domains_ring_fixup(x->doms,
						       info.rings[i].domid,
						       info.rings[i].req_cons,
						       info.rings[i].rsp_prod);
		}
	}
	xsd_domains_set_commit(x->doms, ring_commit, x);
	/* a new store, or a live update's, gets its first image now; a
	 * replayed one goes on with its log (a new image waits for a moment
	 * without transactions) */
	rc = loaded ? xsd_journal_compact(x->jr, x->core, &ops, false)
		    : xsd_journal_compact(x->jr, x->core, &ops, true);
	if (rc == -EBUSY && loaded)
		rc = 0;
	if (rc)
		pvk_err("journal: cannot write %s.img: %s", base,
			strerror(-rc));
	return rc;
}

/* ---- live update ------------------------------------------------------- */

static int hook_live_update(void *opaque, const struct xs_lu_request *req)
{
	struct xsd *x = opaque;

	switch (req->op) {
	case XS_LU_BINARY:
		if (strlen(req->binary) >= sizeof(x->exe) ||
		    access(req->binary, X_OK))
			return -EINVAL;
		snprintf(x->exe, sizeof(x->exe), "%s", req->binary);
		return 0;
	case XS_LU_ABORT:
		x->lu_now = x->lu_signal = false;
		return 0;
	case XS_LU_START:
		if (!req->force && xs_core_busy(x->core))
			return -EBUSY;
		x->lu_now = true;
		x->lu_force = req->force;
		return 0;
	}
	return -EINVAL;
}

static ssize_t lu_save_client(void *opaque, const struct xs_conn *conn,
			      void *buf, size_t cap)
{
	const struct client *cl = xs_conn_priv(conn);
	struct lu_client lc = {.fd = -1};

	(void)opaque;
	/* our own kernel's ring (real Xen Dom0) cannot be carried over yet */
	if (cl && cl->src.kind != XSD_CLIENT)
		return -EOPNOTSUPP;
	if (cl && !cl->dead) {
		lc.fd = cl->fd;
		lc.pending = (uint32_t)(cl->inlen - cl->inoff);
	}
	if (sizeof(lc) + lc.pending > cap)
		return -E2BIG;
	memcpy(buf, &lc, sizeof(lc));
	if (lc.pending)
		memcpy((char *)buf + sizeof(lc), cl->in + cl->inoff,
		       lc.pending);
	return (ssize_t)(sizeof(lc) + lc.pending);
}

static int lu_restore_client(void *opaque, struct xs_conn *conn,
			     const void *buf, size_t len)
{
	struct xsd *x = opaque;
	struct lu_client lc;
	struct client *cl;
	struct stat st;
	int rc;

	if (len < sizeof(lc))
		return -EINVAL;
	memcpy(&lc, buf, sizeof(lc));
	if (lc.fd < 0 || lc.pending != len - sizeof(lc) ||
	    lc.pending > sizeof(cl->in) || fstat(lc.fd, &st) ||
	    !S_ISSOCK(st.st_mode))
		return -EBADF;
	if (fcntl(lc.fd, F_SETFD, FD_CLOEXEC) ||
	    fcntl(lc.fd, F_SETFL, fcntl(lc.fd, F_GETFL) | O_NONBLOCK))
		return -errno;
	rc = client_add(x, lc.fd, conn);
	if (rc) {
		close(lc.fd);
		return rc;
	}
	cl = x->clients;
	memcpy(cl->in, (const char *)buf + sizeof(lc), lc.pending);
	cl->inlen = lc.pending;
	return 0;
}

static const struct xs_lu_ops lu_ops = {
    .save_conn = lu_save_client,
    .restore_conn = lu_restore_client,
};

/* Save everything and exec the new image; returns only on failure (the
 * daemon then carries on as before), -EBUSY while transactions are open
 * and !force. */
static int live_update(struct xsd *x, bool force)
{
	struct lu_head h = {.magic = LU_FILE_MAGIC, .lfd = x->lfd};
	struct xs_lu_ops ops = lu_ops;
	void *img = NULL;
	size_t len = 0;
	char **argv;
	int argc = 0, fd = -1, rc;

	ops.opaque = x;
	if (access(x->exe, X_OK))
		return -errno;
	rc = xs_core_save(x->core, &ops, force, &img, &len);
	if (rc)
		return rc;
	if (len > UINT32_MAX) {
		rc = -E2BIG;
		goto out;
	}
	h.len = (uint32_t)len;
	fd = open(x->state, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (rc = pvk_write_all(fd, &h, sizeof(h))) ||
	    (rc = pvk_write_all(fd, img, len)) || close(fd)) {
		rc = rc ? rc : -errno;
		goto out_unlink;
	}
	fd = -1;
	while (x->argv[argc])
		argc++;
	argv = calloc((size_t)argc + 3, sizeof(*argv));
	if (!argv) {
		rc = -ENOMEM;
		goto out_unlink;
	}
	/* our own arguments, less an earlier --restore */
	argc = 0;
	argv[argc++] = x->exe;
	for (char **a = x->argv + 1; *a; a++) {
		if (strcmp(*a, "--restore") == 0 && a[1]) {
			a++;
			continue;
		}
		if (strncmp(*a, "--restore=", 10) == 0)
			continue;
		argv[argc++] = *a;
	}
	argv[argc++] = "--restore";
	argv[argc++] = x->state;
	argv[argc] = NULL;
	/* point of no return for the rings: the new image binds them again */
	pvk_info("live update: %zu bytes of state, exec %s", len, x->exe);
	fcntl(x->lfd, F_SETFD, 0);
	for (struct client *cl = x->clients; cl; cl = cl->next)
		if (!cl->dead)
			fcntl(cl->fd, F_SETFD, 0);
	xsd_domains_free(x->doms);
	x->doms = NULL;
	execv(x->exe, argv);
	rc = -errno;
	pvk_err("live update: exec %s: %s; trying our own image", x->exe,
		strerror(-rc));
	argv[0] = "/proc/self/exe";
	execv(argv[0], argv);
	pvk_err("live update: exec failed: %s", strerror(errno));
	exit(1); /* the rings are gone: a restart must restore */
out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(x->state);
out:
	free(img);
	pvk_warn("live update failed: %s", strerror(-rc));
	return rc;
}

/* Continue from a live update's state file.  0 or -errno (the daemon then
 * starts afresh on the inherited listening socket if it has one). */
static int restore(struct xsd *x, const char *file,
		   const struct xs_core_hooks *hooks)
{
	struct xs_lu_ops ops = lu_ops;
	struct lu_head h;
	struct stat st;
	void *img = NULL;
	int fd, rc;

	ops.opaque = x;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = pvk_read_all(fd, &h, sizeof(h));
	if (!rc && (memcmp(h.magic, LU_FILE_MAGIC, 8) || fstat(fd, &st) ||
		    (uint64_t)st.st_size != sizeof(h) + (uint64_t)h.len))
		rc = -EINVAL;
	if (!rc && !(img = malloc(h.len ? h.len : 1)))
		rc = -ENOMEM;
	if (!rc)
		rc = pvk_read_all(fd, img, h.len);
	close(fd);
	unlink(file);
	if (rc)
		goto out;
	if (h.lfd < 0 || fstat(h.lfd, &st) || !S_ISSOCK(st.st_mode)) {
		rc = -EBADF;
		goto out;
	}
	x->lfd = h.lfd;
	fcntl(x->lfd, F_SETFD, FD_CLOEXEC);
	rc = xs_core_restore(img, h.len, hooks, &ops, &x->core);
	while (rc && x->clients) { /* their connections went with the core */
		struct client *cl = x->clients;

		x->clients = cl->next;
		close(cl->fd);
		free(cl);
	}
out:
	free(img);
	return rc;
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
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 64)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int epoll_add(int epfd, int fd, void *ptr)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void signal_event(struct xsd *x)
{
	struct signalfd_siginfo si;

	while (read(x->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGUSR2) {
			x->quit = true;
			continue;
		}
		pvk_info("SIGUSR2: live update");
		x->lu_signal = true;
		x->lu_deadline_ns = pvk_now_ns() + LU_SIGNAL_WAIT_NS;
	}
}

/* A live update that was asked for: now (CONTROL) or when no transaction
 * is open (SIGUSR2, for up to a minute). */
static void maybe_live_update(struct xsd *x)
{
	if (x->lu_now) {
		x->lu_now = false;
		live_update(x, x->lu_force);
	}
	if (x->lu_signal) {
		int rc = live_update(x, false);

		if (rc != -EBUSY) {
			x->lu_signal = false;
		} else if (pvk_now_ns() > x->lu_deadline_ns) {
			pvk_warn("live update: transactions still open after "
				 "60 s; not done");
			x->lu_signal = false;
		}
	}
}

static void run(struct xsd *x)
{
	struct epoll_event evs[64];

	while (!x->quit) {
		int n = epoll_wait(x->epfd, evs, 64, x->lu_signal ? 100 : -1);

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
				signal_event(x);
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
		if (x->jr)
			xsd_journal_flush(x->jr);
		maybe_compact(x);
		if (x->lu_now || x->lu_signal)
			maybe_live_update(x);
	}
}

static int hook_reattach(void *opaque, struct xs_conn *conn, domid_t domid,
			 uint64_t gfn, evtchn_port_t port)
{
	struct xsd *x = opaque;

	return xsd_domains_reattach(x->doms, conn, domid, gfn, port);
}

/* Where the image to exec and the state file are. */
static void lu_paths(struct xsd *x, const char *sock)
{
	ssize_t n = readlink("/proc/self/exe", x->exe, sizeof(x->exe) - 1);
	const char *slash = strrchr(sock, '/');
	int dlen = slash ? (int)(slash - sock) : 1;

	x->exe[n > 0 ? n : 0] = '\0';
	if (n <= 0)
		snprintf(x->exe, sizeof(x->exe), "/proc/self/exe");
	snprintf(x->state, sizeof(x->state), "%.*s/pvkit-xenstored.%ld.lu",
		 dlen, slash ? sock : ".", (long)getpid());
}

int main(int argc, char **argv)
{
	struct xsd x = {.epfd = -1, .lfd = -1, .sigfd = -1, .argv = argv};
	struct xs_core_hooks hooks = {
	    .opaque = &x,
	    .introduce = hook_introduce,
	    .release = hook_release,
	    .wake = hook_wake,
	    .now_ns = hook_now,
	    .live_update = hook_live_update,
	    .reattach = hook_reattach,
	    .journal = hook_journal,
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
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	lu_paths(&x, path);

	x.epfd = epoll_create1(EPOLL_CLOEXEC);
	x.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (x.epfd < 0 || x.sigfd < 0) {
		pvk_err("epoll/signalfd: %s", strerror(errno));
		goto out;
	}
	if (xsd_domains_new(NULL, x.epfd, o.platform, &x.doms)) {
		pvk_err("out of memory");
		goto out;
	}
	if (o.restore) {
		int lrc = restore(&x, o.restore, &hooks);

		if (lrc)
			pvk_err("live update: cannot restore %s: %s; starting "
				"with an empty store",
				o.restore, strerror(-lrc));
		else
			pvk_info("live update: restored %zu nodes",
				 xs_core_node_count(x.core));
	}
	if (o.journal) {
		int jrc = journal_start(&x, o.journal, &o.q, &hooks);

		if (jrc) {
			pvk_err("journal %s: %s; not starting (move the files "
				"away to begin an empty store)",
				o.journal, strerror(-jrc));
			goto out;
		}
	}
	if (!x.core && xs_core_new(&o.q, &hooks, &x.core)) {
		pvk_err("out of memory");
		goto out;
	}
	xsd_domains_set_core(x.doms, x.core);
	if (o.use_platform) {
		int prc = xsd_domains_start(x.doms);

		if (prc)
			pvk_warn("platform unavailable (%s): sockets only",
				 strerror(-prc));
	}
	if (x.jr && xsd_domains_has_own(x.doms)) {
		pvk_err("--journal: Dom0's own xenstore ring (real Xen) cannot "
			"be journaled yet; run without --journal");
		goto out;
	}
	if (x.lfd < 0)
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
	pvk_raise_nofile();
	if (o.pid_file && pvk_write_pidfile(o.pid_file)) {
		pvk_err("cannot write %s", o.pid_file);
		goto out;
	}
	pvk_info("listening on %s", path);
	xsd_domains_recheck(x.doms);
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
	if (x.jr)
		xsd_journal_flush(x.jr);
	hooks.journal = NULL; /* what goes now is not the store's history */
	if (x.core)
		xs_core_set_hooks(x.core, &hooks);
	xs_core_free(x.core); /* releases domain connections first */
	xsd_journal_free(x.jr);
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
