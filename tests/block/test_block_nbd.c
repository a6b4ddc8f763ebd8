/*
 * test_block_nbd.c - blkfront in a DomU against pvkit-blkback serving an
 * NBD export (nbdkit's file plugin on a unix socket over a tmpfs file):
 * patterns written and verified through the frontend and directly in the
 * file, FLUSH and DISCARD, a read-only export, and the server killed in
 * the middle of I/O (the device fails, Closing; the backend survives and
 * serves the next disk).  Skipped when nbdkit is not installed.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk_pattern.h"
#include "block_env.h"
#include "blkif/blkif.h"
#include "pvkit/blkfront.h"
#include "pvkit/xenbus.h"

#define DISK_BYTES (8u << 20)
#define DISK_SECTORS (DISK_BYTES / 512)

static struct blk_env E;
static pid_t nbdkit_pid;
static char nbd_sock[160], nbd_uri[256];

static int setup(void **state)
{
	(void)state;
	return blk_env_start(&E);
}

static void nbdkit_stop(int sig)
{
	if (nbdkit_pid > 0) {
		kill(nbdkit_pid, sig);
		waitpid(nbdkit_pid, NULL, 0);
	}
	nbdkit_pid = 0;
}

static int teardown(void **state)
{
	(void)state;
	nbdkit_stop(SIGTERM);
	blk_env_stop(&E);
	return 0;
}

static const char *nbdkit_path(void)
{
	const char *p = getenv("PVKIT_NBDKIT");

	return p && *p ? p : "nbdkit";
}

/* Serve file over a unix socket in the tmpfs directory (read-only with
 * ro); sets nbd_uri. */
static void nbdkit_start(const char *file, bool ro)
{
	char arg[200];
	int i;

	nbdkit_stop(SIGTERM);
	snprintf(nbd_sock, sizeof(nbd_sock), "%s/nbd.sock", E.shm);
	unlink(nbd_sock);
	snprintf(arg, sizeof(arg), "file=%s", file);
	nbdkit_pid = fork();
	assert_true(nbdkit_pid >= 0);
	if (nbdkit_pid == 0) {
		execlp(nbdkit_path(), "nbdkit", "--foreground", "--exit-with-parent",
		       ro ? "--readonly" : "--threads=16", "--unix", nbd_sock,
		       "file", arg, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && access(nbd_sock, F_OK); i++)
		usleep(10000);
	assert_int_equal(access(nbd_sock, F_OK), 0);
	snprintf(nbd_uri, sizeof(nbd_uri), "nbd+unix:///?socket=%s", nbd_sock);
}

/* Until everything completed or one failed, at most ms: false on timeout.
 * (Requests a failed device never took stay unanswered.) */
static bool count_wait_err(struct counter *k, int ms)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&k->m);
	while (k->left && !k->errors && ok)
		ok = pthread_cond_timedwait(&k->c, &k->m, &until) == 0;
	pthread_mutex_unlock(&k->m);
	return ok;
}

/* ---- data integrity, flush, discard ---- */

#define SYNC_END 4096u
#define ASYNC_BASE 6144u
#define ASYNC_N 64u
#define ASYNC_LEN 72u /* 36 KiB: more than one direct request's worth */
static const uint32_t chunks[] = {1, 8, 9, 88, 256, 513, 3, 1024};

struct rw_arg {
	struct blkfront_opts opts; /* .protocol is set from abi32 */
	bool abi32;		   /* the x86_32-abi request layout */
	uint64_t seed;
};

static int rw_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct rw_arg *a = p;
	struct counter k = COUNTER_INIT;
	uint8_t *buf = malloc(1024 * 512), *abuf = malloc(ASYNC_N * ASYNC_LEN * 512);
	uint8_t *zero = calloc(128, 512);
	const struct blkfront_info *info;
	struct blkfront *bf;
	uint64_t s;

	if (!buf || !abuf || !zero)
		return 2;
	a->opts.protocol = a->abi32 ? "x86_32-abi" : NULL;
	if (blkfront_open(plat, xs, "xvda", &a->opts, &bf))
		return 3;
	info = blkfront_info(bf);
	if (info->sectors != DISK_SECTORS || info->readonly || !info->flush ||
	    !info->discard)
		return 4;
	if (write_chunks(bf, buf, a->seed, SYNC_END, chunks,
			 sizeof(chunks) / sizeof(chunks[0])))
		return 5;
	if (submit_writes(bf, &k, abuf, a->seed, ASYNC_BASE, ASYNC_N,
			  ASYNC_LEN))
		return 6;
	if (k.errors || blkfront_flush(bf))
		return 7;
	for (s = 0; s < SYNC_END; s += 333) {
		uint32_t n = SYNC_END - s < 333 ? (uint32_t)(SYNC_END - s) : 333;

		memset(buf, 0, (size_t)n * 512);
		if (blkfront_read(bf, s, buf, n) || check(buf, a->seed, s, n))
			return 8;
	}
	memset(abuf, 0, ASYNC_N * ASYNC_LEN * 512);
	if (submit_reads(bf, &k, abuf, ASYNC_BASE, ASYNC_N, ASYNC_LEN))
		return 9;
	if (k.errors || check(abuf, a->seed, ASYNC_BASE, ASYNC_N * ASYNC_LEN))
		return 10;
	/* A barrier with data; discard [SYNC_END - 128, SYNC_END) reads back
	 * as zeros. */
	fill(buf, a->seed + 1, SYNC_END + 8, 8);
	if (blkfront_barrier(bf, SYNC_END + 8, buf, 8))
		return 11;
	if (blkfront_discard(bf, SYNC_END - 128, 128) ||
	    blkfront_read(bf, SYNC_END - 128, buf, 128) ||
	    memcmp(buf, zero, 128 * 512))
		return 12;
	blkfront_close(bf);
	free(buf);
	free(abuf);
	free(zero);
	return 0;
}

static void check_file(const char *path, uint64_t seed)
{
	uint8_t *buf = malloc(DISK_BYTES), *zero = calloc(128, 512);
	int fd = open(path, O_RDONLY);

	assert_non_null(buf);
	assert_non_null(zero);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, DISK_BYTES, 0), DISK_BYTES);
	close(fd);
	assert_int_equal(check(buf, seed, 0, SYNC_END - 128), 0);
	assert_memory_equal(buf + (size_t)(SYNC_END - 128) * 512, zero,
			    128 * 512);
	assert_int_equal(check(buf + (size_t)(SYNC_END + 8) * 512, seed + 1,
			       SYNC_END + 8, 8), 0);
	assert_int_equal(check(buf + (size_t)ASYNC_BASE * 512, seed, ASYNC_BASE,
			       ASYNC_N * ASYNC_LEN), 0);
	free(buf);
	free(zero);
}

static void run_rw(const char *const *bk_args, struct rw_arg *a)
{
	char disk[128];
	domid_t d;
	pid_t pid;

	assert_int_equal(blk_env_backend(&E, bk_args), 0);
	assert_int_equal(blk_env_disk(&E, "nbd.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	nbdkit_start(disk, false);
	assert_int_equal(
	    blk_env_guest(&E, nbd_uri, "w", rw_guest, a, sizeof(*a), &d, &pid),
	    0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	nbdkit_stop(SIGTERM);
	check_file(disk, a->seed);
	unlink(disk);
}

static void test_nbd_rw(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 32}, .seed = 21};

	(void)state;
	run_rw(NULL, &a);
}

static void test_nbd_rw_direct_no_persistent(void **state)
{
	const char *args[] = {"--no-persistent", NULL};
	struct rw_arg a = {.opts = {.max_indirect_segs = 0}, .seed = 22};

	(void)state;
	run_rw(args, &a);
}

static void test_nbd_rw_x86_32(void **state)
{
	struct rw_arg a = {.opts = {.max_indirect_segs = 64},
			   .abi32 = true,
			   .seed = 23};

	(void)state;
	run_rw(NULL, &a);
}

/* ---- read-only export ---- */

static int ro_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct blkfront *bf;
	uint8_t buf[4096];

	(void)p;
	if (blkfront_open(plat, xs, "xvda", NULL, &bf))
		return 2;
	if (!blkfront_info(bf)->readonly || blkfront_info(bf)->discard)
		return 3;
	if (blkfront_read(bf, 8, buf, 8) || check(buf, 31, 8, 8))
		return 4;
	if (blkfront_write(bf, 0, buf, 8) != -EROFS)
		return 5;
	blkfront_close(bf);
	return 0;
}

/* A writable disk on a read-only export never connects. */
static int ro_refused_guest(struct pvk_platform *plat, struct xs_client *xs,
			    void *p)
{
	struct blkfront_opts o = {.max_indirect_segs = 32, .timeout_ms = 3000};
	struct blkfront *bf;

	(void)p;
	if (blkfront_open(plat, xs, "xvda", &o, &bf) == 0)
		return 2;
	return 0;
}

static void test_nbd_readonly(void **state)
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
	fill(buf, 31, 8, 8);
	fd = open(disk, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 8 * 512), sizeof(buf));
	close(fd);
	nbdkit_start(disk, true);
	assert_int_equal(
	    blk_env_guest(&E, nbd_uri, "r", ro_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	assert_int_equal(blk_env_guest(&E, nbd_uri, "w", ro_refused_guest, NULL,
				       0, &d, &pid),
			 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	nbdkit_stop(SIGTERM);
	unlink(disk);
}

/* ---- the server killed mid-I/O ---- */

struct kill_arg {
	char started[200]; /* created once I/O is flowing */
	domid_t domid;     /* set before the kernel is forked */
};

static int kill_guest(struct pvk_platform *plat, struct xs_client *xs,
		      void *p)
{
	struct kill_arg *a = p;
	static struct counter k = COUNTER_INIT;
	uint8_t *buf = malloc(32 * 64 * 512);
	enum xenbus_state bs = XenbusStateUnknown;
	struct blkfront *bf;
	char be[128];
	unsigned int round, i;
	bool failed = false;
	int fd;

	if (!buf || blkfront_open(plat, xs, "xvda", NULL, &bf))
		return 2;
	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u",
		 (unsigned int)a->domid, BLK_DEVID);
	fill(buf, 41, 0, 32 * 64);
	/* 32 requests in flight at a time until they start failing. */
	for (round = 0; round < 20000 && !failed; round++) {
		k.left = 32;
		k.errors = 0;
		for (i = 0; i < 32; i++)
			if (blkfront_submit(bf,
					    (round + i) % 2 ? BLKFRONT_READ
							    : BLKFRONT_WRITE,
					    (uint64_t)i * 64, buf + (size_t)i * 64 * 512,
					    64, count_done, &k))
				count_done(&k, -EIO);
		if (!count_wait_err(&k, 10000) || k.errors)
			failed = true;
		if (round == 3) {
			fd = open(a->started, O_CREAT | O_WRONLY, 0600);
			if (fd >= 0)
				close(fd);
		}
	}
	if (!failed)
		return 3;
	/* The backend gave up on the device: Closing (or past it). */
	if (xenbus_wait_for_state(xs, be,
				  XENBUS_STATE_BIT(XenbusStateClosing) |
					  XENBUS_STATE_BIT(XenbusStateClosed),
				  5000, &bs))
		return 4;
	/* Requests the failed ring never took stay unanswered (blkfront's
	 * business); the buffers stay allocated until the process ends. */
	blkfront_close(bf);
	return 0;
}

static int plain_guest(struct pvk_platform *plat, struct xs_client *xs,
		       void *p)
{
	struct blkfront *bf;
	uint8_t buf[4096];

	(void)p;
	if (blkfront_open(plat, xs, "xvda", NULL, &bf))
		return 2;
	fill(buf, 51, 0, 8);
	if (blkfront_write(bf, 0, buf, 8) || blkfront_read(bf, 0, buf, 8) ||
	    check(buf, 51, 0, 8))
		return 3;
	blkfront_close(bf);
	return 0;
}

static void test_nbd_server_killed(void **state)
{
	struct kill_arg a;
	char disk[128], disk2[128];
	domid_t d;
	pid_t pid;
	int i;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(blk_env_disk(&E, "kill.img", DISK_BYTES, disk,
				      sizeof(disk)), 0);
	nbdkit_start(disk, false);
	snprintf(a.started, sizeof(a.started), "%s/io-started", E.shm);
	unlink(a.started);
	assert_int_equal(blk_env_guest(&E, nbd_uri, "w", kill_guest, &a,
				       sizeof(a), &a.domid, &pid),
			 0);
	d = a.domid;
	for (i = 0; i < 1000 && access(a.started, F_OK); i++)
		usleep(10000);
	assert_int_equal(access(a.started, F_OK), 0);
	usleep(20000);
	nbdkit_stop(SIGKILL);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	/* The backend is alive and serves the next disk. */
	assert_int_equal(waitpid(E.bk, NULL, WNOHANG), 0);
	assert_int_equal(blk_env_disk(&E, "after.img", DISK_BYTES, disk2,
				      sizeof(disk2)), 0);
	assert_int_equal(
	    blk_env_guest(&E, disk2, "w", plain_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	unlink(disk);
	unlink(disk2);
}

/* No server at all: the device is refused at probe time (hotplug-error),
 * the backend survives. */
static void test_nbd_no_server(void **state)
{
	char uri[256];
	domid_t d;
	pid_t pid;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/none.sock", E.shm);
	assert_int_equal(
	    blk_env_guest(&E, uri, "w", ro_refused_guest, NULL, 0, &d, &pid),
	    0);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	assert_int_equal(waitpid(E.bk, NULL, WNOHANG), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nbd_rw),
		cmocka_unit_test(test_nbd_rw_direct_no_persistent),
		cmocka_unit_test(test_nbd_rw_x86_32),
		cmocka_unit_test(test_nbd_readonly),
		cmocka_unit_test(test_nbd_server_killed),
		cmocka_unit_test(test_nbd_no_server),
	};
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "%s --version >/dev/null 2>&1",
		 nbdkit_path());
	if (system(cmd) != 0) {
		fprintf(stderr, "nbdkit not installed: skipping\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
