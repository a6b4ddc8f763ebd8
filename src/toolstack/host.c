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
 * stop unless -f, which destroys it.
 *
 * Supervision: start forks the host's supervisor, which starts the daemons
 * as its children (it reports how that went to start over a pipe, so
 * errors reach the caller's terminal), then lets go of the caller's
 * descriptors and watches them.  A dead pvkit-blkback, -netback or
 * -consoled is started again (each re-attaches to the running domains'
 * devices: their frontends reconnect), at once, then ever more slowly if
 * it keeps dying, and given up after 10 deaths in a minute.  So is a dead
 * pvkit-xenstored: it keeps its store in <state>/xenstore-db.img and .log as
 * it changes (--journal) and carries on from them; the guests' rings are
 * served again where they were and the daemons' connections come back
 * (xs_client_set_reconnect).  A dead pvkit-hvd took every domain with it (a
 * domain does not outlive its hypervisor): the supervisor stops the other
 * daemons and itself, like a host that rebooted.  Each death, restart and
 * giving-up goes to <state>/supervisor.log and into what `host status`
 * shows; stop asks the supervisor to stop the daemons in order. */
#include "common/util.h"
#include "pvkit/xs.h"
#include "toolstack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Dead but not yet reaped (its parent, maybe not us, has not waited). */
static bool zombie(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* after the command name, which may hold ')' */
	return p && p[1] == ' ' && p[2] == 'Z';
}

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
	if (pid > 1 && kill(pid, 0) == 0 && !zombie(pid))
		return pid;
	return 0;
}

void ts_vbd_stats_dir(const struct ts *ts, char *out, size_t len)
{
	snprintf(out, len, "%s/vbd-stats", ts->state);
}

/* Remove the files of dir (not below it). */
static void rm_files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_type == DT_REG)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

bool ts_supervised(const struct ts *ts)
{
	return read_pid(ts, "supervisor") > 0;
}

/* Start a daemon detached (a child of ours in its own session), logging
 * to <state>/<name>.log; *pid_out (may be NULL) gets its pid. */
static int spawn(const struct ts *ts, const char *name, char *const argv[],
		 pid_t *pid_out)
{
	char log[400];
	sigset_t none;
	pid_t p;
	int fd;

	snprintf(log, sizeof(log), "%s/%s.log", ts->state, name);
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		sigemptyset(&none); /* not the supervisor's blocked set */
		sigprocmask(SIG_SETMASK, &none, NULL);
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
	if (pid_out)
		*pid_out = p;
	return 0;
}

static const char *const daemons[] = {"hvd", "xenstored", "consoled", "blkback",
				      "netback"};
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

/* ---- the daemons and their supervisor ------------------------------------ */

/* A daemon of the host as the supervisor knows it. */
struct sv_daemon {
	const char *name;
	char *argv[10];
	char exe[300], pid_path[400];
	char ready[400]; /* appears once it serves: its socket or pid file */
	pid_t pid;
	bool gone;		       /* dead for good */
	unsigned int restarts, recent; /* restarts; deaths in the window */
	uint64_t window, due;	       /* ns: the window's start; restart at */
	char last[128];		       /* how it last ended */
};

struct sv {
	struct ts *ts;
	char console_sock[400];
	char xs_journal[400];
	char vbd_stats[400];
	struct sv_daemon d[NDAEMONS]; /* in daemons[] order */
};

#define SV_WINDOW_NS 60000000000ull /* deaths counted over a minute */
#define SV_MAX_DEATHS 10u	    /* then given up */

static uint64_t sv_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One line into the supervisor's log (its stderr, once started). */
static void sv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sv_log(const char *fmt, ...)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	fprintf(stderr, "%s pvkit supervisor: ", when);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void sv_setup(struct sv *sv, struct ts *ts)
{
	static const char *const envs[] = {"PVKIT_HVD", "PVKIT_XENSTORED",
					   "PVKIT_CONSOLED", "PVKIT_BLKBACK",
					   "PVKIT_NETBACK"};
	size_t i;

	memset(sv, 0, sizeof(*sv));
	sv->ts = ts;
	snprintf(sv->console_sock, sizeof(sv->console_sock), "%s/console.sock",
		 ts->state);
	for (i = 0; i < NDAEMONS; i++) {
		struct sv_daemon *d = &sv->d[i];
		char prog[32];
		char **a = d->argv;

		d->name = daemons[i];
		snprintf(prog, sizeof(prog), "pvkit-%s", d->name);
		ts_helper(ts, envs[i], prog, d->exe, sizeof(d->exe));
		snprintf(d->pid_path, sizeof(d->pid_path), "%s/%s.pid",
			 ts->state, d->name);
		*a++ = d->exe;
		if (!strcmp(d->name, "hvd")) {
			*a++ = "--socket", *a++ = ts->hv_sock;
			snprintf(d->ready, sizeof(d->ready), "%s", ts->hv_sock);
		} else if (!strcmp(d->name, "xenstored")) {
			/* the store as it changes, in <state>/xenstore-db.img
			 * and .log: started again, it carries on */
			snprintf(sv->xs_journal, sizeof(sv->xs_journal),
				 "%s/xenstore-db", ts->state);
			*a++ = "--socket", *a++ = ts->xs_sock;
			*a++ = "--platform=emulated";
			*a++ = "--journal", *a++ = sv->xs_journal;
			snprintf(d->ready, sizeof(d->ready), "%s", ts->xs_sock);
		} else if (!strcmp(d->name, "consoled")) {
			*a++ = "--socket", *a++ = sv->console_sock;
			*a++ = "--log-dir", *a++ = ts->state;
			snprintf(d->ready, sizeof(d->ready), "%s",
				 sv->console_sock);
		} else { /* the device backends, on this host's xenstore */
			_Static_assert(sizeof(d->ready) == sizeof(d->pid_path),
				       "ready holds a pid path");
			*a++ = "--xenstore", *a++ = ts->xs_sock;
			memcpy(d->ready, d->pid_path, sizeof(d->ready));
			/* each vbd's counters, for pvkit top */
			if (!strcmp(d->name, "blkback")) {
				ts_vbd_stats_dir(ts, sv->vbd_stats,
						 sizeof(sv->vbd_stats));
				*a++ = "--stats-dir", *a++ = sv->vbd_stats;
			}
		}
		*a++ = "--pid-file", *a++ = d->pid_path;
		*a = NULL;
	}
}

static struct sv_daemon *sv_find(struct sv *sv, const char *name)
{
	size_t i;

	for (i = 0; i < NDAEMONS; i++)
		if (!strcmp(sv->d[i].name, name))
			return &sv->d[i];
	return NULL;
}

/* Start d and wait until it serves: 0, or -errno (printed). */
static int sv_start(struct sv *sv, struct sv_daemon *d)
{
	int rc;

	unlink(d->ready);
	unlink(d->pid_path);
	rc = spawn(sv->ts, d->name, d->argv, &d->pid);
	if (rc == 0)
		rc = wait_for(d->ready);
	if (rc) {
		fprintf(stderr,
			"pvkit: pvkit-%s did not start (see %s/%s.log)\n",
			d->name, sv->ts->state, d->name);
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
		}
		d->pid = 0;
	}
	return rc;
}

/* Stop one daemon (ours): SIGTERM, 2 s, SIGKILL; reaped. */
static void sv_stop_one(struct sv_daemon *d)
{
	int i;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	for (i = 0; i < 200 && waitpid(d->pid, NULL, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 200) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	d->pid = 0;
	unlink(d->pid_path);
}

/* Every daemon, the backends first and the hypervisor last. */
static void sv_stop_all(struct sv *sv)
{
	static const char *const order[] = {"blkback", "netback", "consoled",
					    "xenstored", "hvd"};
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		sv_stop_one(sv_find(sv, order[i]));
}

/* Start the host's daemons in order: 0, or 1 with the reason printed
 * (what started is stopped again). */
static int sv_start_all(struct sv *sv)
{
	struct ts *ts = sv->ts;
	struct xs_client *xs = NULL;
	size_t i;
	int rc;

	/* Every host daemon talks to this host's emulated hypervisor, even on
	 * a machine that also has /dev/xen. */
	setenv("PVKIT_PLATFORM", "emulated", 1);
	/* a new host begins with no counters and an empty store */
	if (mkdir(sv->vbd_stats, 0755) && errno != EEXIST)
		fprintf(stderr, "pvkit: warning: %s: %s\n", sv->vbd_stats,
			strerror(errno));
	else
		rm_files_in(sv->vbd_stats);
	for (i = 0; i < 4; i++) {
		static const char *const ext[] = {".img", ".log", ".img.tmp",
						  ".log.tmp"};
		char path[420];

		snprintf(path, sizeof(path), "%s%s", sv->xs_journal, ext[i]);
		unlink(path);
	}
	if (sv_start(sv, sv_find(sv, "hvd")) ||
	    sv_start(sv, sv_find(sv, "xenstored")))
		goto fail;
	/* Dom0's own nodes, as xen-init-dom0 writes them. */
	rc = ts_xs_open(ts, &xs);
	if (rc == 0) {
		xs_write_str(xs, XS_TX_NONE, "/local/domain/0/name",
			     "Domain-0");
		xs_write_str(xs, XS_TX_NONE, "/local/domain/0/domid", "0");
		xs_client_close(xs);
	}
	/* The console backend: guest output to <state>/console-<name>.log,
	 * `pvkit console` attaches through its socket; the block backend
	 * serves every vbd under backend/vbd. */
	if (sv_start(sv, sv_find(sv, "consoled")) ||
	    sv_start(sv, sv_find(sv, "blkback")))
		goto fail;
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
	if (sv_start(sv, sv_find(sv, "netback")))
		goto fail;
	return 0;
fail:
	sv_stop_all(sv);
	return 1;
}

/* What `host status` shows: a line per daemon, "name restarts gone
 * how-it-last-ended". */
static void sv_write_status(const struct sv *sv)
{
	char path[400], tmp[420];
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/supervisor.status", sv->ts->state);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	for (i = 0; i < NDAEMONS; i++)
		fprintf(f, "%s %u %d %s\n", sv->d[i].name, sv->d[i].restarts,
			sv->d[i].gone, sv->d[i].last[0] ? sv->d[i].last : "-");
	if (fclose(f) == 0)
		rename(tmp, path);
}

static void describe_exit(int st, char *out, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(out, len, "exited with status %d", WEXITSTATUS(st));
}

/* d died (how: st). */
static void sv_died(struct sv *sv, struct sv_daemon *d, pid_t pid, int st)
{
	uint64_t now = sv_now(), delay;
	char path[400];

	describe_exit(st, d->last, sizeof(d->last));
	d->pid = 0;
	unlink(d->pid_path);
	if (!strcmp(d->name, "hvd")) {
		FILE *f;

		sv_log("pvkit-hvd (pid %d) %s: every domain went with it; "
		       "stopping the host",
		       (int)pid, d->last);
		snprintf(path, sizeof(path), "%s/host.down", sv->ts->state);
		f = fopen(path, "w");
		if (f) {
			fprintf(f,
				"pvkit-hvd (pid %d) %s: every domain went "
				"with it and the host was stopped\n",
				(int)pid, d->last);
			fclose(f);
		}
		d->gone = true;
		sv_stop_all(sv);
		sv_write_status(sv);
		unlink(sv->ts->hv_sock);
		unlink(sv->ts->xs_sock);
		snprintf(path, sizeof(path), "%s/supervisor.pid",
			 sv->ts->state);
		unlink(path);
		_exit(1);
	}
	if (now - d->window > SV_WINDOW_NS) {
		d->window = now;
		d->recent = 0;
	}
	if (++d->recent > SV_MAX_DEATHS) {
		d->gone = true;
		sv_log("pvkit-%s (pid %d) %s; given up: %u deaths within a "
		       "minute (see %s/%s.log)",
		       d->name, (int)pid, d->last, d->recent - 1, sv->ts->state,
		       d->name);
		return;
	}
	/* At once the first time, then 0.2 s doubling up to 5 s. */
	delay = d->recent == 1 ? 0 : 200000000ull << (d->recent - 2);
	if (delay > 5000000000ull)
		delay = 5000000000ull;
	d->due = now + delay + 1;
	sv_log("pvkit-%s (pid %d) %s; starting it again in %.1f s", d->name,
	       (int)pid, d->last, (double)delay / 1e9);
}

/* Watch the daemons until stopped (SIGTERM/SIGINT) or pvkit-hvd dies. */
static void sv_run(struct sv *sv, int sfd)
{
	struct signalfd_siginfo si;
	struct pollfd p = {.fd = sfd, .events = POLLIN};
	size_t i;
	int st;
	pid_t pid;

	sv_write_status(sv);
	for (;;) {
		uint64_t now = sv_now();
		int timeout = -1;

		for (i = 0; i < NDAEMONS; i++) {
			const struct sv_daemon *d = &sv->d[i];
			int ms;

			if (!d->due)
				continue;
			ms = d->due <= now
				 ? 0
				 : (int)((d->due - now) / 1000000) + 1;
			if (timeout < 0 || ms < timeout)
				timeout = ms;
		}
		if (poll(&p, 1, timeout) > 0 &&
		    read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
			sv_log("stopping the host's daemons");
			sv_stop_all(sv);
			sv_write_status(sv);
			return;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			for (i = 0; i < NDAEMONS; i++)
				if (sv->d[i].pid == pid)
					sv_died(sv, &sv->d[i], pid, st);
		now = sv_now();
		for (i = 0; i < NDAEMONS; i++) {
			struct sv_daemon *d = &sv->d[i];

			if (!d->due || d->due > now)
				continue;
			d->due = 0;
			if (sv_start(sv, d) == 0) {
				d->restarts++;
				sv_log(
				    "pvkit-%s started again (pid %d, restart "
				    "%u)",
				    d->name, (int)d->pid, d->restarts);
			} else {
				/* counted as another death */
				sv_died(sv, d, 0, 1 << 8);
			}
		}
		sv_write_status(sv);
	}
}

/* The supervisor (host start's child, in its own session): start the
 * daemons, tell the caller over ready (one byte: 0 started, 1 not), let
 * go of the caller's descriptors and the host lock, supervise. */
static void sv_main(struct ts *ts, int ready, int lock)
{
	struct sv sv;
	sigset_t set;
	char path[400];
	uint8_t rc;
	FILE *f;
	int sfd, fd;

	setsid();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGHUP); /* ignored: no terminal to lose */
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	sv_setup(&sv, ts);
	rc = sfd < 0 ? 1 : (uint8_t)sv_start_all(&sv);
	if (!rc)
		printf("pvkit host started (state %s)\n", ts->state);
	fflush(stdout);
	fflush(stderr);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/supervisor.log", ts->state);
		fd =
		    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		snprintf(path, sizeof(path), "%s/supervisor.pid", ts->state);
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	if (write(ready, &rc, 1) != 1)
		rc = 1; /* the caller is gone: so is the start */
	close(ready);
	close(lock);
	if (rc) {
		sv_stop_all(&sv);
		_exit(1);
	}
	sv_log("the host's daemons started; supervising them");
	sv_run(&sv, sfd);
	sv_log("stopped");
	unlink(path);
	_exit(0);
}

static int host_start(struct ts *ts)
{
	char path[400];
	uint8_t rc = 1;
	int lock, fds[2];
	size_t i;
	pid_t p;

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
		p = read_pid(ts, daemons[i]);
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
	p = read_pid(ts, "supervisor");
	if (p) {
		fprintf(stderr,
			"pvkit: host already running (state %s): its "
			"supervisor is pid %d; `pvkit host stop` first\n",
			ts->state, (int)p);
		close(lock);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/host.down", ts->state);
	unlink(path);
	unlink(ts->hv_sock);
	unlink(ts->xs_sock);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		fprintf(stderr, "pvkit: pipe: %s\n", strerror(errno));
		close(lock);
		return 1;
	}
	fflush(stdout);
	fflush(stderr);
	p = fork();
	if (p < 0) {
		fprintf(stderr, "pvkit: fork: %s\n", strerror(errno));
		close(lock);
		return 1;
	}
	if (p == 0) {
		close(fds[0]);
		sv_main(ts, fds[1], lock);
	}
	close(fds[1]);
	if (read(fds[0], &rc, 1) != 1)
		rc = 1; /* the supervisor died starting */
	close(fds[0]);
	close(lock);
	if (rc)
		waitpid(p, NULL, 0);
	return rc ? 1 : 0;
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
	if (n > 0 && ts_xs_open(ts, &xs) == 0) {
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
	/* The supervisor stops the daemons (it would start them again);
	 * then whatever is left of a host without one. */
	{
		pid_t sp = read_pid(ts, "supervisor");

		if (sp) {
			kill(sp, SIGTERM);
			for (j = 0; j < 1500 && kill(sp, 0) == 0; j++)
				usleep(10000);
			if (kill(sp, 0) == 0)
				kill(sp, SIGKILL);
		}
	}
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

/* The supervisor's view of daemon name (supervisor.status): restarts, dead
 * for good, how it last ended.  false if it has none. */
static bool sv_status_of(const struct ts *ts, const char *name,
			 unsigned int *restarts, int *gone, char *last,
			 size_t len)
{
	char path[400], line[256], n[32];
	bool found = false;
	FILE *f;
	int off;

	snprintf(path, sizeof(path), "%s/supervisor.status", ts->state);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%31s %u %d %n", n, restarts, gone, &off) <
			3 ||
		    strcmp(n, name))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(last, len, "%s", line + off);
		found = true;
	}
	fclose(f);
	return found;
}

static int host_status(struct ts *ts)
{
	pid_t sp = read_pid(ts, "supervisor");
	char path[400], why[256] = "";
	size_t i;
	int down = 0;
	FILE *f;

	printf("state directory: %s\n", ts->state);
	snprintf(path, sizeof(path), "%s/host.down", ts->state);
	f = fopen(path, "r");
	if (f) {
		if (fgets(why, sizeof(why), f))
			printf("host down: %s", why);
		fclose(f);
	}
	printf("%-17s%s (pid %d)\n", "supervisor:", sp ? "running" : "stopped",
	       (int)sp);
	for (i = 0; i < NDAEMONS; i++) {
		pid_t p = read_pid(ts, daemons[i]);
		unsigned int restarts = 0;
		char label[32], last[160];
		int gone = 0;
		bool known = sp && sv_status_of(ts, daemons[i], &restarts,
						&gone, last, sizeof(last));

		snprintf(label, sizeof(label), "pvkit-%s:", daemons[i]);
		if (p)
			printf("%-17srunning (pid %d", label, (int)p);
		else if (known && gone)
			printf("%-17sdead (%s; given up: it kept dying", label,
			       last);
		else
			printf("%-17sstopped (pid 0", label);
		if (known && restarts)
			printf("; started again %u time%s, last %s", restarts,
			       restarts == 1 ? "" : "s", last);
		printf(")\n");
		down += !p;
	}
	return down || !sp ? 1 : 0;
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

/* xl dmesg [-c]: the hypervisor's messages; here every daemon's of the host
 * (pvkit-hvd's first, as xl's) and the supervisor's, or one daemon's.  -c
 * empties what was printed (the daemons append, so they go on writing at
 * the new end). */
int cmd_dmesg(struct ts *ts, int argc, char **argv)
{
	static const char *const logs[] = {
	    "hvd", "xenstored", "consoled", "blkback", "netback", "supervisor"};
	const char *only = NULL;
	bool clear = false, any = false;
	size_t i;
	int a, rc = 0;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-c"))
			clear = true;
		else if (argv[a][0] != '-' && !only)
			only = argv[a];
		else {
			fprintf(stderr,
				"usage: pvkit dmesg [-c] [hvd|xenstored|"
				"consoled|blkback|netback|supervisor]\n");
			return 2;
		}
	}
	if (only) {
		for (i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
			if (!strcmp(only, logs[i]) ||
			    (!strncmp(only, "pvkit-", 6) &&
			     !strcmp(only + 6, logs[i])))
				break;
		if (i == sizeof(logs) / sizeof(logs[0])) {
			fprintf(stderr,
				"pvkit: dmesg: no daemon '%s' (hvd, "
				"xenstored, consoled, blkback, netback, "
				"supervisor)\n",
				only);
			return 2;
		}
	}
	for (i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		char path[400], buf[8192];
		ssize_t n;
		off_t done = 0;
		int fd;

		if (only && strcmp(only, logs[i]) &&
		    (strncmp(only, "pvkit-", 6) || strcmp(only + 6, logs[i])))
			continue;
		snprintf(path, sizeof(path), "%s/%s.log", ts->state, logs[i]);
		fd = open(path, (clear ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT || only) {
				fprintf(stderr, "pvkit: dmesg: %s: %s\n", path,
					strerror(errno));
				rc = 1;
			}
			continue;
		}
		any = true;
		if (!only)
			printf("--- %s%s (%s) ---\n",
			       strcmp(logs[i], "supervisor") ? "pvkit-"
							     : "the ",
			       logs[i], path);
		fflush(stdout);
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				break;
			done += n;
		}
		fflush(stdout);
		/* Drop what was shown and keep what came since (a line
		 * written in the instant between the two is lost). */
		if (clear && done > 0) {
			char rest[65536];
			ssize_t m = pread(fd, rest, sizeof(rest), done);

			if (ftruncate(fd, 0) < 0 ||
			    (m > 0 && pwrite(fd, rest, (size_t)m, 0) != m))
				rc = 1;
		}
		close(fd);
	}
	if (!any && !only) {
		fprintf(stderr,
			"pvkit: dmesg: no logs in %s (is the host "
			"started?)\n",
			ts->state);
		return 1;
	}
	return rc;
}
