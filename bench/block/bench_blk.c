/*
 * bench_blk.c - pvkit-bench-blk: block I/O through blkfront -> blkback
 * against the same load issued natively and through NBD (nbdkit's file
 * plugin, read and written with libnbd directly: the common userspace
 * alternative), side by side in one run, on one tmpfs-backed file:
 *
 *   4 KiB random read and write at queue depths 1 and 32 (IOPS)
 *   1 MiB sequential read and write at queue depth 4 (MiB/s)
 *
 * Native is measured two ways, and the ratios are against the faster of
 * them in the same run (the best native method, not a chosen one):
 * io_uring at the load's queue depth, and psync (pread/pwrite from one
 * thread, one request at a time) for the QD1 and the 1 MiB loads.
 * blkfront is measured twice: with the caller's own buffers (copied
 * through blkfront's shared pages) and with zero-copy buffers from
 * blkfront_buf_alloc.
 *
 * --guests N adds a Dom0-shaped load: N DomUs, each with its own 64 MiB
 * tmpfs disk (all served by the one pvkit-blkback), all doing 4 KiB
 * random reads at QD1 on zero-copy buffers at once, against N forked
 * processes doing the same with pread on the same files at once
 * (aggregate IOPS).
 *
 * --hog measures every load and path twice in the same run: quiet, and
 * contended with one busy-looping process per CPU (bench/common/hog.h).
 * Each run also reports its CPU cost (CPU seconds per GB moved and per
 * million I/Os): for pvkit the guest kernels + pvkit-blkback + pvkit-hvd
 * (busy-polling included), for native the benchmark process (or its N
 * forked readers), for NBD the benchmark + nbdkit.
 *
 * Each repetition runs every load on every path in turn (quiet, then
 * contended); the tables give the median over the repetitions and the
 * ratios; --json prints every figure as one JSON object on stdout instead
 * (the tables go to stderr).  A private pvkit-hvd, pvkit-xenstored and
 * pvkit-blkback are started through the block test environment
 * ($PVKIT_HVD, $PVKIT_XENSTORED, $PVKIT_BLKBACK); nbdkit comes from
 * $PVKIT_NBDKIT or PATH.  The guests (forked DomU kernels using blkfront's
 * guest-native asynchronous API) are driven over pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libnbd.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "block_env.h"
#include "common/util.h"
#include "cpu.h"
#include "hog.h"
#include "json.h"
#include "pvkit/blkfront.h"
#include "stop.h"

#define MAX_QD 32u
#define MAX_BS (1u << 20)
#define MAX_REPS 16u
#define MAX_GUESTS 64u
#define GUEST_DISK_MIB 64u
#define HOG_SETTLE_US 50000u

struct load {
	const char *name;
	bool write, seq;
	uint32_t bs;
	unsigned int qd;
	bool dom0; /* N guests against N native processes (--guests) */
};

static const struct load loads[] = {
    {"4K rand read   QD1", false, false, 4096, 1, false},
    {"4K rand read   QD32", false, false, 4096, 32, false},
    {"4K rand write  QD1", true, false, 4096, 1, false},
    {"4K rand write  QD32", true, false, 4096, 32, false},
    {"1M seq read    QD4", false, true, MAX_BS, 4, false},
    {"1M seq write   QD4", true, true, MAX_BS, 4, false},
    {"4K rand read   QD1, N guests", false, false, 4096, 1, true},
};
#define NLOADS (sizeof(loads) / sizeof(loads[0]))
#define LOAD_DOM0 (NLOADS - 1) /* its bit in the -l set */

/* The paths, numbered as -p takes them (minus one). */
enum path { P_URING, P_COPY, P_ZC, P_NBD, P_PSYNC, P_FLOOR, NPATHS };

static const struct path_info {
	const char *key;  /* in the JSON */
	const char *name; /* in the tables */
	bool native;
} path_info[NPATHS] = {
    [P_URING] = {"native_uring", "native io_uring", true},
    [P_COPY] = {"pvkit_copy", "pvkit, copying", false},
    [P_ZC] = {"pvkit_zerocopy", "pvkit, zero-copy", false},
    [P_NBD] = {"nbd", "NBD (libnbd->nbdkit file)", false},
    [P_PSYNC] = {"native_psync", "native psync", true},
    [P_FLOOR] = {"floor", "split-driver floor", false},
};

/* The order of the table columns and of the runs. */
static const enum path path_order[NPATHS] = {P_URING, P_PSYNC, P_FLOOR,
					     P_COPY,  P_ZC,    P_NBD};

enum cond { C_QUIET, C_HOG, NCONDS };

static const char *const cond_key[NCONDS] = {"quiet", "contended"};

struct result {
	uint64_t ops, ns;
	int err;
	double cpu_s; /* the native --guests readers' own */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Offsets: random bs-aligned (one sequence per seed), or sequential
 * wrapping at the end. */
struct offgen {
	uint64_t x, next, span;
	uint32_t bs;
	bool seq;
};

static void offgen_init(struct offgen *g, const struct load *l, uint64_t size,
			uint32_t seed)
{
	g->x = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0xbf58476d1ce4e5b9ull);
	g->next = 0;
	g->bs = l->bs;
	g->seq = l->seq;
	g->span = size / l->bs;
}

static uint64_t offgen_next(struct offgen *g)
{
	uint64_t o;

	if (g->seq) {
		o = g->next;
		g->next = (g->next + 1) % g->span;
		return o * g->bs;
	}
	g->x ^= g->x << 13;
	g->x ^= g->x >> 7;
	g->x ^= g->x << 17;
	return (g->x % g->span) * g->bs;
}

static uint8_t *bufs_alloc(void)
{
	uint8_t *b = aligned_alloc(4096, (size_t)MAX_QD * MAX_BS);

	if (b)
		memset(b, 0x5a, (size_t)MAX_QD * MAX_BS);
	return b;
}
/* ---- native: io_uring on the file ---------------------------------------- */

static struct result run_uring(const struct load *l, int fd, uint8_t *bufs,
			       uint64_t size, uint64_t dur_ns)
{
	struct result r = {0};
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct offgen g;
	unsigned int i, inflight = 0;
	uint64_t t0, end;
	bool stop = false;

	if (io_uring_queue_init(64, &ring, 0) < 0) {
		r.err = -1;
		return r;
	}
	offgen_init(&g, l, size, 0);
	t0 = now_ns();
	end = t0 + dur_ns;
	for (i = 0; i < l->qd; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		uint8_t *b = bufs + (size_t)i * MAX_BS;

		if (l->write)
			io_uring_prep_write(sqe, fd, b, l->bs, offgen_next(&g));
		else
			io_uring_prep_read(sqe, fd, b, l->bs, offgen_next(&g));
		io_uring_sqe_set_data64(sqe, i);
		inflight++;
	}
	io_uring_submit(&ring);
	while (inflight) {
		unsigned int seen = 0, head, slot;
		int rc;

		/* A signal (a child of the test environment ending) may
		 * interrupt the wait: that is no failed request. */
		do
			rc = io_uring_wait_cqe(&ring, &cqe);
		while (rc == -EINTR);
		if (rc < 0) {
			fprintf(stderr, "native: io_uring_wait_cqe: %s\n",
				strerror(-rc));
			r.err = -1;
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			seen++;
			inflight--;
			if (cqe->res != (int)l->bs) {
				if (!r.err)
					fprintf(stderr,
						"native: a request returned %d "
						"(of %u bytes)\n",
						cqe->res, l->bs);
				r.err = -1;
			}
			r.ops++;
			slot = (unsigned int)io_uring_cqe_get_data64(cqe);
			if (!stop && now_ns() >= end)
				stop = true;
			if (!stop) {
				struct io_uring_sqe *sqe =
				    io_uring_get_sqe(&ring);
				uint8_t *b = bufs + (size_t)slot * MAX_BS;

				if (l->write)
					io_uring_prep_write(sqe, fd, b, l->bs,
							    offgen_next(&g));
				else
					io_uring_prep_read(sqe, fd, b, l->bs,
							   offgen_next(&g));
				io_uring_sqe_set_data64(sqe, slot);
				inflight++;
			}
		}
		io_uring_cq_advance(&ring, seen);
		/* Always: requests prepared before stop turned true in this
		 * batch are counted in flight and must go (they once did
		 * not, and the run waited forever for them). */
		io_uring_submit(&ring);
	}
	r.ns = now_ns() - t0;
	io_uring_queue_exit(&ring);
	return r;
}

/* ---- native: psync on the file ------------------------------------------- */

/* One request at a time from this thread, pread/pwrite.  No stdio and no
 * allocation: a forked reader of the --guests load runs it too. */
static struct result run_psync(const struct load *l, int fd, uint8_t *buf,
			       uint64_t size, uint64_t dur_ns, uint32_t seed)
{
	struct result r = {0};
	struct offgen g;
	uint64_t t0, end;

	offgen_init(&g, l, size, seed);
	t0 = now_ns();
	end = t0 + dur_ns;
	do {
		off_t off = (off_t)offgen_next(&g);
		ssize_t n = l->write ? pwrite(fd, buf, l->bs, off)
				     : pread(fd, buf, l->bs, off);

		if (n != (ssize_t)l->bs) {
			if (n < 0 && errno == EINTR)
				continue;
			r.err = -1;
			break;
		}
		r.ops++;
	} while (now_ns() < end);
	r.ns = now_ns() - t0;
	return r;
}

/* ---- the split-driver floor ---------------------------------------------- */

/*
 * What a split driver that does not poll cannot beat: per request one
 * eventfd round trip between two processes (the frontend's notification
 * and the backend's answer, one wake-up each way) plus the native psync
 * transfer, done here by the "backend" end.  Measured under the same
 * condition as the paths it is compared with (issue 11's QD1 target).
 */
static struct result run_floor(const struct load *l, int fd, uint8_t *buf,
			       uint64_t size, uint64_t dur_ns)
{
	struct result r = {0};
	int req = eventfd(0, EFD_CLOEXEC), rsp = eventfd(0, EFD_CLOEXEC);
	uint64_t t0, end, v = 1;
	struct offgen g;
	pid_t pid = -1;
	int st;

	if (req < 0 || rsp < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		/* the frontend: ask, wait for the answer; 2 ends it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			uint64_t one = 1, got;

			if (write(req, &one, sizeof(one)) != sizeof(one) ||
			    read(rsp, &got, sizeof(got)) != sizeof(got) ||
			    got != 1)
				_exit(0);
		}
	}
	offgen_init(&g, l, size, 0);
	t0 = now_ns();
	end = t0 + dur_ns;
	do {
		off_t off = (off_t)offgen_next(&g);
		ssize_t n;

		if (read(req, &v, sizeof(v)) != sizeof(v)) {
			r.err = -1;
			break;
		}
		n = l->write ? pwrite(fd, buf, l->bs, off)
			     : pread(fd, buf, l->bs, off);
		if (n != (ssize_t)l->bs) {
			r.err = -1;
			break;
		}
		r.ops++;
		v = 1;
		if (write(rsp, &v, sizeof(v)) != sizeof(v)) {
			r.err = -1;
			break;
		}
	} while (now_ns() < end);
	r.ns = now_ns() - t0;
	/* the frontend is waiting for an answer: 2 tells it to stop */
	v = 2;
	if (write(rsp, &v, sizeof(v)) < 0)
		kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	close(req);
	close(rsp);
	return r;
fail:
	r.err = -1;
	if (req >= 0)
		close(req);
	if (rsp >= 0)
		close(rsp);
	return r;
}

/* ---- NBD: libnbd against nbdkit's file plugin ---------------------------- */

struct nbd_run {
	int freelist[MAX_QD];
	unsigned int nfree, inflight;
	uint64_t ops;
	int err;
};

struct nbd_slot {
	struct nbd_run *run;
	int idx;
};

static int nbd_done(void *user_data, int *error)
{
	struct nbd_slot *s = user_data;

	if (*error)
		s->run->err = -1;
	s->run->freelist[s->run->nfree++] = s->idx;
	s->run->inflight--;
	s->run->ops++;
	return 1;
}

static struct result run_nbd(const struct load *l, struct nbd_handle *h,
			     uint8_t *bufs, uint64_t size, uint64_t dur_ns)
{
	struct result r = {0};
	struct nbd_slot slots[MAX_QD];
	struct nbd_run run;
	struct offgen g;
	uint64_t t0, end;
	bool stop = false;
	unsigned int i;

	memset(&run, 0, sizeof(run));
	offgen_init(&g, l, size, 0);
	for (i = 0; i < l->qd; i++) {
		slots[i] = (struct nbd_slot){&run, (int)i};
		run.freelist[run.nfree++] = (int)i;
	}
	t0 = now_ns();
	end = t0 + dur_ns;
	for (;;) {
		while (!stop && run.nfree) {
			int idx = run.freelist[--run.nfree];
			nbd_completion_callback cb = {.callback = nbd_done,
						      .user_data = &slots[idx]};
			uint8_t *b = bufs + (size_t)idx * MAX_BS;
			int64_t c = l->write
					? nbd_aio_pwrite(h, b, l->bs,
							 offgen_next(&g), cb, 0)
					: nbd_aio_pread(h, b, l->bs,
							offgen_next(&g), cb, 0);

			if (c < 0) {
				run.err = -1;
				stop = true;
				break;
			}
			run.inflight++;
		}
		if (!run.inflight)
			break;
		if (nbd_poll(h, -1) < 0) {
			run.err = -1;
			break;
		}
		if (!stop && now_ns() >= end)
			stop = true;
	}
	r.ns = now_ns() - t0;
	r.ops = run.ops;
	r.err = run.err;
	return r;
}

static pid_t nbdkit_start(const char *file, const char *sock)
{
	char arg[300];
	pid_t p;
	int i;

	unlink(sock);
	snprintf(arg, sizeof(arg), "file=%s", file);
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		const char *nk = getenv("PVKIT_NBDKIT");

		execlp(nk && *nk ? nk : "nbdkit", "nbdkit", "--foreground",
		       "--exit-with-parent", "--unix", sock, "file", arg,
		       (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && access(sock, F_OK); i++)
		usleep(10000);
	return access(sock, F_OK) ? -1 : p;
}

/* ---- pvkit: blkfront in a DomU ------------------------------------------- */

struct guest_arg {
	int cmd_rd, res_wr; /* pipes */
	uint64_t size;
	struct blkfront_opts bo; /* -g, -q; the rest blkfront's defaults */
	bool dom0; /* a --guests DomU: one 4 KiB zero-copy buffer only */
};

/* What the benchmark asks a guest: run loads[load] for ms on zero-copy
 * buffers or on its own; load < 0 ends the guest. */
struct guest_cmd {
	int32_t load;
	uint32_t ms;
	uint32_t zc;
	uint32_t seed;
};

/* The asynchronous pattern blkfront's API is made for: a completion
 * callback (on blkfront's queue thread) issues the slot's next request
 * itself, so a request costs no hand-off to the benchmark's thread; the
 * thread only waits for the run's end. */
struct bf_run {
	pthread_mutex_t m;
	pthread_cond_t c;
	const struct load *l;
	struct blkfront *bf;
	uint8_t *const *bufv;
	struct offgen g;
	uint64_t end, ops;
	unsigned int inflight;
	bool stop;
	int err;
};

struct bf_slot {
	struct bf_run *run;
	unsigned int idx;
};

static void bf_done(void *arg, int status);

static int bf_issue(struct bf_slot *s)
{
	struct bf_run *run = s->run;
	uint64_t off;

	pthread_mutex_lock(&run->m);
	off = offgen_next(&run->g);
	pthread_mutex_unlock(&run->m);
	return blkfront_submit(
	    run->bf, run->l->write ? BLKFRONT_WRITE : BLKFRONT_READ, off >> 9,
	    run->bufv[s->idx], run->l->bs >> 9, bf_done, s);
}

/* One slot stops: the last one wakes the benchmark (run->m held). */
static void bf_retire(struct bf_run *run)
{
	if (--run->inflight == 0)
		pthread_cond_signal(&run->c);
}

static void bf_done(void *arg, int status)
{
	struct bf_slot *s = arg;
	struct bf_run *run = s->run;
	bool again;

	pthread_mutex_lock(&run->m);
	if (status)
		run->err = status;
	run->ops++;
	if (!run->stop && (run->err || now_ns() >= run->end))
		run->stop = true;
	again = !run->stop;
	if (!again)
		bf_retire(run);
	pthread_mutex_unlock(&run->m);
	if (again && bf_issue(s)) {
		pthread_mutex_lock(&run->m);
		run->err = -1;
		run->stop = true;
		bf_retire(run);
		pthread_mutex_unlock(&run->m);
	}
}

static struct result run_blkfront(const struct load *l, struct blkfront *bf,
				  uint8_t *const *bufv, uint64_t size,
				  uint64_t dur_ns, uint32_t seed)
{
	struct bf_run run = {.m = PTHREAD_MUTEX_INITIALIZER,
			     .c = PTHREAD_COND_INITIALIZER,
			     .l = l,
			     .bf = bf,
			     .bufv = bufv};
	struct bf_slot slots[MAX_QD];
	struct result r = {0};
	uint64_t t0;
	unsigned int i;

	offgen_init(&run.g, l, size, seed);
	t0 = now_ns();
	run.end = t0 + dur_ns;
	pthread_mutex_lock(&run.m);
	run.inflight = l->qd;
	pthread_mutex_unlock(&run.m);
	for (i = 0; i < l->qd; i++) {
		slots[i] = (struct bf_slot){&run, i};
		if (bf_issue(&slots[i])) {
			pthread_mutex_lock(&run.m);
			run.err = -1;
			run.stop = true;
			bf_retire(&run);
			pthread_mutex_unlock(&run.m);
		}
	}
	pthread_mutex_lock(&run.m);
	while (run.inflight)
		pthread_cond_wait(&run.c, &run.m);
	r.ops = run.ops;
	r.err = run.err ? -1 : 0;
	pthread_mutex_unlock(&run.m);
	r.ns = now_ns() - t0;
	return r;
}

static int guest_main(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct guest_arg *a = p;
	/* The bench's guest: MAX_QD buffers of 1 MiB, the same twice (the
	 * caller's own, and zero-copy ones); a --guests one: one 4 KiB
	 * zero-copy buffer. */
	unsigned int nbufs = a->dom0 ? 1 : MAX_QD;
	size_t bytes = a->dom0 ? 4096 : MAX_BS;
	uint8_t *bufs = a->dom0 ? NULL : bufs_alloc(), *own[MAX_QD],
		*zc[MAX_QD] = {NULL};
	struct result r = {0};
	struct guest_cmd cmd;
	struct blkfront *bf = NULL;
	unsigned int i;
	int rc;

	if (!a->dom0 && !bufs)
		return 2;
	rc = blkfront_open(plat, xs, "xvda", &a->bo, &bf);
	for (i = 0; !rc && i < nbufs; i++) {
		own[i] = bufs ? bufs + (size_t)i * MAX_BS : NULL;
		zc[i] = blkfront_buf_alloc(bf, bytes);
		if (!zc[i])
			rc = -errno;
		else
			memset(zc[i], 0x5a, bytes);
	}
	r.err = rc;
	if (pvk_write_all(a->res_wr, &r, sizeof(r)) || rc)
		return 3;
	while (!pvk_read_all(a->cmd_rd, &cmd, sizeof(cmd)) && cmd.load >= 0 &&
	       (size_t)cmd.load < NLOADS) {
		const struct load *l = &loads[cmd.load];

		if (l->qd > nbufs || l->bs > bytes || (!cmd.zc && !bufs)) {
			memset(&r, 0, sizeof(r));
			r.err = -1;
		} else {
			r = run_blkfront(l, bf, cmd.zc ? zc : own, a->size,
					 (uint64_t)cmd.ms * 1000000ull,
					 cmd.seed);
		}
		if (getenv("PVKIT_BENCH_STATS")) {
			struct blkfront_stats st;

			blkfront_get_stats(bf, &st);
			fprintf(stderr,
				"blkfront %s: events=%llu spurious=%llu "
				"polls=%llu poll-hits=%llu poll-preempted=%llu "
				"poll-backed-off=%llu\n",
				l->name, (unsigned long long)st.events,
				(unsigned long long)st.spurious_events,
				(unsigned long long)st.poll_watches,
				(unsigned long long)st.poll_hits,
				(unsigned long long)st.poll_preempted,
				(unsigned long long)st.poll_backed_off);
		}
		if (pvk_write_all(a->res_wr, &r, sizeof(r)))
			break;
	}
	for (i = 0; i < nbufs; i++)
		if (zc[i])
			blkfront_buf_free(bf, zc[i]);
	blkfront_close(bf);
	free(bufs);
	return 0;
}

/* A running guest as the benchmark sees it. */
struct guest {
	pid_t pid;
	domid_t domid;
	int cmd_wr, res_rd;
};

/* Close whichever ends of p are open. */
static void close_pipe(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* Start a DomU with disk as xvda and wait until it has opened it. */
static int guest_start(struct blk_env *env, const char *disk,
		       struct guest_arg *ga, struct guest *g)
{
	int cmd_p[2] = {-1, -1}, res_p[2] = {-1, -1}, rc;
	struct result r;

	g->pid = -1;
	g->cmd_wr = g->res_rd = -1;
	if (pipe2(cmd_p, O_CLOEXEC) || pipe2(res_p, O_CLOEXEC)) {
		rc = -errno;
		goto out;
	}
	/* The guest is exec'd: its ends must survive that. */
	if (fcntl(cmd_p[0], F_SETFD, 0) || fcntl(res_p[1], F_SETFD, 0)) {
		rc = -errno;
		goto out;
	}
	ga->cmd_rd = cmd_p[0];
	ga->res_wr = res_p[1];
	rc = blk_env_guest(env, disk, "w", guest_main, ga, sizeof(*ga),
			   &g->domid, &g->pid);
	if (rc)
		goto out;
	g->cmd_wr = cmd_p[1];
	g->res_rd = res_p[0];
	cmd_p[1] = res_p[0] = -1;
	rc = pvk_read_all(g->res_rd, &r, sizeof(r));
	if (!rc && r.err)
		rc = r.err < 0 ? r.err : -EIO;
out:
	close_pipe(cmd_p);
	close_pipe(res_p);
	return rc;
}

static int guest_send(const struct guest *g, int32_t load, unsigned int ms,
		      bool zc, uint32_t seed)
{
	struct guest_cmd cmd = {load, ms, zc, seed};

	return pvk_write_all(g->cmd_wr, &cmd, sizeof(cmd));
}

static void guest_stop(struct blk_env *env, struct guest *g)
{
	if (g->pid > 0) {
		if (guest_send(g, -1, 0, false, 0))
			kill(g->pid, SIGKILL);
		blk_env_guest_end(env, g->domid, g->pid);
	}
	if (g->cmd_wr >= 0)
		close(g->cmd_wr);
	if (g->res_rd >= 0)
		close(g->res_rd);
	g->pid = -1;
	g->cmd_wr = g->res_rd = -1;
}

/* ---- native: N forked readers (the --guests load's baseline) ------------- */

static double ru_cpu_s(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
	       (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

/* N processes, one per file, each running run_psync on its fds[i] for
 * dur_ns, started together; *agg is the sum of their rates, *tot their
 * requests, errors and CPU seconds.  0 or -errno. */
static int run_native_procs(const struct load *l, const int *fds,
			    unsigned int n, uint8_t *buf, uint64_t size,
			    uint64_t dur_ns, double *agg, struct result *tot)
{
	int go[2] = {-1, -1}, res[2] = {-1, -1}, rc = 0;
	pid_t pids[MAX_GUESTS], parent = getpid();
	unsigned int i, started = 0;

	*agg = 0;
	memset(tot, 0, sizeof(*tot));
	if (pipe2(go, O_CLOEXEC) || pipe2(res, O_CLOEXEC)) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			rc = -errno;
			break;
		}
		if (pids[i] == 0) {
			/* A copy of a threaded process: system calls only. */
			struct rusage r0, r1;
			struct result r;
			char c;

			close(go[1]);
			close(res[0]);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
			    getppid() != parent)
				_exit(1);
			while (read(go[0], &c, 1) < 0 && errno == EINTR)
				;
			getrusage(RUSAGE_SELF, &r0);
			r = run_psync(l, fds[i], buf, size, dur_ns, i);
			getrusage(RUSAGE_SELF, &r1);
			r.cpu_s = ru_cpu_s(&r1) - ru_cpu_s(&r0);
			if (write(res[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			_exit(0);
		}
		started++;
	}
	/* Go: every reader sees EOF at once. */
	close(go[1]);
	go[1] = -1;
	close(res[1]);
	res[1] = -1;
	for (i = 0; !rc && i < started; i++) {
		struct result r;

		rc = pvk_read_all(res[0], &r, sizeof(r));
		if (rc)
			break;
		if (r.ns)
			*agg += (double)r.ops * 1e9 / (double)r.ns;
		tot->ops += r.ops;
		tot->cpu_s += r.cpu_s;
		if (r.err)
			tot->err = -1;
	}
out:
	for (i = 0; i < started; i++) {
		if (rc)
			kill(pids[i], SIGKILL);
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	close_pipe(go);
	close_pipe(res);
	return rc;
}

/* ---- the run ------------------------------------------------------------- */

/* The per-repetition figures of one load, condition and path. */
struct fig {
	double rate[MAX_REPS];	  /* IOPS or MiB/s */
	double cpu_gb[MAX_REPS];  /* CPU seconds per 10^9 bytes */
	double cpu_mio[MAX_REPS]; /* CPU seconds per 10^6 requests */
	unsigned int n;
	bool err;
};

struct bench {
	/* options */
	uint64_t size;
	unsigned int ms, reps, only, paths, guests;
	bool hog, json;
	struct blkfront_opts bo;
	/* the environment */
	struct blk_env env;
	int fd;
	uint8_t *bufs;
	struct nbd_handle *h;
	pid_t nk;
	struct guest g;
	struct guest dg[MAX_GUESTS];
	int dfd[MAX_GUESTS];
	struct bench_hog hogs;
	unsigned int nhogs;
	/* the figures */
	struct fig fig[NLOADS][NCONDS][NPATHS];
};

static bool path_applies(const struct bench *b, unsigned int li, enum path p)
{
	const struct load *l = &loads[li];

	if (!(b->paths & (1u << p)))
		return false;
	if (l->dom0)
		return p == P_PSYNC || p == P_ZC;
	if (p == P_PSYNC)
		return l->qd == 1 || l->bs >= MAX_BS;
	if (p == P_FLOOR)
		return l->qd == 1 && l->bs < MAX_BS;
	return true;
}

static double rate(const struct load *l, const struct result *r)
{
	double s = (double)r->ns / 1e9;

	if (!r->ns)
		return 0;
	if (l->bs >= MAX_BS)
		return (double)r->ops * l->bs / (1024.0 * 1024.0) / s;
	return (double)r->ops / s;
}

static const char *unit(const struct load *l)
{
	return l->bs >= MAX_BS ? "MiB/s" : "IOPS";
}

/* CPU seconds used so far by what path p runs on: the guest(s),
 * pvkit-blkback and pvkit-hvd; this process (and nbdkit). */
static int path_cpu(const struct bench *b, const struct load *l, enum path p,
		    double *s)
{
	pid_t pids[MAX_GUESTS + 2];
	unsigned int n = 0, i;
	double v = 0;
	int rc;

	switch (p) {
	case P_COPY:
	case P_ZC:
		if (l->dom0)
			for (i = 0; i < b->guests; i++)
				pids[n++] = b->dg[i].pid;
		else
			pids[n++] = b->g.pid;
		pids[n++] = b->env.bk;
		pids[n++] = b->env.pv.h.hvd;
		return bench_cpu_pids(pids, n, s);
	case P_NBD:
		rc = bench_cpu_pid(b->nk, &v);
		*s = v + bench_cpu_self();
		return rc;
	case P_FLOOR: {
		/* this process and its frontend, reaped by run_floor */
		struct rusage ru;

		getrusage(RUSAGE_CHILDREN, &ru);
		*s = bench_cpu_self() + ru_cpu_s(&ru);
		return 0;
	}
	default:
		*s = bench_cpu_self();
		return 0;
	}
}

/* Run load li on path p once: *rate_out (IOPS or MiB/s; the --guests load
 * sums its N), *r (requests, errors), *cpu (CPU seconds).  0, or -errno
 * when the path cannot go on (a guest died). */
static int measure(struct bench *b, unsigned int li, enum path p,
		   double *rate_out, struct result *r, double *cpu)
{
	const struct load *l = &loads[li];
	uint64_t dur = (uint64_t)b->ms * 1000000ull;
	double c0 = 0, c1 = 0;
	unsigned int i;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	*rate_out = 0;
	if (path_cpu(b, l, p, &c0))
		return -ESRCH;
	if (l->dom0 && p == P_PSYNC) {
		rc = run_native_procs(l, b->dfd, b->guests, b->bufs,
				      (uint64_t)GUEST_DISK_MIB << 20, dur,
				      rate_out, r);
		*cpu = r->cpu_s;
		return rc;
	}
	if (l->dom0) {
		for (i = 0; !rc && i < b->guests; i++)
			rc = guest_send(&b->dg[i], (int32_t)li, b->ms, true, i);
		for (i = 0; !rc && i < b->guests; i++) {
			struct result gr;

			rc = pvk_read_all(b->dg[i].res_rd, &gr, sizeof(gr));
			if (rc)
				break;
			*rate_out += rate(l, &gr);
			r->ops += gr.ops;
			if (gr.err)
				r->err = -1;
		}
	} else if (p == P_COPY || p == P_ZC) {
		rc = guest_send(&b->g, (int32_t)li, b->ms, p == P_ZC, 0);
		if (!rc)
			rc = pvk_read_all(b->g.res_rd, r, sizeof(*r));
	} else if (p == P_URING) {
		*r = run_uring(l, b->fd, b->bufs, b->size, dur);
	} else if (p == P_PSYNC) {
		*r = run_psync(l, b->fd, b->bufs, b->size, dur, 0);
	} else if (p == P_FLOOR) {
		*r = run_floor(l, b->fd, b->bufs, b->size, dur);
	} else {
		*r = run_nbd(l, b->h, b->bufs, b->size, dur);
	}
	if (rc)
		return rc;
	if (!l->dom0)
		*rate_out = rate(l, r);
	if (path_cpu(b, l, p, &c1))
		return -ESRCH;
	*cpu = c1 - c0;
	return 0;
}

/* Every path of load li under condition c, once (one repetition). */
static int run_load(struct bench *b, unsigned int li, enum cond c)
{
	const struct load *l = &loads[li];
	unsigned int k;
	int rc;

	for (k = 0; k < NPATHS && !bench_stop_requested(); k++) {
		enum path p = path_order[k];
		struct fig *f = &b->fig[li][c][p];
		struct result r;
		double v, cpu = 0, bytes;

		if (!path_applies(b, li, p))
			continue;
		rc = measure(b, li, p, &v, &r, &cpu);
		if (rc) {
			fprintf(stderr, "pvkit-bench-blk: %s, %s: %s\n",
				path_info[p].name, l->name, strerror(-rc));
			return rc;
		}
		if (r.err) {
			fprintf(stderr, "%s %s (%s): errors\n",
				path_info[p].name, l->name, cond_key[c]);
			f->err = true;
		}
		bytes = (double)r.ops * l->bs;
		f->rate[f->n] = v;
		f->cpu_gb[f->n] = bytes > 0 ? cpu / (bytes / 1e9) : 0;
		f->cpu_mio[f->n] = r.ops ? cpu / ((double)r.ops / 1e6) : 0;
		f->n++;
	}
	return 0;
}

/* Every repetition of every selected load: quiet, then (--hog) contended.
 * 0, or -errno once reported (-EINTR: asked to stop). */
static int run_all(struct bench *b)
{
	unsigned int rep, li, c, nc = b->hog ? NCONDS : 1;
	int rc;

	for (rep = 0; rep < b->reps; rep++) {
		for (li = 0; li < NLOADS; li++) {
			for (c = 0; c < nc && (b->only & (1u << li)); c++) {
				if (bench_stop_requested())
					return -EINTR;
				if (c == C_HOG) {
					rc = bench_hog_start(&b->hogs);
					if (rc) {
						fprintf(stderr,
							"pvkit-bench-blk: "
							"hog: %s\n",
							strerror(-rc));
						return rc;
					}
					b->nhogs = b->hogs.n;
					usleep(HOG_SETTLE_US);
				}
				rc = run_load(b, li, (enum cond)c);
				bench_hog_stop(&b->hogs);
				if (rc)
					return rc;
			}
		}
	}
	return bench_stop_requested() ? -EINTR : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of n figures (not reordering v). */
static double median(const double *v, unsigned int n)
{
	double s[MAX_REPS];

	if (!n)
		return 0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The best native path measured for load li under c (NPATHS if none). */
static enum path best_native(const struct bench *b, unsigned int li,
			     enum cond c)
{
	enum path best = NPATHS;
	double m = -1;
	unsigned int p;

	for (p = 0; p < NPATHS; p++) {
		const struct fig *f = &b->fig[li][c][p];

		if (!path_info[p].native || !f->n)
			continue;
		if (median(f->rate, f->n) > m) {
			m = median(f->rate, f->n);
			best = (enum path)p;
		}
	}
	return best;
}

static double med_rate(const struct bench *b, unsigned int li, enum cond c,
		       enum path p)
{
	const struct fig *f = &b->fig[li][c][p];

	return p < NPATHS && f->n ? median(f->rate, f->n) : 0;
}

static void load_name(const struct bench *b, unsigned int li, char *s,
		      size_t len)
{
	if (loads[li].dom0)
		snprintf(s, len, "4K rand read   QD1, %u guests (sum)",
			 b->guests);
	else
		snprintf(s, len, "%s", loads[li].name);
}

/* "| x" with x the ratio a / b, or "| -" when either is missing. */
static void put_ratio(FILE *out, double a, double b)
{
	if (a > 0 && b > 0)
		fprintf(out, " | %.2f", a / b);
	else
		fputs(" | -", out);
}

/* One row of the CPU table: per GB (m 0) or per million requests. */
static void cpu_row(const struct bench *b, unsigned int li, enum cond c,
		    unsigned int m, const char *name, FILE *out)
{
	unsigned int k;

	fprintf(out, "| %s | %s | %s", name, c == C_QUIET ? "quiet" : "hog",
		m ? "Mio req" : "GB");
	for (k = 0; k < NPATHS; k++) {
		const struct fig *f = &b->fig[li][c][path_order[k]];

		if (f->n)
			fprintf(out, " | %.3f",
				median(m ? f->cpu_mio : f->cpu_gb, f->n));
		else
			fputs(" | -", out);
	}
	fputs(" |\n", out);
}

static void report_tables(const struct bench *b, FILE *out)
{
	unsigned int li, k, c, m, nc = b->hog ? NCONDS : 1;
	char name[64];

	fprintf(out,
		"\n| load | condition | unit | native io_uring | native psync "
		"| split-driver floor | pvkit, copying | pvkit, zero-copy | "
		"NBD (libnbd->nbdkit file) | best native | copying / best "
		"native | zero-copy / best native | NBD / best native | "
		"zero-copy / NBD | zero-copy / floor |\n"
		"|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
		"---:|---:|\n");
	for (li = 0; li < NLOADS; li++) {
		if (!(b->only & (1u << li)))
			continue;
		load_name(b, li, name, sizeof(name));
		for (c = 0; c < nc; c++) {
			enum path best = best_native(b, li, (enum cond)c);
			double nat = med_rate(b, li, (enum cond)c, best);

			fprintf(out, "| %s | %s | %s", name,
				c == C_QUIET ? "quiet" : "hog",
				unit(&loads[li]));
			for (k = 0; k < NPATHS; k++) {
				const struct fig *f =
				    &b->fig[li][c][path_order[k]];

				if (f->n)
					fprintf(out, " | %.0f%s",
						median(f->rate, f->n),
						f->err ? " (errors)" : "");
				else
					fputs(" | -", out);
			}
			fprintf(out, " | %s",
				best < NPATHS ? path_info[best].name + 7 : "-");
			put_ratio(out, med_rate(b, li, c, P_COPY), nat);
			put_ratio(out, med_rate(b, li, c, P_ZC), nat);
			put_ratio(out, med_rate(b, li, c, P_NBD), nat);
			put_ratio(out, med_rate(b, li, c, P_ZC),
				  med_rate(b, li, c, P_NBD));
			put_ratio(out, med_rate(b, li, c, P_ZC),
				  med_rate(b, li, c, P_FLOOR));
			fputs(" |\n", out);
		}
	}
	fprintf(
	    out,
	    "\nCPU cost: CPU seconds per GB (10^9 bytes) moved and per "
	    "million requests;\npvkit = guest kernel(s) + pvkit-blkback + "
	    "pvkit-hvd, native = this process (or its\nreaders), NBD = "
	    "this process + nbdkit\n\n"
	    "| load | condition | CPU s per | native io_uring | native "
	    "psync | split-driver floor | pvkit, copying | pvkit, zero-copy | "
	    "NBD (libnbd->nbdkit file) |\n|---|---|---|---:|---:|---:|---:|"
	    "---:|---:|\n");
	for (li = 0; li < NLOADS; li++) {
		if (!(b->only & (1u << li)))
			continue;
		load_name(b, li, name, sizeof(name));
		for (c = 0; c < nc; c++)
			for (m = 0; m < 2; m++)
				cpu_row(b, li, (enum cond)c, m, name, out);
	}
}

static void json_ratio(struct bench_json *j, const char *key, double a,
		       double b)
{
	if (a > 0 && b > 0)
		bench_json_num(j, key, a / b);
	else
		bench_json_null(j, key);
}

static int report_json(const struct bench *b)
{
	struct bench_json j;
	unsigned int li, c, k, i;
	char name[64];

	bench_json_begin(&j, stdout);
	bench_json_str(&j, "bench", "pvkit-bench-blk");
	bench_json_obj_open(&j, "config");
	bench_json_int(&j, "file_mib", (int64_t)(b->size >> 20));
	bench_json_int(&j, "ms", b->ms);
	bench_json_int(&j, "reps", b->reps);
	bench_json_str(&j, "statistic", "median");
	bench_json_int(&j, "cpus", bench_cpu_count());
	bench_json_bool(&j, "hog", b->hog);
	bench_json_int(&j, "hog_procs", b->nhogs);
	bench_json_int(&j, "guests", b->guests);
	bench_json_int(&j, "guest_disk_mib", b->guests ? GUEST_DISK_MIB : 0);
	bench_json_int(&j, "indirect_segs", b->bo.max_indirect_segs);
	bench_json_int(&j, "queues", b->bo.num_queues);
	bench_json_str(&j, "gb", "1e9 bytes");
	bench_json_obj_close(&j);
	bench_json_arr_open(&j, "loads");
	for (li = 0; li < NLOADS; li++) {
		const struct load *l = &loads[li];

		if (!(b->only & (1u << li)))
			continue;
		load_name(b, li, name, sizeof(name));
		bench_json_obj_open(&j, NULL);
		bench_json_int(&j, "id", li + 1);
		bench_json_str(&j, "name", name);
		bench_json_str(&j, "op", l->write ? "write" : "read");
		bench_json_str(&j, "pattern", l->seq ? "sequential" : "random");
		bench_json_int(&j, "bs", l->bs);
		bench_json_int(&j, "qd", l->qd);
		bench_json_int(&j, "procs", l->dom0 ? b->guests : 1);
		bench_json_str(&j, "unit", unit(l));
		for (c = 0; c < NCONDS; c++) {
			enum path best = best_native(b, li, (enum cond)c);
			double nat = med_rate(b, li, (enum cond)c, best);

			if (c == C_HOG && !b->hog) {
				bench_json_null(&j, cond_key[c]);
				continue;
			}
			bench_json_obj_open(&j, cond_key[c]);
			if (best < NPATHS) {
				bench_json_str(&j, "best_native",
					       path_info[best].key);
				bench_json_num(&j, "best_native_rate", nat);
			} else {
				bench_json_null(&j, "best_native");
				bench_json_null(&j, "best_native_rate");
			}
			bench_json_obj_open(&j, "paths");
			for (k = 0; k < NPATHS; k++) {
				enum path p = path_order[k];
				const struct fig *f = &b->fig[li][c][p];
				double m;

				if (!f->n)
					continue;
				m = median(f->rate, f->n);
				bench_json_obj_open(&j, path_info[p].key);
				bench_json_num(&j, "rate", m);
				bench_json_str(&j, "unit", unit(l));
				bench_json_arr_open(&j, "rates");
				for (i = 0; i < f->n; i++)
					bench_json_num(&j, NULL, f->rate[i]);
				bench_json_arr_close(&j);
				bench_json_num(&j, "cpu_s_per_gb",
					       median(f->cpu_gb, f->n));
				bench_json_num(&j, "cpu_s_per_mio",
					       median(f->cpu_mio, f->n));
				json_ratio(&j, "ratio_vs_best_native", m, nat);
				if (p == P_COPY || p == P_ZC) {
					json_ratio(&j, "ratio_vs_nbd", m,
						   med_rate(b, li, c, P_NBD));
					json_ratio(&j, "ratio_vs_floor", m,
						   med_rate(b, li, c, P_FLOOR));
				}
				if (c == C_HOG)
					json_ratio(&j, "ratio_vs_quiet", m,
						   med_rate(b, li, C_QUIET, p));
				bench_json_bool(&j, "errors", f->err);
				bench_json_obj_close(&j);
			}
			bench_json_obj_close(&j);
			bench_json_obj_close(&j);
		}
		bench_json_obj_close(&j);
	}
	bench_json_arr_close(&j);
	return bench_json_end(&j);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pvkit-bench-blk [-s MIB] [-t MS] [-r REPS] [-l LOADS] "
	    "[-g SEGS] [-q QUEUES]\n"
	    "                       [-p PATHS] [--guests N] [--hog] "
	    "[--json]\n"
	    "  -s  size of the tmpfs file (default 512 MiB)\n"
	    "  -t  milliseconds per load, path and condition (default "
	    "1500)\n"
	    "  -r  repetitions; the median is reported (default 3, at most "
	    "%u)\n"
	    "  -l  only these loads: numbers 1-%zu of the table, "
	    "comma-separated\n"
	    "      (%zu: the --guests load)\n"
	    "  -g  blkfront's indirect segments (default 32, as Linux)\n"
	    "  -q  blkfront's queues (default: one per CPU, up to 4; the "
	    "--guests\n"
	    "      guests: 1)\n"
	    "  -p  only these paths: 1 native io_uring, 2 copying, 3 "
	    "zero-copy, 4 NBD,\n"
	    "      5 native psync, 6 the split-driver floor (QD1 loads: an "
	    "eventfd round\n"
	    "      trip between two processes plus the psync transfer), "
	    "comma-separated\n"
	    "  --guests N  add the Dom0-shaped load: N guests (1-%u), each "
	    "with its own\n"
	    "      %u MiB disk, 4 KiB random reads at QD1 on zero-copy "
	    "buffers all at once,\n"
	    "      against N processes doing pread on the same files at "
	    "once (sum of IOPS)\n"
	    "  --hog   measure every load and path also contended: one "
	    "busy-looping\n"
	    "      process per CPU running beside it\n"
	    "  --json  print every figure as one JSON object on stdout (the "
	    "tables go\n"
	    "      to stderr)\n",
	    MAX_REPS, NLOADS, NLOADS, MAX_GUESTS, GUEST_DISK_MIB);
}

/* "1,3,4" -> bits 0, 2 and 3 set in *set; -1 for a number outside 1..max
 * or anything that is not a number. */
static int parse_set(char *list, unsigned int max, unsigned int *set)
{
	char *tok, *save, *end;

	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long n = strtoul(tok, &end, 10);

		if (*end || n < 1 || n > max)
			return -1;
		*set |= 1u << (n - 1);
	}
	return 0;
}

/* Create a disk file of size bytes filled with data (so that nothing reads
 * holes) and open it; the fd or -errno. */
static int disk_make(struct blk_env *env, const char *name, uint64_t size,
		     uint8_t *chunk, char *path, size_t len)
{
	uint64_t off;
	int fd, rc;

	rc = blk_env_disk(env, name, size, path, len);
	if (rc)
		return rc;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (off = 0; off < size; off += MAX_BS) {
		memset(chunk, (int)(off >> 20), MAX_BS);
		if (pwrite(fd, chunk, MAX_BS, (off_t)off) != MAX_BS) {
			rc = -EIO;
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* Bring up what the selected loads and paths need. */
static int bench_setup(struct bench *b)
{
	bool std = b->only & ((1u << LOAD_DOM0) - 1);
	char disk[128], sock[200], uri[260], name[32];
	struct guest_arg ga;
	unsigned int i;
	int rc;

	if (blk_env_start(&b->env) || blk_env_backend(&b->env, NULL)) {
		fprintf(stderr, "pvkit-bench-blk: cannot start pvkit-hvd, "
				"pvkit-xenstored and pvkit-blkback (set "
				"PVKIT_HVD, PVKIT_XENSTORED, PVKIT_BLKBACK; "
				"see bench/block/run.sh)\n");
		return -ESRCH;
	}
	memset(&ga, 0, sizeof(ga));
	ga.bo = b->bo;
	if (std) {
		b->fd = disk_make(&b->env, "bench.img", b->size, b->bufs, disk,
				  sizeof(disk));
		if (b->fd < 0)
			return b->fd;
	}
	if (std && (b->paths & (1u << P_NBD))) {
		/* NBD: nbdkit's file plugin on a unix socket. */
		snprintf(sock, sizeof(sock), "%s/nbd.sock", b->env.shm);
		b->nk = nbdkit_start(disk, sock);
		b->h = nbd_create();
		snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
		if (b->nk < 0 || !b->h || nbd_connect_uri(b->h, uri) < 0) {
			fprintf(stderr,
				"pvkit-bench-blk: NBD: %s (is nbdkit "
				"installed?)\n",
				b->h ? nbd_get_error() : "");
			return -ESRCH;
		}
	}
	if (std && (b->paths & (1u << P_COPY | 1u << P_ZC))) {
		/* pvkit: a DomU with the file as xvda. */
		ga.size = b->size;
		rc = guest_start(&b->env, disk, &ga, &b->g);
		if (rc) {
			fprintf(stderr,
				"pvkit-bench-blk: the guest could not "
				"open its disk: %s\n",
				strerror(-rc));
			return rc;
		}
	}
	if (!(b->only & (1u << LOAD_DOM0)))
		return 0;
	ga.size = (uint64_t)GUEST_DISK_MIB << 20;
	ga.dom0 = true;
	if (!b->bo.num_queues)
		ga.bo.num_queues = 1;
	for (i = 0; i < b->guests; i++) {
		snprintf(name, sizeof(name), "guest%u.img", i);
		b->dfd[i] = disk_make(&b->env, name, ga.size, b->bufs, disk,
				      sizeof(disk));
		if (b->dfd[i] < 0)
			return b->dfd[i];
		if (!(b->paths & (1u << P_ZC)))
			continue;
		rc = guest_start(&b->env, disk, &ga, &b->dg[i]);
		if (rc) {
			fprintf(stderr,
				"pvkit-bench-blk: guest %u of %u could "
				"not open its disk: %s\n",
				i + 1, b->guests, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void bench_teardown(struct bench *b)
{
	unsigned int i;

	bench_hog_stop(&b->hogs);
	guest_stop(&b->env, &b->g);
	for (i = 0; i < MAX_GUESTS; i++) {
		guest_stop(&b->env, &b->dg[i]);
		if (b->dfd[i] >= 0)
			close(b->dfd[i]);
	}
	if (b->h)
		nbd_close(b->h);
	if (b->nk > 0) {
		kill(b->nk, SIGTERM);
		waitpid(b->nk, NULL, 0);
	}
	if (b->fd >= 0)
		close(b->fd);
	free(b->bufs);
	blk_env_stop(&b->env);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"guests", required_argument, NULL, 'G'},
	    {"hog", no_argument, NULL, 'H'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct bench b;
	unsigned int i;
	FILE *out;
	uint64_t v;
	int opt, rc = 1;

	b.size = 512ull << 20;
	b.ms = 1500;
	b.reps = 3;
	b.bo.max_indirect_segs = 32;
	b.fd = -1;
	b.nk = -1;
	b.g.pid = b.g.cmd_wr = b.g.res_rd = -1;
	for (i = 0; i < MAX_GUESTS; i++) {
		b.dg[i].pid = b.dg[i].cmd_wr = b.dg[i].res_rd = -1;
		b.dfd[i] = -1;
	}
	while ((opt = getopt_long(argc, argv, "s:t:r:l:g:q:p:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 's':
			b.size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 't':
			b.ms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			b.reps = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			if (parse_set(optarg, NLOADS, &b.only)) {
				usage(stderr);
				return 2;
			}
			break;
		case 'g':
			b.bo.max_indirect_segs =
			    (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'q':
			b.bo.num_queues =
			    (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			if (parse_set(optarg, NPATHS, &b.paths)) {
				usage(stderr);
				return 2;
			}
			break;
		case 'G':
			if (pvk_parse_u64(optarg, 1, MAX_GUESTS, &v)) {
				usage(stderr);
				return 2;
			}
			b.guests = (unsigned int)v;
			break;
		case 'H':
			b.hog = true;
			break;
		case 'J':
			b.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!b.only)
		b.only =
		    ((1u << LOAD_DOM0) - 1) | (b.guests ? 1u << LOAD_DOM0 : 0);
	if (!b.paths)
		b.paths = (1u << NPATHS) - 1;
	if (b.size < (64ull << 20) || !b.ms || !b.reps || b.reps > MAX_REPS ||
	    optind != argc || ((b.only & (1u << LOAD_DOM0)) && !b.guests)) {
		usage(stderr);
		return 2;
	}
	out = b.json ? stderr : stdout;
	b.bufs = bufs_alloc();
	if (!b.bufs)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/* SIGINT, SIGTERM, SIGHUP: stop after the run in progress. */
	bench_stop_install();
	if (bench_setup(&b))
		goto out;
	fprintf(out,
		"pvkit-bench-blk: %u ms per load, path and condition, %u "
		"repetitions (median)",
		b.ms, b.reps);
	if (b.only & ((1u << LOAD_DOM0) - 1))
		fprintf(out, ", %llu MiB tmpfs file",
			(unsigned long long)(b.size >> 20));
	if (b.guests)
		fprintf(out, ", %u guests with a %u MiB disk each", b.guests,
			GUEST_DISK_MIB);
	if (b.hog)
		fprintf(out, ", contended: %u busy-looping processes",
			bench_cpu_count());
	fputs("\n", out);
	fflush(out);
	if (run_all(&b))
		goto out;
	report_tables(&b, out);
	rc = b.json && report_json(&b) ? 1 : 0;
out:
	bench_teardown(&b);
	bench_stop_reraise();
	return rc;
}
