/*
 * ring.h - the PV console ring core: one direction of struct
 * xencons_interface (<xen/io/console.h>) seen from one end.
 *
 * Pure functions over shared memory, used by both the guest's console
 * driver (producer of "out", consumer of "in") and pvkit-consoled (the
 * reverse).  The index this end owns is kept privately and only published
 * to the page; the peer's index is fetched once per call and validated
 * (its distance to ours must not exceed the ring size), so a hostile peer
 * can neither make us read or write outside the ring nor read stale bytes
 * twice.  A bogus peer index is -EPROTO; the caller decides what that means
 * (the driver and the daemon both stop using the ring).
 *
 * Not thread-safe: one caller per direction at a time.
 */
#ifndef PVKIT_CONSOLE_RING_H
#define PVKIT_CONSOLE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>
#include <xen/io/console.h>

struct cons_ring {
	char *buf;
	uint32_t size;           /* a power of two */
	XENCONS_RING_IDX *own;   /* our index in the page (we publish it) */
	XENCONS_RING_IDX *peer;  /* the peer's index (read only) */
	XENCONS_RING_IDX idx;    /* private copy of *own */
	bool producer;
};

/* The two directions of one console page as the guest sees them. */
struct cons_front {
	struct cons_ring out; /* producer */
	struct cons_ring in;  /* consumer */
};

/* ... and as the backend sees them. */
struct cons_back {
	struct cons_ring out; /* consumer */
	struct cons_ring in;  /* producer */
};

/* Bind r to one ring of a page.  size must be a power of two; our index
 * starts at the value the page holds now (a reconnecting end carries on). */
void cons_ring_init(struct cons_ring *r, char *buf, uint32_t size,
		    XENCONS_RING_IDX *own, XENCONS_RING_IDX *peer,
		    bool producer);
void cons_front_init(struct cons_front *f, struct xencons_interface *intf);
void cons_back_init(struct cons_back *b, struct xencons_interface *intf);

/* Producer: bytes that may be written now; consumer: bytes waiting.
 * -EPROTO when the peer's index is bogus. */
ssize_t cons_ring_space(struct cons_ring *r);

/* Producer: copy up to len bytes in and publish them; returns the number
 * written (0 when full) or -EPROTO.  The caller notifies the peer. */
ssize_t cons_ring_write(struct cons_ring *r, const void *data, size_t len);

/* Consumer: copy up to len bytes out and release their space; returns the
 * number read (0 when empty) or -EPROTO.  The caller notifies the peer. */
ssize_t cons_ring_read(struct cons_ring *r, void *data, size_t len);

#endif
