/*
 * test_block_recover.c - the crash test: a DomU writes a verifiable
 * sequence (every 4 KiB block stamped with its sequence number, block
 * number and a checksum) from 4 threads with many writes in flight, plus
 * flushes and barriers, while this test kills pvkit-blkback with SIGKILL
 * and restarts it several times; then also stops it cleanly (SIGTERM) and
 * restarts it once.  blkfront reconnects and sends again what was in
 * flight.  Afterwards every write completed without error, and every
 * block holds exactly its last write, checked through blkfront and in the
 * file itself: an acknowledged write lost, or a replayed older write
 * landing over a newer one, would show as a wrong sequence number.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "block_env.h"
#include "pvkit/blkfront.h"

#define DISK_BYTES (16u << 20)
#define BLK 4096u
#define NB 512u          /* blocks written over and over */
#define THREADS 4u
#define PER (NB / THREADS) /* blocks per thread per round */
#define WINDOW 16u       /* writes in flight per thread */
#define MAGIC 0x70766b5345514e43ull
#define KILLS 5

static struct blk_env E;

struct stamp {
	uint64_t magic, seq, block, sum;
};

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/* Block contents for write number seq (to block seq % NB). */
static void stamp_block(uint8_t *b, uint64_t seq)
{
	struct stamp st = {MAGIC, seq, seq % NB, 0};
	uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = sizeof(st); i < BLK; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
	st.sum = fnv(b + sizeof(st), BLK - sizeof(st));
	memcpy(b, &st, sizeof(st));
}

/* The sequence number a block holds, or -1 when it is torn or bogus. */
static int64_t block_seq(const uint8_t *b, uint64_t block)
{
	struct stamp st;

	memcpy(&st, b, sizeof(st));
	if (st.magic != MAGIC || st.block != block ||
	    st.sum != fnv(b + sizeof(st), BLK - sizeof(st)))
		return -1;
	return (int64_t)st.seq;
}

struct shared { /* between the guest's threads */
	const char *stop;
	struct blkfront *bf;
	pthread_mutex_t m;
	pthread_cond_t c;
};

struct writer {
	struct shared *sh;
	unsigned int id;
	uint8_t *bufs;       /* PER blocks: one per block it owns */
	bool acked[PER];     /* the last write of that block completed */
	unsigned int inflight;
	uint64_t rounds, errors, flushes, barriers;
};

struct wreq {
	struct writer *w;
	unsigned int slot;
};

static void write_done(void *arg, int status)
{
	struct wreq *r = arg;
	struct writer *w = r->w;

	pthread_mutex_lock(&w->sh->m);
	if (status)
		w->errors++;
	w->acked[r->slot] = true;
	w->inflight--;
	pthread_cond_broadcast(&w->sh->c);
	pthread_mutex_unlock(&w->sh->m);
	free(r);
}

/* Thread id writes sequence numbers t = k * THREADS + id (block t % NB)
 * until told to stop, in whole rounds over its blocks. */
static void *writer_main(void *p)
{
	struct writer *w = p;
	struct shared *sh = w->sh;
	uint64_t k;

	for (k = 0;; k++) {
		unsigned int slot = (unsigned int)(k % PER);
		uint64_t seq = k * THREADS + w->id;
		struct wreq *r;

		if (slot == 0 && k) {
			w->rounds++;
			if (access(sh->stop, F_OK) == 0)
				break;
		}
		/* The block's previous write must be answered first, and at
		 * most WINDOW in flight. */
		pthread_mutex_lock(&sh->m);
		while ((k >= PER && !w->acked[slot]) || w->inflight >= WINDOW)
			pthread_cond_wait(&sh->c, &sh->m);
		w->acked[slot] = false;
		w->inflight++;
		pthread_mutex_unlock(&sh->m);
		stamp_block(w->bufs + (size_t)slot * BLK, seq);
		r = malloc(sizeof(*r));
		if (!r)
			abort();
		r->w = w;
		r->slot = slot;
		if (blkfront_submit(sh->bf, BLKFRONT_WRITE, (seq % NB) * 8,
				    w->bufs + (size_t)slot * BLK, 8, write_done,
				    r))
			abort();
		/* Ordering operations mixed in: they are replayed too. */
		if (w->id == 0 && k % 97 == 96) {
			if (blkfront_flush(sh->bf))
				w->errors++;
			w->flushes++;
		}
		if (w->id == 1 && k % 151 == 150) {
			if (blkfront_barrier(sh->bf, 0, NULL, 0))
				w->errors++;
			w->barriers++;
		}
	}
	pthread_mutex_lock(&sh->m);
	while (w->inflight)
		pthread_cond_wait(&sh->c, &sh->m);
	pthread_mutex_unlock(&sh->m);
	return NULL;
}

struct crash_arg {
	char stop[200];    /* the test asks the writers to finish */
	char started[200]; /* the guest says I/O is flowing */
	char result[200];  /* rounds per thread and counters */
};

static int crash_guest(struct pvk_platform *plat, struct xs_client *xs,
		       void *p)
{
	struct crash_arg *a = p;
	struct blkfront_opts o = {.max_indirect_segs = 32, .num_queues = 4};
	struct shared sh = {.stop = a->stop};
	struct writer w[THREADS];
	pthread_t th[THREADS];
	struct blkfront_stats st;
	uint8_t *buf;
	unsigned int i, b;
	FILE *f;
	int fd;

	pthread_mutex_init(&sh.m, NULL);
	pthread_cond_init(&sh.c, NULL);
	if (blkfront_open(plat, xs, "xvda", &o, &sh.bf))
		return 2;
	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sh = &sh;
		w[i].id = i;
		w[i].bufs = malloc((size_t)PER * BLK);
		if (!w[i].bufs ||
		    pthread_create(&th[i], NULL, writer_main, &w[i]))
			return 3;
	}
	fd = open(a->started, O_CREAT | O_WRONLY, 0600);
	if (fd >= 0)
		close(fd);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < THREADS; i++)
		if (w[i].errors) {
			fprintf(stderr, "guest: thread %u: %llu errors\n", i,
				(unsigned long long)w[i].errors);
			return 4;
		}
	if (blkfront_flush(sh.bf))
		return 5;
	/* Read every block back through the frontend. */
	buf = malloc(BLK);
	for (b = 0; buf && b < NB; b++) {
		const struct writer *o_w = &w[b % THREADS];
		uint64_t want = (o_w->rounds - 1) * NB + b;
		int64_t got;

		if (blkfront_read(sh.bf, (uint64_t)b * 8, buf, 8))
			return 6;
		got = block_seq(buf, b);
		if (got != (int64_t)want) {
			fprintf(stderr, "guest: block %u holds %lld, want %llu\n",
				b, (long long)got, (unsigned long long)want);
			return 7;
		}
	}
	free(buf);
	blkfront_get_stats(sh.bf, &st);
	f = fopen(a->result, "w");
	if (!f)
		return 8;
	for (i = 0; i < THREADS; i++)
		fprintf(f, "%llu ", (unsigned long long)w[i].rounds);
	fprintf(f, "%llu %llu %llu %llu\n", (unsigned long long)st.reconnects,
		(unsigned long long)st.replayed,
		(unsigned long long)w[0].flushes,
		(unsigned long long)w[1].barriers);
	fclose(f);
	blkfront_close(sh.bf);
	return 0;
}

static void wait_file(const char *path)
{
	int i;

	for (i = 0; i < 1000 && access(path, F_OK); i++)
		usleep(10000);
	assert_int_equal(access(path, F_OK), 0);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static void test_backend_killed(void **state)
{
	struct crash_arg a;
	unsigned long long rounds[THREADS], reconnects, replayed, fl, ba;
	uint8_t *img = malloc(DISK_BYTES);
	char disk[128];
	unsigned int i, b;
	domid_t d;
	pid_t pid;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(img);
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, "crash.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	snprintf(a.stop, sizeof(a.stop), "%s/stop", E.shm);
	snprintf(a.started, sizeof(a.started), "%s/started", E.shm);
	snprintf(a.result, sizeof(a.result), "%s/result", E.shm);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", crash_guest, &a, sizeof(a), &d, &pid),
	    0);
	wait_file(a.started);
	srand(42);
	for (i = 0; i < KILLS + 1; i++) {
		sleep_ms(150 + (unsigned int)(rand() % 200));
		if (i < KILLS) {
			/* The backend dies with requests in its hands. */
			assert_int_equal(kill(E.bk, SIGKILL), 0);
			assert_int_equal(waitpid(E.bk, NULL, 0), E.bk);
			E.bk = 0;
			sleep_ms((unsigned int)(rand() % 50));
		} else {
			/* And once stopped cleanly (its devices go Closed). */
			blk_env_backend_stop(&E);
		}
		assert_int_equal(blk_env_backend(&E, NULL), 0);
	}
	sleep_ms(300);
	fd = open(a.stop, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	f = fopen(a.result, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu",
				&rounds[0], &rounds[1], &rounds[2], &rounds[3],
				&reconnects, &replayed, &fl, &ba), 8);
	fclose(f);
	fprintf(stderr,
		"crash test: %u kills + 1 stop; rounds per thread %llu %llu "
		"%llu %llu (%llu writes), %llu flushes, %llu barriers; "
		"blkfront reconnected %llu times, sent %llu requests again\n",
		KILLS, rounds[0], rounds[1], rounds[2], rounds[3],
		(rounds[0] + rounds[1] + rounds[2] + rounds[3]) * PER, fl, ba,
		reconnects, replayed);
	/* Every restart was noticed and something was in flight. */
	assert_true(reconnects >= KILLS + 1);
	assert_true(replayed > 0);
	/* The file itself: each block holds its last write. */
	fd = open(disk, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, img, DISK_BYTES, 0), DISK_BYTES);
	close(fd);
	for (b = 0; b < NB; b++) {
		uint64_t want = (rounds[b % THREADS] - 1) * NB + b;

		assert_int_equal(block_seq(img + (size_t)b * BLK, b),
				 (int64_t)want);
	}
	free(img);
	unlink(disk);
}

DEFINE_BLK_ENV_FIXTURES(E)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_killed),
	};

	return cmocka_run_group_tests_name("block-recover", tests, setup,
					   teardown);
}
