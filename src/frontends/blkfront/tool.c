/*
 * tool.c - pvkit-blkfront: one virtual disk of this domain through pvkit's
 * blkfront, from the command line.  On real Xen it runs in a Linux
 * domain's userspace (gntalloc, evtchn, /dev/xen/xenbus) whose kernel
 * leaves the disk alone; on the emulated platform in any process the
 * platform and xenstore client can be opened for.
 *
 *   pvkit-blkfront [OPTIONS] VDEV info
 *   pvkit-blkfront [OPTIONS] VDEV write-verify [MIB [SEED]]
 *   pvkit-blkfront [OPTIONS] VDEV verify MIB SEED
 *   pvkit-blkfront [OPTIONS] VDEV read [SECTOR [COUNT]]   (raw to stdout)
 *
 * write-verify writes MIB (default 8) MiB of stamped 4 KiB blocks from
 * sector 0 (one thread per queue, 128 KiB operations; with --zero-copy,
 * 1 MiB ones on buffers from blkfront_buf_alloc, granted straight to the
 * backend), flushes, reads it all back and checks every block; verify
 * only reads and checks what an earlier write-verify with SEED wrote.  A
 * wrong block is described (what its stamp says, which bytes differ), so
 * a lost, stale, misdirected or torn write can be told apart.  Every
 * action prints the negotiated features as one "features:" line of
 * key=value pairs.  Exit status 0 on success, 1 on any failure.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "pvkit/blkfront.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"

#define BLOCK 4096u
#define BLOCK_SECTORS (BLOCK / 512u)
#define CHUNK_BLOCKS 32u /* 128 KiB: more than 11 segments (indirect) */
#define ZC_CHUNK_BLOCKS 256u /* 1 MiB: one request on a zero-copy buffer */
#define STAMP_MAGIC 0x31464b4256505ull /* "PVKBF1" */

struct stamp { /* at the start of each 4 KiB block */
	uint64_t magic, block, seed;
};

/* The block's expected content: a stamp, then a xorshift stream. */
static void block_fill(uint8_t *p, uint64_t block, uint64_t seed)
{
	struct stamp st = {STAMP_MAGIC, block, seed};
	uint64_t x = seed ^ (block * 0x9e3779b97f4a7c15ull) ^ 1;
	unsigned int i;

	memcpy(p, &st, sizeof(st));
	for (i = sizeof(st); i < BLOCK; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static void print_features(FILE *f, const struct blkfront *bf)
{
	const struct blkfront_info *in = blkfront_info(bf);

	fprintf(f, "features: queues=%u ring-pages=%u indirect-segments=%u "
	       "persistent=%d flush=%d barrier=%d discard=%d protocol=%s "
	       "sectors=%" PRIu64 " sector-size=%u readonly=%d\n",
	       in->nr_queues, in->ring_pages, in->indirect_segs,
	       in->persistent, in->flush, in->barrier, in->discard,
	       in->protocol, in->sectors, in->sector_size, in->readonly);
	fflush(f);
}

static void print_stats(const struct blkfront *bf)
{
	struct blkfront_stats st;
	unsigned int i, nq = blkfront_info(bf)->nr_queues;

	blkfront_get_stats(bf, &st);
	printf("stats: requests=%" PRIu64 " responses=%" PRIu64
	       " events=%" PRIu64 " spurious=%" PRIu64 " per-queue=",
	       st.requests, st.responses, st.events, st.spurious_events);
	for (i = 0; i < nq && i < BLKFRONT_MAX_QUEUES; i++)
		printf("%s%" PRIu64, i ? "," : "", st.queue_requests[i]);
	printf("\n");
	fflush(stdout);
}

/* Say how the block read as got differs from block `block` of seed. */
static void block_describe(const uint8_t *got, const uint8_t *want,
			   uint64_t block, uint64_t seed)
{
	struct stamp st;
	unsigned int i, first = BLOCK, last = 0, ndiff = 0, nzero = 0;

	memcpy(&st, got, sizeof(st));
	for (i = 0; i < BLOCK; i++) {
		nzero += !got[i];
		if (got[i] == want[i])
			continue;
		ndiff++;
		if (i < first)
			first = i;
		last = i;
	}
	printf("wrong block %" PRIu64 " (sector %" PRIu64 "): %u of %u bytes "
	       "differ, offsets %u..%u; %s; its stamp: %s block %" PRIu64
	       " seed %" PRIu64 " (want block %" PRIu64 " seed %" PRIu64
	       ")%s%s\n",
	       block, block * BLOCK_SECTORS, ndiff, BLOCK, first, last,
	       nzero == BLOCK ? "all zero" : "not zero",
	       st.magic == STAMP_MAGIC ? "valid," : "no magic,", st.block,
	       st.seed, block, seed,
	       st.magic == STAMP_MAGIC && st.seed != seed
		       ? ": another run's data (a lost or stale write)"
		       : "",
	       st.magic == STAMP_MAGIC && st.seed == seed && st.block != block
		       ? ": another block's data (misdirected)"
		       : "");
}

/* ---- write-verify: one thread per queue, blocks interleaved by chunk ---- */

struct worker {
	struct blkfront *bf;
	pthread_t thr;
	unsigned int idx, nthreads;
	uint64_t nblocks, seed;
	bool write, zc;
	int rc;
	uint64_t bad, first_bad;
};

/* After a wrong block: read it again on its own.  Right now means the
 * first read went wrong; the same wrong bytes mean the disk holds them. */
static void block_reread(struct worker *w, uint64_t block, const uint8_t *want,
			 const uint8_t *first)
{
	uint8_t *again = NULL;
	int rc;

	if (posix_memalign((void **)&again, BLOCK, BLOCK))
		return;
	rc = blkfront_read(w->bf, block * BLOCK_SECTORS, again, BLOCK_SECTORS);
	printf("wrong block %" PRIu64 " read again: %s\n", block,
	       rc		       ? strerror(-rc)
	       : !memcmp(again, want, BLOCK)  ? "right now (the first read went wrong)"
	       : !memcmp(again, first, BLOCK) ? "the same wrong bytes (on the disk)"
					      : "wrong differently");
	free(again);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = NULL, *want = NULL;
	uint64_t chunk = w->zc ? ZC_CHUNK_BLOCKS : CHUNK_BLOCKS;
	uint64_t c, b, nchunks = (w->nblocks + chunk - 1) / chunk;

	if (w->zc)
		buf = blkfront_buf_alloc(w->bf, chunk * BLOCK);
	else if (posix_memalign((void **)&buf, BLOCK, chunk * BLOCK))
		buf = NULL;
	if (!buf || !(want = malloc(BLOCK))) {
		w->rc = -ENOMEM;
		goto out;
	}
	w->first_bad = UINT64_MAX;
	for (c = w->idx; c < nchunks; c += w->nthreads) {
		uint64_t first = c * chunk;
		uint32_t n = (uint32_t)(w->nblocks - first < chunk
						? w->nblocks - first
						: chunk);

		if (w->write) {
			for (b = 0; b < n; b++)
				block_fill(buf + b * BLOCK, first + b, w->seed);
			w->rc = blkfront_write(w->bf, first * BLOCK_SECTORS,
					       buf, n * BLOCK_SECTORS);
		} else {
			memset(buf, 0, (size_t)n * BLOCK);
			w->rc = blkfront_read(w->bf, first * BLOCK_SECTORS,
					      buf, n * BLOCK_SECTORS);
			for (b = 0; !w->rc && b < n; b++) {
				block_fill(want, first + b, w->seed);
				if (!memcmp(want, buf + b * BLOCK, BLOCK))
					continue;
				if (w->bad < 4) {
					block_describe(buf + b * BLOCK, want,
						       first + b, w->seed);
					block_reread(w, first + b, want,
						     buf + b * BLOCK);
				}
				w->bad++;
				if (first + b < w->first_bad)
					w->first_bad = first + b;
			}
		}
		if (w->rc)
			break;
	}
out:
	if (w->zc && buf)
		blkfront_buf_free(w->bf, buf);
	else
		free(buf);
	free(want);
	return NULL;
}

/* Run one pass (write or read+check) over nblocks with nthreads threads. */
static int pass_run(struct blkfront *bf, unsigned int nthreads,
		    uint64_t nblocks, uint64_t seed, bool write, bool zc,
		    uint64_t *bad, uint64_t *first_bad)
{
	struct worker w[BLKFRONT_MAX_QUEUES];
	unsigned int i, started = 0;
	int rc = 0;

	*bad = 0;
	*first_bad = UINT64_MAX;
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){.bf = bf, .idx = i, .nthreads = nthreads,
				       .nblocks = nblocks, .seed = seed,
				       .write = write, .zc = zc};
		rc = -pthread_create(&w[i].thr, NULL, worker_run, &w[i]);
		if (rc)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(w[i].thr, NULL);
		if (w[i].rc && !rc)
			rc = w[i].rc;
		*bad += w[i].bad;
		if (w[i].first_bad < *first_bad)
			*first_bad = w[i].first_bad;
	}
	return rc;
}

static double secs_since(uint64_t t0)
{
	return (double)(pvk_now_ns() - t0) / 1e9;
}

/* The reading pass of write-verify and verify (what names it). */
static int check_pass(struct blkfront *bf, const char *what,
		      unsigned int nthreads, uint64_t nblocks, uint64_t seed,
		      bool zc)
{
	uint64_t bad, first, t0 = pvk_now_ns();
	int rc;

	rc = pass_run(bf, nthreads, nblocks, seed, false, zc, &bad, &first);
	if (rc) {
		printf("%s: read failed: %s\n", what, strerror(-rc));
		return rc;
	}
	if (bad) {
		printf("%s: %" PRIu64 " of %" PRIu64 " blocks wrong, first "
		       "%" PRIu64 "\n", what, bad, nblocks, first);
		return -EIO;
	}
	printf("%s: read back and verified in %.2f s: OK (%" PRIu64 " blocks "
	       "of seed %" PRIu64 ")\n", what, secs_since(t0), nblocks, seed);
	return 0;
}

static int do_write_verify(struct blkfront *bf, bool zc, int argc,
			   char **argv)
{
	const struct blkfront_info *in = blkfront_info(bf);
	uint64_t mib = 8, seed = (uint64_t)pvk_now_ns(), nblocks, bad, first;
	unsigned int nthreads = in->nr_queues ? in->nr_queues : 1;
	uint64_t t0;
	int rc;

	if (argc > 0 && pvk_parse_u64(argv[0], 1, 1u << 20, &mib)) {
		fprintf(stderr, "write-verify: bad MiB count '%s'\n", argv[0]);
		return -EINVAL;
	}
	if (argc > 1 && pvk_parse_u64(argv[1], 0, UINT64_MAX, &seed)) {
		fprintf(stderr, "write-verify: bad seed '%s'\n", argv[1]);
		return -EINVAL;
	}
	nblocks = mib * (1u << 20) / BLOCK;
	if (in->readonly) {
		fprintf(stderr, "write-verify: the disk is read-only\n");
		return -EROFS;
	}
	if (nblocks * BLOCK_SECTORS > in->sectors) {
		fprintf(stderr, "write-verify: %" PRIu64 " MiB do not fit on "
			"the disk (%" PRIu64 " sectors)\n", mib, in->sectors);
		return -ENOSPC;
	}
	printf("write-verify: %" PRIu64 " MiB, %" PRIu64 " blocks of 4 KiB, "
	       "seed %" PRIu64 ", %u thread(s), %s\n", mib, nblocks, seed,
	       nthreads, zc ? "1 MiB zero-copy operations"
			    : "128 KiB copied operations");
	t0 = pvk_now_ns();
	rc = pass_run(bf, nthreads, nblocks, seed, true, zc, &bad, &first);
	if (rc) {
		printf("write-verify: write failed: %s\n", strerror(-rc));
		return rc;
	}
	printf("write-verify: written in %.2f s\n", secs_since(t0));
	if (in->flush) {
		t0 = pvk_now_ns();
		rc = blkfront_flush(bf);
		if (rc) {
			printf("write-verify: flush failed: %s\n",
			       strerror(-rc));
			return rc;
		}
		printf("write-verify: flushed in %.3f s\n", secs_since(t0));
	} else {
		printf("write-verify: no flush (the backend offers none)\n");
	}
	return check_pass(bf, "write-verify", nthreads, nblocks, seed, zc);
}

/* Read back and check what write-verify wrote with a given seed. */
static int do_verify(struct blkfront *bf, bool zc, int argc, char **argv)
{
	const struct blkfront_info *in = blkfront_info(bf);
	unsigned int nthreads = in->nr_queues ? in->nr_queues : 1;
	uint64_t mib, seed, nblocks;

	if (argc != 2 || pvk_parse_u64(argv[0], 1, 1u << 20, &mib) ||
	    pvk_parse_u64(argv[1], 0, UINT64_MAX, &seed)) {
		fprintf(stderr, "verify: want MIB SEED\n");
		return -EINVAL;
	}
	nblocks = mib * (1u << 20) / BLOCK;
	if (nblocks * BLOCK_SECTORS > in->sectors) {
		fprintf(stderr, "verify: %" PRIu64 " MiB are more than the "
			"disk (%" PRIu64 " sectors)\n", mib, in->sectors);
		return -ENOSPC;
	}
	return check_pass(bf, "verify", nthreads, nblocks, seed, zc);
}

/* ---- read: raw sectors to stdout ---- */

static int do_read(struct blkfront *bf, int argc, char **argv)
{
	const struct blkfront_info *in = blkfront_info(bf);
	uint64_t sector = 0, count, done = 0;
	uint8_t *buf = NULL;
	int rc = 0;

	if (argc > 0 && pvk_parse_u64(argv[0], 0, UINT64_MAX, &sector)) {
		fprintf(stderr, "read: bad sector '%s'\n", argv[0]);
		return -EINVAL;
	}
	count = sector < in->sectors ? in->sectors - sector : 0;
	if (argc > 1 && pvk_parse_u64(argv[1], 0, count, &count)) {
		fprintf(stderr, "read: bad count '%s' (at most %" PRIu64 ")\n",
			argv[1], count);
		return -EINVAL;
	}
	if (posix_memalign((void **)&buf, BLOCK, CHUNK_BLOCKS * BLOCK))
		return -ENOMEM;
	while (done < count) {
		uint32_t n = (uint32_t)(count - done < CHUNK_BLOCKS * BLOCK_SECTORS
						? count - done
						: CHUNK_BLOCKS * BLOCK_SECTORS);

		rc = blkfront_read(bf, sector + done, buf, n);
		if (rc)
			break;
		if (fwrite(buf, 512, n, stdout) != n) {
			rc = -EIO;
			break;
		}
		done += n;
	}
	free(buf);
	if (fflush(stdout) && !rc)
		rc = -EIO;
	return rc;
}

/* A crash says where (module+offset, for addr2line), then dies of it:
 * the interop harness has no debugger in its DomU. */
static void on_fatal(int sig)
{
	static const char msg[] = "pvkit-blkfront: fatal signal, backtrace:\n";
	void *bt[32];
	int n = backtrace(bt, 32);

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		n = 0;
	backtrace_symbols_fd(bt, n, STDERR_FILENO);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvkit-blkfront [OPTIONS] VDEV ACTION [ARGS]\n"
		"  VDEV: xvda..., or a decimal device id\n"
		"  ACTION: info | write-verify [MIB [SEED]] | verify MIB SEED "
		"|\n"
		"          read [SECTOR [COUNT]]\n"
		"  -P, --platform=xen|emulated  (default: PVKIT_PLATFORM, "
		"else detected)\n"
		"  -q, --queues=N       queues wanted (default: min(4, the "
		"backend's))\n"
		"  -o, --ring-order=N   ring page order wanted (default 0)\n"
		"  -i, --indirect=N     segments per indirect request (0: "
		"none; default 32)\n"
		"  -n, --no-persistent  do not ask for persistent grants\n"
		"  -z, --zero-copy      write-verify through blkfront_buf_alloc "
		"buffers,\n"
		"                       1 MiB per operation\n"
		"  -t, --timeout=MS     each xenbus step (default 10000)\n"
		"  -v, --verbose\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"platform", required_argument, NULL, 'P'},
		{"queues", required_argument, NULL, 'q'},
		{"ring-order", required_argument, NULL, 'o'},
		{"indirect", required_argument, NULL, 'i'},
		{"no-persistent", no_argument, NULL, 'n'},
		{"zero-copy", no_argument, NULL, 'z'},
		{"timeout", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct blkfront_opts o = {.max_indirect_segs = 32};
	const char *which = NULL, *vdev, *action;
	struct pvk_platform *plat = NULL;
	struct xs_client *xs = NULL;
	struct blkfront *bf = NULL;
	enum pvk_log_level lvl = PVK_LOG_WARN;
	uint64_t v;
	bool zc = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "P:q:o:i:nzt:vh", lopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'P':
			which = optarg;
			break;
		case 'q':
			if (pvk_parse_u64(optarg, 1, BLKFRONT_MAX_QUEUES, &v))
				goto bad;
			o.num_queues = (unsigned int)v;
			break;
		case 'o':
			if (pvk_parse_u64(optarg, 0, 8, &v))
				goto bad;
			o.ring_page_order = (unsigned int)v;
			break;
		case 'i':
			if (pvk_parse_u64(optarg, 0, 4096, &v))
				goto bad;
			o.max_indirect_segs = (unsigned int)v;
			break;
		case 'n':
			o.no_persistent = true;
			break;
		case 'z':
			zc = true;
			break;
		case 't':
			if (pvk_parse_u64(optarg, 1, 600000, &v))
				goto bad;
			o.timeout_ms = (int)v;
			break;
		case 'v':
			lvl = PVK_LOG_INFO;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (argc - optind < 2)
		goto bad;
	vdev = argv[optind];
	action = argv[optind + 1];
	if (strcmp(action, "info") && strcmp(action, "write-verify") &&
	    strcmp(action, "verify") && strcmp(action, "read"))
		goto bad;
	pvk_log_init("pvkit-blkfront", lvl);
	{
		void *bt[1];

		backtrace(bt, 1); /* loads libgcc now, not in the handler */
	}
	signal(SIGSEGV, on_fatal);
	signal(SIGBUS, on_fatal);
	signal(SIGABRT, on_fatal);

	pvk_info("opening platform %s", which ? which : "(detected)");
	rc = pvk_platform_open(which, &plat);
	if (rc) {
		fprintf(stderr, "pvkit-blkfront: platform: %s\n", strerror(-rc));
		return 1;
	}
	rc = xs_client_open_platform(plat, &xs);
	if (rc) {
		fprintf(stderr, "pvkit-blkfront: xenstore: %s\n", strerror(-rc));
		goto out;
	}
	pvk_info("platform %s, xenstore open; connecting %s", plat->name,
		 vdev);
	rc = blkfront_open(plat, xs, vdev, &o, &bf);
	if (rc) {
		fprintf(stderr, "pvkit-blkfront: %s: %s\n", vdev, strerror(-rc));
		goto out;
	}
	/* read's stdout is the data */
	print_features(strcmp(action, "read") ? stdout : stderr, bf);
	if (!strcmp(action, "write-verify"))
		rc = do_write_verify(bf, zc, argc - optind - 2,
				     argv + optind + 2);
	else if (!strcmp(action, "verify"))
		rc = do_verify(bf, zc, argc - optind - 2, argv + optind + 2);
	else if (!strcmp(action, "read"))
		rc = do_read(bf, argc - optind - 2, argv + optind + 2);
	if (strcmp(action, "read"))
		print_stats(bf);
	if (!rc && blkfront_broken(bf))
		rc = -EIO;
out:
	blkfront_close(bf);
	xs_client_close(xs);
	pvk_platform_close(plat);
	return rc ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
