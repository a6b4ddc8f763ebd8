/* host.c - pvkit host start|stop|status: the emulated host's daemons
 * (pvkit-hvd, pvkit-xenstored, pvkit-consoled). */
#include "toolstack.h"
#include "pvkit/xs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int host_start(struct ts *ts)
{
	char hvd[300], xsd[300], cond[300], blkb[300], pid[400], sock[400];
	struct xs_client *xs = NULL;
	int rc;

	if (mkdir(ts->state, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "pvkit: %s: %s\n", ts->state, strerror(errno));
		return 1;
	}
	if (read_pid(ts, "hvd")) {
		fprintf(stderr, "pvkit: host already running (state %s)\n",
			ts->state);
		return 1;
	}
	ts_helper(ts, "PVKIT_HVD", "pvkit-hvd", hvd, sizeof(hvd));
	ts_helper(ts, "PVKIT_XENSTORED", "pvkit-xenstored", xsd, sizeof(xsd));
	ts_helper(ts, "PVKIT_CONSOLED", "pvkit-consoled", cond, sizeof(cond));
	ts_helper(ts, "PVKIT_BLKBACK", "pvkit-blkback", blkb, sizeof(blkb));
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
	/* The block backend: serves every vbd under backend/vbd. Its pid
	 * file appears once its xenstore watch is in place. */
	snprintf(pid, sizeof(pid), "%s/blkback.pid", ts->state);
	unlink(pid);
	{
		char *const a[] = {blkb, "--xenstore", ts->xs_sock, "--pid-file",
				   pid, NULL};

		rc = spawn(ts, "blkback", a);
	}
	if (rc == 0)
		rc = wait_for(pid);
	if (rc) {
		fprintf(stderr,
			"pvkit: blkback did not start (see %s/blkback.log)\n",
			ts->state);
		return 1;
	}
	printf("pvkit host started (state %s)\n", ts->state);
	return 0;
}

static int host_stop(struct ts *ts)
{
	static const char *const names[] = {"blkback", "consoled", "xenstored",
					    "hvd"};
	size_t i;
	int j;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pid_t p = read_pid(ts, names[i]);

		if (!p)
			continue;
		kill(p, SIGTERM);
		for (j = 0; j < 200 && kill(p, 0) == 0; j++)
			usleep(10000);
		if (kill(p, 0) == 0)
			kill(p, SIGKILL);
	}
	printf("pvkit host stopped\n");
	return 0;
}

static int host_status(struct ts *ts)
{
	static const char *const names[] = {"hvd", "xenstored", "consoled",
					    "blkback"};
	size_t i;
	int down = 0;

	printf("state directory: %s\n", ts->state);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		pid_t p = read_pid(ts, names[i]);
		char label[32];

		snprintf(label, sizeof(label), "pvkit-%s:", names[i]);
		printf("%-17s%s (pid %d)\n", label, p ? "running" : "stopped",
		       (int)p);
		down += !p;
	}
	return down ? 1 : 0;
}

int cmd_host(struct ts *ts, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pvkit host start|stop|status\n");
		return 2;
	}
	if (!strcmp(argv[1], "start"))
		return host_start(ts);
	if (!strcmp(argv[1], "stop"))
		return host_stop(ts);
	if (!strcmp(argv[1], "status"))
		return host_status(ts);
	fprintf(stderr, "pvkit host: unknown action '%s'\n", argv[1]);
	return 2;
}
