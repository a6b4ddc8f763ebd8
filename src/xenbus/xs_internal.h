/*
 * xs_internal.h - the xenstore client's pure core (message framing, ring
 * index arithmetic) and the transport ops table behind xs_client.c.
 * Not installed; the unit tests include it to test the core directly.
 */
#ifndef PVKIT_XENBUS_XS_INTERNAL_H
#define PVKIT_XENBUS_XS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pvkit/xs.h"

/* ---- framing (xs_wire.c) --------------------------------------------- */

/* Total payload length of args (each NUL-terminated unless it is the last
 * and last_raw), or -E2BIG beyond XENSTORE_PAYLOAD_MAX. */
ssize_t xs_wire_payload_len(const struct xs_arg *args, unsigned int nargs,
			    bool last_raw);
/* Fill hdr and copy the payload into buf (at least XENSTORE_PAYLOAD_MAX
 * bytes).  Returns the payload length or -E2BIG. */
ssize_t xs_wire_build(struct xsd_sockmsg *hdr, uint32_t type,
		      uint32_t req_id, xs_tx_t tx, const struct xs_arg *args,
		      unsigned int nargs, bool last_raw, char *buf);
/* Validate a header received from the daemon: 0, or -EIO when its length
 * exceeds XENSTORE_PAYLOAD_MAX or its type is unknown. */
int xs_wire_check_header(const struct xsd_sockmsg *hdr);
/* Split a watch event payload into its path and token (pointers into
 * body, which must be len bytes followed by a NUL).  0 or -EIO. */
int xs_wire_parse_event(const char *body, size_t len, const char **path,
			const char **token);
/* Split a payload of NUL-separated strings (body has len bytes plus a NUL)
 * into one allocation holding an array of *n pointers (NULL-terminated)
 * and the strings.  0 or -ENOMEM. */
int xs_wire_split(const char *body, size_t len, char ***out, unsigned int *n);

/* ---- the ring (xs_ring.c) -------------------------------------------- */

/* Copy up to len bytes into a ring as producer / out of it as consumer.
 * Indices are read from the shared page and validated: a distance between
 * producer and consumer beyond XENSTORE_RING_SIZE is -EIO.  Returns the
 * number of bytes moved (0: ring full / empty). */
ssize_t xs_ring_put(char *ring, uint32_t *cons, uint32_t *prod,
		    const void *buf, size_t len);
ssize_t xs_ring_get(char *ring, uint32_t *cons, uint32_t *prod, void *buf,
		    size_t len);

/* Both sides of a xenstore_domain_interface. */
#define xs_ring_client_put(i, b, l)                                            \
	xs_ring_put((i)->req, &(i)->req_cons, &(i)->req_prod, (b), (l))
#define xs_ring_client_get(i, b, l)                                            \
	xs_ring_get((i)->rsp, &(i)->rsp_cons, &(i)->rsp_prod, (b), (l))
#define xs_ring_server_get(i, b, l)                                            \
	xs_ring_get((i)->req, &(i)->req_cons, &(i)->req_prod, (b), (l))
#define xs_ring_server_put(i, b, l)                                            \
	xs_ring_put((i)->rsp, &(i)->rsp_cons, &(i)->rsp_prod, (b), (l))

/* ---- transports ------------------------------------------------------ */

/* A byte stream to the daemon.  stopfd becomes readable when the client
 * closes; blocking operations return -ECANCELED then. */
struct xs_transport;
struct xs_transport_ops {
	/* Write all len bytes (callers serialise writes).  0 or -errno. */
	int (*write)(struct xs_transport *t, const void *buf, size_t len,
		     int stopfd);
	/* Read 1..len bytes, blocking.  Returns the count, -EPIPE on EOF,
	 * -ECANCELED when stopfd fired, or -errno. */
	ssize_t (*read)(struct xs_transport *t, void *buf, size_t len,
			int stopfd);
	void (*close)(struct xs_transport *t);
};
struct xs_transport {
	const struct xs_transport_ops *ops;
};

int xs_transport_fd_new(int fd, struct xs_transport **out);
int xs_transport_ring_new(struct xenstore_domain_interface *intf,
			  const struct pvk_evtchn_ops *ops,
			  struct pvk_evtchn *h, evtchn_port_t port,
			  struct xs_transport **out);

/* Build a client over any transport (it takes ownership of t). */
int xs_client_open_transport(struct xs_transport *t, struct xs_client **out);

#endif
