/*
 * bench_xs.c - pvkit-bench-xs: operations per second of pvkit's xenstore
 * core, driven in-process through the same wire messages a client sends
 * (xs_conn_feed and the output queue; no socket, so the figures are the
 * store's own cost):
 *
 *   READ, WRITE               of a random node in a store of 1,000 nodes
 *   DIRECTORY                 of a node with 1,000 children
 *   transactions              START + READ + WRITE + END(commit)
 *   watch fan-out             one WRITE firing 100 watchers (events/s)
 *   1,000 vs 100,000 nodes    READ and WRITE cost, side by side, as a ratio
 *
 * Each figure is the median of -r repetitions of -n operations.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/xs_core.h"

#define REPS_MAX 31

static unsigned int reps = 5, ops = 20000;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void die(const char *what)
{
	fprintf(stderr, "pvkit-bench-xs: %s\n", what);
	exit(1);
}

/* Send one request; drop whatever is queued (reply, events).  Returns the
 * type of the first message queued. */
static uint32_t req(struct xs_conn *c, uint32_t type, uint32_t tx,
		    const void *p, size_t len, char *out, size_t outlen)
{
	struct xsd_sockmsg h = {.type = type, .tx_id = tx, .len = (uint32_t)len};
	uint32_t first = UINT32_MAX;
	const void *b;
	size_t n;

	if (xs_conn_handle(c, &h, p))
		die("request refused");
	while ((n = xs_conn_peek(c, &b)) > 0) {
		struct xsd_sockmsg rh;

		if (first == UINT32_MAX && n >= sizeof(rh)) {
			memcpy(&rh, b, sizeof(rh));
			first = rh.type;
			if (out && outlen) {
				size_t k = rh.len < outlen - 1 ? rh.len
							       : outlen - 1;

				memcpy(out, (const char *)b + sizeof(rh), k);
				out[k] = '\0';
			}
		}
		xs_conn_consume(c, n);
	}
	return first;
}

static void write_node(struct xs_conn *c, uint32_t tx, const char *path,
		       const char *val)
{
	char buf[512];
	size_t pl = strlen(path) + 1, vl = strlen(val);

	memcpy(buf, path, pl);
	memcpy(buf + pl, val, vl);
	if (req(c, XS_WRITE, tx, buf, pl + vl, NULL, 0) != XS_WRITE)
		die("write failed");
}

/* Node i of a store of n: 100 per directory, as /bench/<i/100>/<i>. */
static int node_path(char *buf, size_t len, uint32_t i)
{
	return snprintf(buf, len, "/bench/d%u/n%u", i / 100, i);
}

static struct xs_core *store(uint32_t n, struct xs_conn **d0)
{
	struct xs_core *core;
	char p[64];

	if (xs_core_new(NULL, NULL, &core) || xs_conn_new(core, 0, d0))
		die("out of memory");
	for (uint32_t i = 0; i < n; i++) {
		node_path(p, sizeof(p), i);
		write_node(*d0, 0, p, "some value of a node");
	}
	return core;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median over reps of ops/s for fn run n times. */
static double measure(void (*fn)(void *arg, uint32_t i), void *arg,
		      uint32_t n)
{
	double r[REPS_MAX];

	for (unsigned int k = 0; k < reps; k++) {
		uint64_t t0 = now_ns();

		for (uint32_t i = 0; i < n; i++)
			fn(arg, i);
		r[k] = (double)n * 1e9 / (double)(now_ns() - t0 + 1);
	}
	qsort(r, reps, sizeof(r[0]), cmp_double);
	return r[reps / 2];
}

struct rw {
	struct xs_conn *c;
	uint32_t n;
};

static void op_read(void *arg, uint32_t i)
{
	struct rw *a = arg;
	char p[64];
	int l = node_path(p, sizeof(p), rnd(a->n));

	(void)i;
	if (req(a->c, XS_READ, 0, p, (size_t)l + 1, NULL, 0) != XS_READ)
		die("read failed");
}

static void op_write(void *arg, uint32_t i)
{
	struct rw *a = arg;
	char p[64];

	(void)i;
	node_path(p, sizeof(p), rnd(a->n));
	write_node(a->c, 0, p, "another value");
}

static void op_dir(void *arg, uint32_t i)
{
	struct rw *a = arg;

	(void)i;
	if (req(a->c, XS_DIRECTORY, 0, "/dir", 5, NULL, 0) != XS_DIRECTORY)
		die("directory failed");
}

static void op_tx(void *arg, uint32_t i)
{
	struct rw *a = arg;
	char id[32], p[64];
	uint32_t tx;
	int l = node_path(p, sizeof(p), rnd(a->n));

	(void)i;
	if (req(a->c, XS_TRANSACTION_START, 0, "", 1, id, sizeof(id)) !=
	    XS_TRANSACTION_START)
		die("transaction start failed");
	tx = (uint32_t)strtoul(id, NULL, 10);
	if (req(a->c, XS_READ, tx, p, (size_t)l + 1, NULL, 0) != XS_READ)
		die("read in transaction failed");
	write_node(a->c, tx, p, "tx value");
	if (req(a->c, XS_TRANSACTION_END, tx, "T", 2, NULL, 0) !=
	    XS_TRANSACTION_END)
		die("commit failed");
}

struct fan {
	struct xs_conn *w[100];
	struct xs_conn *c;
};

static void op_fan(void *arg, uint32_t i)
{
	struct fan *f = arg;

	(void)i;
	write_node(f->c, 0, "/fan/x", "v");
	for (unsigned int k = 0; k < 100; k++) {
		const void *b;
		size_t n;

		if (!xs_conn_peek(f->w[k], &b))
			die("watch event missing");
		while ((n = xs_conn_peek(f->w[k], &b)) > 0)
			xs_conn_consume(f->w[k], n);
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n OPS] [-r REPS]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct xs_conn *d0;
	struct xs_core *small, *big;
	struct rw a;
	struct fan f;
	double rs, ws, rb, wb, v;
	int c;

	while ((c = getopt(argc, argv, "n:r:h")) != -1) {
		switch (c) {
		case 'n':
			ops = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!ops || !reps || reps > REPS_MAX)
		usage(argv[0]);
	printf("pvkit-bench-xs: xenstore core in-process, median of %u x %u "
	       "ops\n",
	       reps, ops);

	small = store(1000, &d0);
	a.c = d0;
	a.n = 1000;
	printf("%-36s %12.0f ops/s\n", "read (1,000-node store)",
	       measure(op_read, &a, ops));
	printf("%-36s %12.0f ops/s\n", "write (1,000-node store)",
	       measure(op_write, &a, ops));
	for (unsigned int i = 0; i < 1000; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/dir/%u", i); /* fits one reply */
		write_node(d0, 0, p, "");
	}
	printf("%-36s %12.0f ops/s\n", "directory of 1,000 children",
	       measure(op_dir, &a, ops / 10 ? ops / 10 : 1));
	printf("%-36s %12.0f tx/s\n", "transaction (read+write+commit)",
	       measure(op_tx, &a, ops));
	f.c = d0;
	for (unsigned int k = 0; k < 100; k++) {
		if (xs_conn_new(small, 0, &f.w[k]))
			die("out of memory");
		if (req(f.w[k], XS_WATCH, 0, "/fan\0tok", 9, NULL, 0) !=
		    XS_WATCH)
			die("watch failed");
	}
	v = measure(op_fan, &f, ops / 10 ? ops / 10 : 1);
	printf("%-36s %12.0f writes/s = %.0f events/s\n",
	       "watch fan-out to 100 watchers", v, v * 100);

	/* the same operations on 100x the nodes, back to back with the
	 * small store: random nodes of the whole store (cache misses
	 * included), and the same 1,000 nodes inside it (the algorithm
	 * alone: no scan means no difference) */
	big = store(100000, &a.c);
	{
		struct rw as = {.c = d0, .n = 1000}, ab = {.c = a.c, .n = 100000};
		struct rw ah = {.c = a.c, .n = 1000};
		double rh, wh;

		rs = measure(op_read, &as, ops);
		rb = measure(op_read, &ab, ops);
		rh = measure(op_read, &ah, ops);
		ws = measure(op_write, &as, ops);
		wb = measure(op_write, &ab, ops);
		wh = measure(op_write, &ah, ops);
		printf("%-36s %12.0f ops/s\n", "read (100,000-node store)", rb);
		printf("%-36s %12.0f ops/s\n", "write (100,000-node store)", wb);
		printf("%-36s %12.2f (1.00 = no slower)\n",
		       "read cost 100,000 / 1,000 nodes", rs / rb);
		printf("%-36s %12.2f\n", "write cost 100,000 / 1,000 nodes",
		       ws / wb);
		printf("%-36s %12.2f\n", "  same 1,000 nodes, read", rs / rh);
		printf("%-36s %12.2f\n", "  same 1,000 nodes, write", ws / wh);
	}
	xs_core_free(big);
	xs_core_free(small);
	return 0;
}
