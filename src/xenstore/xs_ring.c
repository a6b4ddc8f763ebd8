/* xs_ring.c - serve a xenstore_domain_interface page for one connection. */
#include "xenstore/xs_ring.h"

#include <errno.h>
#include <string.h>

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

void xs_ring_init(struct xs_ring *r, struct xenstore_domain_interface *intf,
		  int (*notify)(void *opaque), void *opaque)
{
	r->intf = intf;
	r->notify = notify;
	r->opaque = opaque;
	r->failed = false;
	r->commit = NULL;
	intf->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION |
				XENSTORE_SERVER_FEATURE_ERROR;
	intf->error = XENSTORE_ERROR_NONE;
	STORE_REL(&intf->connection, XENSTORE_CONNECTED);
}

void xs_ring_resume(struct xs_ring *r, struct xenstore_domain_interface *intf,
		    int (*notify)(void *opaque), void *opaque)
{
	r->intf = intf;
	r->notify = notify;
	r->opaque = opaque;
	r->commit = NULL;
	r->failed = LOAD_ACQ(&intf->error) != XENSTORE_ERROR_NONE;
	intf->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION |
				XENSTORE_SERVER_FEATURE_ERROR;
}

static int ring_fail(struct xs_ring *r, uint32_t why)
{
	r->failed = true;
	STORE_REL(&r->intf->error, why);
	if (r->notify)
		r->notify(r->opaque);
	return -EPROTO;
}

/* Consume requests from *cons (not yet published). */
static int ring_read(struct xs_ring *r, struct xs_conn *conn,
		     XENSTORE_RING_IDX *cons)
{
	struct xenstore_domain_interface *in = r->intf;
	XENSTORE_RING_IDX prod = LOAD_ACQ(&in->req_prod);
	XENSTORE_RING_IDX avail = prod - *cons;

	if (avail > XENSTORE_RING_SIZE)
		return ring_fail(r, XENSTORE_ERROR_RINGIDX);
	while (avail) {
		size_t off = MASK_XENSTORE_IDX(*cons);
		size_t chunk = XENSTORE_RING_SIZE - off;
		ssize_t n;

		if (chunk > avail)
			chunk = avail;
		/* the core copies the bytes once before looking at them */
		n = xs_conn_feed(conn, in->req + off, chunk);
		if (n < 0)
			return ring_fail(r, XENSTORE_ERROR_PROTO);
		*cons += (XENSTORE_RING_IDX)n;
		avail -= (XENSTORE_RING_IDX)n;
		if ((size_t)n < chunk)
			break;
	}
	return 0;
}

/* Produce responses at *prod (not yet published). */
static int ring_write(struct xs_ring *r, struct xs_conn *conn,
		      XENSTORE_RING_IDX *prod)
{
	struct xenstore_domain_interface *in = r->intf;
	XENSTORE_RING_IDX cons = LOAD_ACQ(&in->rsp_cons);
	XENSTORE_RING_IDX used = *prod - cons;
	size_t space;

	if (used > XENSTORE_RING_SIZE)
		return ring_fail(r, XENSTORE_ERROR_RINGIDX);
	space = XENSTORE_RING_SIZE - used;
	while (space) {
		const void *buf;
		size_t len = xs_conn_peek(conn, &buf);
		size_t off = MASK_XENSTORE_IDX(*prod);
		size_t chunk = XENSTORE_RING_SIZE - off;

		if (!len)
			break;
		if (chunk > space)
			chunk = space;
		if (chunk > len)
			chunk = len;
		memcpy(in->rsp + off, buf, chunk);
		xs_conn_consume(conn, chunk);
		*prod += (XENSTORE_RING_IDX)chunk;
		space -= chunk;
	}
	return 0;
}

int xs_ring_process(struct xs_ring *r, struct xs_conn *conn)
{
	struct xenstore_domain_interface *in = r->intf;
	XENSTORE_RING_IDX cons, prod, cons0, prod0, last_cons, last_prod;
	bool moved = false;
	int rc = 0;

	if (LOAD_ACQ(&in->connection) == XENSTORE_RECONNECT) {
		/* the guest asks for a fresh start: forget everything */
		xs_conn_reset(conn);
		in->req_cons = in->req_prod = 0;
		in->rsp_cons = in->rsp_prod = 0;
		in->error = XENSTORE_ERROR_NONE;
		r->failed = false;
		if (r->commit)
			r->commit(r->opaque, 0, 0);
		STORE_REL(&in->connection, XENSTORE_CONNECTED);
		moved = true;
	}
	if (r->failed)
		return -EPROTO;
	cons = cons0 = LOAD_ACQ(&in->req_cons);
	prod = prod0 = LOAD_ACQ(&in->rsp_prod);
	do {
		last_cons = cons;
		last_prod = prod;
		rc = ring_read(r, conn, &cons);
		if (!rc)
			rc = ring_write(r, conn, &prod);
	} while (!rc && (cons != last_cons || prod != last_prod));
	if (cons != cons0 || prod != prod0) {
		/* what was taken is durable before the peer sees it taken */
		if (r->commit)
			r->commit(r->opaque, cons, prod);
		STORE_REL(&in->rsp_prod, prod);
		STORE_REL(&in->req_cons, cons);
		moved = true;
	}
	if (moved && r->notify)
		r->notify(r->opaque);
	return rc;
}
