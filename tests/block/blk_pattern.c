/* blk_pattern.c - see blk_pattern.h. */
#include "blk_pattern.h"

#include <string.h>

/* The pattern of one sector for a seed: reproducible on both sides. */
static void fill_sector(uint8_t *p, uint64_t seed, uint64_t sector)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull ^
		     (sector + 1) * 0xbf58476d1ce4e5b9ull;
	unsigned int i;

	for (i = 0; i < 512; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

void fill(uint8_t *p, uint64_t seed, uint64_t sector, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		fill_sector(p + (size_t)i * 512, seed, sector + i);
}

int check(const uint8_t *p, uint64_t seed, uint64_t sector, uint32_t n)
{
	uint8_t want[512];
	uint32_t i;

	for (i = 0; i < n; i++) {
		fill_sector(want, seed, sector + i);
		if (memcmp(p + (size_t)i * 512, want, 512))
			return -1;
	}
	return 0;
}

void count_done(void *arg, int status)
{
	struct counter *k = arg;

	pthread_mutex_lock(&k->m);
	if (status)
		k->errors++;
	k->left--;
	pthread_cond_signal(&k->c);
	pthread_mutex_unlock(&k->m);
}

void count_wait(struct counter *k)
{
	pthread_mutex_lock(&k->m);
	while (k->left)
		pthread_cond_wait(&k->c, &k->m);
	pthread_mutex_unlock(&k->m);
}

int write_chunks(struct blkfront *bf, uint8_t *buf, uint64_t seed,
		 uint64_t end, const uint32_t *chunks, size_t nchunks)
{
	uint64_t s;
	unsigned int i;
	int rc;

	for (s = 0, i = 0; s < end; i++) {
		uint32_t n = chunks[i % nchunks];

		if (s + n > end)
			n = (uint32_t)(end - s);
		fill(buf, seed, s, n);
		rc = blkfront_write(bf, s, buf, n);
		if (rc)
			return rc;
		s += n;
	}
	return 0;
}

static int submit_all(struct blkfront *bf, struct counter *k,
		      enum blkfront_op op, uint8_t *buf, uint64_t seed,
		      uint64_t base, uint32_t n, uint32_t len)
{
	uint32_t i;
	int rc;

	k->left = n;
	for (i = 0; i < n; i++) {
		uint64_t sec = base + (uint64_t)i * len;
		uint8_t *b = buf + (size_t)i * len * 512;

		if (op == BLKFRONT_WRITE)
			fill(b, seed, sec, len);
		rc = blkfront_submit(bf, op, sec, b, len, count_done, k);
		if (rc)
			return rc;
	}
	count_wait(k);
	return 0;
}

int submit_writes(struct blkfront *bf, struct counter *k, uint8_t *buf,
		  uint64_t seed, uint64_t base, uint32_t n, uint32_t len)
{
	return submit_all(bf, k, BLKFRONT_WRITE, buf, seed, base, n, len);
}

int submit_reads(struct blkfront *bf, struct counter *k, uint8_t *buf,
		 uint64_t base, uint32_t n, uint32_t len)
{
	return submit_all(bf, k, BLKFRONT_READ, buf, 0, base, n, len);
}
