/*
 * consoled.c - pvkit-consoled, the Dom0 PV console backend (xenconsoled's
 * role).
 *
 * Watches @introduceDomain / @releaseDomain, and for each domain maps the
 * console page named by /local/domain/N/console/ring-ref (fmem ops), binds
 * console/port (evtchn ops), appends the guest's output to
 * <log-dir>/console-<name>.log and relays it to clients of a unix socket
 * ("attach <domid>\n", answered "ok\n" or "error <why>\n", then raw bytes
 * both ways; client bytes go to the guest's input ring).
 *
 * Everything a guest controls is bounded: ring indices are checked by the
 * ring core (console/ring.c), xenstore values are parsed with limits, its
 * pending input and every client's pending output have fixed caps, an
 * event storm is throttled and the log file is rotated at a size limit.  A
 * guest that publishes a bogus index has its console detached, with the
 * reason logged; the daemon carries on.
 *
 * One thread (poll loop); xenstore watch callbacks only wake it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"
#include "console/ring.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"

#define IBUF_SIZE 4096u          /* a domain's input not yet in its ring */
#define CLIENT_OBUF (64u * 1024) /* a client's output not yet sent */
#define MAX_CLIENTS 64u
#define ATTACH_LINE_MAX 64u
#define STORM_WINDOW_NS 100000000ull /* 100 ms */
#define STORM_EVENTS 500u            /* events per window before throttling */
#define SCAN_BATCH 128u
#define RECHECK_MS 100 /* rings are re-read this often without events */

struct cons_client;

struct cons_dom {
	struct cons_dom *next;
	domid_t domid;
	char name[64];
	bool seen;           /* in the latest scan */
	bool attached;       /* ring mapped and port bound */
	char reason[96];     /* why it is not attached */
	struct xencons_interface *intf;
	evtchn_port_t lport; /* our end */
	struct cons_back ring;
	int log_fd;
	off_t log_size;
	char ibuf[IBUF_SIZE];
	size_t ilen;
	uint64_t win_start;
	unsigned int win_events;
	bool throttled;
};

struct cons_client {
	struct cons_client *next;
	int fd;
	struct cons_dom *dom; /* NULL until attached (and after detach) */
	domid_t domid;        /* the domain attached to, for messages */
	bool rd_eof;          /* the client sent EOF: output only */
	char line[ATTACH_LINE_MAX];
	size_t line_len;
	char *obuf; /* CLIENT_OBUF bytes, a ring */
	size_t ohead, olen;
	uint64_t dropped;
	bool dead;
};

struct consoled {
	struct pvk_platform *plat;
	struct pvk_evtchn *evh;
	struct pvk_fmem *fmem;
	struct xs_client *xs;
	int wake_fd, listen_fd, sig_fd; /* sig_fd: the daemon skeleton's */
	const char *sock;               /* --socket */
	const char *log_dir;
	off_t log_max;
	struct cons_dom *doms;
	struct cons_client *clients;
	unsigned int nclients;
	bool xs_broken_logged;
	bool quit;
};

/* ---- domains ---------------------------------------------------------- */

static struct cons_dom *dom_find(struct consoled *d, domid_t domid)
{
	struct cons_dom *dom;

	for (dom = d->doms; dom; dom = dom->next)
		if (dom->domid == domid)
			return dom;
	return NULL;
}

static struct cons_dom *dom_by_port(struct consoled *d, evtchn_port_t p)
{
	struct cons_dom *dom;

	for (dom = d->doms; dom; dom = dom->next)
		if (dom->attached && dom->lport == p)
			return dom;
	return NULL;
}

/* A file name from the hypervisor's domain name: [A-Za-z0-9._+-] kept,
 * anything else '_', no leading '.', never empty. */
static void name_sanitise(char *out, size_t len, const char *name,
			  domid_t domid)
{
	size_t i;

	for (i = 0; name[i] && i < len - 1; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
			  ch == '+' || ch == '-';

		out[i] = ok && !(i == 0 && ch == '.') ? ch : '_';
	}
	out[i] = 0;
	if (!out[0])
		snprintf(out, len, "d%u", domid);
}

static void log_open(struct consoled *d, struct cons_dom *dom)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/console-%s.log", d->log_dir,
		 dom->name);
	dom->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
					 O_NOFOLLOW,
			   0640);
	if (dom->log_fd < 0) {
		pvk_warn("d%u: cannot open %s: %m", dom->domid, path);
		return;
	}
	dom->log_size = fstat(dom->log_fd, &st) == 0 ? st.st_size : 0;
}

/* Append to the domain's log, rotating it to .1 past the size limit. */
static void log_write(struct consoled *d, struct cons_dom *dom,
		      const char *buf, size_t len)
{
	char path[512], old[520];

	if (dom->log_fd < 0)
		return;
	if (dom->log_size + (off_t)len > d->log_max) {
		snprintf(path, sizeof(path), "%s/console-%s.log", d->log_dir,
			 dom->name);
		snprintf(old, sizeof(old), "%s.1", path);
		close(dom->log_fd);
		if (rename(path, old) < 0)
			pvk_warn("d%u: cannot rotate %s: %m", dom->domid, path);
		log_open(d, dom);
		if (dom->log_fd < 0)
			return;
	}
	if (pvk_write_all(dom->log_fd, buf, len) < 0) {
		pvk_warn("d%u: log write failed; logging stopped", dom->domid);
		close(dom->log_fd);
		dom->log_fd = -1;
		return;
	}
	dom->log_size += (off_t)len;
}

static void client_send(struct cons_client *c, const char *buf, size_t len);

static void dom_broadcast(struct consoled *d, struct cons_dom *dom,
			  const char *buf, size_t len)
{
	struct cons_client *c;

	for (c = d->clients; c; c = c->next)
		if (c->dom == dom && !c->dead)
			client_send(c, buf, len);
}

/* Stop serving the ring (the domain record stays, with the reason, so the
 * domain is not picked up again until it goes away). */
static void dom_detach(struct consoled *d, struct cons_dom *dom,
		       const char *why, bool misbehaved)
{
	char msg[160];
	struct cons_client *c;
	int n;

	if (misbehaved)
		pvk_warn("d%u (%s): console detached: %s", dom->domid,
			 dom->name, why);
	snprintf(dom->reason, sizeof(dom->reason), "%s", why);
	if (dom->attached) {
		d->plat->evtchn->unbind(d->evh, dom->lport);
		d->plat->fmem->unmap(d->fmem, dom->intf, 1);
		dom->intf = NULL;
		dom->attached = false;
	}
	n = snprintf(msg, sizeof(msg), "\r\n[pvkit-consoled: console %s: %s]\r\n",
		     misbehaved ? "detached" : "closed", why);
	if (n > 0 && (size_t)n < sizeof(msg)) {
		if (misbehaved)
			log_write(d, dom, msg + 2, (size_t)n - 2);
		dom_broadcast(d, dom, msg, (size_t)n);
	}
	for (c = d->clients; c; c = c->next)
		if (c->dom == dom) {
			c->dead = true; /* flushed once, then closed */
			c->dom = NULL;
		}
	dom->ilen = 0;
}

static void dom_free(struct consoled *d, struct cons_dom *dom)
{
	struct cons_dom **pp;

	dom_detach(d, dom, "domain gone", false);
	if (dom->log_fd >= 0)
		close(dom->log_fd);
	for (pp = &d->doms; *pp; pp = &(*pp)->next)
		if (*pp == dom) {
			*pp = dom->next;
			break;
		}
	free(dom);
}

/* Read one of the domain's console/ keys as a number in [min, max]. */
static int dom_read_u64(struct consoled *d, domid_t domid, const char *key,
			uint64_t min, uint64_t max, uint64_t *out)
{
	char path[64], *val = NULL;
	size_t len = 0;
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%u/console/%s", domid,
		 key);
	rc = xs_read(d->xs, XS_TX_NONE, path, &val, &len);
	if (rc)
		return rc;
	rc = pvk_parse_u64(val, min, max, out);
	free(val);
	return rc;
}

static void dom_service(struct consoled *d, struct cons_dom *dom);

/* Connect a domain seen for the first time.  Returns -ENOENT while its
 * xenstore nodes are not written yet (no record is kept: retried at the
 * next scan); every other failure leaves a detached record. */
static int dom_connect(struct consoled *d, const struct pvk_dominfo *info)
{
	struct cons_dom *dom;
	uint64_t gfn, port;
	xen_pfn_t pfn;
	void *page = NULL;
	char why[96];
	int rc;

	rc = dom_read_u64(d, info->domid, "ring-ref", 0,
			  ((uint64_t)1 << 52) - 1, &gfn);
	if (!rc)
		rc = dom_read_u64(d, info->domid, "port", 1, (1u << 17) - 1,
				  &port);
	if (rc == -ENOENT || rc == -EACCES || rc == -EIO)
		return rc;
	dom = calloc(1, sizeof(*dom));
	if (!dom)
		return -ENOMEM;
	dom->domid = info->domid;
	dom->log_fd = -1;
	name_sanitise(dom->name, sizeof(dom->name), info->name, info->domid);
	dom->next = d->doms;
	d->doms = dom;
	log_open(d, dom);
	if (rc) {
		snprintf(why, sizeof(why), "bad console/ring-ref or port (%s)",
			 strerror(-rc));
		goto fail;
	}
	pfn = (xen_pfn_t)gfn;
	rc = d->plat->fmem->map(d->fmem, dom->domid, &pfn, 1, 1, &page);
	if (rc) {
		snprintf(why, sizeof(why), "cannot map ring gfn %#llx (%s)",
			 (unsigned long long)gfn, strerror(-rc));
		goto fail;
	}
	rc = d->plat->evtchn->bind_interdomain(d->evh, dom->domid,
					       (evtchn_port_t)port,
					       &dom->lport);
	if (rc) {
		d->plat->fmem->unmap(d->fmem, page, 1);
		snprintf(why, sizeof(why), "cannot bind port %llu (%s)",
			 (unsigned long long)port, strerror(-rc));
		goto fail;
	}
	dom->intf = page;
	dom->attached = true;
	cons_back_init(&dom->ring, dom->intf);
	pvk_info("d%u (%s): console connected (gfn %#llx, port %llu -> %u)",
		 dom->domid, dom->name, (unsigned long long)gfn,
		 (unsigned long long)port, dom->lport);
	dom_service(d, dom); /* output written before we came */
	return 0;
fail:
	dom_detach(d, dom, why, true);
	return rc;
}

/* Move pending input into the ring, drain the output ring. */
static void dom_service(struct consoled *d, struct cons_dom *dom)
{
	char buf[sizeof(dom->intf->out)];
	bool notify = false;
	ssize_t n;

	if (!dom->attached)
		return;
	if (dom->ilen) {
		n = cons_ring_write(&dom->ring.in, dom->ibuf, dom->ilen);
		if (n < 0) {
			dom_detach(d, dom, "bogus input ring index (in_cons)",
				   true);
			return;
		}
		if (n > 0) {
			memmove(dom->ibuf, dom->ibuf + n, dom->ilen - (size_t)n);
			dom->ilen -= (size_t)n;
			notify = true;
		}
	}
	/* One read empties the ring; more output comes with a new event. */
	n = cons_ring_read(&dom->ring.out, buf, sizeof(buf));
	if (n < 0) {
		dom_detach(d, dom, "bogus output ring index (out_prod)", true);
		return;
	}
	if (n > 0) {
		log_write(d, dom, buf, (size_t)n);
		dom_broadcast(d, dom, buf, (size_t)n);
		notify = true;
	}
	if (notify)
		d->plat->evtchn->notify(d->evh, dom->lport);
}

/* Reconcile with the hypervisor's domain list: connect new domains,
 * release those gone or dying. */
static void domains_scan(struct consoled *d)
{
	struct pvk_dominfo info[SCAN_BATCH];
	struct cons_dom *dom, *next;
	domid_t first = 1;
	int n, i;

	for (dom = d->doms; dom; dom = dom->next)
		dom->seen = false;
	for (;;) {
		n = d->plat->domctl->list(d->plat, first, info, SCAN_BATCH);
		if (n < 0) {
			pvk_warn("domain list: %s", strerror(-n));
			return; /* keep everything as it is */
		}
		for (i = 0; i < n; i++) {
			if (info[i].domid == 0 ||
			    info[i].domid >= DOMID_FIRST_RESERVED ||
			    (info[i].flags & PVK_DOMINFO_DYING))
				continue;
			dom = dom_find(d, info[i].domid);
			if (!dom && dom_connect(d, &info[i]) != -ENOENT)
				dom = dom_find(d, info[i].domid);
			if (dom)
				dom->seen = true;
		}
		if ((unsigned int)n < SCAN_BATCH ||
		    info[n - 1].domid >= DOMID_FIRST_RESERVED - 1)
			break;
		first = (domid_t)(info[n - 1].domid + 1);
	}
	for (dom = d->doms; dom; dom = next) {
		next = dom->next;
		if (!dom->seen) {
			pvk_info("d%u (%s): released", dom->domid, dom->name);
			dom_free(d, dom);
		}
	}
}

static void events_handle(struct consoled *d)
{
	struct cons_dom *dom;
	evtchn_port_t p;
	uint64_t now;

	while (d->plat->evtchn->pending(d->evh, &p) == 0) {
		dom = dom_by_port(d, p);
		if (!dom) {
			d->plat->evtchn->unmask(d->evh, p);
			continue;
		}
		now = pvk_now_ns();
		if (now - dom->win_start > STORM_WINDOW_NS) {
			dom->win_start = now;
			dom->win_events = 0;
		}
		dom_service(d, dom);
		if (!dom->attached)
			continue;
		if (++dom->win_events > STORM_EVENTS) {
			if (!dom->throttled)
				pvk_warn("d%u (%s): event storm, throttled",
					 dom->domid, dom->name);
			dom->throttled = true; /* stays masked for now */
			continue;
		}
		d->plat->evtchn->unmask(d->evh, p);
	}
}

/* Unmask throttled ports whose window has passed; true if any remain. */
static bool storms_release(struct consoled *d)
{
	uint64_t now = pvk_now_ns();
	struct cons_dom *dom;
	bool left = false;

	for (dom = d->doms; dom; dom = dom->next) {
		if (!dom->throttled)
			continue;
		if (now - dom->win_start <= STORM_WINDOW_NS) {
			left = true;
			continue;
		}
		dom->throttled = false;
		dom->win_start = now;
		dom->win_events = 0;
		if (dom->attached) {
			dom_service(d, dom);
			if (dom->attached)
				d->plat->evtchn->unmask(d->evh, dom->lport);
		}
	}
	return left;
}

/* ---- clients ---------------------------------------------------------- */

static void client_flush(struct cons_client *c)
{
	ssize_t n;
	size_t chunk;

	while (c->olen) {
		chunk = CLIENT_OBUF - c->ohead < c->olen ? CLIENT_OBUF - c->ohead
							 : c->olen;
		n = send(c->fd, c->obuf + c->ohead, chunk,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				c->dead = true;
				c->olen = 0;
			}
			return;
		}
		c->ohead = (c->ohead + (size_t)n) % CLIENT_OBUF;
		c->olen -= (size_t)n;
	}
	c->ohead = 0;
}

/* Queue output for a client; what does not fit is dropped (counted). */
static void client_send(struct cons_client *c, const char *buf, size_t len)
{
	size_t room = CLIENT_OBUF - c->olen, tail, first;

	if (len > room) {
		c->dropped += len - room;
		len = room;
	}
	tail = (c->ohead + c->olen) % CLIENT_OBUF;
	first = CLIENT_OBUF - tail < len ? CLIENT_OBUF - tail : len;
	memcpy(c->obuf + tail, buf, first);
	memcpy(c->obuf, buf + first, len - first);
	c->olen += len;
	client_flush(c);
}

static void client_free(struct consoled *d, struct cons_client *c)
{
	struct cons_client **pp;

	for (pp = &d->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->dropped)
		pvk_info("client of d%u: %llu output bytes dropped (slow reader)",
			 c->domid,
			 (unsigned long long)c->dropped);
	close(c->fd);
	free(c->obuf);
	free(c);
	d->nclients--;
}

static void client_accept(struct consoled *d)
{
	struct cons_client *c;
	int fd;

	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (d->nclients >= MAX_CLIENTS) {
		static const char msg[] = "error too many clients\n";

		send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->obuf = malloc(CLIENT_OBUF);
	if (!c || !c->obuf) {
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	c->next = d->clients;
	d->clients = c;
	d->nclients++;
}

static void client_refuse(struct cons_client *c, const char *why)
{
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "error %s\n", why);

	client_send(c, msg, (size_t)n < sizeof(msg) ? (size_t)n : 0);
	c->dead = true;
}

/* Take client bytes as input for its domain (as much as fits). */
static void client_input(struct consoled *d, struct cons_client *c,
			 const char *buf, size_t len)
{
	struct cons_dom *dom = c->dom;
	size_t room = IBUF_SIZE - dom->ilen;

	if (len > room)
		len = room; /* only when the attach line carried extra bytes */
	memcpy(dom->ibuf + dom->ilen, buf, len);
	dom->ilen += len;
	dom_service(d, dom);
}

/* "attach <domid>" */
static void client_attach(struct consoled *d, struct cons_client *c)
{
	struct cons_dom *dom;
	uint64_t id;

	if (strncmp(c->line, "attach ", 7) ||
	    pvk_parse_u64(c->line + 7, 1, DOMID_FIRST_RESERVED - 1, &id)) {
		client_refuse(c, "expected: attach <domid>");
		return;
	}
	dom = dom_find(d, (domid_t)id);
	if (!dom) {
		domains_scan(d); /* it may have just been created */
		dom = dom_find(d, (domid_t)id);
	}
	if (!dom) {
		client_refuse(c, "no console for that domain");
		return;
	}
	if (!dom->attached) {
		client_refuse(c, dom->reason);
		return;
	}
	c->dom = dom;
	c->domid = dom->domid;
	client_send(c, "ok\n", 3);
}

/* hup: the peer closed both directions. */
static void client_readable(struct consoled *d, struct cons_client *c,
			    bool hup)
{
	char buf[1024];
	size_t want = sizeof(buf), i;
	ssize_t n;

	if (c->dom && IBUF_SIZE - c->dom->ilen < want)
		want = IBUF_SIZE - c->dom->ilen;
	if (!want) {
		if (hup)
			c->dead = true; /* gone, and its input has no room */
		return;
	}
	n = recv(c->fd, buf, want, MSG_DONTWAIT);
	if (n == 0) {
		/* EOF: a half-closed client keeps receiving output. */
		c->rd_eof = true;
		if (!c->dom || hup)
			c->dead = true;
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	if (c->dom) {
		client_input(d, c, buf, (size_t)n);
		return;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (buf[i] == '\n') {
			c->line[c->line_len] = 0;
			client_attach(d, c);
			if (c->dom && i + 1 < (size_t)n)
				client_input(d, c, buf + i + 1,
					     (size_t)n - i - 1);
			return;
		}
		if (c->line_len >= sizeof(c->line) - 1) {
			client_refuse(c, "attach line too long");
			return;
		}
		c->line[c->line_len++] = buf[i];
	}
}

/* ---- main loop ---------------------------------------------------------- */

static void on_watch(struct xs_client *xs, const char *path,
		     const char *token, void *arg)
{
	struct consoled *d = arg;
	uint64_t one = 1;

	(void)xs;
	(void)path;
	(void)token;
	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		pvk_warn("cannot wake the main loop");
}

enum { PFD_WAKE, PFD_EVTCHN, PFD_LISTEN, PFD_SIG, PFD_CLIENTS };

static int loop(struct consoled *d)
{
	struct pollfd pfd[PFD_CLIENTS + MAX_CLIENTS];
	struct cons_client *cl[MAX_CLIENTS], *c, *next;
	struct signalfd_siginfo si;
	unsigned int nc, i;
	uint64_t cnt, last_scan = 0, last_recheck = 0;
	struct cons_dom *dom;
	int timeout;

	while (!d->quit) {
		pfd[PFD_WAKE] = (struct pollfd){.fd = d->wake_fd, .events = POLLIN};
		pfd[PFD_EVTCHN] = (struct pollfd){
			.fd = d->plat->evtchn->fd(d->evh), .events = POLLIN};
		pfd[PFD_LISTEN] = (struct pollfd){.fd = d->listen_fd,
						  .events = POLLIN};
		pfd[PFD_SIG] = (struct pollfd){.fd = d->sig_fd, .events = POLLIN};
		nc = 0;
		for (c = d->clients; c && nc < MAX_CLIENTS; c = c->next) {
			short ev = 0;

			/* Input only while the domain can take it. */
			if (!c->rd_eof &&
			    (!c->dom || IBUF_SIZE - c->dom->ilen > 0))
				ev |= POLLIN;
			if (c->olen)
				ev |= POLLOUT;
			cl[nc] = c;
			pfd[PFD_CLIENTS + nc++] =
				(struct pollfd){.fd = c->fd, .events = ev};
		}
		timeout = storms_release(d) ? 20 : RECHECK_MS;
		if (poll(pfd, PFD_CLIENTS + nc, timeout) < 0) {
			if (errno == EINTR)
				continue;
			pvk_err("poll: %m");
			return -errno;
		}
		if (pfd[PFD_SIG].revents &&
		    read(d->sig_fd, &si, sizeof(si)) == sizeof(si))
			d->quit = true;
		if (pfd[PFD_WAKE].revents) {
			if (read(d->wake_fd, &cnt, sizeof(cnt)) < 0)
				cnt = 0;
			domains_scan(d);
			last_scan = pvk_now_ns();
		}
		if (pvk_now_ns() - last_recheck > RECHECK_MS * 1000000ull) {
			/* A lost or coalesced notification costs no more. */
			for (dom = d->doms; dom; dom = dom->next)
				if (!dom->throttled)
					dom_service(d, dom);
			last_recheck = pvk_now_ns();
		}
		if (pvk_now_ns() - last_scan > 1000000000ull) {
			/* A slow fallback for a missed watch. */
			domains_scan(d);
			last_scan = pvk_now_ns();
		}
		if (pfd[PFD_EVTCHN].revents)
			events_handle(d);
		for (i = 0; i < nc; i++) {
			c = cl[i];
			if (c->dead)
				continue;
			if (pfd[PFD_CLIENTS + i].revents & POLLOUT)
				client_flush(c);
			if (pfd[PFD_CLIENTS + i].revents & (POLLIN | POLLHUP))
				client_readable(
					d, c,
					pfd[PFD_CLIENTS + i].revents & POLLHUP);
			if (pfd[PFD_CLIENTS + i].revents & (POLLERR | POLLNVAL))
				c->dead = true;
		}
		for (c = d->clients; c; c = next) {
			next = c->next;
			if (c->dead) {
				client_flush(c);
				client_free(d, c);
			}
		}
		if (pfd[PFD_LISTEN].revents)
			client_accept(d);
		if (!d->xs_broken_logged && xs_client_error(d->xs)) {
			pvk_err("xenstore connection lost (%s); new domains "
				"are no longer picked up",
				strerror(-xs_client_error(d->xs)));
			d->xs_broken_logged = true;
		}
	}
	return 0;
}

/* consoled's own options: -s, -l, -m (arg is the struct consoled, with
 * the socket path kept in its sock). */
static int cd_option(void *arg, int c, const char *val)
{
	struct consoled *d = arg;
	uint64_t v;

	switch (c) {
	case 's':
		d->sock = val;
		return 0;
	case 'l':
		d->log_dir = val;
		return 0;
	case 'm':
		if (pvk_parse_u64(val, 4096, (uint64_t)1 << 40, &v)) {
			fprintf(stderr, "bad --log-max '%s'\n", val);
			return -EINVAL;
		}
		d->log_max = (off_t)v;
		return 0;
	default:
		return -EINVAL;
	}
}

static const struct option cd_lopts[] = {
	{"socket", required_argument, NULL, 's'},
	{"log-dir", required_argument, NULL, 'l'},
	{"log-max", required_argument, NULL, 'm'},
	{NULL, 0, NULL, 0},
};

static const struct pvk_daemon_spec cd_spec = {
	.name = "pvkit-consoled",
	.synopsis = "--socket PATH [options]",
	.usage = "  -s, --socket PATH         clients attach here "
		 "(\"attach <domid>\")\n"
		 "  -l, --log-dir DIR         guest output to "
		 "DIR/console-<name>.log (default .)\n"
		 "  -m, --log-max BYTES       rotate a log to .1 past this size "
		 "(default 8 MiB)\n",
	.footer = "Environment: XENSTORED_PATH, PVKIT_HV_SOCK, "
		  "PVKIT_PLATFORM.\n",
	.shortopts = "s:l:m:",
	.longopts = cd_lopts,
	.option = cd_option,
};

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGHUP, 0};
	struct consoled d = {.wake_fd = -1, .listen_fd = -1, .sig_fd = -1,
			     .log_dir = ".", .log_max = 8 << 20};
	struct pvk_daemon dmn;
	const char *sock;
	int rc = 1;

	rc = pvk_daemon_parse(&dmn, &cd_spec, &d, argc, argv);
	if (rc)
		return rc == 1 ? 0 : 2;
	sock = d.sock;
	if (!sock || optind != argc) {
		fprintf(stderr, "usage: pvkit-consoled --socket PATH "
				"[options] (--help)\n");
		return 2;
	}
	/* Before any thread starts, so only the signalfd sees them. */
	if (pvk_daemon_setup(&dmn, sigs, true))
		return 1;
	d.sig_fd = dmn.sig_fd;
	d.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d.wake_fd < 0) {
		pvk_err("eventfd: %m");
		goto out;
	}
	rc = pvk_platform_open(NULL, &d.plat);
	if (rc) {
		pvk_err("platform: %s", strerror(-rc));
		goto out_rc;
	}
	rc = d.plat->evtchn->open(d.plat, &d.evh);
	if (!rc)
		rc = d.plat->fmem->open(d.plat, &d.fmem);
	if (rc) {
		pvk_err("evtchn/fmem: %s", strerror(-rc));
		goto out_rc;
	}
	rc = xs_client_open_platform(d.plat, &d.xs);
	if (rc) {
		pvk_err("xenstore: %s", strerror(-rc));
		goto out_rc;
	}
	/* a restarted pvkit-xenstored keeps its store: carry on with it */
	xs_client_set_reconnect(d.xs, PVK_DAEMON_XS_RECONNECT_MS,
				pvk_daemon_xs_lost, &dmn);
	pvk_daemon_ready(&dmn);
	d.listen_fd = pvk_unix_listen(sock, SOCK_STREAM, 077);
	if (d.listen_fd < 0) {
		pvk_err("%s: %s", sock, strerror(-d.listen_fd));
		goto out;
	}
	rc = xs_watch(d.xs, "@introduceDomain", "intro", on_watch, &d);
	if (!rc)
		rc = xs_watch(d.xs, "@releaseDomain", "release", on_watch, &d);
	if (rc) {
		pvk_err("xenstore watches: %s", strerror(-rc));
		goto out_rc;
	}
	pvk_info("serving consoles on %s, logs in %s (platform %s)", sock,
		 d.log_dir, d.plat->name);
	rc = loop(&d);
	pvk_info("exiting");
	goto out_rc;
out:
	rc = -EIO;
out_rc:
	if (d.xs)
		xs_client_close(d.xs); /* no more watch callbacks */
	d.xs = NULL;
	while (d.clients)
		client_free(&d, d.clients);
	while (d.doms)
		dom_free(&d, d.doms);
	if (d.listen_fd >= 0) {
		close(d.listen_fd);
		unlink(sock);
	}
	if (d.fmem)
		d.plat->fmem->close(d.fmem);
	if (d.evh)
		d.plat->evtchn->close(d.evh);
	if (d.plat)
		pvk_platform_close(d.plat);
	if (d.wake_fd >= 0)
		close(d.wake_fd);
	pvk_daemon_end(&dmn); /* the pid file, the signalfd */
	return rc || dmn.xs_lost ? 1 : 0;
}
