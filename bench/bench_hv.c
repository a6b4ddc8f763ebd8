/*
 * bench_hv.c - pvkit-bench-hv: the emulated hypervisor's hot paths against
 * the plain host primitive each one stands for, measured side by side in one
 * run (baseline and subject interleaved, median over repetitions):
 *
 *   event-channel round trip between two DomUs  vs  eventfd ping-pong
 *   GNTTABOP_copy throughput (DomU A -> DomU B)  vs  memcpy
 *     (batches of 32 and of 16 pages)
 *   GNTTABOP_map/unmap + mmap/munmap per second  vs  memfd mmap/munmap
 *     (and the two hypercalls alone, 32 grants each, no mmap)
 *
 * --hog measures every row twice, quiet and contended: one busy-looping
 * process per CPU this process may use (bench/common/hog.h) runs beside the
 * contended pass of each section.  --json prints every figure as one JSON
 * object on stdout (the table goes to stderr).
 *
 * A private pvkit-hvd is started through the integration-test harness
 * ($PVKIT_HVD); this process is Dom0, the two DomU kernels are forked
 * children driven by a small command protocol over pipes.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xen/sched.h>

#include "common/util.h"
#include "cpu.h"
#include "harness.h"
#include "hog.h"
#include "hv/hc_wire.h"
#include "json.h"
#include "pvkit/platform.h"
#include "stop.h"

#define PAGE_SIZE 4096u
#define GUEST_KIB (16u * 1024u)
#define WARMUP_ROUNDS 2000u
#define COPY_BATCH 32u	/* the largest batch */
#define COPY_PAGES 256u /* 1 MiB granted by each guest */
#define MAP_BATCH 32u
#define SEM_TIMEOUT_S 30

/* ---- small helpers ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v in place; returns the median. */
static uint64_t median_u64(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double median_double(const double *v, size_t n)
{
	double *s = malloc(n * sizeof(*s));
	double m;

	if (!s)
		return 0.0;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

static void min_max(const double *v, size_t n, double *lo, double *hi)
{
	size_t i;

	*lo = *hi = v[0];
	for (i = 1; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

static int sem_wait_s(sem_t *s, int seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	while (sem_timedwait(s, &ts) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The byte the copy source holds at (page, offset). */
static uint8_t pattern_byte(uint32_t page, uint32_t off)
{
	return (uint8_t)((page * 131u + off * 7u + 0x5a) & 0xff);
}

/* ---- the guest kernel: a command loop over pipes ---- */

enum gk_cmd {
	GK_QUIT = 1,
	GK_LISTEN, /* arg: remote domid; replies the port */
	GK_BIND,   /* arg: domid << 32 | port; replies 0 */
	GK_PP,	   /* arg: mode << 48 | warm << 32 | rounds */
	GK_GRANT,  /* arg: npages << 1 | fill; replies npages refs */
	GK_CHECK,  /* replies the number of pages not holding the pattern */
};

#define GK_CMD(c, arg) ((uint64_t)(c) << 56 | (arg))

enum pp_mode {
	PP_IDLE,
	PP_HANDLER, /* the handler replies / sends the next ping itself */
	PP_WAITER,  /* the handler posts a semaphore; the main thread sends */
};

struct gk {
	struct pvk_rt *rt;
	evtchn_port_t port;
	bool initiator;
	int mode; /* enum pp_mode, read by the vCPU thread */
	sem_t sem;
	/* initiator in PP_HANDLER mode (vCPU thread only while running) */
	uint64_t *samples;
	uint32_t warm, total, n;
	uint64_t last;
	/* grants */
	xen_pfn_t pages[COPY_PAGES];
	grant_ref_t refs[COPY_PAGES];
	uint32_t npages;
};

struct guest_arg {
	struct chan up, down; /* child -> parent, parent -> child */
};

static void gk_event(struct pvk_rt *rt, evtchn_port_t port, unsigned int vcpu,
		     void *p)
{
	struct gk *g = p;
	uint64_t now;

	(void)vcpu;
	switch (__atomic_load_n(&g->mode, __ATOMIC_ACQUIRE)) {
	case PP_HANDLER:
		if (!g->initiator) {
			pvk_evtchn_send(rt, port, false);
			return;
		}
		now = pvk_now_ns();
		if (g->n >= g->warm)
			g->samples[g->n - g->warm] = now - g->last;
		if (++g->n < g->total) {
			g->last = pvk_now_ns();
			pvk_evtchn_send(rt, port, false);
		} else {
			sem_post(&g->sem);
		}
		return;
	default:
		sem_post(&g->sem);
		return;
	}
}

/* The initiator's side of one ping-pong run; replies median and p90 (ns). */
static int gk_pp_initiator(struct gk *g, struct guest_arg *a, int mode,
			   uint32_t warm, uint32_t rounds)
{
	uint32_t i, total = warm + rounds;
	uint64_t med, p90;
	int rc = 0;

	g->samples = calloc(rounds, sizeof(*g->samples));
	if (!g->samples)
		return -ENOMEM;
	g->warm = warm;
	g->total = total;
	g->n = 0;
	__atomic_store_n(&g->mode, mode, __ATOMIC_RELEASE);
	if (mode == PP_HANDLER) {
		g->last = pvk_now_ns();
		pvk_evtchn_send(g->rt, g->port, false);
		rc = sem_wait_s(&g->sem, SEM_TIMEOUT_S);
	} else {
		for (i = 0; i < total && rc == 0; i++) {
			uint64_t t0 = pvk_now_ns();

			pvk_evtchn_send(g->rt, g->port, false);
			rc = sem_wait_s(&g->sem, SEM_TIMEOUT_S);
			if (i >= warm)
				g->samples[i - warm] = pvk_now_ns() - t0;
		}
	}
	__atomic_store_n(&g->mode, PP_IDLE, __ATOMIC_RELEASE);
	if (rc == 0) {
		/* median_u64 sorts, so p90 is read after it */
		med = median_u64(g->samples, rounds);
		p90 = g->samples[(size_t)rounds * 9 / 10];
		chan_put(&a->up, med);
		chan_put(&a->up, p90);
	}
	free(g->samples);
	g->samples = NULL;
	return rc;
}

static int gk_pp_responder(struct gk *g, struct guest_arg *a, int mode,
			   uint32_t total)
{
	uint32_t i;
	int rc = 0;

	__atomic_store_n(&g->mode, mode, __ATOMIC_RELEASE);
	chan_put(&a->up, 0); /* ready */
	if (mode == PP_WAITER) {
		for (i = 0; i < total && rc == 0; i++) {
			rc = sem_wait_s(&g->sem, SEM_TIMEOUT_S);
			pvk_evtchn_send(g->rt, g->port, false);
		}
	}
	chan_put(&a->up, rc == 0 ? 0 : 1); /* done */
	return rc;
}

static int gk_grant(struct gk *g, struct guest_arg *a, uint32_t npages,
		    bool fill)
{
	uint32_t i, j;
	int rc;

	if (g->npages || npages > COPY_PAGES)
		return -EINVAL;
	for (i = 0; i < npages; i++) {
		uint8_t *p;

		rc = pvk_page_alloc(g->rt, &g->pages[i]);
		if (rc)
			return rc;
		p = pvk_rt_gpfn_to_ptr(g->rt, g->pages[i]);
		for (j = 0; fill && j < PAGE_SIZE; j++)
			p[j] = pattern_byte(i, j);
		/* The source may be read-only; the destination must not. */
		rc = pvk_gnt_grant(g->rt, 0, g->pages[i], fill, &g->refs[i]);
		if (rc)
			return rc;
		g->npages++;
		chan_put(&a->up, g->refs[i]);
	}
	return 0;
}

static uint64_t gk_check(struct gk *g)
{
	uint64_t bad = 0;
	uint32_t i, j;

	for (i = 0; i < g->npages; i++) {
		const uint8_t *p = pvk_rt_gpfn_to_ptr(g->rt, g->pages[i]);

		for (j = 0; j < PAGE_SIZE; j++) {
			if (p[j] != pattern_byte(i, j)) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

static int guest_main(struct pvk_rt *rt, void *p)
{
	struct guest_arg *a = p;
	struct gk *g = calloc(1, sizeof(*g));
	evtchn_port_t port;
	uint64_t v, arg;
	uint32_t i;
	int rc = 0;

	if (!g)
		return 10;
	g->rt = rt;
	sem_init(&g->sem, 0, 0);
	while (rc == 0 && chan_get(&a->down, &v) == 0) {
		arg = v & ((1ull << 56) - 1);
		switch (v >> 56) {
		case GK_QUIT:
			goto out;
		case GK_LISTEN:
			rc = pvk_evtchn_alloc_unbound(rt, (domid_t)arg, &port);
			if (rc)
				break;
			g->port = port;
			pvk_evtchn_set_handler(rt, port, gk_event, g);
			chan_put(&a->up, port);
			break;
		case GK_BIND:
			rc = pvk_evtchn_bind_interdomain(
			    rt, (domid_t)(arg >> 32), (evtchn_port_t)arg,
			    &port);
			if (rc)
				break;
			g->port = port;
			g->initiator = true;
			pvk_evtchn_set_handler(rt, port, gk_event, g);
			/* Binding sets the local end pending once; let it come
			 * and go before any measurement. */
			sem_wait_s(&g->sem, 2);
			while (sem_trywait(&g->sem) == 0)
				;
			chan_put(&a->up, 0);
			break;
		case GK_PP:
			if (g->initiator)
				rc = gk_pp_initiator(g, a, (int)(arg >> 48),
						     (uint32_t)(arg >> 32) &
							 0xffff,
						     (uint32_t)arg);
			else
				rc = gk_pp_responder(
				    g, a, (int)(arg >> 48),
				    ((uint32_t)(arg >> 32) & 0xffff) +
					(uint32_t)arg);
			break;
		case GK_GRANT:
			rc = gk_grant(g, a, (uint32_t)(arg >> 1), arg & 1);
			break;
		case GK_CHECK:
			chan_put(&a->up, gk_check(g));
			break;
		default:
			rc = -EINVAL;
			break;
		}
	}
out:
	for (i = 0; i < g->npages; i++)
		pvk_gnt_end(rt, g->refs[i]);
	free(g);
	/* Report, then power off like a real kernel: the hypervisor stops
	 * the process, so this call does not return. */
	chan_put(&a->up, rc ? 1 : 0);
	pvk_sched_shutdown(rt, SHUTDOWN_poweroff);
	return rc ? 1 : 0;
}

/* ---- the Dom0 side ---- */

struct guest {
	struct guest_arg a;
	domid_t domid;
	pid_t pid;
};

static struct harness H;
static struct pvk_platform *H_plat; /* over H.dom0: the platform's copy */

static int guest_start(struct guest *g, const char *name)
{
	int rc;

	if (chan_init(&g->a.up) || chan_init(&g->a.down))
		return -errno;
	rc = harness_guest(&H, name, 1, GUEST_KIB, guest_main, &g->a,
			   sizeof(g->a), &g->domid, &g->pid);
	return rc;
}

static int guest_call(struct guest *g, uint64_t cmd, uint64_t *reply)
{
	uint64_t dummy;
	int rc = chan_put(&g->a.down, cmd);

	if (rc)
		return rc;
	return chan_get(&g->a.up, reply ? reply : &dummy);
}

/* Quit the kernel; 0 when it reported success and powered off. */
static int guest_stop(struct guest *g)
{
	uint64_t st = 1;
	int rc, ws;

	rc = guest_call(g, GK_CMD(GK_QUIT, 0), &st);
	ws = harness_wait(g->pid);
	/* A powered-off domain's process is stopped with SIGKILL. */
	if (rc == 0 && (st || (ws != 0 && ws != 128 + SIGKILL)))
		rc = -EIO;
	if (rc)
		fprintf(stderr, "guest d%u: status %llu, exit %d\n", g->domid,
			(unsigned long long)st, ws);
	pvk_dom_simple(H.dom0, PVK_HC_dom_destroy, g->domid);
	return rc;
}

enum cond { C_QUIET, C_HOG, NCONDS };

/* One row of the result table.  base and subj point at the figures of the
 * condition being measured: base_c/subj_c[C_QUIET], then [C_HOG]. */
struct row {
	const char *name;
	const char *base_name;
	const char *unit;
	bool higher_better;
	double *base, *subj; /* one median per repetition */
	double *base_c[NCONDS], *subj_c[NCONDS];
};

/* How many times slower pvkit is than the baseline. */
static double row_ratio(const struct row *r, double b, double s)
{
	return r->higher_better ? b / s : s / b;
}

static void row_print(FILE *out, const struct row *r, unsigned int reps,
		      int cond, bool hog)
{
	const double *bv = r->base_c[cond], *sv = r->subj_c[cond];
	double b = median_double(bv, reps), s = median_double(sv, reps);
	double blo, bhi, slo, shi;

	min_max(bv, reps, &blo, &bhi);
	min_max(sv, reps, &slo, &shi);
	fprintf(out, "%-36s ", r->name);
	if (hog)
		fprintf(out, "%-5s ", cond == C_QUIET ? "quiet" : "hog");
	fprintf(out,
		"%-18s %11.2f %11.2f %-6s %7.2fx  [%.4g..%.4g | "
		"%.4g..%.4g]\n",
		r->base_name, b, s, r->unit, row_ratio(r, b, s), blo, bhi, slo,
		shi);
}

static void json_samples(struct bench_json *j, const char *key, const double *v,
			 unsigned int n)
{
	unsigned int i;

	bench_json_arr_open(j, key);
	for (i = 0; i < n; i++)
		bench_json_num(j, NULL, v[i]);
	bench_json_arr_close(j);
}

static void row_json(struct bench_json *j, const struct row *r,
		     unsigned int reps, bool hog)
{
	double b[NCONDS], s[NCONDS], lo, hi;
	int c;

	bench_json_obj_open(j, NULL);
	bench_json_str(j, "name", r->name);
	bench_json_str(j, "baseline", r->base_name);
	bench_json_str(j, "unit", r->unit);
	bench_json_bool(j, "higher_is_better", r->higher_better);
	for (c = 0; c < NCONDS; c++) {
		const char *key = c == C_QUIET ? "quiet" : "contended";

		if (c == C_HOG && !hog) {
			bench_json_null(j, key);
			continue;
		}
		b[c] = median_double(r->base_c[c], reps);
		s[c] = median_double(r->subj_c[c], reps);
		bench_json_obj_open(j, key);
		bench_json_num(j, "baseline", b[c]);
		bench_json_num(j, "pvkit", s[c]);
		bench_json_num(j, "slowdown_vs_baseline",
			       row_ratio(r, b[c], s[c]));
		if (c == C_HOG)
			bench_json_num(j, "pvkit_slowdown_vs_quiet",
				       row_ratio(r, s[C_QUIET], s[c]));
		min_max(r->base_c[c], reps, &lo, &hi);
		bench_json_num(j, "baseline_min", lo);
		bench_json_num(j, "baseline_max", hi);
		min_max(r->subj_c[c], reps, &lo, &hi);
		bench_json_num(j, "pvkit_min", lo);
		bench_json_num(j, "pvkit_max", hi);
		json_samples(j, "baseline_samples", r->base_c[c], reps);
		json_samples(j, "pvkit_samples", r->subj_c[c], reps);
		bench_json_obj_close(j);
	}
	bench_json_obj_close(j);
}

/* ---- 1. event-channel round trip vs eventfd ---- */

/* Baseline: the same ping-pong between two plain processes over two
 * eventfds, blocking reads.  Returns the median round trip in ns. */
static int eventfd_pingpong(uint32_t warm, uint32_t rounds, uint64_t *med)
{
	int ping = eventfd(0, EFD_CLOEXEC), pong = eventfd(0, EFD_CLOEXEC);
	uint32_t i, total = warm + rounds;
	uint64_t *samples = calloc(rounds, sizeof(*samples)), one = 1, cnt;
	pid_t pid = -1, parent = getpid();
	int rc = -ENOMEM;

	if (ping < 0 || pong < 0 || !samples)
		goto out;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0) {
		/* Killed mid-run, the benchmark leaves no peer behind. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		for (i = 0; i < total; i++) {
			if (read(ping, &cnt, sizeof(cnt)) != sizeof(cnt) ||
			    write(pong, &one, sizeof(one)) != sizeof(one))
				_exit(1);
		}
		_exit(0);
	}
	for (i = 0; i < total; i++) {
		uint64_t t0 = pvk_now_ns();

		if (write(ping, &one, sizeof(one)) != sizeof(one) ||
		    read(pong, &cnt, sizeof(cnt)) != sizeof(cnt)) {
			rc = -EIO;
			goto out;
		}
		if (i >= warm)
			samples[i - warm] = pvk_now_ns() - t0;
	}
	*med = median_u64(samples, rounds);
	rc = 0;
out:
	if (pid > 0 && rc)
		kill(pid, SIGKILL); /* it would wait for a ping forever */
	if (pid > 0 && harness_wait(pid) != 0 && rc == 0)
		rc = -EIO;
	if (ping >= 0)
		close(ping);
	if (pong >= 0)
		close(pong);
	free(samples);
	return rc;
}

static int evtchn_pingpong(struct guest *resp, struct guest *init, int mode,
			   uint32_t warm, uint32_t rounds, uint64_t *med,
			   uint64_t *p90)
{
	uint64_t cmd =
	    GK_CMD(GK_PP, (uint64_t)mode << 48 | (uint64_t)warm << 32 | rounds);
	uint64_t done;
	int rc;

	rc = guest_call(resp, cmd, NULL); /* ready */
	if (rc)
		return rc;
	rc = guest_call(init, cmd, med);
	if (rc == 0)
		rc = chan_get(&init->a.up, p90);
	if (rc == 0)
		rc = chan_get(&resp->a.up, &done);
	if (rc == 0 && done)
		rc = -EIO;
	return rc;
}

/* A hypercall that does no work: the cost of one trip through pvkit-hvd.
 * Returns the median in ns. */
static int null_hypercall(domid_t dom, uint32_t warm, uint32_t rounds,
			  uint64_t *med)
{
	uint64_t *samples = calloc(rounds, sizeof(*samples));
	uint32_t i;
	long rc = 0;

	if (!samples)
		return -ENOMEM;
	for (i = 0; i < warm + rounds && rc >= 0; i++) {
		struct gnttab_query_size q = {.dom = dom};
		uint64_t t0 = pvk_now_ns();

		rc = pvk_rt_hypercall(H.dom0, __HYPERVISOR_grant_table_op,
				      GNTTABOP_query_size, 1, &q, sizeof(q),
				      sizeof(q), NULL, NULL);
		if (i >= warm)
			samples[i - warm] = pvk_now_ns() - t0;
		if (rc >= 0 && q.status != GNTST_okay)
			rc = -EIO;
	}
	if (rc >= 0)
		*med = median_u64(samples, rounds);
	free(samples);
	return rc < 0 ? (int)rc : 0;
}

/* The channel between A (listening) and B (binding, the initiator). */
static int evtchn_setup(struct guest *ga, struct guest *gb)
{
	uint64_t port, ack;
	int rc;

	rc = guest_call(ga, GK_CMD(GK_LISTEN, gb->domid), &port);
	if (rc == 0)
		rc = guest_call(
		    gb, GK_CMD(GK_BIND, (uint64_t)ga->domid << 32 | port),
		    &ack);
	return rc;
}

static int bench_evtchn(struct guest *ga, struct guest *gb, uint32_t rounds,
			unsigned int reps, struct row *rows)
{
	uint64_t med, p90;
	unsigned int r;
	int rc;

	for (r = 0; r < reps; r++) {
		rc = eventfd_pingpong(WARMUP_ROUNDS, rounds, &med);
		if (rc)
			return rc;
		rows[0].base[r] = rows[1].base[r] = (double)med / 1000.0;
		rc = evtchn_pingpong(ga, gb, PP_HANDLER, WARMUP_ROUNDS, rounds,
				     &med, &p90);
		if (rc)
			return rc;
		rows[0].subj[r] = (double)med / 1000.0;
		rc = evtchn_pingpong(ga, gb, PP_WAITER, WARMUP_ROUNDS, rounds,
				     &med, &p90);
		if (rc)
			return rc;
		rows[1].subj[r] = (double)med / 1000.0;
		rc = null_hypercall(ga->domid, WARMUP_ROUNDS, rounds, &med);
		if (rc)
			return rc;
		rows[2].subj[r] = (double)med / 1000.0;
		rows[2].base[r] = rows[0].base[r];
	}
	return 0;
}

/* ---- 2. grant copy vs memcpy ---- */

static int recv_refs(struct guest *g, grant_ref_t *refs, uint32_t n)
{
	uint32_t i;
	uint64_t v;

	for (i = 0; i < n; i++) {
		if (chan_get(&g->a.up, &v))
			return -ETIMEDOUT;
		refs[i] = (grant_ref_t)v;
	}
	return 0;
}

/* gt NULL: GNTTABOP_copy through pvkit-hvd; else the platform's copy,
 * which a Dom0 backend uses (the shared active table: no round trip).
 * local (page aligned, COPY_PAGES pages) set: into this process's memory
 * instead of dst's grants, as a backend reads a guest's request. */
static int grant_copy_batches(struct pvk_gnttab *gt, const grant_ref_t *src,
			      domid_t sdom, const grant_ref_t *dst,
			      domid_t ddom, uint8_t *local, uint32_t batch,
			      uint32_t batches)
{
	struct gnttab_copy ops[COPY_BATCH];
	uint32_t b, i, page = 0;
	long rc;

	memset(ops, 0, sizeof(ops));
	for (b = 0; b < batches; b++) {
		for (i = 0; i < batch; i++, page = (page + 1) % COPY_PAGES) {
			ops[i].source.u.ref = src[page];
			ops[i].source.domid = sdom;
			ops[i].source.offset = 0;
			ops[i].dest.u.ref = dst[page];
			ops[i].dest.domid = ddom;
			ops[i].dest.offset = 0;
			ops[i].len = PAGE_SIZE;
			ops[i].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
			ops[i].status = 0;
			if (local) {
				ops[i].dest.u.gmfn =
				    (uintptr_t)(local +
						(size_t)page * PAGE_SIZE) >>
				    12;
				ops[i].dest.domid = DOMID_SELF;
				ops[i].flags = GNTCOPY_source_gref;
			}
		}
		if (gt)
			rc = H_plat->gnttab->copy(gt, ops, batch);
		else
			rc = pvk_rt_hypercall(
			    H.dom0, __HYPERVISOR_grant_table_op, GNTTABOP_copy,
			    batch, ops, sizeof(ops[0]) * batch,
			    sizeof(ops[0]) * batch, NULL, NULL);
		if (rc < 0)
			return (int)rc;
		for (i = 0; i < batch; i++) {
			if (ops[i].status != GNTST_okay) {
				fprintf(stderr, "grant copy: status %d\n",
					ops[i].status);
				return -EIO;
			}
		}
	}
	return 0;
}

static void memcpy_batches(uint8_t *dst, const uint8_t *src, uint32_t batch,
			   uint32_t batches)
{
	uint32_t b, i, page = 0;

	for (b = 0; b < batches; b++) {
		for (i = 0; i < batch; i++, page = (page + 1) % COPY_PAGES)
			memcpy(dst + (size_t)page * PAGE_SIZE,
			       src + (size_t)page * PAGE_SIZE, PAGE_SIZE);
		/* keep the compiler from merging or dropping the copies */
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
}

static double mib_per_s(uint32_t batch, uint32_t batches, uint64_t ns)
{
	double bytes = (double)batches * batch * PAGE_SIZE;

	return bytes / (1024.0 * 1024.0) / ((double)ns / 1e9);
}

/* A grants its 256 pages (read-only, holding the pattern) and B its 256
 * (writable) to Dom0. */
static int copy_setup(struct guest *ga, struct guest *gb, grant_ref_t *src_refs,
		      grant_ref_t *dst_refs)
{
	int rc;

	rc = chan_put(&ga->a.down, GK_CMD(GK_GRANT, COPY_PAGES << 1 | 1));
	if (rc == 0)
		rc = recv_refs(ga, src_refs, COPY_PAGES);
	if (rc == 0)
		rc = chan_put(&gb->a.down, GK_CMD(GK_GRANT, COPY_PAGES << 1));
	if (rc == 0)
		rc = recv_refs(gb, dst_refs, COPY_PAGES);
	return rc;
}

/* rows[0]: batches of COPY_BATCH pages, rows[1]: of COPY_BATCH / 2,
 * through pvkit-hvd; rows[2] and [3] the same by the platform's copy (gt);
 * rows[4] and [5] by the platform's copy into this process's memory;
 * 512 MiB per repetition each, and the copies checked afterwards. */
static int bench_copy(struct guest *ga, struct guest *gb,
		      const grant_ref_t *src_refs, const grant_ref_t *dst_refs,
		      unsigned int reps, struct row *rows,
		      struct pvk_gnttab *gt)
{
	static const uint32_t batch[6] = {COPY_BATCH, COPY_BATCH / 2,
					  COPY_BATCH, COPY_BATCH / 2,
					  COPY_BATCH, COPY_BATCH / 2};
	const uint32_t bytes = 512u << 20;
	uint8_t *src = NULL, *dst = NULL, *local = NULL;
	uint32_t i, j, k, n;
	uint64_t t0, bad;
	unsigned int r;
	int rc = 0;

	src = malloc((size_t)COPY_PAGES * PAGE_SIZE);
	dst = calloc(COPY_PAGES, PAGE_SIZE);
	local = aligned_alloc(PAGE_SIZE, (size_t)COPY_PAGES * PAGE_SIZE);
	if (!src || !dst || !local) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < COPY_PAGES; i++)
		for (j = 0; j < PAGE_SIZE; j++)
			src[(size_t)i * PAGE_SIZE + j] = pattern_byte(i, j);
	/* warm-up both */
	memcpy_batches(dst, src, COPY_BATCH, 64);
	memset(local, 0, (size_t)COPY_PAGES * PAGE_SIZE);
	rc = grant_copy_batches(NULL, src_refs, ga->domid, dst_refs, gb->domid,
				NULL, COPY_BATCH, 64);
	if (rc == 0)
		rc = grant_copy_batches(gt, src_refs, ga->domid, dst_refs,
					gb->domid, NULL, COPY_BATCH, 64);
	if (rc)
		goto out;
	for (r = 0; r < reps; r++) {
		for (k = 0; k < 6; k++) {
			n = bytes / (batch[k] * PAGE_SIZE);
			t0 = pvk_now_ns();
			memcpy_batches(dst, src, batch[k], n);
			rows[k].base[r] =
			    mib_per_s(batch[k], n, pvk_now_ns() - t0);
			t0 = pvk_now_ns();
			rc = grant_copy_batches(
			    k < 2 ? NULL : gt, src_refs, ga->domid, dst_refs,
			    gb->domid, k < 4 ? NULL : local, batch[k], n);
			if (rc)
				goto out;
			rows[k].subj[r] =
			    mib_per_s(batch[k], n, pvk_now_ns() - t0);
		}
	}
	if (memcmp(src, dst, (size_t)COPY_PAGES * PAGE_SIZE) != 0 ||
	    memcmp(src, local, (size_t)COPY_PAGES * PAGE_SIZE) != 0) {
		fprintf(stderr, "grant copy: Dom0's copy differs\n");
		rc = -EIO;
		goto out;
	}
	rc = guest_call(gb, GK_CMD(GK_CHECK, 0), &bad);
	if (rc == 0 && bad) {
		fprintf(stderr, "grant copy: %llu pages of d%u wrong\n",
			(unsigned long long)bad, gb->domid);
		rc = -EIO;
	}
out:
	free(src);
	free(dst);
	free(local);
	return rc;
}

/* ---- 3. grant map/unmap vs memfd mmap/munmap ---- */

/* Map n grants of dom in one hypercall, mmap each, read a byte, munmap
 * (unless !touch: the two hypercalls alone), and unmap them in one
 * hypercall. */
static int map_unmap(domid_t dom, const grant_ref_t *refs, uint32_t n,
		     uint32_t first, bool touch)
{
	struct gnttab_map_grant_ref map[MAP_BATCH];
	struct gnttab_unmap_grant_ref unmap[MAP_BATCH];
	int fds[PVK_MAX_FDS];
	unsigned int nfds = PVK_MAX_FDS, k;
	uint32_t i;
	long rc;

	memset(map, 0, sizeof(map[0]) * n);
	for (i = 0; i < n; i++) {
		map[i].ref = refs[(first + i) % COPY_PAGES];
		map[i].dom = dom;
		map[i].flags = GNTMAP_host_map | GNTMAP_readonly;
	}
	rc = pvk_rt_hypercall(
	    H.dom0, __HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, n, map,
	    sizeof(map[0]) * n, sizeof(map[0]) * n, fds, &nfds);
	if (rc < 0) {
		for (k = 0; k < nfds; k++)
			close(fds[k]);
		return (int)rc;
	}
	rc = 0;
	memset(unmap, 0, sizeof(unmap[0]) * n);
	for (i = 0; i < n && rc == 0; i++) {
		volatile uint8_t *p;
		uint32_t page = (first + i) % COPY_PAGES;

		if (map[i].status != GNTST_okay || map[i].host_addr >= nfds) {
			rc = -EIO;
			break;
		}
		if (!touch)
			continue;
		p = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED,
			 fds[map[i].host_addr], (off_t)map[i].dev_bus_addr);
		if (p == MAP_FAILED) {
			rc = -errno;
			break;
		}
		if (p[1] != pattern_byte(page, 1))
			rc = -EIO;
		munmap((void *)p, PAGE_SIZE);
	}
	for (k = 0; k < nfds; k++)
		close(fds[k]);
	/* Unmap whatever was mapped, even after an error above. */
	for (i = 0, k = 0; i < n; i++)
		if (map[i].status == GNTST_okay)
			unmap[k++].handle = map[i].handle;
	if (k) {
		long urc = pvk_rt_hypercall(H.dom0, __HYPERVISOR_grant_table_op,
					    GNTTABOP_unmap_grant_ref, k, unmap,
					    sizeof(unmap[0]) * k,
					    sizeof(unmap[0]) * k, NULL, NULL);

		if (urc < 0 && rc == 0)
			rc = urc;
		while (urc >= 0 && k--)
			if (unmap[k].status != GNTST_okay && rc == 0)
				rc = -EIO;
	}
	return (int)rc;
}

static int memfd_map_unmap(int fd, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		volatile uint8_t *p =
		    mmap(NULL, PAGE_SIZE, PROT_READ, MAP_SHARED, fd,
			 (off_t)(i % COPY_PAGES) * PAGE_SIZE);

		if (p == MAP_FAILED)
			return -errno;
		(void)p[1];
		munmap((void *)p, PAGE_SIZE);
	}
	return 0;
}

static int bench_map(struct guest *ga, const grant_ref_t *refs,
		     unsigned int reps, struct row *rows)
{
	const uint32_t single = 5000, batches = 250; /* 8000 grants */
	uint64_t t0;
	uint32_t i;
	unsigned int r;
	int fd, rc = 0;

	fd = memfd_create("bench", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)COPY_PAGES * PAGE_SIZE) < 0) {
		rc = -errno;
		goto out;
	}
	/* warm-up */
	rc = memfd_map_unmap(fd, 1000);
	for (i = 0; i < 200 && rc == 0; i++)
		rc = map_unmap(ga->domid, refs, 1, i, true);
	for (r = 0; r < reps && rc == 0; r++) {
		t0 = pvk_now_ns();
		rc = memfd_map_unmap(fd, 20000);
		if (rc)
			break;
		rows[0].base[r] = rows[1].base[r] =
		    20000.0 / ((double)(pvk_now_ns() - t0) / 1e9);
		t0 = pvk_now_ns();
		for (i = 0; i < single && rc == 0; i++)
			rc = map_unmap(ga->domid, refs, 1, i, true);
		rows[0].subj[r] = single / ((double)(pvk_now_ns() - t0) / 1e9);
		t0 = pvk_now_ns();
		for (i = 0; i < batches && rc == 0; i++)
			rc = map_unmap(ga->domid, refs, MAP_BATCH,
				       i * MAP_BATCH, true);
		rows[1].subj[r] = (double)batches * MAP_BATCH /
				  ((double)(pvk_now_ns() - t0) / 1e9);
		rows[2].base[r] = rows[0].base[r];
		t0 = pvk_now_ns();
		for (i = 0; i < batches && rc == 0; i++)
			rc = map_unmap(ga->domid, refs, MAP_BATCH,
				       i * MAP_BATCH, false);
		rows[2].subj[r] = (double)batches * MAP_BATCH /
				  ((double)(pvk_now_ns() - t0) / 1e9);
	}
out:
	close(fd);
	return rc;
}

/* ---- main ---- */

enum section { S_EVTCHN, S_COPY, S_MAP, NSECTIONS };

struct bench {
	struct guest *ga, *gb;
	struct pvk_gnttab *gt; /* the platform's copy (Dom0 backends') */
	grant_ref_t src_refs[COPY_PAGES], dst_refs[COPY_PAGES];
	uint32_t rounds;
	unsigned int reps;
	struct row *rows;
	size_t nrows;
};

static int section_run(struct bench *b, enum section s)
{
	switch (s) {
	case S_EVTCHN:
		fprintf(stderr, "event channels (%u rounds x %u reps)...\n",
			b->rounds, b->reps);
		return bench_evtchn(b->ga, b->gb, b->rounds, b->reps, b->rows);
	case S_COPY:
		fprintf(stderr, "grant copy...\n");
		return bench_copy(b->ga, b->gb, b->src_refs, b->dst_refs,
				  b->reps, &b->rows[3], b->gt);
	default:
		fprintf(stderr, "grant map...\n");
		return bench_map(b->ga, b->src_refs, b->reps, &b->rows[9]);
	}
}

/* Every section quiet, then (hog) contended: the rows' figures of each
 * condition go to their own arrays. */
static int bench_run(struct bench *b, bool hog, unsigned int *nhogs)
{
	struct bench_hog hogs = {.n = 0};
	unsigned int s, c;
	size_t i;
	int rc = 0;

	for (s = 0; s < NSECTIONS && rc == 0; s++) {
		for (c = 0; c < (hog ? NCONDS : 1u) && rc == 0; c++) {
			if (bench_stop_requested()) {
				rc = -EINTR;
				break;
			}
			for (i = 0; i < b->nrows; i++) {
				b->rows[i].base = b->rows[i].base_c[c];
				b->rows[i].subj = b->rows[i].subj_c[c];
			}
			if (c == C_HOG) {
				rc = bench_hog_start(&hogs);
				if (rc)
					break;
				*nhogs = hogs.n;
				fprintf(stderr,
					"  contended (%u hogs): ", hogs.n);
				usleep(50000);
			}
			rc = section_run(b, (enum section)s);
			bench_hog_stop(&hogs);
		}
	}
	return rc;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pvkit-bench-hv [-n ROUNDS] [-r REPS] [-c CPU] [--hog] "
	    "[--json]\n"
	    "  -n  event-channel round trips per run after %u of warm-up "
	    "(20000)\n"
	    "  -r  repetitions of each baseline/subject pair (5)\n"
	    "  -c  pin everything (this process, pvkit-hvd, the guests, the "
	    "baseline's\n      peer) to one CPU; default: let the scheduler "
	    "place them\n"
	    "  --hog   measure every row also contended: one busy-looping "
	    "process per\n      CPU this process may use (with -c: one, on "
	    "that CPU)\n"
	    "  --json  print every figure as one JSON object on stdout (the "
	    "table goes\n      to stderr)\n"
	    "Needs $PVKIT_HVD (or pvkit-hvd on PATH).\n",
	    WARMUP_ROUNDS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"hog", no_argument, NULL, 'H'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v, rounds = 20000, reps = 5, cpu = UINT64_MAX;
	struct guest ga = {0}, gb = {0};
	static struct bench b;
	struct row rows[] = {
	    {.name = "evtchn RTT, reply in handler",
	     .base_name = "eventfd RTT",
	     .unit = "us"},
	    {.name = "evtchn RTT, handler->sem->thread",
	     .base_name = "eventfd RTT",
	     .unit = "us"},
	    {.name = "Dom0 null hypercall (query_size)",
	     .base_name = "eventfd RTT",
	     .unit = "us"},
	    {.name = "grant copy 32x4KiB batches, through hvd",
	     .base_name = "memcpy",
	     .unit = "MiB/s",
	     .higher_better = true},
	    {.name = "grant copy 16x4KiB batches, through hvd",
	     .base_name = "memcpy",
	     .unit = "MiB/s",
	     .higher_better = true},
	    {.name = "grant copy 32x4KiB batches, Dom0 copier",
	     .base_name = "memcpy",
	     .unit = "MiB/s",
	     .higher_better = true},
	    {.name = "grant copy 16x4KiB batches, Dom0 copier",
	     .base_name = "memcpy",
	     .unit = "MiB/s",
	     .higher_better = true},
	    {.name = "grant copy 32x4KiB into Dom0 memory",
	     .base_name = "memcpy",
	     .unit = "MiB/s",
	     .higher_better = true},
	    {.name = "grant copy 16x4KiB into Dom0 memory",
	     .base_name = "memcpy",
	     .unit = "MiB/s",
	     .higher_better = true},
	    {.name = "grant map+mmap+munmap+unmap x1",
	     .base_name = "memfd mmap+munmap",
	     .unit = "ops/s",
	     .higher_better = true},
	    {.name = "grant map+mmap+munmap+unmap x32",
	     .base_name = "memfd mmap+munmap",
	     .unit = "ops/s",
	     .higher_better = true},
	    {.name = "grant map+unmap x32, no mmap",
	     .base_name = "memfd mmap+munmap",
	     .unit = "ops/s",
	     .higher_better = true},
	};

	unsigned int i, c, nhogs = 0;
	bool hog = false, json = false;
	struct bench_json j;
	FILE *out;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "n:r:c:h", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'n':
			if (pvk_parse_u64(optarg, 1, 10000000, &v) < 0) {
				usage(stderr);
				return 2;
			}
			rounds = v;
			break;
		case 'r':
			if (pvk_parse_u64(optarg, 1, 101, &v) < 0) {
				usage(stderr);
				return 2;
			}
			reps = v;
			break;
		case 'c':
			if (pvk_parse_u64(optarg, 0, CPU_SETSIZE - 1, &v) < 0) {
				usage(stderr);
				return 2;
			}
			cpu = v;
			break;
		case 'H':
			hog = true;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	out = json ? stderr : stdout;
	for (i = 0; i < PVK_ARRAY_SIZE(rows); i++) {
		for (c = 0; c < NCONDS; c++) {
			rows[i].base_c[c] = calloc(reps, sizeof(double));
			rows[i].subj_c[c] = calloc(reps, sizeof(double));
			if (!rows[i].base_c[c] || !rows[i].subj_c[c])
				return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* SIGINT, SIGTERM, SIGHUP: stop after the section in progress. */
	bench_stop_install();
	if (cpu != UINT64_MAX) {
		cpu_set_t set;

		/* Inherited by every process forked from here on. */
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			perror("sched_setaffinity");
			return 1;
		}
	}
	rc = harness_start(&H);
	if (rc) {
		fprintf(stderr, "cannot start pvkit-hvd: %s\n", strerror(-rc));
		return 1;
	}
	rc = guest_start(&ga, "bench-a");
	if (rc == 0)
		rc = guest_start(&gb, "bench-b");
	if (rc) {
		fprintf(stderr, "cannot start guests: %s\n", strerror(-rc));
		harness_stop(&H);
		return 1;
	}
	b.ga = &ga;
	b.gb = &gb;
	b.rounds = (uint32_t)rounds;
	b.reps = (unsigned int)reps;
	b.rows = rows;
	b.nrows = PVK_ARRAY_SIZE(rows);
	rc = evtchn_setup(&ga, &gb);
	if (rc == 0)
		rc = pvk_platform_emulated_from_rt(H.dom0, &H_plat);
	if (rc == 0)
		rc = H_plat->gnttab->open(H_plat, &b.gt);
	if (rc == 0)
		rc = copy_setup(&ga, &gb, b.src_refs, b.dst_refs);
	if (rc == 0)
		rc = bench_run(&b, hog, &nhogs);
	if (b.gt)
		H_plat->gnttab->close(b.gt);
	if (H_plat)
		pvk_platform_close(H_plat);
	if (guest_stop(&ga) && rc == 0)
		rc = -EIO;
	if (guest_stop(&gb) && rc == 0)
		rc = -EIO;
	harness_stop(&H);
	bench_stop_reraise();
	if (rc) {
		fprintf(stderr, "benchmark failed: %s\n", strerror(-rc));
		return 1;
	}
	fprintf(out,
		"pvkit-bench-hv: %llu event-channel rounds, medians of %llu "
		"interleaved repetitions, %s%s\n"
		"ratio = how many times slower pvkit is than the baseline\n",
		(unsigned long long)rounds, (unsigned long long)reps,
		cpu == UINT64_MAX ? "unpinned" : "all pinned to one CPU",
		hog ? ", quiet and contended (hog: one busy-looping process "
		      "per CPU)"
		    : "");
	fprintf(out, "%-36s ", "pvkit path");
	if (hog)
		fprintf(out, "%-5s ", "cond");
	fprintf(out, "%-18s %11s %11s %-6s %8s  [%s]\n", "baseline", "baseline",
		"pvkit", "unit", "ratio", "min..max baseline | pvkit");
	for (i = 0; i < PVK_ARRAY_SIZE(rows); i++)
		for (c = 0; c < (hog ? NCONDS : 1u); c++)
			row_print(out, &rows[i], (unsigned int)reps, (int)c,
				  hog);
	if (json) {
		bench_json_begin(&j, stdout);
		bench_json_str(&j, "bench", "pvkit-bench-hv");
		bench_json_obj_open(&j, "config");
		bench_json_int(&j, "rounds", (int64_t)rounds);
		bench_json_int(&j, "warmup_rounds", WARMUP_ROUNDS);
		bench_json_int(&j, "reps", (int64_t)reps);
		bench_json_str(&j, "statistic", "median");
		if (cpu == UINT64_MAX)
			bench_json_null(&j, "pinned_cpu");
		else
			bench_json_int(&j, "pinned_cpu", (int64_t)cpu);
		bench_json_int(&j, "cpus", bench_cpu_count());
		bench_json_bool(&j, "hog", hog);
		bench_json_int(&j, "hog_procs", nhogs);
		bench_json_obj_close(&j);
		bench_json_arr_open(&j, "rows");
		for (i = 0; i < PVK_ARRAY_SIZE(rows); i++)
			row_json(&j, &rows[i], (unsigned int)reps, hog);
		bench_json_arr_close(&j);
		if (bench_json_end(&j))
			return 1;
	}
	for (i = 0; i < PVK_ARRAY_SIZE(rows); i++) {
		for (c = 0; c < NCONDS; c++) {
			free(rows[i].base_c[c]);
			free(rows[i].subj_c[c]);
		}
	}
	return 0;
}
