/*
 * ring.c - the PV console ring core (see ring.h): bounded copies in and out
 * of one direction of a struct xencons_interface, with the peer's index
 * fetched once and checked before it is used.
 */
#include "console/ring.h"

#include <errno.h>
#include <string.h>

void cons_ring_init(struct cons_ring *r, char *buf, uint32_t size,
		    XENCONS_RING_IDX *own, XENCONS_RING_IDX *peer,
		    bool producer)
{
	r->buf = buf;
	r->size = size;
	r->own = own;
	r->peer = peer;
	r->idx = __atomic_load_n(own, __ATOMIC_RELAXED);
	r->producer = producer;
}

void cons_front_init(struct cons_front *f, struct xencons_interface *intf)
{
	cons_ring_init(&f->out, intf->out, sizeof(intf->out), &intf->out_prod,
		       &intf->out_cons, true);
	cons_ring_init(&f->in, intf->in, sizeof(intf->in), &intf->in_cons,
		       &intf->in_prod, false);
}

void cons_back_init(struct cons_back *b, struct xencons_interface *intf)
{
	cons_ring_init(&b->out, intf->out, sizeof(intf->out), &intf->out_cons,
		       &intf->out_prod, false);
	cons_ring_init(&b->in, intf->in, sizeof(intf->in), &intf->in_prod,
		       &intf->in_cons, true);
}

/* Bytes between the two indices, after one fetch of the peer's: the used
 * part for a producer, the waiting part for a consumer.  The acquire load
 * orders the peer's data (consumer) or its release of space (producer)
 * before our accesses to the ring. */
static int ring_fill(const struct cons_ring *r, uint32_t *fill)
{
	XENCONS_RING_IDX peer = __atomic_load_n(r->peer, __ATOMIC_ACQUIRE);
	uint32_t n = r->producer ? r->idx - peer : peer - r->idx;

	if (n > r->size)
		return -EPROTO;
	*fill = n;
	return 0;
}

ssize_t cons_ring_space(struct cons_ring *r)
{
	uint32_t fill;

	if (ring_fill(r, &fill))
		return -EPROTO;
	return r->producer ? (ssize_t)(r->size - fill) : (ssize_t)fill;
}

/* The ring offset of our index and the length of the first of at most two
 * pieces of an n byte copy (the second wraps to the start). */
static uint32_t ring_split(const struct cons_ring *r, uint32_t n,
			   uint32_t *off)
{
	*off = r->idx & (r->size - 1);
	return r->size - *off < n ? r->size - *off : n;
}

/* Publish our index after the copy (release: the bytes are written, or
 * read, before the peer can see the new index). */
static void ring_publish(struct cons_ring *r, uint32_t n)
{
	r->idx += n;
	__atomic_store_n(r->own, r->idx, __ATOMIC_RELEASE);
}

ssize_t cons_ring_write(struct cons_ring *r, const void *data, size_t len)
{
	uint32_t fill, n;

	if (!r->producer)
		return -EINVAL;
	if (ring_fill(r, &fill))
		return -EPROTO;
	n = r->size - fill;
	if (len < n)
		n = (uint32_t)len;
	if (n) {
		uint32_t off, first = ring_split(r, n, &off);

		memcpy(r->buf + off, data, first);
		memcpy(r->buf, (const char *)data + first, n - first);
		ring_publish(r, n);
	}
	return n;
}

ssize_t cons_ring_read(struct cons_ring *r, void *data, size_t len)
{
	uint32_t fill, n;

	if (r->producer)
		return -EINVAL;
	if (ring_fill(r, &fill))
		return -EPROTO;
	n = fill;
	if (len < n)
		n = (uint32_t)len;
	if (n) {
		uint32_t off, first = ring_split(r, n, &off);

		memcpy(data, r->buf + off, first);
		memcpy((char *)data + first, r->buf, n - first);
		ring_publish(r, n);
	}
	return n;
}
