/*
 * xsd_journal.h - pvkit-xenstored's store on disk: an image and a log of
 * every input since, replayed after the daemon is killed (xsd_journal.c
 * explains the model).
 */
#ifndef PVKIT_XSD_JOURNAL_H
#define PVKIT_XSD_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "xenstore/xs_core.h"

/* Record kinds: the core's (enum xs_journal_kind) and the daemon's. */
enum xsd_jkind {
	XSD_J_FEED = XS_J_FEED,
	XSD_J_CONSUME = XS_J_CONSUME,
	XSD_J_RESET = XS_J_RESET,
	XSD_J_SHUTDOWN = XS_J_SHUTDOWN,
	XSD_J_RELEASE = XS_J_RELEASE,
	XSD_J_NEW = 16, /* a socket connection (jid) was accepted */
	XSD_J_CLOSE,	/* it was closed */
	XSD_J_RING,	/* a ring's indexes to publish: arg = cons | prod<<32 */
};

struct xsd_journal;

/* Where a journal left a domain's ring indexes. */
struct xsd_ring_pos {
	domid_t domid;
	uint32_t req_cons, rsp_prod;
};

struct xsd_journal_loaded {
	size_t records;			  /* replayed */
	size_t sockets;			  /* socket connections dropped */
	const struct xsd_ring_pos *rings; /* owned by the journal */
	size_t nrings;
};

/* The journal at BASE.img and BASE.log (nothing is opened yet). */
int xsd_journal_new(const char *base, struct xsd_journal **out);
void xsd_journal_free(struct xsd_journal *j);
/* Rebuild the core the files describe: 0, -ENOENT when there is no image
 * (a new store), other -errno when it cannot be read (printed).  The
 * rebuilt core has no hooks yet (xs_core_set_hooks), its domain
 * connections have no transport and its socket connections are gone. */
int xsd_journal_load(struct xsd_journal *j, struct xs_core **core,
		     struct xsd_journal_loaded *info);
/* Write the whole core as a new image and start an empty log after it:
 * 0, -EBUSY while a transaction is open (try later), other -errno.  ops
 * save each socket connection's journal id (4 bytes).  force: open
 * transactions are saved doomed, which is exact only when they are doomed
 * in core too (a core just restored from a forced live update). */
int xsd_journal_compact(struct xsd_journal *j, struct xs_core *core,
			const struct xs_lu_ops *ops, bool force);
/* A fresh id for a socket connection. */
uint32_t xsd_journal_new_jid(struct xsd_journal *j);
/* Buffer a record; xsd_journal_flush() writes what is buffered. */
void xsd_journal_record(struct xsd_journal *j, enum xsd_jkind kind,
			domid_t domid, uint32_t jid, uint64_t arg,
			const void *data, size_t len, bool failed);
int xsd_journal_flush(struct xsd_journal *j);
/* Bytes of log, written and buffered. */
uint64_t xsd_journal_log_bytes(const struct xsd_journal *j);
/* A write failed: the journal stopped (and removed its files). */
bool xsd_journal_broken(const struct xsd_journal *j);

#endif
