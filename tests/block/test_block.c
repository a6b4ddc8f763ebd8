/*
 * test_block.c - blkfront in a DomU against pvkit-blkback on a tmpfs file:
 * random patterns written and verified (through the frontend and directly
 * in the file) with indirect requests on/off, persistent grants on/off,
 * both ABIs and a multi-page ring, 1 and 4 queues (several submitting
 * threads spread over them); FLUSH, BARRIER, DISCARD; a read-only disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk_pattern.h"
#include "block_env.h"
#include "blkif/blkif.h"
#include "pvkit/blkfront.h"

#define DISK_BYTES (16u << 20)
#define DISK_SECTORS (DISK_BYTES / 512)

static struct blk_env E;

DEFINE_BLK_ENV_FIXTURES(E)

/* ---- the data-integrity guest ---- */

struct rw_arg {
	struct blkfront_opts opts; /* .protocol is set from abi32 */
	bool abi32;		   /* the x86_32-abi request layout */
	uint64_t seed;
	bool expect_persistent, expect_indirect;
	unsigned int expect_ring_pages;
	unsigned int expect_queues; /* 0: the default (4) */
};

static const uint32_t chunks[] = {1, 7, 8, 9, 88, 89, 256, 513, 1024, 3};
#define RW_END 8192u /* sectors written synchronously: [0, RW_END) */
#define ASYNC_BASE 12288u
#define ASYNC_N 48u
#define ASYNC_LEN 64u

static int rw_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct rw_arg *a = p;
	const struct blkfront_info *info;
	struct blkfront *bf;
	struct counter k = COUNTER_INIT;
	uint8_t *buf = malloc(1024 * 512), *abuf = malloc(ASYNC_N * ASYNC_LEN * 512);
	uint64_t s;
	int rc;

	if (!buf || !abuf)
		return 2;
	/* The matrix's multi-queue case is 4 queues, whatever the CPUs
	 * (blkfront's own default is one per CPU, up to 4). */
	if (!a->opts.num_queues)
		a->opts.num_queues = 4;
	a->opts.protocol = a->abi32 ? "x86_32-abi" : NULL;
	rc = blkfront_open(plat, xs, "xvda", &a->opts, &bf);
	if (rc) {
		fprintf(stderr, "guest: blkfront_open: %s\n", strerror(-rc));
		return 3;
	}
	info = blkfront_info(bf);
	if (info->sectors != DISK_SECTORS || info->readonly)
		return 4;
	if (info->persistent != a->expect_persistent)
		return 5;
	if ((info->indirect_segs != 0) != a->expect_indirect)
		return 6;
	if (info->ring_pages != a->expect_ring_pages)
		return 7;
	if (info->nr_queues != (a->expect_queues ? a->expect_queues : 4))
		return 19;
	if (strcmp(info->protocol, a->opts.protocol ? a->opts.protocol
						    : "x86_64-abi"))
		return 8;
	/* Synchronous writes of every shape. */
	if (write_chunks(bf, buf, a->seed, RW_END, chunks,
			 sizeof(chunks) / sizeof(chunks[0])))
		return 10;
	/* Asynchronous: many in flight at once. */
	if (submit_writes(bf, &k, abuf, a->seed, ASYNC_BASE, ASYNC_N,
			  ASYNC_LEN))
		return 11;
	if (k.errors)
		return 12;
	if (info->flush && blkfront_flush(bf))
		return 13;
	/* Read back with a different chunking. */
	for (s = 0; s < RW_END; s += 333) {
		uint32_t n = RW_END - s < 333 ? (uint32_t)(RW_END - s) : 333;

		memset(buf, 0, (size_t)n * 512);
		if (blkfront_read(bf, s, buf, n))
			return 14;
		if (check(buf, a->seed, s, n))
			return 15;
	}
	memset(abuf, 0, ASYNC_N * ASYNC_LEN * 512);
	if (submit_reads(bf, &k, abuf, ASYNC_BASE, ASYNC_N, ASYNC_LEN))
		return 16;
	if (k.errors || check(abuf, a->seed, ASYNC_BASE, ASYNC_N * ASYNC_LEN))
		return 17;
	/* Out of range is refused before it reaches the ring. */
	if (blkfront_read(bf, DISK_SECTORS - 1, buf, 2) != -ERANGE)
		return 18;
	blkfront_close(bf);
	free(buf);
	free(abuf);
	return 0;
}

/* The file itself holds the pattern. */
static void check_file(const char *path, uint64_t seed)
{
	uint8_t *buf = malloc(DISK_BYTES);
	int fd = open(path, O_RDONLY);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, DISK_BYTES, 0), DISK_BYTES);
	close(fd);
	assert_int_equal(check(buf, seed, 0, RW_END), 0);
	assert_int_equal(check(buf + (size_t)ASYNC_BASE * 512, seed, ASYNC_BASE,
			       ASYNC_N * ASYNC_LEN), 0);
	free(buf);
}

static void run_rw(const char *const *bk_args, struct rw_arg *a)
{
	char disk[128];
	domid_t d;
	pid_t pid;

	assert_int_equal(blk_env_backend(&E, bk_args), 0);
	assert_int_equal(blk_env_disk(&E, "rw.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", rw_guest, a, sizeof(*a), &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	check_file(disk, a->seed);
	unlink(disk);
}

static void test_rw_default(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 32},
			   .seed = 1,
			   .expect_persistent = true,
			   .expect_indirect = true,
			   .expect_ring_pages = 1};

	(void)state;
	run_rw(NULL, &a);
}

static void test_rw_no_indirect(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 0},
			   .seed = 2,
			   .expect_persistent = true,
			   .expect_indirect = false,
			   .expect_ring_pages = 1};

	(void)state;
	run_rw(NULL, &a);
}

static void test_rw_backend_no_indirect(void **state)
{
	const char *args[] = {"--max-indirect", "0", NULL};
	struct rw_arg a = {.opts = {.max_indirect_segs = 32},
			   .seed = 3,
			   .expect_persistent = true,
			   .expect_indirect = false,
			   .expect_ring_pages = 1};

	(void)state;
	run_rw(args, &a);
}

static void test_rw_no_persistent(void **state)
{
	const char *args[] = {"--no-persistent", NULL};
	struct rw_arg a = {.opts = {.max_indirect_segs = 32},
			   .seed = 4,
			   .expect_persistent = false,
			   .expect_indirect = true,
			   .expect_ring_pages = 1};

	(void)state;
	run_rw(args, &a);
}

static void test_rw_frontend_no_persistent(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 0,
				    .no_persistent = true},
			   .seed = 5,
			   .expect_persistent = false,
			   .expect_indirect = false,
			   .expect_ring_pages = 1};

	(void)state;
	run_rw(NULL, &a);
}

static void test_rw_x86_32(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 64},
			   .abi32 = true,
			   .seed = 6,
			   .expect_persistent = true,
			   .expect_indirect = true,
			   .expect_ring_pages = 1};
	struct rw_arg b = {.opts = {.max_indirect_segs = 0,
				    .no_persistent = true},
			   .abi32 = true,
			   .seed = 7,
			   .expect_persistent = false,
			   .expect_indirect = false,
			   .expect_ring_pages = 1};

	(void)state;
	run_rw(NULL, &a);
	run_rw(NULL, &b);
}

static void test_rw_multi_page_ring(void **state)
{
	const char *args[] = {"--max-ring-order", "2", NULL};
	struct rw_arg a = {.opts = {.max_indirect_segs = 16,
				    .ring_page_order = 3},
			   .seed = 8,
			   .expect_persistent = true,
			   .expect_indirect = true,
			   .expect_ring_pages = 4};

	(void)state;
	run_rw(args, &a);
}

static void test_rw_one_queue(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 32, .num_queues = 1},
			   .seed = 12,
			   .expect_persistent = true,
			   .expect_indirect = true,
			   .expect_ring_pages = 1,
			   .expect_queues = 1};

	(void)state;
	run_rw(NULL, &a);
}

/* A backend offering one queue: the frontend asking for 4 uses 1. */
static void test_rw_backend_one_queue(void **state)
{
	const char *args[] = {"--max-queues", "1", NULL};
	struct rw_arg a = {.opts = {.max_indirect_segs = 32, .num_queues = 4},
			   .seed = 13,
			   .expect_persistent = true,
			   .expect_indirect = true,
			   .expect_ring_pages = 1,
			   .expect_queues = 1};

	(void)state;
	run_rw(args, &a);
}

/* ---- several threads over 4 queues ---- */

#define MQ_THREADS 4u
#define MQ_REGION 2048u /* sectors per thread */

struct mq_thread {
	struct blkfront *bf;
	unsigned int id;
	uint64_t seed;
	int rc;
};

static void *mq_worker(void *p)
{
	struct mq_thread *t = p;
	uint64_t base = (uint64_t)t->id * MQ_REGION, s;
	uint8_t *buf = malloc(256 * 512);
	unsigned int i;

	t->rc = 1;
	if (!buf)
		return NULL;
	for (s = 0, i = t->id; s < MQ_REGION; i++) {
		uint32_t n = chunks[i % (sizeof(chunks) / sizeof(chunks[0]))];

		if (n > 256)
			n = 256;
		if (s + n > MQ_REGION)
			n = (uint32_t)(MQ_REGION - s);
		fill(buf, t->seed, base + s, n);
		if (blkfront_write(t->bf, base + s, buf, n))
			goto out;
		s += n;
	}
	for (s = 0; s < MQ_REGION; s += 128) {
		memset(buf, 0, 128 * 512);
		if (blkfront_read(t->bf, base + s, buf, 128) ||
		    check(buf, t->seed, base + s, 128))
			goto out;
	}
	t->rc = 0;
out:
	free(buf);
	return NULL;
}

static int mq_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct blkfront_opts o = {.max_indirect_segs = 32, .num_queues = 4};
	struct mq_thread t[MQ_THREADS];
	pthread_t th[MQ_THREADS];
	struct blkfront_stats st;
	struct blkfront *bf;
	unsigned int i;

	(void)p;
	if (blkfront_open(plat, xs, "xvda", &o, &bf))
		return 2;
	if (blkfront_info(bf)->nr_queues != 4)
		return 3;
	for (i = 0; i < MQ_THREADS; i++) {
		t[i] = (struct mq_thread){.bf = bf, .id = i, .seed = 21};
		if (pthread_create(&th[i], NULL, mq_worker, &t[i]))
			return 4;
	}
	for (i = 0; i < MQ_THREADS; i++) {
		pthread_join(th[i], NULL);
		if (t[i].rc)
			return 5;
	}
	/* A barrier across the queues, then everything still reads back. */
	if (blkfront_barrier(bf, 0, NULL, 0) || blkfront_flush(bf))
		return 6;
	blkfront_get_stats(bf, &st);
	fprintf(stderr, "mq: ring requests per queue: %llu %llu %llu %llu\n",
		(unsigned long long)st.queue_requests[0],
		(unsigned long long)st.queue_requests[1],
		(unsigned long long)st.queue_requests[2],
		(unsigned long long)st.queue_requests[3]);
	/* Each thread kept to its own queue: every queue carried I/O. */
	for (i = 0; i < 4; i++)
		if (!st.queue_requests[i])
			return 7;
	blkfront_close(bf);
	return 0;
}

/* Run guest(arg) on a fresh writable disk `name` of a default backend,
 * then check that its first `sectors` hold the pattern of seed. */
static void run_guest_check(const char *name,
			    int (*guest)(struct pvk_platform *,
					 struct xs_client *, void *),
			    const void *arg, size_t arg_size, uint64_t seed,
			    uint32_t sectors)
{
	uint8_t *buf = malloc((size_t)sectors * 512);
	char disk[128];
	domid_t d;
	pid_t pid;
	int fd;

	assert_non_null(buf);
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, name, DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", guest, arg, arg_size, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	fd = open(disk, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, (size_t)sectors * 512, 0),
			 (ssize_t)sectors * 512);
	close(fd);
	assert_int_equal(check(buf, seed, 0, sectors), 0);
	free(buf);
	unlink(disk);
}

static void test_mq_threads(void **state)
{
	(void)state;
	run_guest_check("mq.img", mq_guest, NULL, 0, 21,
			MQ_THREADS * MQ_REGION);
}

/* ---- flush, barrier, discard ---- */

static int ops_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct blkfront *bf;
	uint8_t *buf = malloc(256 * 512), *zero = calloc(256, 512);
	const struct blkfront_info *info;
	int rc;

	(void)p;
	if (!buf || !zero || blkfront_open(plat, xs, "xvda", NULL, &bf))
		return 2;
	info = blkfront_info(bf);
	if (!info->flush || !info->barrier || !info->discard ||
	    info->discard_granularity != 4096)
		return 3;
	fill(buf, 9, 0, 256);
	if (blkfront_write(bf, 0, buf, 256) || blkfront_flush(bf))
		return 4;
	/* A barrier with data, and a pure barrier. */
	fill(buf, 10, 256, 8);
	if (blkfront_barrier(bf, 256, buf, 8) || blkfront_barrier(bf, 0, NULL, 0))
		return 5;
	/* Discard [64, 192): reads back as zeros (a hole). */
	if (blkfront_discard(bf, 64, 128))
		return 6;
	if (blkfront_read(bf, 0, buf, 256))
		return 7;
	if (check(buf, 9, 0, 64) || memcmp(buf + 64 * 512, zero, 128 * 512) ||
	    check(buf + 192 * 512, 9, 192, 64))
		return 8;
	if (blkfront_read(bf, 256, buf, 8) || check(buf, 10, 256, 8))
		return 9;
	/* Discard beyond the end: refused locally. */
	rc = blkfront_discard(bf, DISK_SECTORS - 1, 2);
	if (rc != -ERANGE)
		return 10;
	blkfront_close(bf);
	free(buf);
	free(zero);
	return 0;
}

/* Writes and a barrier behind them in one batch on one queue: the
 * backend (a tmpfs image: small writes served inline) holds the barrier
 * until the writes are answered in the same pass, then must send it
 * with nothing left to wake it.  It used to sleep instead: the barrier
 * never answered (block-recover's rare hang). */
struct batch_done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int n, errors;
};

static void batch_one(void *arg, int status)
{
	struct batch_done *b = arg;

	pthread_mutex_lock(&b->lock);
	b->n++;
	if (status)
		b->errors++;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

#define BATCH_WRITES 8u
#define BATCH_ROUNDS 200u

static int barrier_guest(struct pvk_platform *plat, struct xs_client *xs,
			 void *p)
{
	struct blkfront_opts o = {.num_queues = 1};
	struct batch_done b = {.lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER};
	static uint8_t buf[BATCH_WRITES][8 * 512];
	struct blkfront *bf;
	struct timespec ts;
	unsigned int r, i, want = 0;

	(void)p;
	if (blkfront_open(plat, xs, "xvda", &o, &bf))
		return 2;
	for (r = 0; r < BATCH_ROUNDS; r++) {
		for (i = 0; i < BATCH_WRITES; i++)
			if (blkfront_submit(bf, BLKFRONT_WRITE, 8 * i, buf[i],
					    8, batch_one, &b))
				return 3;
		if (blkfront_submit(bf, BLKFRONT_BARRIER, 0, NULL, 0, batch_one,
				    &b))
			return 4;
		want += BATCH_WRITES + 1;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		pthread_mutex_lock(&b.lock);
		while (b.n < want)
			if (pthread_cond_timedwait(&b.cond, &b.lock, &ts)) {
				fprintf(stderr, "round %u: %u of %u answered\n",
					r, b.n, want);
				blkfront_log_state(bf);
				pthread_mutex_unlock(&b.lock);
				return 5;
			}
		pthread_mutex_unlock(&b.lock);
	}
	if (b.errors)
		return 6;
	blkfront_close(bf);
	return 0;
}

static void test_barrier_after_writes(void **state)
{
	char disk[128];
	domid_t d;
	pid_t pid;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(
	    blk_env_disk(&E, "barrier.img", DISK_BYTES, disk, sizeof(disk)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", barrier_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	unlink(disk);
}

static void test_flush_barrier_discard(void **state)
{
	char disk[128];
	domid_t d;
	pid_t pid;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, "ops.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", ops_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	unlink(disk);
}

/* ---- a device closed, then opened again (a second program) ---- */

static int reopen_guest(struct pvk_platform *plat, struct xs_client *xs,
			void *p)
{
	static uint8_t buf[64 * 512];
	struct blkfront *bf;
	int round;

	(void)p;
	for (round = 0; round < 3; round++) {
		/* The frontend is Closed from the second round on: open
		 * says Initialising again and the backend answers. */
		if (blkfront_open(plat, xs, "xvda", NULL, &bf))
			return 10 + round;
		if (round && (blkfront_read(bf, 0, buf, 64) ||
			      check(buf, 40 + round - 1, 0, 64)))
			return 20 + round;
		fill(buf, 40 + round, 0, 64);
		if (blkfront_write(bf, 0, buf, 64))
			return 30 + round;
		blkfront_close(bf);
	}
	return 0;
}

static void test_reopen(void **state)
{
	char disk[128];
	domid_t d;
	pid_t pid;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, "reopen.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", reopen_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	unlink(disk);
}

/* ---- read-only ---- */

static int ro_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct blkfront *bf;
	uint8_t buf[4096];

	(void)p;
	if (blkfront_open(plat, xs, "xvda", NULL, &bf))
		return 2;
	if (!blkfront_info(bf)->readonly)
		return 3;
	if (blkfront_read(bf, 8, buf, 8) || check(buf, 11, 8, 8))
		return 4;
	if (blkfront_write(bf, 0, buf, 8) != -EROFS)
		return 5;
	blkfront_close(bf);
	return 0;
}

static void test_readonly(void **state)
{
	uint8_t buf[8 * 512];
	char disk[128];
	domid_t d;
	pid_t pid;
	int fd;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, "ro.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	fill(buf, 11, 8, 8);
	fd = open(disk, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 8 * 512), sizeof(buf));
	close(fd);
	assert_int_equal(
	    blk_env_guest(&E, disk, "r", ro_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	unlink(disk);
}


/* ---- a writable disk is one backend's alone ---- */

struct hold_arg {
	char held[192], release[192];
	bool expect_refused;
};

static bool file_appears(const char *path, unsigned int ms)
{
	unsigned int i;

	for (i = 0; i < ms / 10 && access(path, F_OK); i++)
		usleep(10000);
	return access(path, F_OK) == 0;
}

static int hold_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct hold_arg *a = p;
	struct blkfront_opts o = {.max_indirect_segs = 32, .timeout_ms = 3000};
	struct blkfront *bf;
	int fd;

	if (blkfront_open(plat, xs, "xvda", &o, &bf))
		return a->expect_refused ? 0 : 2;
	if (a->expect_refused) {
		blkfront_close(bf);
		return 3;
	}
	fd = open(a->held, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		return 4;
	close(fd);
	if (!file_appears(a->release, 20000))
		return 5;
	blkfront_close(bf);
	return 0;
}

/* A second writable device on an image another one serves is refused
 * (Closed, hotplug-error "busy") — the lock that also makes a restarted
 * blkback wait for what a killed one left in flight; once the first is
 * gone the image can be had again. */
static void test_writable_disk_exclusive(void **state)
{
	static const char *const args[] = {"--claim-wait-ms", "200", NULL};
	struct hold_arg a = {0}, b = {0}, c = {0};
	char disk[128], path[96], *err = NULL;
	domid_t da, db, dc;
	pid_t pa, pb, pc;
	unsigned int i;
	size_t len;

	(void)state;
	assert_int_equal(blk_env_backend(&E, args), 0);
	assert_int_equal(blk_env_disk(&E, "excl.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	snprintf(a.held, sizeof(a.held), "%s/held", E.shm);
	snprintf(a.release, sizeof(a.release), "%s/release", E.shm);
	unlink(a.held);
	unlink(a.release);
	b = a;
	b.expect_refused = true;
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", hold_guest, &a, sizeof(a), &da, &pa),
	    0);
	assert_true(file_appears(a.held, 20000));
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", hold_guest, &b, sizeof(b), &db, &pb),
	    0);
	snprintf(path, sizeof(path),
		 "/local/domain/0/backend/vbd/%u/51712/hotplug-error", db);
	for (i = 0; i < 500 && xs_read(E.pv.xs, XS_TX_NONE, path, &err, &len);
	     i++)
		usleep(10000);
	assert_non_null(err);
	if (!strstr(err, "busy"))
		fprintf(stderr, "hotplug-error: %.*s\n", (int)len, err);
	/* whole: the message names the image and says why */
	assert_non_null(strstr(err, "excl.img: Device or resource busy"));
	free(err);
	assert_int_equal(blk_env_guest_end(&E, db, pb), 0);
	/* the holder goes; the image can be served again */
	close(open(a.release, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(blk_env_guest_end(&E, da, pa), 0);
	c = a;
	unlink(c.held);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", hold_guest, &c, sizeof(c), &dc, &pc),
	    0);
	assert_int_equal(blk_env_guest_end(&E, dc, pc), 0);
	unlink(disk);
}

/* ---- zero-copy buffers ---- */

struct zc_arg {
	struct blkfront_opts opts;
	uint64_t seed;
	/* ring requests the 1100-sector write takes: a zero-copy request is
	 * as large as the backend allows (up to 256 segments) */
	unsigned int big_reqs;
};

static int zc_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct zc_arg *a = p;
	struct blkfront *bf, *bf2;
	struct counter k = COUNTER_INIT;
	uint8_t *zb, *zb2, *own = malloc(1100 * 512);
	struct blkfront_stats st0, st1;
	unsigned int i;

	if (!own || blkfront_open(plat, xs, "xvda", &a->opts, &bf))
		return 2;
	/* 1100 sectors + one page of slack: several ring requests. */
	zb = blkfront_buf_alloc(bf, 1100 * 512 + 4096);
	if (!zb || ((uintptr_t)zb & 4095))
		return 3;
	for (i = 0; i < 1100 * 512 + 4096; i++)
		if (zb[i])
			return 4; /* handed out zeroed */
	/* Writes from the buffer at every sector offset in a page, and one
	 * spanning many pages (split, starting mid-page). */
	for (i = 0; i < 8; i++) {
		fill(zb + i * 512, a->seed, i * 16, 9);
		if (blkfront_write(bf, i * 16, zb + i * 512, 9))
			return 5;
	}
	fill(zb + 3 * 512, a->seed, 256, 1100);
	blkfront_get_stats(bf, &st0);
	if (blkfront_write(bf, 256, zb + 3 * 512, 1100))
		return 6;
	blkfront_get_stats(bf, &st1);
	if (st1.requests - st0.requests != a->big_reqs) {
		fprintf(stderr, "zc_guest: the 1100-sector write took %llu "
				"ring requests, expected %u\n",
			(unsigned long long)(st1.requests - st0.requests),
			a->big_reqs);
		return 20;
	}
	/* Read back through the copying API, and through the buffer. */
	for (i = 0; i < 8; i++)
		if (blkfront_read(bf, i * 16, own, 9) ||
		    check(own, a->seed, i * 16, 9))
			return 7;
	if (blkfront_read(bf, 256, own, 1100) || check(own, a->seed, 256, 1100))
		return 8;
	memset(zb, 0, 1100 * 512 + 4096);
	if (blkfront_read(bf, 256, zb + 5 * 512, 1100) ||
	    check(zb + 5 * 512, a->seed, 256, 1100))
		return 9;
	/* Asynchronous, many at once from one buffer. */
	if (submit_reads(bf, &k, zb, 256, 16, 64))
		return 10;
	if (k.errors || check(zb, a->seed, 256, 1024))
		return 11;
	/* Misuse: not a pool buffer, not its start, freed twice. */
	if (blkfront_buf_free(bf, own) != -EINVAL ||
	    blkfront_buf_free(bf, zb + 4096) != -EINVAL ||
	    blkfront_buf_free(bf, NULL) != -EINVAL)
		return 12;
	if (blkfront_buf_free(bf, zb) || blkfront_buf_free(bf, zb) != -EINVAL)
		return 13;
	/* A freed buffer is an ordinary one again (copied), and the pool
	 * hands its pages out again zeroed. */
	zb2 = blkfront_buf_alloc(bf, 1100 * 512 + 4096);
	if (!zb2 || zb2[0] || zb2[1100 * 512])
		return 14;
	if (blkfront_read(bf, 256, zb2, 8) || check(zb2, a->seed, 256, 8))
		return 15;
	blkfront_close(bf);
	/* A buffer of another device is refused. */
	if (blkfront_open(plat, xs, "xvda", &a->opts, &bf2))
		return 16;
	if (blkfront_buf_free(bf2, zb2) != -EINVAL)
		return 17;
	zb = blkfront_buf_alloc(bf2, 4096);
	if (!zb || blkfront_read(bf2, 256, zb, 8) || check(zb, a->seed, 256, 8))
		return 18;
	if (blkfront_buf_free(bf2, zb))
		return 19;
	blkfront_close(bf2);
	free(own);
	return 0;
}

static void run_zc(const char *const *bk_args, struct zc_arg *a)
{
	char disk[128];
	domid_t d;
	pid_t pid;

	assert_int_equal(blk_env_backend(&E, bk_args), 0);
	assert_int_equal(blk_env_disk(&E, "zc.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk, "w", zc_guest, a, sizeof(*a), &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	unlink(disk);
}

static void test_zero_copy(void **state)
{
	/* 138 pages (starting 3 sectors into one): one request although
	 * copied data goes 32 pages a request. */
	struct zc_arg a = {.opts = {.max_indirect_segs = 32}, .seed = 21,
			   .big_reqs = 1};

	(void)state;
	run_zc(NULL, &a);
}

/* A backend offering 64 segments: zero-copy requests keep to that. */
static void test_zero_copy_backend_64_segs(void **state)
{
	static const char *const args[] = {"--max-indirect", "64", NULL};
	struct zc_arg a = {.opts = {.max_indirect_segs = 32}, .seed = 24,
			   .big_reqs = 3};

	(void)state;
	run_zc(args, &a);
}

/* Grant copy instead of persistent maps; direct requests only. */
static void test_zero_copy_no_persistent(void **state)
{
	static const char *const args[] = {"--no-persistent", NULL};
	struct zc_arg a = {.opts = {.max_indirect_segs = 0}, .seed = 22,
			   .big_reqs = 13};

	(void)state;
	run_zc(args, &a);
}

/* A persistent-grant table smaller than what the frontend shares: the
 * backend evicts unused grants (and copies what does not fit). */
static void test_zero_copy_small_pgrant_table(void **state)
{
	static const char *const args[] = {"--max-persistent", "40", NULL};
	struct zc_arg a = {.opts = {.max_indirect_segs = 32}, .seed = 23,
			   .big_reqs = 1};

	(void)state;
	run_zc(args, &a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rw_default),
		cmocka_unit_test(test_rw_no_indirect),
		cmocka_unit_test(test_rw_backend_no_indirect),
		cmocka_unit_test(test_rw_no_persistent),
		cmocka_unit_test(test_rw_frontend_no_persistent),
		cmocka_unit_test(test_rw_x86_32),
		cmocka_unit_test(test_rw_multi_page_ring),
		cmocka_unit_test(test_rw_one_queue),
		cmocka_unit_test(test_rw_backend_one_queue),
		cmocka_unit_test(test_mq_threads),
		cmocka_unit_test(test_flush_barrier_discard),
		cmocka_unit_test(test_barrier_after_writes),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_writable_disk_exclusive),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_zero_copy_backend_64_segs),
		cmocka_unit_test(test_zero_copy_no_persistent),
		cmocka_unit_test(test_zero_copy_small_pgrant_table),
	};

	return cmocka_run_group_tests_name("block", tests, setup, teardown);
}
