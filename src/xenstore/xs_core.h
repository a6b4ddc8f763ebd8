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

/* CONTROL live-update, as Xen's xenstore-control sends it. */
struct xs_lu_request {
	enum { XS_LU_BINARY, XS_LU_START, XS_LU_ABORT } op;
	const char *binary; /* XS_LU_BINARY: "-f FILE", the image to exec */
	bool force;	    /* XS_LU_START: "-F", even with transactions open */
	unsigned int timeout; /* XS_LU_START: "-t N" seconds (advisory) */
};

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

/* What changed a core from outside, for a journal that replays it
 * (xs_core_hooks.journal): every input a core takes, so that a core
 * restored from an image and fed the same inputs in the same order ends
 * in the same state with the same output queued. */
enum xs_journal_kind {
	XS_J_FEED,     /* bytes fed (data, len; arg: the feed's time,
			  failed: the feed ended in -EPROTO) */
	XS_J_CONSUME,  /* arg output bytes consumed */
	XS_J_RESET,    /* xs_conn_reset() */
	XS_J_SHUTDOWN, /* xs_core_domain_shutdown(domid), conn NULL */
	XS_J_RELEASE,  /* xs_core_release_domain(domid), conn NULL */
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
	/* CONTROL live-update from a privileged connection.  For XS_LU_START
	 * the daemon saves its state and re-execs once this request's reply
	 * ("OK") is queued; the reply travels in the saved state if it was
	 * not written yet.  0 answers "OK", -EBUSY answers "BUSY" (the client
	 * retries), other -errno an error.  NULL: ENOSYS. */
	int (*live_update)(void *opaque, const struct xs_lu_request *req);
	/* xs_core_restore(): re-attach the transport of a domain connection
	 * (as introduce, but the ring page is already in use: do not reset
	 * it).  NULL: introduce is used. */
	int (*reattach)(void *opaque, struct xs_conn *conn, domid_t domid,
			uint64_t gfn, evtchn_port_t port);
	/* An input the core took (see enum xs_journal_kind); inputs taken
	 * while handling another (a RELEASE request) are not reported. */
	void (*journal)(void *opaque, struct xs_conn *conn,
			enum xs_journal_kind kind, domid_t domid,
			const void *data, size_t len, uint64_t arg,
			bool failed);
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
 * quota), or -EPROTO when the stream is malformed (a payload over
 * XENSTORE_PAYLOAD_MAX); the connection is then failed.  A message of a
 * type we do not know is answered ENOSYS, as Xen's xenstored does. */
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

/* Replace the hooks (a core replayed with a journal's hooks goes into
 * service). */
void xs_core_set_hooks(struct xs_core *core, const struct xs_core_hooks *h);

/* Domains introduced with INTRODUCE, in domid order: 0 and *out set to the
 * first introduced domid >= from, or -ENOENT. */
int xs_core_next_domain(const struct xs_core *core, unsigned int from,
			domid_t *out);
/* The connection of an introduced domain, or NULL. */
struct xs_conn *xs_core_domain_conn(const struct xs_core *core, domid_t domid);
/* The ring page and event channel an introduced domain was given:
 * 0, or -ENOENT. */
int xs_core_domain_ring(const struct xs_core *core, domid_t domid,
			uint64_t *gfn, evtchn_port_t *port);
/* The domain shut down: fire @releaseDomain once (until RESUME).
 * 0 or -ENOENT if not introduced. */
int xs_core_domain_shutdown(struct xs_core *core, domid_t domid);
/* Forget an introduced domain as RELEASE does: free its connection
 * (watches, transactions), give its nodes to Dom0, strip it from every
 * permission list and fire @releaseDomain.  0 or -ENOENT. */
int xs_core_release_domain(struct xs_core *core, domid_t domid);

/* ---- live update: the whole store as bytes, and back ------------------ */

/* The transport's side of saving and restoring connections. */
struct xs_lu_ops {
	void *opaque;
	/* Describe conn's transport (a socket fd, bytes read but not yet fed)
	 * in at most cap bytes: the length, or -errno to fail the save.  NULL
	 * or domain connections: nothing is saved. */
	ssize_t (*save_conn)(void *opaque, const struct xs_conn *conn,
			     void *buf, size_t cap);
	/* A non-domain connection was rebuilt: attach its transport from the
	 * saved bytes.  0, or -errno and the connection is freed. */
	int (*restore_conn)(void *opaque, struct xs_conn *conn,
			    const void *buf, size_t len);
};
#define XS_LU_CONN_MAX 8192 /* cap handed to save_conn */

/* True while some connection has a transaction open (live update then
 * answers BUSY unless forced). */
bool xs_core_busy(const struct xs_core *core);
/* Serialise everything: quotas, counters, nodes with permissions and
 * generations, domains with their ring gfn/port, and every connection with
 * its watches, buffered input, queued output and transport bytes.  Open
 * transactions give -EBUSY, or with force are saved as doomed (their
 * commit answers EAGAIN).  *buf (malloc'd, caller frees) and *len. */
int xs_core_save(struct xs_core *core, const struct xs_lu_ops *ops, bool force,
		 void **buf, size_t *len);
/* Rebuild a core from xs_core_save() bytes, which are checked (a corrupt
 * image gives -EINVAL, never a crash).  hooks as for xs_core_new(); domain
 * connections come back through hooks->reattach (else ->introduce), the
 * others through ops->restore_conn.  A transport that cannot come back
 * loses its connection only.  The caller frees *out. */
int xs_core_restore(const void *buf, size_t len,
		    const struct xs_core_hooks *hooks,
		    const struct xs_lu_ops *ops, struct xs_core **out);

/* ---- fuzzing ----------------------------------------------------------- */

/* Feed arbitrary bytes as one client's input stream to a fresh core and
 * check its invariants; for fuzzers.  data[0] picks the client (bit 0:
 * unprivileged dom1, bit 1: whose home exists, bit 2: and a second client
 * whose watches see the events); the store is then saved and restored and
 * must come back identical.  Always returns 0 (aborts on a broken
 * invariant). */
int xs_core_fuzz_one(const uint8_t *data, size_t len);
/* Path handling: each nul-separated string of data is canonicalised (as
 * Dom0 or dom1, per data[0]) and checked against the path rules, then
 * written, read, listed, watched and removed through the wire.  Always
 * returns 0 (aborts on a broken invariant). */
int xs_core_fuzz_path(const uint8_t *data, size_t len);

#endif
