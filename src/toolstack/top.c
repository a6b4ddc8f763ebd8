/*
 * top.c - pvkit top: xentop's table of the domains, refreshed.
 *
 * Columns as xentop's: NAME STATE CPU(sec) CPU(%) MEM(k) MEM(%) MAXMEM(k)
 * MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS VBD_OO VBD_RD VBD_WR
 * VBD_RSECT VBD_WSECT.  CPU(%) is over the last
 * interval (the first frame has none); MEM(%) of the host's memory, which
 * is the emulated hypervisor's.  NETTX/NETRX are what each vif's TAP in
 * Dom0 counted: bytes it received from the guest are the guest's
 * transmissions.  The VBD_ counters, summed over a domain's vbds, are
 * what pvkit-blkback publishes in <state>/vbd-stats (common/vbd_stats.h)
 * for each vbd's current or last connection.
 */
#include "common/vbd_stats.h"
#include "device.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"
#include "toolstack.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xen/sched.h>

#define TOP_MAX 256

struct top_prev {
	domid_t domid;
	uint64_t cpu_ns;
};

static volatile sig_atomic_t top_stop;

static void top_sig(int sig)
{
	(void)sig;
	top_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t sysfs_u64(const char *ifname, const char *what)
{
	char path[160], buf[32];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname,
		 what);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtoull(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

/* Add what pvkit-blkback published for vbd d/devid (common/vbd_stats.h)
 * to *sum; a missing or malformed file adds nothing. */
static void vbd_counters(const struct ts *ts, domid_t d, const char *devid,
			 struct pvk_vbd_qstats *sum)
{
	char path[420];
	struct pvk_vbd_stats_head h;
	static unsigned char buf[1 << 16];
	ssize_t n;
	int fd;

	ts_vbd_stats_dir(ts, path, sizeof(path));
	snprintf(path + strlen(path), sizeof(path) - strlen(path),
		 "/vbd-%u-%s", d, devid);
	/* read, not mapped: blkback replaces the file on each connection */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n < (ssize_t)PVK_VBD_STATS_HEAD)
		return;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != PVK_VBD_STATS_MAGIC || h.nqueues > 64 ||
	    h.stride < sizeof(*sum) || h.stride % 8 ||
	    PVK_VBD_STATS_HEAD + (uint64_t)h.nqueues * h.stride > (uint64_t)n)
		return;
	for (uint32_t q = 0; q < h.nqueues; q++) {
		struct pvk_vbd_qstats c;

		memcpy(&c, buf + PVK_VBD_STATS_HEAD + (size_t)q * h.stride,
		       sizeof(c));
		sum->oo_req += c.oo_req;
		sum->rd_req += c.rd_req;
		sum->wr_req += c.wr_req;
		sum->rd_sect += c.rd_sect;
		sum->wr_sect += c.wr_sect;
	}
}

/* A domain's vifs and vbds (from Dom0's backend directories), its vifs'
 * byte counts as the guest sees them and its vbds' request counters. */
static void dom_devices(const struct ts *ts, struct xs_client *xs, domid_t d,
			unsigned int *nets, uint64_t *tx, uint64_t *rx,
			unsigned int *vbds, struct pvk_vbd_qstats *vs)
{
	char dir[96], **ids = NULL;
	unsigned int n = 0, i;

	*nets = *vbds = 0;
	*tx = *rx = 0;
	memset(vs, 0, sizeof(*vs));
	if (!xs)
		return;
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", d);
	if (!xs_directory(xs, XS_TX_NONE, dir, &ids, &n)) {
		for (i = 0; i < n; i++) {
			char be[160], ifn[64], *v;

			snprintf(be, sizeof(be), "%s/%s", dir, ids[i]);
			v = ts_dev_read_str(xs, be, "vifname");
			if (v && *v)
				snprintf(ifn, sizeof(ifn), "%s", v);
			else
				snprintf(ifn, sizeof(ifn), "vif%u.%s", d,
					 ids[i]);
			free(v);
			/* the TAP received what the guest sent */
			*tx += sysfs_u64(ifn, "rx_bytes");
			*rx += sysfs_u64(ifn, "tx_bytes");
		}
		*nets = n;
		free(ids);
	}
	ids = NULL;
	n = 0;
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vbd/%u", d);
	if (!xs_directory(xs, XS_TX_NONE, dir, &ids, &n)) {
		*vbds = n;
		for (i = 0; i < n; i++)
			vbd_counters(ts, d, ids[i], vs);
		free(ids);
	}
}

static uint64_t host_mem_kib(void)
{
	char line[128];
	uint64_t kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "MemTotal:", 9)) {
			kib = strtoull(line + 9, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static void top_state(const struct pvk_dominfo *i, char buf[7])
{
	strcpy(buf, "------");
	if (i->flags & PVK_DOMINFO_BLOCKED)
		buf[0] = 'b';
	if (i->flags & PVK_DOMINFO_DYING)
		buf[1] = 'd';
	if (i->flags & PVK_DOMINFO_PAUSED)
		buf[2] = 'p';
	if (i->flags & PVK_DOMINFO_RUNNING)
		buf[3] = 'r';
	if (i->flags & PVK_DOMINFO_SHUTDOWN)
		buf[4] = 's';
	if ((i->flags & PVK_DOMINFO_SHUTDOWN) &&
	    i->shutdown_reason == SHUTDOWN_crash)
		buf[5] = 'c';
}

/* One frame; prev/nprev: the last frame's CPU times (updated). */
static void top_frame(const struct ts *ts, struct pvk_platform *plat,
		      struct xs_client *xs,
		      struct top_prev *prev, unsigned int *nprev,
		      uint64_t dt_ns)
{
	struct pvk_dominfo info[TOP_MAX];
	struct top_prev next[TOP_MAX];
	uint64_t host = host_mem_kib();
	int n = plat->domctl->list(plat, 0, info, TOP_MAX), i;
	unsigned int k;
	time_t t = time(NULL);
	struct tm tm;
	char when[16], st[7], pct[16];

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("pvkit top - %s   %d domains\n", when, n < 0 ? 0 : n);
	printf("%10s %6s %10s %6s %9s %6s %9s %9s %5s %4s %9s %9s %4s %7s "
	       "%7s %7s %9s %9s\n",
	       "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)",
	       "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS", "NETTX(k)",
	       "NETRX(k)", "VBDS", "VBD_OO", "VBD_RD", "VBD_WR", "VBD_RSECT",
	       "VBD_WSECT");
	for (i = 0; i < n; i++) {
		uint64_t mem = info[i].tot_pages * 4,
			 max = info[i].max_pages * 4;
		unsigned int nets, vbds;
		struct pvk_vbd_qstats vs;
		uint64_t tx, rx;

		snprintf(pct, sizeof(pct), "%s", "-");
		for (k = 0; k < *nprev && dt_ns; k++)
			if (prev[k].domid == info[i].domid &&
			    info[i].cpu_time_ns >= prev[k].cpu_ns)
				snprintf(pct, sizeof(pct), "%.1f",
					 100.0 *
					     (double)(info[i].cpu_time_ns -
						      prev[k].cpu_ns) /
					     (double)dt_ns);
		next[i].domid = info[i].domid;
		next[i].cpu_ns = info[i].cpu_time_ns;
		top_state(&info[i], st);
		dom_devices(ts, xs, info[i].domid, &nets, &tx, &rx, &vbds,
			    &vs);
		printf("%10.10s %6s %10.0f %6s %9llu %6.1f ", info[i].name, st,
		       (double)info[i].cpu_time_ns / 1e9, pct,
		       (unsigned long long)mem,
		       host ? 100.0 * (double)mem / (double)host : 0.0);
		if (info[i].domid) /* Domain-0 has none, as xentop shows */
			printf("%9llu %9.1f ", (unsigned long long)max,
			       host ? 100.0 * (double)max / (double)host : 0.0);
		else
			printf("%9s %9s ", "no limit", "n/a");
		printf("%5u %4u %9llu %9llu %4u %7llu %7llu %7llu %9llu "
		       "%9llu\n",
		       info[i].vcpus, nets, (unsigned long long)(tx / 1024),
		       (unsigned long long)(rx / 1024), vbds,
		       (unsigned long long)vs.oo_req,
		       (unsigned long long)vs.rd_req,
		       (unsigned long long)vs.wr_req,
		       (unsigned long long)vs.rd_sect,
		       (unsigned long long)vs.wr_sect);
	}
	memcpy(prev, next, sizeof(next[0]) * (size_t)(n < 0 ? 0 : n));
	*nprev = n < 0 ? 0 : (unsigned int)n;
	fflush(stdout);
}

/* xentop [-b] [-d SECONDS] [-i ITERATIONS]: the table every SECONDS
 * (default 3); -b: frames one after another (batch), else the screen is
 * redrawn; -i: that many frames, else until interrupted. */
int cmd_top(struct ts *ts, int argc, char **argv)
{
	struct top_prev prev[TOP_MAX];
	struct pvk_platform *plat;
	struct xs_client *xs = NULL;
	unsigned int nprev = 0;
	uint64_t delay_ms = 3000, iters = 0, it, last = 0;
	bool batch = false;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-b")) {
			batch = true;
		} else if (!strcmp(argv[a], "-d") && a + 1 < argc) {
			char *end;
			double d = strtod(argv[++a], &end);

			if (*end || d < 0.1 || d > 3600) {
				fprintf(stderr,
					"pvkit: top: -d %s: a delay "
					"of 0.1-3600 seconds\n",
					argv[a]);
				return 2;
			}
			delay_ms = (uint64_t)(d * 1000);
		} else if (!strcmp(argv[a], "-i") && a + 1 < argc) {
			char *end;

			iters = strtoull(argv[++a], &end, 10);
			if (*end || !iters || iters > 1000000) {
				fprintf(stderr,
					"pvkit: top: -i %s: a count "
					"of 1-1000000\n",
					argv[a]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: pvkit top [-b] [-d SECONDS] "
					"[-i ITERATIONS]\n");
			return 2;
		}
	}
	if (ts_dom0(ts, &plat))
		return 1;
	if (ts_xs_open(ts, &xs))
		xs = NULL; /* no device columns */
	signal(SIGINT, top_sig);
	signal(SIGTERM, top_sig);
	for (it = 0; !top_stop && (!iters || it < iters); it++) {
		uint64_t t = now_ns();
		struct timespec ds = {(time_t)(delay_ms / 1000),
				      (long)(delay_ms % 1000) * 1000000};

		if (!batch)
			printf("\033[H\033[2J"); /* home, clear */
		else if (it)
			printf("\n");
		top_frame(ts, plat, xs, prev, &nprev, last ? t - last : 0);
		last = t;
		if (iters && it + 1 == iters)
			break;
		while (!top_stop && nanosleep(&ds, &ds) < 0 && errno == EINTR)
			;
	}
	xs_client_close(xs);
	pvk_platform_close(plat);
	return 0;
}
