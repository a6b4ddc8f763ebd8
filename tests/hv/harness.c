/* harness.c - see harness.h. */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int harness_guest(struct harness *h, const char *name, unsigned int vcpus,
		  uint64_t mem_kib, guest_fn fn, void *arg, domid_t *domid,
		  pid_t *pid)
{
	int fd, rc;
	pid_t p;

	rc = pvk_dom_create(h->dom0, name, mem_kib, mem_kib, vcpus, "test",
			    domid, &fd);
	if (rc)
		return rc;
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		struct pvk_rt *rt;

		pvk_rt_abandon(h->dom0); /* the child is not Dom0 */
		rc = pvk_rt_open(NULL, fd, &rt);
		if (rc) {
			fprintf(stderr, "guest %s: open: %s\n", name,
				strerror(-rc));
			_exit(100);
		}
		rc = pvk_rt_start(rt);
		if (rc)
			_exit(101);
		rc = fn(rt, arg);
		pvk_rt_close(rt);
		_exit(rc);
	}
	close(fd);
	*pid = p;
	return pvk_dom_simple(h->dom0, PVK_HC_dom_unpause,
			      *domid);
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

int chan_init(struct chan *c)
{
	return pipe(c->fd) < 0 ? -errno : 0;
}

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
