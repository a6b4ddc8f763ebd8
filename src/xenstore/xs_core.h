/*
 * xs_core.h - pvkit's xenstore core: the node tree, Xen's permission model,
 * watches, transactions, per-domain quotas and the wire-message dispatch.
 *
 * Pure: no sockets, no event channels, no shared memory.  Transports (the
 * daemon's unix sockets, the ring shell in xs_ring.h, unit tests) create a
 * connection, feed it the client's byte stream with xs_conn_feed() and drain
 * replies and watch events with xs_conn_peek()/xs_conn_consume().  Several
 * cores may live in one process.  Internal errors are 0/-errno; they become
 * xsd_errors strings only in XS_ERROR replies.
 */
#ifndef PVKIT_XS_CORE_H
#define PVKIT_XS_CORE_H

#include <errno.h> /* before xs_wire.h, for xsd_errors */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/event_channel.h>
#include <xen/io/xs_wire.h>
#include <xen/xen.h>

struct xs_core;
struct xs_conn;

/* Limits applied to unprivileged domains (domid != 0) unless noted. */
struct xs_quota {
	uint32_t nodes;	    /* nodes owned per domain (ENOSPC) */
	uint32_t node_size; /* bytes of value + perms + child names (ENOSPC) */
	uint32_t watches;   /* watches per connection (E2BIG) */
	uint32_t transactions; /* open transactions per connection (ENOSPC) */
	uint32_t outstanding;  /* unread replies before input is paused (all) */
	uint32_t out_bytes; /* queued output before watch events are dropped */
	uint32_t tx_nodes;  /* nodes touched by one transaction (ENOSPC) */
	uint32_t tx_rate;   /* transaction starts per second, burst the same;
			       0 = unlimited (EAGAIN when exceeded) */
	uint32_t perms;	    /* entries in one permission list (E2BIG) */
};

/* Callbacks into the transport layer; every member may be NULL. */
struct xs_core_hooks {
	void *opaque;
	/* INTRODUCE: attach a ring transport for domid to conn (a fresh
	 * unprivileged connection the core owns).  0 or -errno (the
	 * introduction then fails and conn is freed). */
	int (*introduce)(void *opaque, struct xs_conn *conn, domid_t domid,
			 uint64_t gfn, evtchn_port_t port);
	/* conn (created for an INTRODUCE) is about to be freed by the core:
	 * detach the transport.  The core still owns conn. */
	void (*release)(void *opaque, struct xs_conn *conn);
	/* Output was queued on conn. */
	void (*wake)(void *opaque, struct xs_conn *conn);
	/* Monotonic time for the transaction rate limit. */
	uint64_t (*now_ns)(void *opaque);
};

/* Fill q with the defaults (Xen's: 1000 nodes, 2048 bytes, 128 watches,
 * 10 transactions, 20 outstanding, ...). */
void xs_quota_default(struct xs_quota *q);

/* Create a store holding "/" and the special nodes @introduceDomain and
 * @releaseDomain.  q and hooks are copied (hooks may be NULL).  The caller
 * frees *out with xs_core_free(), which also frees every connection. */
int xs_core_new(const struct xs_quota *q, const struct xs_core_hooks *hooks,
		struct xs_core **out);
void xs_core_free(struct xs_core *core);
/* Set one quota by name ("nodes", "node-size", "watches", "transactions",
 * "outstanding", "out-bytes", "tx-nodes", "tx-rate", "perms").  0 or
 * -EINVAL. */
int xs_core_set_quota(struct xs_core *core, const char *name, uint64_t val);
const struct xs_quota *xs_core_quota(const struct xs_core *core);
/* Number of nodes in the tree (including "/" and the specials). */
size_t xs_core_node_count(const struct xs_core *core);

/* A client connection for domid (0 = privileged, e.g. a socket client).
 * The caller owns *out and frees it with xs_conn_free(); its watches and
 * transactions go with it. */
int xs_conn_new(struct xs_core *core, domid_t domid, struct xs_conn **out);
void xs_conn_free(struct xs_conn *conn);
domid_t xs_conn_domid(const struct xs_conn *conn);
void xs_conn_set_priv(struct xs_conn *conn, void *priv);
void *xs_conn_priv(const struct xs_conn *conn);
/* True once the peer violated the protocol; the transport closes it. */
bool xs_conn_failed(const struct xs_conn *conn);
/* Drop watches, transactions and buffered input/output (ring reconnect). */
void xs_conn_reset(struct xs_conn *conn);

/* Feed len bytes of the client's stream.  Returns how many were consumed
 * (fewer than len while the connection is paused by the outstanding
 * quota), or -EPROTO when the stream is malformed (oversized payload, bad
 * type); the connection is then failed. */
ssize_t xs_conn_feed(struct xs_conn *conn, const void *buf, size_t len);
/* Handle one complete message (payload of hdr->len bytes, which must be
 * <= XENSTORE_PAYLOAD_MAX).  Queues the reply.  0 or -EPROTO. */
int xs_conn_handle(struct xs_conn *conn, const struct xsd_sockmsg *hdr,
		   const void *payload);
/* Queued output: a pointer to the next contiguous bytes and their number
 * (0 when nothing is queued).  Valid until the next call on conn. */
size_t xs_conn_peek(const struct xs_conn *conn, const void **buf);
void xs_conn_consume(struct xs_conn *conn, size_t n);
size_t xs_conn_out_bytes(const struct xs_conn *conn);
/* Watches and transactions currently held by conn. */
unsigned int xs_conn_nwatches(const struct xs_conn *conn);
unsigned int xs_conn_ntransactions(const struct xs_conn *conn);

/* Domains introduced with INTRODUCE, in domid order: 0 and *out set to the
 * first introduced domid >= from, or -ENOENT. */
int xs_core_next_domain(const struct xs_core *core, unsigned int from,
			domid_t *out);
/* The connection of an introduced domain, or NULL. */
struct xs_conn *xs_core_domain_conn(const struct xs_core *core, domid_t domid);
/* The domain shut down: fire @releaseDomain once (until RESUME).
 * 0 or -ENOENT if not introduced. */
int xs_core_domain_shutdown(struct xs_core *core, domid_t domid);
/* Forget an introduced domain as RELEASE does: free its connection
 * (watches, transactions), give its nodes to Dom0, strip it from every
 * permission list and fire @releaseDomain.  0 or -ENOENT. */
int xs_core_release_domain(struct xs_core *core, domid_t domid);

/* Feed arbitrary bytes as one client's input stream to a fresh core and
 * check its invariants; for fuzzers.  Always returns 0 (aborts on a broken
 * invariant). */
int xs_core_fuzz_one(const uint8_t *data, size_t len);

#endif
