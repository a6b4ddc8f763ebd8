/*
 * domain.c - pvkit create/list/destroy/shutdown/reboot/pause/unpause/info,
 * and the per-domain monitor that applies on_poweroff/on_reboot/on_crash
 * (like xl's monitoring process: it is the parent of the guest kernel).
 */
#include "toolstack.h"
#include "xlcfg.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"
#include "pvkit/blkfront.h"
#include "hv/hc_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

static const char *const reason_names[] = {"poweroff", "reboot", "suspend",
					   "crash",    "watchdog",
					   "soft_reset"};

bool disk_target_is_nbd(const char *target)
{
	static const char *const schemes[] = {"nbd://", "nbds://",
					      "nbd+unix://", "nbds+unix://"};
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(target, schemes[i], strlen(schemes[i])))
			return target[strlen(schemes[i])] != 0;
	return false;
}

/* What pvkit's block backend can serve: raw files, block devices and NBD
 * exports. */
int disk_check(const char *cfg, const struct xlcfg_disk *dk)
{
	uint32_t devid;
	struct stat st;

	if (dk->format && strcmp(dk->format, "raw")) {
		fprintf(stderr, "pvkit: %s:%u: disk: format '%s' is not "
				"supported (raw only)\n",
			cfg, dk->line, dk->format);
		return -ENOTSUP;
	}
	if (blkfront_vdev_parse(dk->vdev, &devid)) {
		fprintf(stderr, "pvkit: %s:%u: disk: vdev '%s' is not a xvd* "
				"name pvkit knows\n",
			cfg, dk->line, dk->vdev);
		return -EINVAL;
	}
	if (!dk->target || !*dk->target) {
		fprintf(stderr, "pvkit: %s:%u: disk: empty drives are not "
				"supported\n",
			cfg, dk->line);
		return -ENOTSUP;
	}
	/* An NBD export (nbd://host[:port]/export, nbd+unix:///export?
	 * socket=PATH): pvkit-blkback connects when the device appears. */
	if (disk_target_is_nbd(dk->target))
		return 0;
	errno = 0;
	if (stat(dk->target, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		fprintf(stderr, "pvkit: %s:%u: disk: target '%s': %s\n", cfg,
			dk->line, dk->target,
			errno ? strerror(errno) : "not a file or block device");
		return -ENOENT;
	}
	return 0;
}

static int load_cfg(const char *path, struct xlcfg_domain **out)
{
	char err[XLCFG_ERR_MAX];
	struct xlcfg *cfg = NULL;
	unsigned int i;
	int rc;

	rc = xlcfg_parse_file(path, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "pvkit: %s\n", err);
		return rc;
	}
	rc = xlcfg_domain_get(cfg, out, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "pvkit: %s\n", err);
		goto out;
	}
	for (i = 0; i < xlcfg_warning_count(cfg); i++)
		fprintf(stderr, "pvkit: warning: %s\n", xlcfg_warning(cfg, i));
	for (i = 0; i < (*out)->ndisks && !rc; i++)
		rc = disk_check(path, &(*out)->disks[i]);
	if (!rc && (*out)->nvifs) {
		fprintf(stderr, "pvkit: %s: vif= is not implemented yet (no "
				"network devices)\n",
			path);
		rc = -ENOTSUP;
	}
	if (rc) {
		xlcfg_domain_free(*out);
		*out = NULL;
	}
out:
	xlcfg_free(cfg);
	return rc;
}

static int alloc_port_for(struct pvk_rt *rt, domid_t dom, uint64_t *port)
{
	struct evtchn_alloc_unbound a = {.dom = dom, .remote_dom = 0};
	long rc = pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
				   EVTCHNOP_alloc_unbound, 0, &a, sizeof(a),
				   sizeof(a), NULL, NULL);

	if (rc < 0)
		return (int)rc;
	*port = a.port;
	return 0;
}

static int xs_dom_write(struct xs_client *xs, domid_t d, const char *rel,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int xs_dom_write(struct xs_client *xs, domid_t d, const char *rel,
			const char *fmt, ...)
{
	char path[128], val[256];
	va_list ap;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", d, rel);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write_str(xs, XS_TX_NONE, path, val);
}

static int xs_write_fmt(struct xs_client *xs, const char *dir,
			const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int xs_write_fmt(struct xs_client *xs, const char *dir,
			const char *key, const char *fmt, ...)
{
	char path[256], val[512];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write_str(xs, XS_TX_NONE, path, val);
}

/* A vbd for fe: the backend's directory (owned by Dom0, readable by the
 * frontend) and the frontend's (owned by it, readable by Dom0), states
 * last, as libxl does; pvkit-blkback watches backend/vbd. */
int disk_add(struct xs_client *xs, domid_t fe, const struct xlcfg_disk *dk)
{
	char be[128], fr[128];
	struct xs_perm bp[2] = {{0, XS_PERM_NONE}, {fe, XS_PERM_READ}};
	struct xs_perm fp[2] = {{fe, XS_PERM_NONE}, {0, XS_PERM_READ}};
	const char *type = dk->cdrom ? "cdrom" : "disk";
	uint32_t devid;
	int rc;

	rc = blkfront_vdev_parse(dk->vdev, &devid);
	if (rc)
		return rc;
	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", fe,
		 devid);
	snprintf(fr, sizeof(fr), "/local/domain/%u/device/vbd/%u", fe, devid);
	rc = xs_mkdir(xs, XS_TX_NONE, be);
	if (!rc)
		rc = xs_set_perms(xs, XS_TX_NONE, be, bp, 2);
	if (!rc)
		rc = xs_write_fmt(xs, be, "frontend", "%s", fr);
	if (!rc)
		rc = xs_write_fmt(xs, be, "frontend-id", "%u", fe);
	if (!rc)
		rc = xs_write_fmt(xs, be, "params", "%s", dk->target);
	if (!rc)
		rc = xs_write_fmt(xs, be, "mode", "%s",
				  dk->readonly ? "r" : "w");
	if (!rc)
		rc = xs_write_fmt(xs, be, "device-type", "%s", type);
	if (!rc)
		rc = xs_write_fmt(xs, be, "dev", "%s", dk->vdev);
	if (!rc)
		rc = xs_write_fmt(xs, be, "online", "1");
	if (!rc)
		rc = xs_mkdir(xs, XS_TX_NONE, fr);
	if (!rc)
		rc = xs_set_perms(xs, XS_TX_NONE, fr, fp, 2);
	if (!rc)
		rc = xs_write_fmt(xs, fr, "backend", "%s", be);
	if (!rc)
		rc = xs_write_fmt(xs, fr, "backend-id", "0");
	if (!rc)
		rc = xs_write_fmt(xs, fr, "virtual-device", "%u", devid);
	if (!rc)
		rc = xs_write_fmt(xs, fr, "device-type", "%s", type);
	if (!rc)
		rc = xs_write_fmt(xs, fr, "state", "1");
	if (!rc)
		rc = xs_write_fmt(xs, be, "state", "1");
	if (rc)
		fprintf(stderr, "pvkit: disk %s of domain %u: %s\n", dk->vdev,
			fe, strerror(-rc));
	return rc;
}

/* Build a domain from its config: hypervisor, event channels, xenstore.
 * Returns 0 with *domid and *chan_fd (the kernel's channel). */
static int domain_build(struct ts *ts, struct pvk_rt *rt,
			const struct xlcfg_domain *c, domid_t *domid,
			int *chan_fd)
{
	struct xs_client *xs = NULL;
	uint64_t store_port = 0, cons_port = 0, store_pfn = 0, cons_pfn = 0;
	struct xs_perm perm;
	char path[64];
	unsigned int i;
	int rc;

	rc = pvk_dom_create(rt, c->name, c->maxmem_mib * 1024,
			    c->memory_mib * 1024, c->vcpus,
			    c->cmdline ? c->cmdline : "", domid, chan_fd);
	if (rc) {
		fprintf(stderr, "pvkit: cannot create domain '%s': %s\n",
			c->name, strerror(-rc));
		return rc;
	}
	rc = alloc_port_for(rt, *domid, &store_port);
	if (!rc)
		rc = alloc_port_for(rt, *domid, &cons_port);
	if (!rc)
		rc = pvk_dom_set_param(rt, *domid, HVM_PARAM_STORE_EVTCHN,
				       store_port);
	if (!rc)
		rc = pvk_dom_set_param(rt, *domid, HVM_PARAM_CONSOLE_EVTCHN,
				       cons_port);
	if (!rc)
		rc = pvk_dom_get_param(rt, *domid, HVM_PARAM_STORE_PFN,
				       &store_pfn);
	if (!rc)
		rc = pvk_dom_get_param(rt, *domid, HVM_PARAM_CONSOLE_PFN,
				       &cons_pfn);
	if (!rc)
		rc = xs_client_open_path(ts->xs_sock, &xs);
	if (rc) {
		fprintf(stderr, "pvkit: setting up domain %u: %s\n", *domid,
			strerror(-rc));
		goto fail;
	}
	/* The domain's home, owned by it (xenstore-paths.pandoc). */
	snprintf(path, sizeof(path), "/local/domain/%u", *domid);
	xs_rm(xs, XS_TX_NONE, path); /* nothing inherited from a reused id */
	rc = xs_mkdir(xs, XS_TX_NONE, path);
	perm.id = *domid;
	perm.perms = XS_PERM_NONE;
	if (!rc)
		rc = xs_set_perms(xs, XS_TX_NONE, path, &perm, 1);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "name", "%s", c->name);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "domid", "%u", *domid);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "memory/target", "%llu",
				  (unsigned long long)c->memory_mib * 1024);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "memory/static-max", "%llu",
				  (unsigned long long)c->maxmem_mib * 1024);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "control/shutdown", "%s", "");
	if (!rc)
		rc = xs_dom_write(xs, *domid, "console/port", "%llu",
				  (unsigned long long)cons_port);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "console/ring-ref", "%llu",
				  (unsigned long long)cons_pfn);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "console/type", "%s",
				  "xenconsoled");
	if (!rc)
		rc = xs_dom_write(xs, *domid, "store/ring-ref", "%llu",
				  (unsigned long long)store_pfn);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "store/port", "%llu",
				  (unsigned long long)store_port);
	for (i = 0; !rc && i < c->ndisks; i++)
		rc = disk_add(xs, *domid, &c->disks[i]);
	if (!rc)
		rc = xs_introduce(xs, *domid, store_pfn,
				  (evtchn_port_t)store_port);
	if (rc) {
		fprintf(stderr, "pvkit: xenstore setup for domain %u: %s\n",
			*domid, strerror(-rc));
		goto fail;
	}
	xs_client_close(xs);
	return 0;
fail:
	xs_client_close(xs);
	pvk_dom_simple(rt, PVK_HC_dom_destroy, *domid);
	close(*chan_fd);
	return rc ? rc : -EIO;
}

static void domain_cleanup(struct ts *ts, struct pvk_rt *rt, domid_t d)
{
	struct xs_client *xs = NULL;
	char path[64];

	pvk_dom_simple(rt, PVK_HC_dom_destroy, d);
	if (xs_client_open_path(ts->xs_sock, &xs) == 0) {
		xs_release(xs, d);
		snprintf(path, sizeof(path), "/local/domain/%u", d);
		xs_rm(xs, XS_TX_NONE, path);
		/* pvkit-blkback drops a device whose directory goes. */
		snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u",
			 d);
		xs_rm(xs, XS_TX_NONE, path);
		xs_client_close(xs);
	}
}

static pid_t spawn_kernel(struct ts *ts, const struct xlcfg_domain *c,
			  int chan_fd, domid_t d)
{
	char kernel[300], fdstr[16], log[400];
	pid_t p;

	if (c->kernel)
		snprintf(kernel, sizeof(kernel), "%s", c->kernel);
	else
		ts_helper(ts, "PVKIT_GUEST", "pvkit-guest", kernel,
			  sizeof(kernel));
	snprintf(log, sizeof(log), "%s/guest-%s.log", ts->state, c->name);
	p = fork();
	if (p != 0)
		return p;
	{
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
	}
	/* The channel is the only thing the kernel inherits from us. */
	fcntl(chan_fd, F_SETFD, 0);
	snprintf(fdstr, sizeof(fdstr), "%d", chan_fd);
	setenv("PVKIT_HV_FD", fdstr, 1);
	unsetenv("PVKIT_HV_SOCK");
	fprintf(stderr, "--- domain %u (%s) kernel %s\n", d, c->name, kernel);
	execl(kernel, kernel, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", kernel, strerror(errno));
	_exit(127);
}

/* pvkit __monitor CFG DOMID CHANFD READYFD */
int cmd_monitor(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_domain *c = NULL;
	struct pvk_rt *rt = NULL;
	domid_t d;
	int chan_fd, ready_fd, rc = 1;

	if (argc != 5)
		return 2;
	d = (domid_t)atoi(argv[2]);
	chan_fd = atoi(argv[3]);
	ready_fd = atoi(argv[4]);
	if (load_cfg(argv[1], &c) || ts_dom0(ts, &rt))
		goto out;
	for (;;) {
		struct pvk_dominfo info;
		enum xlcfg_action act;
		pid_t k;
		int st;

		k = spawn_kernel(ts, c, chan_fd, d);
		close(chan_fd);
		if (k < 0 || pvk_dom_simple(rt, PVK_HC_dom_unpause, d)) {
			domain_cleanup(ts, rt, d);
			goto out;
		}
		if (ready_fd >= 0) {
			if (write(ready_fd, &d, sizeof(d)) < 0)
				perror("monitor");
			close(ready_fd);
			ready_fd = -1;
		}
		while (waitpid(k, &st, 0) < 0 && errno == EINTR)
			;
		/* The hypervisor stops the kernel when the domain shuts
		 * down; a kernel that just died has crashed. */
		if (pvk_dom_list(rt, d, &info, 1) != 1 || info.domid != d ||
		    (info.flags & PVK_DOMINFO_DYING)) {
			rc = 0; /* destroyed by someone else */
			break;
		}
		if (!(info.flags & PVK_DOMINFO_SHUTDOWN))
			pvk_dom_simple(rt, PVK_HC_dom_destroy, d);
		switch (info.shutdown_reason) {
		case SHUTDOWN_poweroff:
			act = c->on_poweroff;
			break;
		case SHUTDOWN_reboot:
			act = c->on_reboot;
			break;
		case SHUTDOWN_watchdog:
			act = c->on_watchdog;
			break;
		default:
			act = c->on_crash;
			break;
		}
		fprintf(stderr, "pvkit: domain %u (%s) %s: action %s\n", d,
			c->name,
			info.shutdown_reason < 6
				? reason_names[info.shutdown_reason]
				: "?",
			xlcfg_action_name(act));
		if (act == XLCFG_ACTION_PRESERVE) {
			rc = 0;
			break;
		}
		domain_cleanup(ts, rt, d);
		if (act != XLCFG_ACTION_RESTART &&
		    act != XLCFG_ACTION_RENAME_RESTART &&
		    act != XLCFG_ACTION_COREDUMP_RESTART) {
			rc = 0;
			break;
		}
		if (domain_build(ts, rt, c, &d, &chan_fd))
			break;
	}
out:
	pvk_rt_close(rt);
	xlcfg_domain_free(c);
	return rc;
}

int cmd_create(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_domain *c = NULL;
	struct pvk_rt *rt = NULL;
	char self[300], a_dom[16], a_fd[16], a_ready[16];
	int chan_fd = -1, pfd[2] = {-1, -1}, rc = 1;
	domid_t d, got;
	pid_t m;

	if (argc != 2) {
		fprintf(stderr, "usage: pvkit create CFG\n");
		return 2;
	}
	if (load_cfg(argv[1], &c))
		return 1;
	if (ts_dom0(ts, &rt))
		goto out;
	if (ts_find(rt, c->name, &d) == 0) {
		fprintf(stderr, "pvkit: a domain named '%s' already exists\n",
			c->name);
		goto out;
	}
	if (pipe(pfd) < 0 || domain_build(ts, rt, c, &d, &chan_fd))
		goto out;
	ts_helper(ts, "PVKIT_SELF", "pvkit", self, sizeof(self));
	snprintf(a_dom, sizeof(a_dom), "%u", d);
	snprintf(a_fd, sizeof(a_fd), "%d", chan_fd);
	snprintf(a_ready, sizeof(a_ready), "%d", pfd[1]);
	m = fork();
	if (m == 0) {
		setsid();
		fcntl(chan_fd, F_SETFD, 0);
		fcntl(pfd[1], F_SETFD, 0);
		close(pfd[0]);
		execl("/proc/self/exe", "pvkit", "__monitor", argv[1], a_dom,
		      a_fd, a_ready, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	close(chan_fd);
	if (m < 0 || read(pfd[0], &got, sizeof(got)) != sizeof(got) ||
	    got != d) {
		fprintf(stderr, "pvkit: domain %u did not start\n", d);
		goto out;
	}
	printf("Parsing config from %s\nDomain %u (%s) created\n", argv[1], d,
	       c->name);
	rc = 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	pvk_rt_close(rt);
	xlcfg_domain_free(c);
	return rc;
}

static const char *state_str(const struct pvk_dominfo *i, char buf[7])
{
	strcpy(buf, "------");
	if (i->flags & PVK_DOMINFO_RUNNING)
		buf[0] = 'r';
	if (i->flags & PVK_DOMINFO_BLOCKED)
		buf[1] = 'b';
	if (i->flags & PVK_DOMINFO_PAUSED)
		buf[2] = 'p';
	if (i->flags & PVK_DOMINFO_SHUTDOWN)
		buf[3] = 's';
	if ((i->flags & PVK_DOMINFO_SHUTDOWN) &&
	    i->shutdown_reason == SHUTDOWN_crash)
		buf[4] = 'c';
	if (i->flags & PVK_DOMINFO_DYING)
		buf[5] = 'd';
	return buf;
}

int cmd_list(struct ts *ts, int argc, char **argv)
{
	struct pvk_dominfo info[256];
	struct pvk_rt *rt;
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	char st[7];
	int n, i;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: pvkit list [--json]\n");
		return 2;
	}
	if (ts_dom0(ts, &rt))
		return 1;
	n = pvk_dom_list(rt, 0, info, 256);
	if (n < 0) {
		fprintf(stderr, "pvkit: list: %s\n", strerror(-n));
		pvk_rt_close(rt);
		return 1;
	}
	if (json) {
		printf("[");
		for (i = 0; i < n; i++)
			printf("%s\n  {\"domid\": %u, \"name\": \"%s\", "
			       "\"mem_kib\": %llu, \"maxmem_kib\": %llu, "
			       "\"vcpus\": %u, \"state\": \"%s\"}",
			       i ? "," : "", info[i].domid, info[i].name,
			       (unsigned long long)info[i].tot_pages * 4,
			       (unsigned long long)info[i].max_pages * 4,
			       info[i].vcpus, state_str(&info[i], st));
		printf("\n]\n");
	} else {
		printf("%-32s %5s %7s %5s %6s\n", "Name", "ID", "Mem", "VCPUs",
		       "State");
		for (i = 0; i < n; i++)
			printf("%-32s %5u %7llu %5u %6s\n", info[i].name,
			       info[i].domid,
			       (unsigned long long)info[i].tot_pages / 256,
			       info[i].vcpus, state_str(&info[i], st));
	}
	pvk_rt_close(rt);
	return 0;
}

static int one_domain(struct ts *ts, int argc, char **argv,
		      struct pvk_rt **rt, domid_t *d, const char *verb)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pvkit %s DOMAIN\n", verb);
		return 2;
	}
	if (ts_dom0(ts, rt))
		return 1;
	if (ts_lookup(*rt, argv[1], d)) {
		pvk_rt_close(*rt);
		return 1;
	}
	if (*d == 0) {
		fprintf(stderr, "pvkit: %s: not for Domain-0\n", verb);
		pvk_rt_close(*rt);
		return 1;
	}
	return 0;
}

int cmd_destroy(struct ts *ts, int argc, char **argv)
{
	struct pvk_rt *rt;
	domid_t d;
	int rc = one_domain(ts, argc, argv, &rt, &d, "destroy");

	if (rc)
		return rc;
	domain_cleanup(ts, rt, d);
	pvk_rt_close(rt);
	return 0;
}

int cmd_pause(struct ts *ts, int argc, char **argv, bool pause)
{
	struct pvk_rt *rt;
	domid_t d;
	int rc = one_domain(ts, argc, argv, &rt, &d,
			    pause ? "pause" : "unpause");

	if (rc)
		return rc;
	rc = pvk_dom_simple(rt, pause ? PVK_HC_dom_pause : PVK_HC_dom_unpause,
			    d);
	if (rc)
		fprintf(stderr, "pvkit: %s: %s\n", argv[1], strerror(-rc));
	pvk_rt_close(rt);
	return rc ? 1 : 0;
}

int cmd_shutdown(struct ts *ts, int argc, char **argv, const char *what)
{
	struct xs_client *xs = NULL;
	struct pvk_rt *rt;
	struct pvk_dominfo info;
	bool wait = false;
	char path[64], *feat = NULL;
	size_t len;
	domid_t d;
	int rc, i;

	if (argc >= 2 && !strcmp(argv[1], "-w")) {
		wait = true;
		argc--;
		argv++;
	}
	rc = one_domain(ts, argc, argv, &rt, &d, what);
	if (rc)
		return rc;
	rc = xs_client_open_path(ts->xs_sock, &xs);
	if (rc)
		goto out;
	/* Like xl: refuse when the guest has no PV control driver. */
	snprintf(path, sizeof(path), "/local/domain/%u/control/feature-%s", d,
		 what);
	if (xs_read(xs, XS_TX_NONE, path, &feat, &len) < 0) {
		fprintf(stderr,
			"pvkit: domain %u has no PV control driver "
			"(control/feature-%s missing)\n",
			d, what);
		rc = -EOPNOTSUPP;
		goto out;
	}
	free(feat);
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d);
	rc = xs_write_str(xs, XS_TX_NONE, path, what);
	if (rc || !wait)
		goto out;
	/* -w: wait for the domain to go away (or come back, for reboot). */
	for (i = 0; i < 3000; i++) {
		if (pvk_dom_list(rt, d, &info, 1) != 1 || info.domid != d)
			break;
		usleep(10000);
	}
	if (i == 3000) {
		fprintf(stderr, "pvkit: domain %u did not shut down in 30 s\n",
			d);
		rc = -ETIMEDOUT;
	} else {
		printf("Domain %u shut down\n", d);
	}
out:
	if (rc && rc != -EOPNOTSUPP && rc != -ETIMEDOUT)
		fprintf(stderr, "pvkit: %s %s: %s\n", what, argv[1],
			strerror(-rc));
	xs_client_close(xs);
	pvk_rt_close(rt);
	return rc ? 1 : 0;
}

int cmd_info(struct ts *ts, int argc, char **argv)
{
	struct pvk_dominfo info[256];
	struct pvk_rt *rt;
	long ver;
	int n;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: pvkit info\n");
		return 2;
	}
	if (ts_dom0(ts, &rt))
		return 1;
	ver = pvk_rt_hypercall(rt, __HYPERVISOR_xen_version, 0, 0, NULL, 0, 0,
			       NULL, NULL);
	n = pvk_dom_list(rt, 0, info, 256);
	printf("host                   : emulated (pvkit-hvd)\n");
	printf("xen_major              : %ld\n", ver >> 16);
	printf("xen_minor              : %ld\n", ver & 0xffff);
	printf("xen_extra              : -pvkit\n");
	printf("xen_caps               : pvh-style guests as processes\n");
	printf("nr_domains             : %d\n", n);
	printf("state_dir              : %s\n", ts->state);
	pvk_rt_close(rt);
	return 0;
}
