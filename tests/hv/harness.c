/* harness.c - see harness.h. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "hv/hc_wire.h"

int harness_start(struct harness *h)
{
	const char *bin = getenv("PVKIT_HVD");
	int i, rc;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/pvkit-test-XXXXXX");
	if (!mkdtemp(h->dir))
		return -errno;
	snprintf(h->sock, sizeof(h->sock), "%s/hv.sock", h->dir);
	h->hvd = fork();
	if (h->hvd < 0)
		return -errno;
	if (h->hvd == 0) {
		/* a test killed mid-run must not leave a daemon behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp(bin ? bin : "pvkit-hvd", "pvkit-hvd", "--socket",
		       h->sock, (char *)NULL);
		perror("exec pvkit-hvd");
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		rc = pvk_rt_open(h->sock, -1, &h->dom0);
		if (rc == 0)
			return pvk_rt_start(h->dom0);
		usleep(10000);
	}
	return rc;
}

void harness_stop(struct harness *h)
{
	char cmd[400];

	pvk_rt_close(h->dom0);
	h->dom0 = NULL;
	if (h->hvd > 0) {
		kill(h->hvd, SIGTERM);
		waitpid(h->hvd, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", h->dir);
}

/* ---- child processes: fork, then exec this executable at once ---- */

#define SPAWN_ENV "PVKIT_TEST_SPAWN"

extern char **environ;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* In the exec'd child: SPAWN_ENV=ENTRY:FN:FD:ARGHEX, where ENTRY and FN
 * are offsets from harness_spawn in this executable. */
__attribute__((constructor)) static void spawn_child(void)
{
	const char *s = getenv(SPAWN_ENV);
	uintptr_t base = (uintptr_t)&harness_spawn, eoff, foff;
	unsigned char *arg = NULL;
	harness_entry entry;
	size_t n, i;
	int fd, pos = 0;

	if (!s)
		return;
	if (sscanf(s, "%" SCNxPTR ":%" SCNxPTR ":%d:%n", &eoff, &foff, &fd,
		   &pos) != 3 ||
	    !pos) {
		fprintf(stderr, "%s: malformed: %s\n", SPAWN_ENV, s);
		_exit(125);
	}
	s += pos;
	n = strlen(s) / 2;
	if (n) {
		arg = malloc(n);
		if (!arg)
			_exit(124);
	}
	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fprintf(stderr, "%s: bad argument bytes\n", SPAWN_ENV);
			_exit(125);
		}
		arg[i] = (unsigned char)(hi << 4 | lo);
	}
	unsetenv(SPAWN_ENV);
	entry = (harness_entry)(base + eoff);
	_exit(entry(fd, base + foff, arg));
}

int harness_spawn(struct pvk_rt *dom0, harness_entry entry, uintptr_t fn,
		  const void *arg, size_t arg_size, int fd, pid_t *pid)
{
	static const char hex[] = "0123456789abcdef";
	uintptr_t base = (uintptr_t)&harness_spawn;
	const unsigned char *b = arg;
	char prog[] = "pvkit-test-guest";
	char *argv[] = {prog, NULL};
	char *var, **envp = NULL;
	size_t len, n, i, j;
	pid_t p, parent = getpid();
	int off, rc;

	/* Everything the child needs is built here: between fork() and
	 * exec it makes only async-signal-safe calls. */
	len = sizeof(SPAWN_ENV) + 3 * 24 + 2 * arg_size + 1;
	var = malloc(len);
	if (!var)
		return -ENOMEM;
	off = snprintf(var, len, "%s=%" PRIxPTR ":%" PRIxPTR ":%d:", SPAWN_ENV,
		       (uintptr_t)entry - base, fn - base, fd);
	for (i = 0; i < arg_size; i++) {
		var[off++] = hex[b[i] >> 4];
		var[off++] = hex[b[i] & 15];
	}
	var[off] = '\0';
	for (n = 0; environ[n]; n++)
		;
	envp = calloc(n + 2, sizeof(*envp));
	if (!envp) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0, j = 0; i < n; i++)
		if (strncmp(environ[i], SPAWN_ENV "=", sizeof(SPAWN_ENV)))
			envp[j++] = environ[i];
	envp[j] = var;
	p = fork();
	if (p < 0) {
		rc = -errno;
		goto out;
	}
	if (p == 0) {
		if (dom0)
			pvk_rt_abandon(dom0); /* the child is not Dom0 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		if (fd >= 0 && fcntl(fd, F_SETFD, 0) < 0)
			_exit(126);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	*pid = p;
	rc = 0;
out:
	free(envp);
	free(var);
	return rc;
}

static int rt_guest_entry(int fd, uintptr_t fn, void *arg)
{
	struct pvk_rt *rt;
	int rc;

	rc = pvk_rt_open(NULL, fd, &rt);
	if (rc) {
		fprintf(stderr, "guest: open: %s\n", strerror(-rc));
		return 100;
	}
	rc = pvk_rt_start(rt);
	if (rc)
		return 101;
	rc = ((guest_fn)fn)(rt, arg);
	pvk_rt_close(rt);
	return rc;
}

int harness_guest(struct harness *h, const char *name, unsigned int vcpus,
		  uint64_t mem_kib, guest_fn fn, const void *arg,
		  size_t arg_size, domid_t *domid, pid_t *pid)
{
	int fd, rc;

	rc = pvk_dom_create(h->dom0, name, mem_kib, mem_kib, vcpus, "test",
			    domid, &fd);
	if (rc)
		return rc;
	rc = harness_spawn(h->dom0, rt_guest_entry, (uintptr_t)fn, arg,
			   arg_size, fd, pid);
	close(fd);
	if (rc)
		return rc;
	return pvk_dom_simple(h->dom0, PVK_HC_dom_unpause, *domid);
}

int harness_wait(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int chan_init(struct chan *c) { return pipe(c->fd) < 0 ? -errno : 0; }

int chan_put(struct chan *c, uint64_t v)
{
	return pvk_write_all(c->fd[1], &v, sizeof(v));
}

int chan_get(struct chan *c, uint64_t *v)
{
	struct pollfd p = {.fd = c->fd[0], .events = POLLIN};

	/* Never hang a test run: a peer that died leaves us here. */
	if (poll(&p, 1, 20000) != 1)
		return -ETIMEDOUT;
	return pvk_read_all(c->fd[0], v, sizeof(*v));
}
