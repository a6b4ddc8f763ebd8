/* host.c - pvkit host start|stop|status: the emulated host's daemons
 * (pvkit-hvd, pvkit-xenstored, pvkit-consoled, pvkit-blkback,
 * pvkit-netback) and the bridge vifs join by default (xenbr0: created if
 * missing, left by stop as xendomains leaves it).
 *
 * One host per state directory: start and stop hold <state>/host.lock
 * (flock) while they work, so two of them at once run one after the
 * other, and start refuses while any daemon of the directory runs.  Stop
 * is xendomains' order: the domains are asked to power off and given a
 * bounded time, then the daemons go; a domain that does not go refuses the
 * stop unless -f, which destroys it. */
#include "toolstack.h"
#include "pvkit/xs.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t read_pid(const struct ts *ts, const char *name)
{
	char path[400];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s.pid", ts->state, name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid > 1 && kill(pid, 0) == 0)
		return pid;
	return 0;
}

/* Start a daemon detached, logging to <state>/<name>.log. */
static int spawn(const struct ts *ts, const char *name, char *const argv[])
{
	char log[400];
	pid_t p;
	int fd;

	snprintf(log, sizeof(log), "%s/%s.log", ts->state, name);
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		setsid();
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return 0;
}

static const char *const daemons[] = {"hvd", "xenstored", "consoled",
				      "blkback", "netback"};
#define NDAEMONS (sizeof(daemons) / sizeof(daemons[0]))

/* Hold the state directory's lock (released when the process ends or
 * the fd is closed): the fd, or -1 with the reason printed. */
static int host_lock(const struct ts *ts)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/host.lock", ts->state);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		fprintf(stderr, "pvkit: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int wait_for(const char *path)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* The bridge name exists (created with SIOCBRADDBR if not: no iproute2)
 * and is up.  0 or -errno. */
static int bridge_ensure(const char *name)
{
	struct ifreq ifr;
	int s, rc = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* this network namespace's interfaces (/sys may show another's) */
	if (!if_nametoindex(name)) {
		if (ioctl(s, SIOCBRADDBR, name) < 0) {
			rc = -errno;
			goto out;
		}
		printf("pvkit: created the bridge %s (vifs join it by "
		       "default)\n",
		       name);
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
out:
	close(s);
	return rc;
}

/* Start the backend daemon name (pvkit-<name>, the program exe) on this
 * host's xenstore; its pid file appears once its xenstore watch is in
 * place.  0, or 1 with the reason printed. */
static int start_backend(struct ts *ts, const char *name, char *exe)
{
	char pid[400];
	char *const a[] = {exe, "--xenstore", ts->xs_sock, "--pid-file", pid,
			   NULL};
	int rc;

	snprintf(pid, sizeof(pid), "%s/%s.pid", ts->state, name);
	unlink(pid);
	rc = spawn(ts, name, a);
	if (rc == 0)
		rc = wait_for(pid);
	if (rc) {
		fprintf(stderr, "pvkit: %s did not start (see %s/%s.log)\n",
			name, ts->state, name);
		return 1;
	}
	return 0;
}

static int host_start(struct ts *ts)
{
	char hvd[300], xsd[300], cond[300], blkb[300], netb[300], pid[400],
	    sock[400];
	struct xs_client *xs = NULL;
	size_t i;
	int rc, lock;

	if (mkdir(ts->state, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pvkit: %s: %s\n", ts->state, strerror(errno));
		return 1;
	}
	lock = host_lock(ts);
	if (lock < 0)
		return 1;
	/* Any daemon left of this directory: a second set beside it would
	 * forget every domain the first knows. */
	for (i = 0; i < NDAEMONS; i++) {
		pid_t p = read_pid(ts, daemons[i]);

		if (p) {
			fprintf(stderr,
				"pvkit: host already running (state %s): "
				"pvkit-%s is pid %d; `pvkit host stop` "
				"first\n",
				ts->state, daemons[i], (int)p);
			close(lock);
			return 1;
		}
	}
	ts_helper(ts, "PVKIT_HVD", "pvkit-hvd", hvd, sizeof(hvd));
	ts_helper(ts, "PVKIT_XENSTORED", "pvkit-xenstored", xsd, sizeof(xsd));
	ts_helper(ts, "PVKIT_CONSOLED", "pvkit-consoled", cond, sizeof(cond));
	ts_helper(ts, "PVKIT_BLKBACK", "pvkit-blkback", blkb, sizeof(blkb));
	ts_helper(ts, "PVKIT_NETBACK", "pvkit-netback", netb, sizeof(netb));
	unlink(ts->hv_sock);
	unlink(ts->xs_sock);
	/* Every host daemon talks to this host's emulated hypervisor, even on
	 * a machine that also has /dev/xen. */
	setenv("PVKIT_PLATFORM", "emulated", 1);
	snprintf(pid, sizeof(pid), "%s/hvd.pid", ts->state);
	{
		char *const a[] = {hvd, "--socket", ts->hv_sock, "--pid-file",
				   pid, NULL};

		rc = spawn(ts, "hvd", a);
	}
	if (rc == 0)
		rc = wait_for(ts->hv_sock);
	if (rc) {
		fprintf(stderr, "pvkit: hypervisor did not start (see %s/hvd.log)\n",
			ts->state);
		return 1;
	}
	snprintf(pid, sizeof(pid), "%s/xenstored.pid", ts->state);
	{
		char *const a[] = {xsd, "--socket", ts->xs_sock, "--pid-file",
				   pid, "--platform=emulated", NULL};

		rc = spawn(ts, "xenstored", a);
	}
	if (rc == 0)
		rc = wait_for(ts->xs_sock);
	if (rc) {
		fprintf(stderr,
			"pvkit: xenstored did not start (see %s/xenstored.log)\n",
			ts->state);
		return 1;
	}
	/* Dom0's own nodes, as xen-init-dom0 writes them. */
	rc = xs_client_open_path(ts->xs_sock, &xs);
	if (rc == 0) {
		xs_write_str(xs, XS_TX_NONE, "/local/domain/0/name", "Domain-0");
		xs_write_str(xs, XS_TX_NONE, "/local/domain/0/domid", "0");
		xs_client_close(xs);
	}
	/* The console backend: guest output to <state>/console-<name>.log,
	 * `pvkit console` attaches through its socket. */
	snprintf(pid, sizeof(pid), "%s/consoled.pid", ts->state);
	snprintf(sock, sizeof(sock), "%s/console.sock", ts->state);
	unlink(sock);
	{
		char *const a[] = {cond, "--socket", sock, "--log-dir",
				   ts->state, "--pid-file", pid, NULL};

		rc = spawn(ts, "consoled", a);
	}
	if (rc == 0)
		rc = wait_for(sock);
	if (rc) {
		fprintf(stderr,
			"pvkit: consoled did not start (see %s/consoled.log)\n",
			ts->state);
		return 1;
	}
	/* The block backend: serves every vbd under backend/vbd. */
	if (start_backend(ts, "blkback", blkb))
		return 1;
	/* The network backend: a TAP per vif under backend/vif, joined to
	 * the bridge the vif names; xenbr0 is the default one.  A host that
	 * cannot have it (no CAP_NET_ADMIN, no bridge support) still runs:
	 * create refuses vifs on a bridge that does not exist. */
	rc = bridge_ensure(TS_VIF_BRIDGE);
	if (rc)
		fprintf(stderr,
			"pvkit: warning: cannot create the bridge %s: %s "
			"(vifs on it will be refused)\n",
			TS_VIF_BRIDGE, strerror(-rc));
	if (start_backend(ts, "netback", netb))
		return 1;
	printf("pvkit host started (state %s)\n", ts->state);
	return 0;
}

/* The domains still there (not Dom0, not shut down): how many; their
 * ids into ids[]. */
static int live_domains(struct pvk_platform *plat, domid_t *ids, int max)
{
	struct pvk_dominfo info[256];
	int n = plat->domctl->list(plat, 0, info, 256), i, k = 0;

	for (i = 0; i < n && k < max; i++)
		if (info[i].domid != 0 &&
		    !(info[i].flags & PVK_DOMINFO_SHUTDOWN))
			ids[k++] = info[i].domid;
	return n < 0 ? n : k;
}

/* How many domains (not Dom0) have shut down but are still there. */
static int shut_down_domains(struct pvk_platform *plat)
{
	struct pvk_dominfo info[256];
	int n = plat->domctl->list(plat, 0, info, 256), i, k = 0;

	for (i = 0; i < n; i++)
		if (info[i].domid != 0 &&
		    (info[i].flags & PVK_DOMINFO_SHUTDOWN))
			k++;
	return k;
}

/* Ask every domain to power off and wait up to wait_s for them to go;
 * then destroy what is left if force (and what shut down but stayed, as
 * on_poweroff="preserve" leaves it), else name it and fail. */
static int stop_domains(struct ts *ts, unsigned int wait_s, bool force)
{
	struct pvk_platform *plat;
	struct pvk_dominfo info[256];
	struct xs_client *xs = NULL;
	domid_t ids[256];
	char path[64];
	int n, i, t, rc = 0;

	if (ts_dom0(ts, &plat))
		return -ENXIO;
	n = live_domains(plat, ids, 256);
	if (n > 0 && xs_client_open_path(ts->xs_sock, &xs) == 0) {
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path),
				 "/local/domain/%u/control/shutdown", ids[i]);
			xs_write_str(xs, XS_TX_NONE, path, "poweroff");
		}
		xs_client_close(xs);
		printf("pvkit: asked %d domain(s) to power off\n", n);
	}
	for (t = 0; n > 0 && t < (int)wait_s * 10; t++) {
		usleep(100000);
		n = live_domains(plat, ids, 256);
	}
	if (n > 0 && !force) {
		for (i = 0; i < n; i++)
			fprintf(stderr,
				"pvkit: host stop: domain %u did not shut "
				"down in %u s\n",
				ids[i], wait_s);
		fprintf(stderr, "pvkit: host left running; `pvkit host stop "
				"-f` destroys what is left\n");
		rc = -EBUSY;
		goto out;
	}
	/* A domain that has shut down is its monitor's to clean up (its
	 * on_poweroff): the monitors are given a moment before what stays
	 * is destroyed (what on_poweroff="preserve" keeps; with -f, what
	 * did not shut down). */
	for (t = 0; t < 30 && shut_down_domains(plat) > 0; t++)
		usleep(100000);
	n = plat->domctl->list(plat, 0, info, 256);
	for (i = 0; i < n; i++)
		if (info[i].domid != 0) {
			printf("pvkit: destroying domain %u (%s)\n",
			       info[i].domid, info[i].name);
			domain_cleanup(ts, plat, info[i].domid);
		}
out:
	pvk_platform_close(plat);
	return rc;
}

static int host_stop(struct ts *ts, int argc, char **argv)
{
	static const char *const order[] = {"blkback", "netback", "consoled",
					    "xenstored", "hvd"};
	unsigned int wait_s = 30;
	bool force = false;
	size_t i;
	int j, lock;

	for (j = 2; j < argc; j++) {
		if (!strcmp(argv[j], "-f")) {
			force = true;
		} else if (!strcmp(argv[j], "-w") && j + 1 < argc) {
			uint64_t v;

			if (pvk_parse_u64(argv[++j], 0, 3600, &v) < 0) {
				fprintf(stderr, "pvkit host stop: -w: seconds, "
						"0-3600\n");
				return 2;
			}
			wait_s = (unsigned int)v;
		} else {
			fprintf(stderr,
				"usage: pvkit host stop [-f] [-w SECONDS]\n");
			return 2;
		}
	}
	lock = host_lock(ts);
	if (lock < 0)
		return 1;
	if (read_pid(ts, "hvd") && read_pid(ts, "xenstored") &&
	    stop_domains(ts, wait_s, force) == -EBUSY)
		return 1;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		pid_t p = read_pid(ts, order[i]);

		if (!p)
			continue;
		kill(p, SIGTERM);
		for (j = 0; j < 200 && kill(p, 0) == 0; j++)
			usleep(10000);
		if (kill(p, 0) == 0)
			kill(p, SIGKILL);
	}
	printf("pvkit host stopped\n");
	close(lock);
	return 0;
}

static int host_status(struct ts *ts)
{
	size_t i;
	int down = 0;

	printf("state directory: %s\n", ts->state);
	for (i = 0; i < NDAEMONS; i++) {
		pid_t p = read_pid(ts, daemons[i]);
		char label[32];

		snprintf(label, sizeof(label), "pvkit-%s:", daemons[i]);
		printf("%-17s%s (pid %d)\n", label, p ? "running" : "stopped",
		       (int)p);
		down += !p;
	}
	return down ? 1 : 0;
}

int cmd_host(struct ts *ts, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "stop"))
		return host_stop(ts, argc, argv);
	if (argc != 2) {
		fprintf(stderr, "usage: pvkit host start|stop [-f] [-w "
				"SECONDS]|status\n");
		return 2;
	}
	if (!strcmp(argv[1], "start"))
		return host_start(ts);
	if (!strcmp(argv[1], "status"))
		return host_status(ts);
	fprintf(stderr, "pvkit host: unknown action '%s'\n", argv[1]);
	return 2;
}
