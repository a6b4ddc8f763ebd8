/*
 * evtchn.c - the emulated platform's event channels, libxenevtchn style.
 *
 * A handle owns the ports bound through it.  The runtime runs evtchn_fire()
 * on a vCPU thread when one of them fires: the port is masked, queued on
 * its handle (at most once: the queue is bounded by the port space) and the
 * handle's eventfd is signalled.  pending() pops, unmask() re-enables.
 *
 * Direct delivery: a bound interdomain port's inbox is claimed from the
 * runtime, so a peer's event wakes the handle's user at once instead of a
 * vCPU thread first.  The handle's fd is then an epoll set of its eventfd
 * and those inboxes; pending() drains the inboxes that are ready and queues
 * their ports under the same rule (a port delivered and not yet unmasked
 * keeps the event pending until unmask()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "platform/emulated/emu.h"

#define BITS_PER_WORD (sizeof(unsigned long) * 8)
#define BITMAP_WORDS ((EMU_NR_PORTS + BITS_PER_WORD - 1) / BITS_PER_WORD)

struct pvk_evtchn {
	struct emu *e;
	int efd;
	int epfd; /* efd + claimed inboxes; what fd() returns */
	/* under e->ev_lock */
	unsigned long queued[BITMAP_WORDS];
	unsigned long fired[BITMAP_WORDS];   /* direct: delivered, masked */
	unsigned long dpending[BITMAP_WORDS]; /* direct: came while masked */
	evtchn_port_t *queue; /* ring of EMU_NR_PORTS */
	uint32_t head, len;
	bool signalled; /* efd written since pending() last drained it */
};

static bool bit_test(const unsigned long *map, evtchn_port_t p)
{
	return map[p / BITS_PER_WORD] & (1UL << (p % BITS_PER_WORD));
}

static void bit_set(unsigned long *map, evtchn_port_t p)
{
	map[p / BITS_PER_WORD] |= 1UL << (p % BITS_PER_WORD);
}

static void bit_clear(unsigned long *map, evtchn_port_t p)
{
	map[p / BITS_PER_WORD] &= ~(1UL << (p % BITS_PER_WORD));
}

/* Runs on a vCPU dispatcher thread. */
static void evtchn_fire(struct pvk_rt *rt, evtchn_port_t port,
			unsigned int vcpu, void *arg)
{
	struct emu *e = arg;
	struct pvk_evtchn *h;
	uint64_t one = 1;

	(void)vcpu;
	if (port >= EMU_NR_PORTS)
		return;
	pvk_evtchn_mask(rt, port);
	pthread_mutex_lock(&e->ev_lock);
	h = e->port_owner[port];
	if (h && !bit_test(h->queued, port)) {
		bit_set(h->queued, port);
		h->queue[(h->head + h->len) % EMU_NR_PORTS] = port;
		h->len++;
		h->signalled = true;
		if (write(h->efd, &one, sizeof(one)) < 0)
			pvk_warn("evtchn: cannot signal handle");
	}
	pthread_mutex_unlock(&e->ev_lock);
}

static int evtchn_open(struct pvk_platform *plat, struct pvk_evtchn **out)
{
	struct pvk_evtchn *h = calloc(1, sizeof(*h));
	int rc = -ENOMEM;

	if (!h)
		return -ENOMEM;
	h->efd = h->epfd = -1;
	h->e = emu_of(plat);
	h->queue = calloc(EMU_NR_PORTS, sizeof(*h->queue));
	if (!h->queue)
		goto fail;
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->efd < 0 || h->epfd < 0) {
		rc = -errno;
		goto fail;
	}
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};

		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->efd, &ev) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	*out = h;
	return 0;
fail:
	if (h->efd >= 0)
		close(h->efd);
	if (h->epfd >= 0)
		close(h->epfd);
	free(h->queue);
	free(h);
	return rc;
}

static bool owns(struct pvk_evtchn *h, evtchn_port_t port)
{
	bool r;

	if (port == 0 || port >= EMU_NR_PORTS)
		return false;
	pthread_mutex_lock(&h->e->ev_lock);
	r = h->e->port_owner[port] == h;
	pthread_mutex_unlock(&h->e->ev_lock);
	return r;
}

/* Route port's events to h (the caller closes a fresh port on failure). */
static int adopt(struct pvk_evtchn *h, evtchn_port_t port)
{
	struct emu *e = h->e;
	int rc;

	if (port == 0 || port >= EMU_NR_PORTS)
		return -ERANGE;
	pthread_mutex_lock(&e->ev_lock);
	e->port_owner[port] = h;
	pthread_mutex_unlock(&e->ev_lock);
	rc = pvk_evtchn_set_handler(e->rt, port, evtchn_fire, e);
	if (rc) {
		pthread_mutex_lock(&e->ev_lock);
		e->port_owner[port] = NULL;
		pthread_mutex_unlock(&e->ev_lock);
		return rc;
	}
	/* Peers' direct events wake the handle's user itself. */
	{
		int fd = pvk_evtchn_direct_claim(e->rt, port);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = port};

		if (fd >= 0 && epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			pvk_warn("evtchn: port %u: cannot poll its inbox", port);
	}
	return 0;
}

/* Queue a port whose inbox had events (under ev_lock). */
static void direct_fire(struct pvk_evtchn *h, evtchn_port_t port)
{
	if (h->e->port_owner[port] != h || bit_test(h->queued, port))
		return;
	if (bit_test(h->fired, port)) {
		bit_set(h->dpending, port); /* until unmask() */
		return;
	}
	bit_set(h->fired, port);
	bit_set(h->queued, port);
	h->queue[(h->head + h->len) % EMU_NR_PORTS] = port;
	h->len++;
}

/* Drain the inboxes that are ready (under ev_lock). */
static void direct_harvest(struct pvk_evtchn *h)
{
	struct epoll_event evs[32];
	int i, n;

	do {
		n = epoll_wait(h->epfd, evs, 32, 0);
		for (i = 0; i < n; i++) {
			evtchn_port_t port = evs[i].data.u32;
			int got;

			if (port == 0 || port >= EMU_NR_PORTS)
				continue;
			got = pvk_evtchn_direct_drain(h->e->rt, port);
			if (got > 0) {
				direct_fire(h, port);
			} else if (got < 0) {
				/* Nobody can write to it any more (pvkit-hvd
				 * is gone): an inbox at EOF is readable for
				 * good, so it leaves the set, or every wait
				 * returns at once (a busy loop). */
				int fd = pvk_evtchn_direct_claim(h->e->rt,
								 port);

				pvk_debug("evtchn: port %u: inbox closed", port);
				if (fd >= 0)
					epoll_ctl(h->epfd, EPOLL_CTL_DEL, fd,
						  NULL);
			}
		}
	} while (n == 32);
}

/* Forget port: no more events reach h, and a queued one is dropped. */
static void disown(struct pvk_evtchn *h, evtchn_port_t port)
{
	struct emu *e = h->e;
	uint32_t i, n;

	pthread_mutex_lock(&e->ev_lock);
	if (e->port_owner[port] == h)
		e->port_owner[port] = NULL;
	bit_clear(h->fired, port);
	bit_clear(h->dpending, port);
	if (bit_test(h->queued, port)) {
		bit_clear(h->queued, port);
		for (i = 0, n = 0; i < h->len; i++) {
			evtchn_port_t p = h->queue[(h->head + i) % EMU_NR_PORTS];

			if (p != port)
				h->queue[(h->head + n++) % EMU_NR_PORTS] = p;
		}
		h->len = n;
	}
	pthread_mutex_unlock(&e->ev_lock);
}

static int evtchn_unbind(struct pvk_evtchn *h, evtchn_port_t port)
{
	if (!owns(h, port))
		return -EINVAL;
	pvk_evtchn_set_handler(h->e->rt, port, NULL, NULL);
	disown(h, port);
	return pvk_evtchn_close(h->e->rt, port);
}

static void evtchn_close(struct pvk_evtchn *h)
{
	evtchn_port_t p;

	if (!h)
		return;
	for (p = 1; p < EMU_NR_PORTS; p++)
		if (owns(h, p))
			evtchn_unbind(h, p);
	close(h->efd);
	close(h->epfd);
	free(h->queue);
	free(h);
}

static int evtchn_fd(struct pvk_evtchn *h)
{
	return h->epfd;
}

static int evtchn_pending(struct pvk_evtchn *h, evtchn_port_t *port)
{
	struct emu *e = h->e;
	uint64_t cnt;
	int rc = 0;

	pthread_mutex_lock(&e->ev_lock);
	direct_harvest(h);
	if (h->len == 0) {
		/* Drained under the lock: a later event re-arms the fd.
		 * Only written under it too, so unwritten means empty (one
		 * system call less per pass on the hot path). */
		if (h->signalled && read(h->efd, &cnt, sizeof(cnt)) < 0 &&
		    errno != EAGAIN)
			pvk_warn("evtchn: cannot drain handle fd");
		h->signalled = false;
		rc = -EAGAIN;
	} else {
		*port = h->queue[h->head];
		h->head = (h->head + 1) % EMU_NR_PORTS;
		h->len--;
		bit_clear(h->queued, *port);
	}
	pthread_mutex_unlock(&e->ev_lock);
	return rc;
}

static int evtchn_unmask(struct pvk_evtchn *h, evtchn_port_t port)
{
	uint64_t one = 1;

	if (!owns(h, port))
		return -EINVAL;
	pthread_mutex_lock(&h->e->ev_lock);
	bit_clear(h->fired, port);
	if (bit_test(h->dpending, port)) {
		bit_clear(h->dpending, port);
		direct_fire(h, port);
		h->signalled = true;
		if (write(h->efd, &one, sizeof(one)) < 0)
			pvk_warn("evtchn: cannot signal handle");
	}
	pthread_mutex_unlock(&h->e->ev_lock);
	pvk_evtchn_unmask(h->e->rt, port);
	return 0;
}

static int evtchn_notify(struct pvk_evtchn *h, evtchn_port_t port)
{
	if (!owns(h, port))
		return -EINVAL;
	return pvk_evtchn_send(h->e->rt, port, false);
}

/* Finish a bind: on success the new port becomes h's. */
static int bound(struct pvk_evtchn *h, int rc, evtchn_port_t p,
		 evtchn_port_t *local)
{
	if (rc)
		return rc;
	rc = adopt(h, p);
	if (rc == 0)
		*local = p;
	else
		pvk_evtchn_close(h->e->rt, p);
	return rc;
}

static int evtchn_bind_interdomain(struct pvk_evtchn *h, domid_t remote_dom,
				   evtchn_port_t remote_port,
				   evtchn_port_t *local)
{
	evtchn_port_t p = 0;
	int rc = pvk_evtchn_bind_interdomain(h->e->rt, remote_dom,
					     remote_port, &p);

	return bound(h, rc, p, local);
}

static int evtchn_bind_unbound(struct pvk_evtchn *h, domid_t remote_dom,
			       evtchn_port_t *local)
{
	evtchn_port_t p = 0;
	int rc = pvk_evtchn_alloc_unbound(h->e->rt, remote_dom, &p);

	return bound(h, rc, p, local);
}

static int evtchn_bind_virq(struct pvk_evtchn *h, uint32_t virq,
			    evtchn_port_t *local)
{
	evtchn_port_t p = 0;
	int rc = pvk_evtchn_bind_virq(h->e->rt, virq, 0, &p);

	return bound(h, rc, p, local);
}

const struct pvk_evtchn_ops emu_evtchn_ops = {
	.open = evtchn_open,
	.close = evtchn_close,
	.fd = evtchn_fd,
	.pending = evtchn_pending,
	.unmask = evtchn_unmask,
	.notify = evtchn_notify,
	.bind_interdomain = evtchn_bind_interdomain,
	.bind_unbound = evtchn_bind_unbound,
	.bind_virq = evtchn_bind_virq,
	.unbind = evtchn_unbind,
};

/* A DomU kernel's own pre-allocated ports (the xenstore and console ports
 * the toolstack allocated in HVM params) join a handle explicitly. */
int pvk_platform_emulated_adopt_port(struct pvk_evtchn *h, evtchn_port_t port)
{
	if (port == 0 || port >= EMU_NR_PORTS)
		return -ERANGE;
	if (owns(h, port))
		return 0;
	return adopt(h, port);
}
