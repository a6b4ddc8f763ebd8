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
 * Each figure is the median of -r repetitions of -n operations.  --hog
 * measures each one twice, quiet and contended (one busy-looping process
 * per CPU beside it, bench/common/hog.h); --json prints every figure as one
 * JSON object on stdout (the table goes to stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "hog.h"
#include "json.h"
#include "xenstore/xs_core.h"

#define REPS_MAX 31
#define ROWS_MAX 16

enum cond { C_QUIET, C_HOG, NCONDS };

/* One line of the output: a rate, or a ratio of two (unit NULL). */
struct row {
	const char *name, *unit;
	const char *note; /* after the quiet figure */
	double v[NCONDS];
	unsigned int events; /* watch fan-out: events per write */
};

struct table {
	bool hog;
	unsigned int nhogs;
	struct row rows[ROWS_MAX];
	unsigned int n;
};

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
	struct xsd_sockmsg h = {
	    .type = type, .tx_id = tx, .len = (uint32_t)len};
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
				size_t k =
				    rh.len < outlen - 1 ? rh.len : outlen - 1;

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
static double measure(void (*fn)(void *arg, uint32_t i), void *arg, uint32_t n)
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

/* measure() quiet, and with --hog again beside one hog per CPU. */
static void measure_c(struct table *t, void (*fn)(void *arg, uint32_t i),
		      void *arg, uint32_t n, double v[NCONDS])
{
	struct bench_hog hogs = {.n = 0};
	int rc;

	v[C_QUIET] = measure(fn, arg, n);
	v[C_HOG] = 0;
	if (!t->hog)
		return;
	rc = bench_hog_start(&hogs);
	if (rc) {
		fprintf(stderr, "pvkit-bench-xs: hog: %s\n", strerror(-rc));
		exit(1);
	}
	t->nhogs = hogs.n;
	usleep(50000);
	v[C_HOG] = measure(fn, arg, n);
	bench_hog_stop(&hogs);
}

static void add_row(struct table *t, const char *name, const char *unit,
		    const double v[NCONDS], unsigned int events)
{
	struct row *r = &t->rows[t->n++];

	r->name = name;
	r->unit = unit;
	memcpy(r->v, v, sizeof(r->v));
	r->events = events;
	r->note = NULL;
}

/* A row of ratios a / b, each condition on its own. */
static void add_ratio(struct table *t, const char *name, const double a[NCONDS],
		      const double b[NCONDS])
{
	double v[NCONDS];
	int c;

	for (c = 0; c < NCONDS; c++)
		v[c] = b[c] > 0 ? a[c] / b[c] : 0;
	add_row(t, name, NULL, v, 0);
}

static void print_value(FILE *out, const struct row *r, int c)
{
	if (!r->unit)
		fprintf(out, "%12.2f", r->v[c]);
	else if (r->events)
		fprintf(out, "%12.0f %s = %.0f events/s", r->v[c], r->unit,
			r->v[c] * r->events);
	else
		fprintf(out, "%12.0f %s", r->v[c], r->unit);
}

static void table_print(const struct table *t, FILE *out)
{
	unsigned int i;

	for (i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];

		fprintf(out, "%-36s ", r->name);
		print_value(out, r, C_QUIET);
		if (r->note)
			fprintf(out, " %s", r->note);
		if (t->hog) {
			fputs("   hog: ", out);
			print_value(out, r, C_HOG);
			if (r->unit && r->v[C_QUIET] > 0)
				fprintf(out, " (x%.2f)",
					r->v[C_HOG] / r->v[C_QUIET]);
		}
		fputc('\n', out);
	}
}

static int table_json(const struct table *t)
{
	struct bench_json j;
	unsigned int i;

	bench_json_begin(&j, stdout);
	bench_json_str(&j, "bench", "pvkit-bench-xs");
	bench_json_obj_open(&j, "config");
	bench_json_int(&j, "ops", ops);
	bench_json_int(&j, "reps", reps);
	bench_json_str(&j, "statistic", "median");
	bench_json_int(&j, "cpus", bench_cpu_count());
	bench_json_bool(&j, "hog", t->hog);
	bench_json_int(&j, "hog_procs", t->nhogs);
	bench_json_obj_close(&j);
	bench_json_arr_open(&j, "rows");
	for (i = 0; i < t->n; i++) {
		const struct row *r = &t->rows[i];

		bench_json_obj_open(&j, NULL);
		bench_json_str(&j, "name", r->name);
		bench_json_str(&j, "unit", r->unit ? r->unit : "ratio");
		if (r->events)
			bench_json_int(&j, "events_per_write", r->events);
		bench_json_num(&j, "quiet", r->v[C_QUIET]);
		if (t->hog) {
			bench_json_num(&j, "contended", r->v[C_HOG]);
			if (r->unit && r->v[C_QUIET] > 0)
				bench_json_num(&j, "contended_vs_quiet",
					       r->v[C_HOG] / r->v[C_QUIET]);
			else
				bench_json_null(&j, "contended_vs_quiet");
		} else {
			bench_json_null(&j, "contended");
			bench_json_null(&j, "contended_vs_quiet");
		}
		bench_json_obj_close(&j);
	}
	bench_json_arr_close(&j);
	return bench_json_end(&j);
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
	fprintf(stderr,
		"usage: %s [-n OPS] [-r REPS] [--hog] [--json]\n"
		"  -n  operations per repetition (20000)\n"
		"  -r  repetitions; the median is reported (5, at most %d)\n"
		"  --hog   measure every figure also contended: one "
		"busy-looping process\n      per CPU beside it\n"
		"  --json  print every figure as one JSON object on stdout "
		"(the table goes\n      to stderr)\n",
		prog, REPS_MAX);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"hog", no_argument, NULL, 'H'},
	    {"json", no_argument, NULL, 'J'},
	    {NULL, 0, NULL, 0},
	};
	static struct table t;
	struct xs_conn *d0;
	struct xs_core *small, *big;
	struct rw a;
	struct fan f;
	double v[NCONDS];
	bool json = false;
	FILE *out;
	int c;

	while ((c = getopt_long(argc, argv, "n:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ops = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'H':
			t.hog = true;
			break;
		case 'J':
			json = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!ops || !reps || reps > REPS_MAX || optind != argc)
		usage(argv[0]);
	out = json ? stderr : stdout;
	fprintf(out,
		"pvkit-bench-xs: xenstore core in-process, median of %u x %u "
		"ops%s\n",
		reps, ops,
		t.hog ? "; quiet, and contended (hog: one busy-looping "
			"process per CPU)"
		      : "");

	small = store(1000, &d0);
	a.c = d0;
	a.n = 1000;
	measure_c(&t, op_read, &a, ops, v);
	add_row(&t, "read (1,000-node store)", "ops/s", v, 0);
	measure_c(&t, op_write, &a, ops, v);
	add_row(&t, "write (1,000-node store)", "ops/s", v, 0);
	for (unsigned int i = 0; i < 1000; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/dir/%u", i); /* fits one reply */
		write_node(d0, 0, p, "");
	}
	measure_c(&t, op_dir, &a, ops / 10 ? ops / 10 : 1, v);
	add_row(&t, "directory of 1,000 children", "ops/s", v, 0);
	measure_c(&t, op_tx, &a, ops, v);
	add_row(&t, "transaction (read+write+commit)", "tx/s", v, 0);
	f.c = d0;
	for (unsigned int k = 0; k < 100; k++) {
		if (xs_conn_new(small, 0, &f.w[k]))
			die("out of memory");
		if (req(f.w[k], XS_WATCH, 0, "/fan\0tok", 9, NULL, 0) !=
		    XS_WATCH)
			die("watch failed");
	}
	measure_c(&t, op_fan, &f, ops / 10 ? ops / 10 : 1, v);
	add_row(&t, "watch fan-out to 100 watchers", "writes/s", v, 100);

	/* the same operations on 100x the nodes, back to back with the
	 * small store: random nodes of the whole store (cache misses
	 * included), and the same 1,000 nodes inside it (the algorithm
	 * alone: no scan means no difference) */
	big = store(100000, &a.c);
	{
		struct rw as = {.c = d0, .n = 1000},
			  ab = {.c = a.c, .n = 100000};
		struct rw ah = {.c = a.c, .n = 1000};
		double rs[NCONDS], rb[NCONDS], rh[NCONDS], ws[NCONDS],
		    wb[NCONDS], wh[NCONDS];

		measure_c(&t, op_read, &as, ops, rs);
		measure_c(&t, op_read, &ab, ops, rb);
		measure_c(&t, op_read, &ah, ops, rh);
		measure_c(&t, op_write, &as, ops, ws);
		measure_c(&t, op_write, &ab, ops, wb);
		measure_c(&t, op_write, &ah, ops, wh);
		add_row(&t, "read (100,000-node store)", "ops/s", rb, 0);
		add_row(&t, "write (100,000-node store)", "ops/s", wb, 0);
		add_ratio(&t, "read cost 100,000 / 1,000 nodes", rs, rb);
		t.rows[t.n - 1].note = "(1.00 = no slower)";
		add_ratio(&t, "write cost 100,000 / 1,000 nodes", ws, wb);
		add_ratio(&t, "  same 1,000 nodes, read", rs, rh);
		add_ratio(&t, "  same 1,000 nodes, write", ws, wh);
	}
	xs_core_free(big);
	xs_core_free(small);
	table_print(&t, out);
	return json && table_json(&t) ? 1 : 0;
}
