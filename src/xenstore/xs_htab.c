/* xs_htab.c - intrusive string hash table keyed by SipHash-2-4. */
#include "xenstore/xs_htab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t r = 0;

	for (int i = 7; i >= 0; i--)
		r = (r << 8) | p[i];
	return r;
}

uint64_t xs_htab_hash(const struct xs_htab *t, const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	uint64_t v[4] = {
	    t->k0 ^ 0x736f6d6570736575ull,
	    t->k1 ^ 0x646f72616e646f6dull,
	    t->k0 ^ 0x6c7967656e657261ull,
	    t->k1 ^ 0x7465646279746573ull,
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(p + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (size_t j = 0; j < left; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int xs_htab_init(struct xs_htab *t)
{
	uint64_t k[2];

	memset(t, 0, sizeof(*t));
	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
		k[1] = (uint64_t)(uintptr_t)t ^ (uint64_t)getpid();
	}
	t->k0 = k[0];
	t->k1 = k[1];
	t->nbuckets = 64;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets ? 0 : -ENOMEM;
}

void xs_htab_destroy(struct xs_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = t->count = 0;
}

static void htab_grow(struct xs_htab *t)
{
	size_t n = t->nbuckets * 2;
	struct xs_hentry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* keep the longer chains; still correct */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct xs_hentry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

int xs_htab_insert(struct xs_htab *t, struct xs_hentry *e)
{
	size_t b;

	if (!t->buckets)
		return -ENOMEM;
	if (t->count >= t->nbuckets)
		htab_grow(t);
	e->hash = xs_htab_hash(t, e->key, strlen(e->key));
	b = e->hash & (t->nbuckets - 1);
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->count++;
	return 0;
}

void xs_htab_remove(struct xs_htab *t, struct xs_hentry *e)
{
	struct xs_hentry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			t->count--;
			return;
		}
	}
}

static struct xs_hentry *chain_find(struct xs_hentry *e, uint64_t h,
				    const char *key)
{
	for (; e; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

struct xs_hentry *xs_htab_find(const struct xs_htab *t, const char *key)
{
	uint64_t h;

	if (!t->buckets)
		return NULL;
	h = xs_htab_hash(t, key, strlen(key));
	return chain_find(t->buckets[h & (t->nbuckets - 1)], h, key);
}

struct xs_hentry *xs_htab_next(const struct xs_hentry *e)
{
	return chain_find(e->next, e->hash, e->key);
}

void xs_htab_foreach(const struct xs_htab *t,
		     void (*fn)(struct xs_hentry *e, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct xs_hentry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			fn(e, arg);
		}
	}
}
