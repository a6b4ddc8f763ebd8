/*
 * xs_ring.h - the xenstore shared-page transport (docs/misc/xenstore-ring.txt)
 * between a struct xenstore_domain_interface and a core connection.
 *
 * Pure over memory: the page may be a foreign mapping or a plain buffer in
 * a unit test; notifying the peer is a callback.  The peer is untrusted:
 * indexes are read once and validated, and a bogus index fails the ring
 * (the error field says why), never the process.
 */
#ifndef PVKIT_XS_RING_H
#define PVKIT_XS_RING_H

#include <stdbool.h>

#include "xenstore/xs_core.h"

struct xs_ring {
	struct xenstore_domain_interface *intf;
	int (*notify)(void *opaque);
	void *opaque;
	bool failed;
	/* Optional: called once per xs_ring_process() that moved anything,
	 * after the requests were fed and the responses copied into the page
	 * but before either index is published, with the indexes about to
	 * be published (a journal makes what the core took durable here). */
	void (*commit)(void *opaque, XENSTORE_RING_IDX req_cons,
		       XENSTORE_RING_IDX rsp_prod);
};

/* Prepare the page for service: advertise our features and mark the
 * connection established.  Does not touch the ring indexes. */
void xs_ring_init(struct xs_ring *r, struct xenstore_domain_interface *intf,
		  int (*notify)(void *opaque), void *opaque);
/* Serve a page that was already in service (after a live update): the
 * indexes, connection and error fields are left as the peer sees them; a
 * ring whose error field is set stays failed until a reconnection. */
void xs_ring_resume(struct xs_ring *r, struct xenstore_domain_interface *intf,
		    int (*notify)(void *opaque), void *opaque);
/* Move requests from the ring into conn and queued output into the ring,
 * handle a reconnection request, and notify the peer if anything moved.
 * Both indexes are published together at the end, after r->commit.
 * 0, or -EPROTO once the ring or the stream is broken (r->failed; the
 * page's error field is set). */
int xs_ring_process(struct xs_ring *r, struct xs_conn *conn);

#endif
