/*
 * bench_blk.c - pvkit-bench-blk: block I/O through blkfront -> blkback
 * against the same load issued natively with io_uring (the limit) and
 * through NBD (nbdkit's file plugin, read and written with libnbd directly:
 * the common userspace alternative), side by side in one run, on one
 * tmpfs-backed file:
 *
 *   4 KiB random read and write at queue depths 1 and 32 (IOPS)
 *   1 MiB sequential read and write at queue depth 4 (MiB/s)
 *
 * blkfront is measured twice: with the caller's own buffers (copied
 * through blkfront's shared pages) and with zero-copy buffers from
 * blkfront_buf_alloc.  Each repetition runs every load on all four paths
 * in turn; the table
 * gives the median over the repetitions and the ratios.  A private
 * pvkit-hvd, pvkit-xenstored and pvkit-blkback are started through the
 * block test environment ($PVKIT_HVD, $PVKIT_XENSTORED, $PVKIT_BLKBACK);
 * nbdkit comes from $PVKIT_NBDKIT or PATH.  The guest (a forked DomU
 * kernel using blkfront's guest-native asynchronous API) is driven over
 * pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <libnbd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "block_env.h"
#include "pvkit/blkfront.h"

#define MAX_QD 32u
#define MAX_BS (1u << 20)
#define NPATHS 4 /* native, pvkit copying, pvkit zero-copy, NBD */

struct load {
	const char *name;
	bool write, seq;
	uint32_t bs;
	unsigned int qd;
};

static const struct load loads[] = {
	{"4K rand read   QD1", false, false, 4096, 1},
	{"4K rand read   QD32", false, false, 4096, 32},
	{"4K rand write  QD1", true, false, 4096, 1},
	{"4K rand write  QD32", true, false, 4096, 32},
	{"1M seq read    QD4", false, true, MAX_BS, 4},
	{"1M seq write   QD4", true, true, MAX_BS, 4},
};
#define NLOADS (sizeof(loads) / sizeof(loads[0]))

struct result {
	uint64_t ops, ns;
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Offsets: random bs-aligned, or sequential wrapping at the end. */
struct offgen {
	uint64_t x, next, span;
	uint32_t bs;
	bool seq;
};

static void offgen_init(struct offgen *g, const struct load *l, uint64_t size)
{
	g->x = 0x9e3779b97f4a7c15ull;
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
	struct result r = {0, 0, 0};
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
	offgen_init(&g, l, size);
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
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
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

/* ---- NBD: libnbd against nbdkit's file plugin ------------------------------ */

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
	struct result r = {0, 0, 0};
	struct nbd_slot slots[MAX_QD];
	struct nbd_run run;
	struct offgen g;
	uint64_t t0, end;
	bool stop = false;
	unsigned int i;

	memset(&run, 0, sizeof(run));
	offgen_init(&g, l, size);
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
			int64_t c = l->write ? nbd_aio_pwrite(h, b, l->bs,
							      offgen_next(&g),
							      cb, 0)
					     : nbd_aio_pread(h, b, l->bs,
							     offgen_next(&g),
							     cb, 0);

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

/* ---- pvkit: blkfront in a DomU ------------------------------------------------ */

struct guest_arg {
	int cmd_rd, res_wr; /* pipes */
	uint64_t size;
	struct blkfront_opts bo; /* -g, -q; the rest blkfront's defaults */
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
	return blkfront_submit(run->bf,
			       run->l->write ? BLKFRONT_WRITE : BLKFRONT_READ,
			       off >> 9, run->bufv[s->idx], run->l->bs >> 9,
			       bf_done, s);
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
				  uint64_t dur_ns)
{
	struct bf_run run = {.m = PTHREAD_MUTEX_INITIALIZER,
			     .c = PTHREAD_COND_INITIALIZER,
			     .l = l,
			     .bf = bf,
			     .bufv = bufv};
	struct bf_slot slots[MAX_QD];
	struct result r = {0, 0, 0};
	uint64_t t0;
	unsigned int i;

	offgen_init(&run.g, l, size);
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

static int guest_main(struct pvk_platform *plat, struct xs_client *xs,
		      void *p)
{
	struct guest_arg *a = p;
	struct blkfront *bf;
	uint8_t *bufs = bufs_alloc(), *own[MAX_QD], *zc[MAX_QD];
	struct result r = {0, 0, 0};
	struct {
		int32_t load;
		uint32_t ms;
	} cmd;
	unsigned int i;
	int rc;

	if (!bufs)
		return 2;
	rc = blkfront_open(plat, xs, "xvda", &a->bo, &bf);
	/* The same buffers twice: the caller's own, and zero-copy ones. */
	for (i = 0; !rc && i < MAX_QD; i++) {
		own[i] = bufs + (size_t)i * MAX_BS;
		zc[i] = blkfront_buf_alloc(bf, MAX_BS);
		if (!zc[i])
			rc = -errno;
		else
			memset(zc[i], 0x5a, MAX_BS);
	}
	r.err = rc;
	if (write(a->res_wr, &r, sizeof(r)) != sizeof(r) || rc)
		return 3;
	while (read(a->cmd_rd, &cmd, sizeof(cmd)) == sizeof(cmd) &&
	       cmd.load >= 0 && (size_t)cmd.load < 2 * NLOADS) {
		r = run_blkfront(&loads[cmd.load % NLOADS], bf,
				 (size_t)cmd.load >= NLOADS ? zc : own, a->size,
				 (uint64_t)cmd.ms * 1000000ull);
		if (write(a->res_wr, &r, sizeof(r)) != sizeof(r))
			break;
	}
	for (i = 0; i < MAX_QD; i++)
		blkfront_buf_free(bf, zc[i]);
	blkfront_close(bf);
	free(bufs);
	return 0;
}

/* ---- the run ------------------------------------------------------------------------ */

static double rate(const struct load *l, const struct result *r)
{
	double s = (double)r->ns / 1e9;

	if (!r->ns)
		return 0;
	if (l->bs >= MAX_BS)
		return (double)r->ops * l->bs / (1024.0 * 1024.0) / s;
	return (double)r->ops / s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvkit-bench-blk [-s MIB] [-t MS] [-r REPS] [-l LOADS] "
		   "[-g SEGS] [-q QUEUES] [-p PATHS]\n"
		   "  -s  size of the tmpfs file (default 512 MiB)\n"
		   "  -t  milliseconds per load and path (default 1500)\n"
		   "  -r  repetitions; the median is reported (default 3)\n"
		   "  -l  only these loads: numbers 1-%zu of the table, "
		   "comma-separated\n"
		   "  -g  blkfront's indirect segments (default 32, as Linux)\n"
		   "  -q  blkfront's queues (default: one per CPU, up to 4)\n"
		   "  -p  only these paths: 1 native, 2 copying, 3 zero-copy, "
		   "4 NBD,\n"
		   "      comma-separated (for profiling one path)\n",
		NLOADS);
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

int main(int argc, char **argv)
{
	static struct blk_env env;
	uint64_t size = 512ull << 20;
	unsigned int ms = 1500, reps = 3, rep, li, k, only = 0, paths = 0;
	double fig[NLOADS][NPATHS][16];
	int cmd_p[2], res_p[2], fd = -1, opt, rc = 1;
	struct guest_arg ga;
	struct nbd_handle *h = NULL;
	struct result r;
	char disk[128], sock[200], uri[260];
	uint8_t *bufs = bufs_alloc(), *chunk;
	pid_t nk = -1, gpid = -1;
	domid_t d;

	memset(&ga, 0, sizeof(ga));
	ga.bo.max_indirect_segs = 32;
	while ((opt = getopt(argc, argv, "s:t:r:l:g:q:p:h")) != -1) {
		switch (opt) {
		case 's':
			size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 't':
			ms = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			reps = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			if (parse_set(optarg, NLOADS, &only)) {
				usage(stderr);
				return 2;
			}
			break;
		case 'g':
			ga.bo.max_indirect_segs =
				(unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'q':
			ga.bo.num_queues = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			if (parse_set(optarg, NPATHS, &paths)) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!only)
		only = (1u << NLOADS) - 1;
	if (!paths)
		paths = (1u << NPATHS) - 1;
	if (size < (64ull << 20) || !ms || !reps || reps > 16 || !bufs) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (blk_env_start(&env) || blk_env_backend(&env, NULL)) {
		fprintf(stderr, "pvkit-bench-blk: cannot start pvkit-hvd, "
				"pvkit-xenstored and pvkit-blkback (set "
				"PVKIT_HVD, PVKIT_XENSTORED, PVKIT_BLKBACK; "
				"see bench/block/run.sh)\n");
		goto out;
	}
	/* The file, filled with data so that nothing reads holes. */
	if (blk_env_disk(&env, "bench.img", size, disk, sizeof(disk)))
		goto out;
	fd = open(disk, O_RDWR);
	chunk = malloc(MAX_BS);
	if (fd < 0 || !chunk)
		goto out;
	for (uint64_t off = 0; off < size; off += MAX_BS) {
		memset(chunk, (int)(off >> 20), MAX_BS);
		if (pwrite(fd, chunk, MAX_BS, (off_t)off) != MAX_BS)
			goto out;
	}
	free(chunk);
	/* NBD: nbdkit's file plugin on a unix socket. */
	snprintf(sock, sizeof(sock), "%s/nbd.sock", env.shm);
	nk = nbdkit_start(disk, sock);
	h = nbd_create();
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
	if (nk < 0 || !h || nbd_connect_uri(h, uri) < 0) {
		fprintf(stderr, "pvkit-bench-blk: NBD: %s (is nbdkit "
				"installed?)\n", h ? nbd_get_error() : "");
		goto out;
	}
	/* pvkit: a DomU with the file as xvda. */
	if (pipe(cmd_p) || pipe(res_p))
		goto out;
	ga.cmd_rd = cmd_p[0];
	ga.res_wr = res_p[1];
	ga.size = size;
	if (blk_env_guest(&env, disk, "w", guest_main, &ga, sizeof(ga), &d,
			  &gpid) ||
	    read(res_p[0], &r, sizeof(r)) != sizeof(r) || r.err) {
		fprintf(stderr, "pvkit-bench-blk: the guest could not open "
				"its disk\n");
		goto out;
	}
	printf("pvkit-bench-blk: %llu MiB tmpfs file, %u ms per load and "
	       "path, %u repetitions (median)\n",
	       (unsigned long long)(size >> 20), ms, reps);
	fflush(stdout);
	for (rep = 0; rep < reps; rep++) {
		for (li = 0; li < NLOADS; li++) {
			const struct load *l = &loads[li];
			struct {
				int32_t load;
				uint32_t ms;
			} cmd = {(int32_t)li, ms};

			if (!(only & (1u << li)))
				continue;
			memset(&r, 0, sizeof(r));
			if (paths & 1u)
				r = run_uring(l, fd, bufs, size,
					      (uint64_t)ms * 1000000);
			if (r.err)
				fprintf(stderr, "native %s: errors\n", l->name);
			fig[li][0][rep] = rate(l, &r);
			for (k = 1; k <= 2; k++) {
				fig[li][k][rep] = 0;
				if (!(paths & (1u << k)))
					continue;
				cmd.load = (int32_t)(li + (k - 1) * NLOADS);
				if (write(cmd_p[1], &cmd, sizeof(cmd)) !=
					    sizeof(cmd) ||
				    read(res_p[0], &r, sizeof(r)) != sizeof(r)) {
					fprintf(stderr, "pvkit-bench-blk: the "
							"guest died\n");
					goto out;
				}
				if (r.err)
					fprintf(stderr, "pvkit %s %s: errors\n",
						k == 1 ? "copying" : "zero-copy",
						l->name);
				fig[li][k][rep] = rate(l, &r);
			}
			memset(&r, 0, sizeof(r));
			if (paths & 8u)
				r = run_nbd(l, h, bufs, size,
					    (uint64_t)ms * 1000000);
			if (r.err)
				fprintf(stderr, "NBD %s: errors\n", l->name);
			fig[li][3][rep] = rate(l, &r);
		}
	}
	printf("\n| load | native io_uring | pvkit, copying | pvkit, zero-copy "
	       "| NBD (libnbd->nbdkit file) | copying / native | zero-copy / "
	       "native | zero-copy / NBD |\n"
	       "|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (li = 0; li < NLOADS; li++) {
		const struct load *l = &loads[li];
		const char *unit = l->bs >= MAX_BS ? "MiB/s" : "IOPS";
		double m[NPATHS];

		if (!(only & (1u << li)))
			continue;
		for (k = 0; k < NPATHS; k++)
			m[k] = median(fig[li][k], reps);
		printf("| %s | %.0f %s | %.0f %s | %.0f %s | %.0f %s | %.2f | "
		       "%.2f | %.2f |\n",
		       l->name, m[0], unit, m[1], unit, m[2], unit, m[3], unit,
		       m[0] > 0 ? m[1] / m[0] : 0, m[0] > 0 ? m[2] / m[0] : 0,
		       m[3] > 0 ? m[2] / m[3] : 0);
	}
	rc = 0;
out:
	if (gpid > 0) {
		struct {
			int32_t load;
			uint32_t ms;
		} stop = {-1, 0};

		if (write(cmd_p[1], &stop, sizeof(stop)) < 0)
			kill(gpid, SIGKILL);
		blk_env_guest_end(&env, d, gpid);
	}
	if (h)
		nbd_close(h);
	if (nk > 0) {
		kill(nk, SIGTERM);
		waitpid(nk, NULL, 0);
	}
	if (fd >= 0)
		close(fd);
	free(bufs);
	blk_env_stop(&env);
	return rc;
}
