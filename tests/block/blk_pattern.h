/* blk_pattern.h - what the block tests write and verify: a reproducible
 * pattern for every sector (from a seed and the sector number, so that a
 * DomU and the test reading the disk file compute the same), a counter for
 * blkfront_submit() completions, and the loops that write the pattern
 * through blkfront synchronously in chunks or many requests at once. */
#ifndef PVKIT_TESTS_BLK_PATTERN_H
#define PVKIT_TESTS_BLK_PATTERN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pvkit/blkfront.h"

/* Fill n sectors at p with the pattern of seed for sector on. */
void fill(uint8_t *p, uint64_t seed, uint64_t sector, uint32_t n);
/* 0 when the n sectors at p hold the pattern of seed for sector on, -1
 * when not. */
int check(const uint8_t *p, uint64_t seed, uint64_t sector, uint32_t n);

/* Requests still to complete and how many of them failed; count_done is
 * the completion callback (its arg the counter). */
struct counter {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned int left, errors;
};

#define COUNTER_INIT \
	{PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0}

void count_done(void *arg, int status);
/* Until nothing is left. */
void count_wait(struct counter *k);

/* Write the pattern of seed over sectors [0, end) with synchronous writes,
 * their sizes taken in turn from chunks[nchunks] (the last one cut at end);
 * buf holds the largest.  0, or blkfront_write()'s error. */
int write_chunks(struct blkfront *bf, uint8_t *buf, uint64_t seed,
		 uint64_t end, const uint32_t *chunks, size_t nchunks);

/* n requests of len sectors each from sector base on, buf holding them
 * back to back, submitted all at once and then waited for; each write
 * carries the pattern of seed, filled in just before it is submitted.  0,
 * or blkfront_submit()'s error when one could not be submitted (returned
 * at once, the ones before it still in flight).  Requests that completed
 * with an error count in k->errors. */
int submit_writes(struct blkfront *bf, struct counter *k, uint8_t *buf,
		  uint64_t seed, uint64_t base, uint32_t n, uint32_t len);
int submit_reads(struct blkfront *bf, struct counter *k, uint8_t *buf,
		 uint64_t base, uint32_t n, uint32_t len);

#endif
