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
 *
 * The suspend test: the same writers in a kernel with the control driver
 * and the xenbus bus; the test writes control/shutdown=suspend twice
 * (once with the backend serving, once with it stopped so that requests
 * are still in flight when the domain suspends), sees the domain suspended
 * and resumes it (cancelled).  Every write completes, nothing is sent
 * twice (no reconnection, no replay, as many responses as requests).
 * Then the guest resumes its devices as a restored domain would (with
 * the backend stopped, so requests are kept): one reconnection, the kept
 * requests sent again.  Every block holds its last write.
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
#include <xen/sched.h>

#include <cmocka.h>

#include "block_env.h"

#include "hv/hc_wire.h"
#include "pvkit/blkfront.h"
#include "pvkit/guest.h"
#include "pvkit/kernel.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus_frontend.h"

#define DISK_BYTES (16u << 20)
#define BLK 4096u
#define NB 512u /* blocks written over and over */
#define THREADS 4u
#define PER (NB / THREADS) /* blocks per thread per round */
#define WINDOW 16u	   /* writes in flight per thread */
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
	uint8_t *bufs;	 /* PER blocks: one per block it owns */
	bool acked[PER]; /* the last write of that block completed */
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

/* Join the writers, then check: no write failed, and every block holds
 * its last write, read back through the frontend.  0 or a code. */
static int writers_finish(struct shared *sh, struct writer *w, pthread_t *th)
{
	uint8_t *buf;
	unsigned int i, b;

	for (i = 0; i < THREADS; i++) {
		struct timespec ts;

		/* Still writing 8 s after the stop: say where each queue
		 * stands (a lost event or request shows), then wait on. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 8;
		if (pthread_timedjoin_np(th[i], NULL, &ts)) {
			fprintf(stderr, "guest: writer %u still running\n", i);
			blkfront_log_state(sh->bf);
			pthread_join(th[i], NULL);
		}
	}
	for (i = 0; i < THREADS; i++)
		if (w[i].errors) {
			fprintf(stderr, "guest: thread %u: %llu errors\n", i,
				(unsigned long long)w[i].errors);
			return 4;
		}
	if (blkfront_flush(sh->bf))
		return 5;
	buf = malloc(BLK);
	for (b = 0; buf && b < NB; b++) {
		const struct writer *o_w = &w[b % THREADS];
		uint64_t want = (o_w->rounds - 1) * NB + b;
		int64_t got;

		if (blkfront_read(sh->bf, (uint64_t)b * 8, buf, 8))
			return 6;
		got = block_seq(buf, b);
		if (got != (int64_t)want) {
			fprintf(stderr,
				"guest: block %u holds %lld, want %llu\n", b,
				(long long)got, (unsigned long long)want);
			return 7;
		}
	}
	free(buf);
	return 0;
}

/* Start THREADS writers on sh->bf. */
static int writers_start(struct shared *sh, struct writer *w, pthread_t *th)
{
	unsigned int i;

	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sh = sh;
		w[i].id = i;
		w[i].bufs = malloc((size_t)PER * BLK);
		if (!w[i].bufs ||
		    pthread_create(&th[i], NULL, writer_main, &w[i]))
			return 3;
	}
	return 0;
}

static void touch(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0600);

	if (fd >= 0)
		close(fd);
}

/* Writers from start to stop: started is created once they run. */
static int writers_run(struct shared *sh, struct writer *w, pthread_t *th,
		       const char *started)
{
	int rc = writers_start(sh, w, th);

	if (rc)
		return rc;
	touch(started);
	return writers_finish(sh, w, th);
}

struct crash_arg {
	char stop[200];	   /* the test asks the writers to finish */
	char started[200]; /* the guest says I/O is flowing */
	char result[200];  /* rounds per thread and counters */
	/* The suspend test's second run of writers: */
	char started2[200], stop2[200];
	char restore[200]; /* resume as a restored domain */
	char restored[200];
};

static int crash_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct crash_arg *a = p;
	struct blkfront_opts o = {.max_indirect_segs = 32, .num_queues = 4};
	struct shared sh = {.stop = a->stop};
	struct writer w[THREADS];
	pthread_t th[THREADS];
	struct blkfront_stats st;
	unsigned int i;
	FILE *f;
	int rc;

	pthread_mutex_init(&sh.m, NULL);
	pthread_cond_init(&sh.c, NULL);
	if (blkfront_open(plat, xs, "xvda", &o, &sh.bf))
		return 2;
	rc = writers_run(&sh, w, th, a->started);
	if (rc)
		return rc;
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

static bool wait_file_for(const char *path, unsigned int ms)
{
	unsigned int i;

	for (i = 0; i < ms / 10 && access(path, F_OK); i++)
		usleep(10000);
	return access(path, F_OK) == 0;
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

/* The file itself: each block holds its last write. */
static void check_image(const char *disk, const unsigned long long *rounds)
{
	uint8_t *img = malloc(DISK_BYTES);
	unsigned int b;
	int fd;

	assert_non_null(img);
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

static void test_backend_killed(void **state)
{
	struct crash_arg a;
	unsigned long long rounds[THREADS], reconnects, replayed, fl, ba;
	char disk[128];
	unsigned int i;
	domid_t d;
	pid_t pid;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(
	    blk_env_disk(&E, "crash.img", DISK_BYTES, disk, sizeof(disk)), 0);
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
				&reconnects, &replayed, &fl, &ba),
			 8);
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
	check_image(disk, rounds);
}

/* ---- suspend and resume under I/O ---------------------------------------- */

#define DRAIN_MS 300 /* how long the suspend waits for requests in flight */

struct susp_ctx {
	struct shared *sh;
	unsigned int suspends, resumes, cancelled;
	uint64_t kept_max; /* requests still in flight after the drain */
};

static struct susp_ctx *susp_ctx; /* the guest process's one context */

/* blkfront's bus driver with a short drain, and a count of what it kept. */
static int susp_suspend(void *priv)
{
	struct blkfront_stats st;
	int rc = blkfront_suspend(priv, DRAIN_MS);

	blkfront_get_stats(priv, &st);
	if (st.requests - st.responses > susp_ctx->kept_max)
		susp_ctx->kept_max = st.requests - st.responses;
	return rc;
}

static void susp_added(struct xenbus_bus *bus, const char *type, const char *id,
		       void *priv, void *arg)
{
	struct susp_ctx *c = arg;

	(void)bus, (void)type, (void)id;
	c->sh->bf = priv;
}

static void susp_suspending(void *arg) { ((struct susp_ctx *)arg)->suspends++; }

static void susp_resumed(void *arg, bool cancelled)
{
	struct susp_ctx *c = arg;

	c->resumes++;
	c->cancelled += cancelled;
}

struct run_arg {
	struct pvk_kernel *k;
	struct xenbus_bus *bus;
};

static void *run_kernel(void *p)
{
	struct run_arg *r = p;

	pvk_kernel_run(r->k, r->bus);
	return NULL;
}

static int suspend_guest(struct pvk_kernel *k, void *p)
{
	static struct xenbus_frontend_driver drv;
	static const struct xenbus_frontend_driver *const drivers[] = {&drv};
	struct crash_arg *a = p;
	struct shared sh = {.stop = a->stop};
	struct susp_ctx c = {.sh = &sh};
	struct xenbus_bus_hooks bus_hooks = {.added = susp_added};
	struct pvk_control_hooks hooks = {.suspending = susp_suspending,
					  .resumed = susp_resumed};
	struct run_arg run = {.k = k};
	struct writer w[THREADS];
	pthread_t th[THREADS], ct;
	struct blkfront_stats st, st2;
	unsigned int i;
	FILE *f;
	int rc;

	drv = blkfront_driver;
	drv.suspend = susp_suspend;
	susp_ctx = &c;
	pthread_mutex_init(&sh.m, NULL);
	pthread_cond_init(&sh.c, NULL);
	if (pvk_kernel_control_start(k, &hooks, &c) ||
	    xenbus_bus_open(pvk_kernel_platform(k), pvk_kernel_xs(k), drivers,
			    1, &bus_hooks, &c, XENBUS_BUS_NO_HOTPLUG,
			    &run.bus) ||
	    !sh.bf)
		return 2;
	if (pthread_create(&ct, NULL, run_kernel, &run))
		return 3;
	rc = writers_run(&sh, w, th, a->started);
	if (rc)
		return rc;
	blkfront_get_stats(sh.bf, &st); /* at rest, after the suspends */
	/* Writers again, and what a restored domain's devices do meanwhile
	 * (reconnect, send again what was unanswered), in place. */
	sh.stop = a->stop2;
	rc = writers_start(&sh, w, th);
	if (rc)
		return rc;
	touch(a->started2);
	while (access(a->restore, F_OK))
		usleep(10000);
	/* The backend is stopped: wait (bounded) until a writer has a
	 * request in flight, so that the suspend has something to keep
	 * even when the writers were slow to run on a loaded machine. */
	for (i = 0; i < 500; i++) {
		blkfront_get_stats(sh.bf, &st2);
		if (st2.requests > st2.responses)
			break;
		usleep(2000);
	}
	xenbus_bus_suspend(run.bus);
	xenbus_bus_resume(run.bus, false);
	blkfront_get_stats(sh.bf, &st2);
	touch(a->restored);
	rc = writers_finish(&sh, w, th);
	if (rc)
		return rc;
	f = fopen(a->result, "w");
	if (!f)
		return 8;
	for (i = 0; i < THREADS; i++)
		fprintf(f, "%llu ", (unsigned long long)w[i].rounds);
	fprintf(
	    f, "%llu %llu %llu %llu %u %u %u %llu %llu %llu\n",
	    (unsigned long long)st.reconnects, (unsigned long long)st.replayed,
	    (unsigned long long)st.requests, (unsigned long long)st.responses,
	    c.suspends, c.resumes, c.cancelled, (unsigned long long)c.kept_max,
	    (unsigned long long)st2.reconnects,
	    (unsigned long long)st2.replayed);
	fclose(f);
	return 0; /* the domain ends with the process */
}

/* Write control/shutdown=suspend, wait until the domain has suspended. */
static void suspend_domain(domid_t d)
{
	struct pvk_dominfo info;
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d);
	assert_int_equal(xs_write_str(E.pv.xs, XS_TX_NONE, path, "suspend"), 0);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(pvk_dom_list(E.pv.h.dom0, d, &info, 1), 1);
		if ((info.flags & PVK_DOMINFO_SHUTDOWN) &&
		    info.shutdown_reason == SHUTDOWN_suspend)
			return;
		sleep_ms(10);
	}
	fail_msg("domain %u did not suspend", d);
}

static void test_suspend_under_io(void **state)
{
	struct crash_arg a;
	unsigned long long rounds[THREADS], reconnects, replayed, reqs, rsps;
	unsigned int suspends, resumes, cancelled;
	unsigned long long kept, reconnects2, replayed2;
	char disk[128];
	domid_t d;
	pid_t pid;
	FILE *f;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(
	    blk_env_disk(&E, "susp.img", DISK_BYTES, disk, sizeof(disk)), 0);
	snprintf(a.stop, sizeof(a.stop), "%s/susp-stop", E.shm);
	snprintf(a.started, sizeof(a.started), "%s/susp-started", E.shm);
	snprintf(a.result, sizeof(a.result), "%s/susp-result", E.shm);
	snprintf(a.started2, sizeof(a.started2), "%s/susp-started2", E.shm);
	snprintf(a.stop2, sizeof(a.stop2), "%s/susp-stop2", E.shm);
	snprintf(a.restore, sizeof(a.restore), "%s/susp-restore", E.shm);
	snprintf(a.restored, sizeof(a.restored), "%s/susp-restored", E.shm);
	assert_int_equal(blk_env_kernel(&E, disk, "w", suspend_guest, &a,
					sizeof(a), &d, &pid),
			 0);
	wait_file(a.started);
	/* 1: the backend serves; what is in flight drains. */
	sleep_ms(200);
	suspend_domain(d);
	sleep_ms(100);
	assert_int_equal(pvk_dom_simple(E.pv.h.dom0, PVK_HC_dom_resume, d), 0);
	/* 2: the backend is stopped: requests stay in flight across the
	 * suspend and complete once the domain goes on. */
	sleep_ms(200);
	assert_int_equal(kill(E.bk, SIGSTOP), 0);
	suspend_domain(d);
	assert_int_equal(kill(E.bk, SIGCONT), 0);
	sleep_ms(100);
	assert_int_equal(pvk_dom_simple(E.pv.h.dom0, PVK_HC_dom_resume, d), 0);
	sleep_ms(200);
	touch(a.stop);
	/* 3: resumed as a restored domain would be, with requests kept
	 * (the backend stopped again): reconnection and replay. */
	if (!wait_file_for(a.started2, 15000)) {
		/* The backend's view of its rings, beside the guest's. */
		kill(E.bk, SIGUSR1);
		sleep_ms(500);
		fail_msg("the writers did not finish after the suspends");
	}
	sleep_ms(200);
	assert_int_equal(kill(E.bk, SIGSTOP), 0);
	touch(a.restore);
	/* stopped for the guest's drain and then some: a guest slow to see
	 * the file on a loaded machine (ASan, CI) had its drain outlast a
	 * shorter stop now and then, and nothing was left to send again */
	sleep_ms(DRAIN_MS + 1200);
	assert_int_equal(kill(E.bk, SIGCONT), 0);
	wait_file(a.restored);
	sleep_ms(200);
	touch(a.stop2);
	assert_int_equal(blk_env_guest_end(&E, d, pid), 0);
	f = fopen(a.result, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f,
				"%llu %llu %llu %llu %llu %llu %llu %llu "
				"%u %u %u %llu %llu %llu",
				&rounds[0], &rounds[1], &rounds[2], &rounds[3],
				&reconnects, &replayed, &reqs, &rsps, &suspends,
				&resumes, &cancelled, &kept, &reconnects2,
				&replayed2),
			 14);
	fclose(f);
	fprintf(stderr,
		"suspend test: rounds per thread %llu %llu %llu %llu, %llu "
		"ring requests, %llu responses; %u suspends, %u resumed "
		"(%u cancelled), at most %llu requests kept in flight; "
		"%llu reconnections, %llu sent again; then resumed as "
		"restored: %llu reconnection(s), %llu sent again\n",
		rounds[0], rounds[1], rounds[2], rounds[3], reqs, rsps,
		suspends, resumes, cancelled, kept, reconnects, replayed,
		reconnects2, replayed2);
	assert_int_equal(suspends, 2);
	assert_int_equal(resumes, 2);
	assert_int_equal(cancelled, 2);
	assert_true(kept > 0);		 /* the second suspend kept some */
	assert_int_equal(reconnects, 0); /* resumed in place */
	assert_int_equal(replayed, 0);	 /* nothing sent twice */
	assert_int_equal(reqs, rsps);	 /* every request answered once */
	/* Restored: one reconnection, the kept requests sent again, and
	 * still every block holds its last write. */
	assert_int_equal(reconnects2, 1);
	assert_true(replayed2 > 0);
	check_image(disk, rounds);
}

/* ---- poweroff with the backend gone ------------------------------------- */

/* A kernel with the control driver and a disk; it says when the disk is
 * connected, then carries out requests (the domain ends with a
 * poweroff). */
static int plain_kernel(struct pvk_kernel *k, void *p)
{
	static const struct xenbus_frontend_driver *const drivers[] = {
	    &blkfront_driver,
	};
	struct crash_arg *a = p;
	struct run_arg run = {.k = k};

	if (pvk_kernel_control_start(k, NULL, NULL) ||
	    xenbus_bus_open(pvk_kernel_platform(k), pvk_kernel_xs(k), drivers,
			    1, NULL, NULL, XENBUS_BUS_NO_HOTPLUG, &run.bus) ||
	    xenbus_bus_count(run.bus) != 1)
		return 2;
	touch(a->started);
	run_kernel(&run);
	return 3; /* pvk_kernel_run returned: an error */
}

/* Poweroff while the block backend is dead: the control driver's flush
 * and close cannot be answered, yet the domain powers off in bounded time
 * (blkfront_close's waits), not never. */
static void test_poweroff_backend_gone(void **state)
{
	struct pvk_dominfo info;
	struct crash_arg a;
	char disk[128], path[64];
	uint64_t t0;
	domid_t d;
	pid_t pid;
	int i;

	(void)state;
	assert_int_equal(blk_env_backend(&E, NULL), 0);
	assert_int_equal(
	    blk_env_disk(&E, "off.img", DISK_BYTES, disk, sizeof(disk)), 0);
	snprintf(a.started, sizeof(a.started), "%s/off-started", E.shm);
	assert_int_equal(blk_env_kernel(&E, disk, "w", plain_kernel, &a,
					sizeof(a), &d, &pid),
			 0);
	wait_file(a.started);
	assert_int_equal(kill(E.bk, SIGKILL), 0);
	assert_int_equal(waitpid(E.bk, NULL, 0), E.bk);
	E.bk = 0;
	t0 = pvk_rt_system_time();
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d);
	assert_int_equal(xs_write_str(E.pv.xs, XS_TX_NONE, path, "poweroff"), 0);
	for (i = 0; i < 3000; i++) {
		assert_int_equal(pvk_dom_list(E.pv.h.dom0, d, &info, 1), 1);
		if (info.flags & PVK_DOMINFO_SHUTDOWN)
			break;
		sleep_ms(10);
	}
	fprintf(stderr, "poweroff with the backend gone took %.1f s\n",
		(double)(pvk_rt_system_time() - t0) / 1e9);
	assert_true(info.flags & PVK_DOMINFO_SHUTDOWN);
	assert_int_equal(info.shutdown_reason, SHUTDOWN_poweroff);
	blk_env_guest_end(&E, d, pid);
	unlink(disk);
}

DEFINE_BLK_ENV_FIXTURES(E)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backend_killed),
	    cmocka_unit_test(test_suspend_under_io),
	    cmocka_unit_test(test_poweroff_backend_gone),
	};

	if (getenv("PVKIT_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PVKIT_TEST_FILTER"));
	return cmocka_run_group_tests_name("block-recover", tests, setup,
					   teardown);
}
