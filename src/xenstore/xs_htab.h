/*
 * xs_htab.h - an intrusive string-keyed hash table for xenstored's indexes
 * (path -> node, path -> watches, path -> transaction copy).  Keys are
 * hashed with SipHash-2-4 under a per-table random key, so guest-chosen
 * paths cannot force collisions.  Duplicate keys are allowed.
 */
#ifndef PVKIT_XS_HTAB_H
#define PVKIT_XS_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct xs_hentry {
	struct xs_hentry *next;
	uint64_t hash;
	const char *key; /* owned by the containing object */
};

struct xs_htab {
	struct xs_hentry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t k0, k1;
};

/* 0 or -ENOMEM.  The table holds no memory of the entries. */
int xs_htab_init(struct xs_htab *t);
void xs_htab_destroy(struct xs_htab *t);
uint64_t xs_htab_hash(const struct xs_htab *t, const char *key, size_t len);
/* Insert e with e->key already set; 0 or -ENOMEM (entry not inserted). */
int xs_htab_insert(struct xs_htab *t, struct xs_hentry *e);
void xs_htab_remove(struct xs_htab *t, struct xs_hentry *e);
/* First entry with this key, or NULL; xs_htab_next() gives the next one. */
struct xs_hentry *xs_htab_find(const struct xs_htab *t, const char *key);
struct xs_hentry *xs_htab_next(const struct xs_hentry *e);
/* Call fn for every entry; fn must not modify the table. */
void xs_htab_foreach(const struct xs_htab *t,
		     void (*fn)(struct xs_hentry *e, void *arg), void *arg);

#endif
