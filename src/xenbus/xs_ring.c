/*
 * xs_ring.c - the xenstore shared ring: pure producer/consumer copies over
 * a struct xenstore_domain_interface (indices from the peer are validated),
 * and the client transport that drives them with an event channel.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvkit/platform.h"
#include "xenbus/xs_internal.h"

static uint32_t idx_load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void idx_store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

ssize_t xs_ring_put(char *ring, uint32_t *cons_p, uint32_t *prod_p,
		    const void *buf, size_t len)
{
	/* Each index is read once; everything below works on the copies. */
	uint32_t cons = idx_load(cons_p), prod = idx_load(prod_p);
	uint32_t used = prod - cons, space, chunk, off;
	size_t done = 0;

	if (used > XENSTORE_RING_SIZE)
		return -EIO;
	space = XENSTORE_RING_SIZE - used;
	while (done < len && space) {
		off = MASK_XENSTORE_IDX(prod);
		chunk = XENSTORE_RING_SIZE - off;
		if (chunk > space)
			chunk = space;
		if (chunk > len - done)
			chunk = (uint32_t)(len - done);
		memcpy(ring + off, (const char *)buf + done, chunk);
		done += chunk;
		prod += chunk;
		space -= chunk;
	}
	if (done)
		idx_store(prod_p, prod); /* data visible before the index */
	return (ssize_t)done;
}

ssize_t xs_ring_get(char *ring, uint32_t *cons_p, uint32_t *prod_p, void *buf,
		    size_t len)
{
	uint32_t prod = idx_load(prod_p), cons = idx_load(cons_p);
	uint32_t avail = prod - cons, chunk, off;
	size_t done = 0;

	if (avail > XENSTORE_RING_SIZE)
		return -EIO;
	while (done < len && avail) {
		off = MASK_XENSTORE_IDX(cons);
		chunk = XENSTORE_RING_SIZE - off;
		if (chunk > avail)
			chunk = avail;
		if (chunk > len - done)
			chunk = (uint32_t)(len - done);
		memcpy((char *)buf + done, ring + off, chunk);
		done += chunk;
		cons += chunk;
		avail -= chunk;
	}
	if (done) /* a release store: the data reads complete before it */
		idx_store(cons_p, cons);
	return (ssize_t)done;
}

/* ---- the ring transport ---------------------------------------------- */

struct ring_transport {
	struct xs_transport t;
	struct xenstore_domain_interface *intf;
	const struct pvk_evtchn_ops *ops;
	struct pvk_evtchn *h;
	evtchn_port_t port;
	/* The reader thread owns the event channel; a writer waiting for
	 * space sleeps on space_cond, which the reader signals per event. */
	pthread_mutex_t lock;
	pthread_cond_t space_cond;
	unsigned long events;
};

/* The index was published with a release store; the notify itself is a
 * system call (or hypercall), a full barrier. */
static int ring_notify(struct ring_transport *r)
{
	return r->ops->notify(r->h, r->port);
}

static bool stop_fired(int stopfd)
{
	struct pollfd p = {.fd = stopfd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

static int ring_write(struct xs_transport *t, const void *buf, size_t len,
		      int stopfd)
{
	struct ring_transport *r = (struct ring_transport *)t;
	size_t done = 0;
	int rc;

	while (done < len) {
		unsigned long seen;
		ssize_t n;

		pthread_mutex_lock(&r->lock);
		seen = r->events;
		pthread_mutex_unlock(&r->lock);
		n = xs_ring_client_put(r->intf, (const char *)buf + done,
				       len - done);
		if (n < 0)
			return (int)n;
		if (n > 0) {
			done += (size_t)n;
			rc = ring_notify(r);
			if (rc < 0)
				return rc;
			continue;
		}
		if (stop_fired(stopfd))
			return -ECANCELED;
		/* Ring full: wait for the daemon's next event (or 10 ms, in
		 * case no reader is running to report it). */
		pthread_mutex_lock(&r->lock);
		if (r->events == seen) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r->space_cond, &r->lock, &ts);
		}
		pthread_mutex_unlock(&r->lock);
	}
	return 0;
}

/* Consume every pending port and let writers re-check for space. */
static int ring_ack_events(struct ring_transport *r)
{
	evtchn_port_t p;
	int rc;

	while ((rc = r->ops->pending(r->h, &p)) == 0) {
		rc = r->ops->unmask(r->h, p);
		if (rc < 0)
			return rc;
	}
	pthread_mutex_lock(&r->lock);
	r->events++;
	pthread_cond_broadcast(&r->space_cond);
	pthread_mutex_unlock(&r->lock);
	return rc == -EAGAIN ? 0 : rc;
}

static ssize_t ring_read(struct xs_transport *t, void *buf, size_t len,
			 int stopfd)
{
	struct ring_transport *r = (struct ring_transport *)t;
	struct pollfd p[2];
	int rc;

	for (;;) {
		ssize_t n = xs_ring_client_get(r->intf, buf, len);

		if (n != 0) {
			if (n > 0 && (rc = ring_notify(r)) < 0)
				return rc;
			return n;
		}
		p[0] = (struct pollfd){.fd = r->ops->fd(r->h), .events = POLLIN};
		p[1] = (struct pollfd){.fd = stopfd, .events = POLLIN};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ECANCELED;
		if (p[0].revents & (POLLERR | POLLNVAL))
			return -EIO;
		if (p[0].revents && (rc = ring_ack_events(r)) < 0)
			return rc;
	}
}

static void ring_close(struct xs_transport *t)
{
	struct ring_transport *r = (struct ring_transport *)t;

	pthread_cond_destroy(&r->space_cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static const struct xs_transport_ops ring_ops = {
	.write = ring_write,
	.read = ring_read,
	.close = ring_close,
};

int xs_transport_ring_new(struct xenstore_domain_interface *intf,
			  const struct pvk_evtchn_ops *ops,
			  struct pvk_evtchn *h, evtchn_port_t port,
			  struct xs_transport **out)
{
	struct ring_transport *r;

	if (!intf || !ops || !h)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->t.ops = &ring_ops;
	r->intf = intf;
	r->ops = ops;
	r->h = h;
	r->port = port;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->space_cond, NULL);
	*out = &r->t;
	return 0;
}
