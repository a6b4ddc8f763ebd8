/* block_env.c - see block_env.h. */
#include "block_env.h"
#include "pvkit/kernel.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/hvm/params.h>

#include "hv/hc_wire.h"
#include "pvkit/guest.h"

int blk_env_start(struct blk_env *e)
{
	pid_t parent = getpid();
	int rc, i;

	memset(e, 0, sizeof(*e));
	rc = harness_start(&e->h);
	if (rc)
		return rc;
	snprintf(e->shm, sizeof(e->shm), "/dev/shm/pvkit-blk-XXXXXX");
	if (!mkdtemp(e->shm))
		return -errno;
	snprintf(e->xs_sock, sizeof(e->xs_sock), "%s/xs.sock", e->h.dir);
	e->xsd = fork();
	if (e->xsd < 0)
		return -errno;
	if (e->xsd == 0) {
		/* killed mid-run, the caller leaves no daemon behind */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		setenv("PVKIT_HV_SOCK", e->h.sock, 1);
		setenv("PVKIT_PLATFORM", "emulated", 1);
		execl(getenv("PVKIT_XENSTORED"), "pvkit-xenstored", "--socket",
		      e->xs_sock, "--platform=emulated", (char *)NULL);
		perror("exec pvkit-xenstored");
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		rc = xs_client_open_path(e->xs_sock, &e->xs);
		if (rc == 0)
			return 0;
		usleep(10000);
	}
	return rc;
}

void blk_env_backend_stop(struct blk_env *e)
{
	if (e->bk > 0) {
		kill(e->bk, SIGTERM);
		waitpid(e->bk, NULL, 0);
	}
	e->bk = 0;
}

int blk_env_backend(struct blk_env *e, const char *const *args)
{
	const char *argv[16];
	char pidfile[340];
	pid_t parent = getpid();
	unsigned int n = 0;
	int i;

	blk_env_backend_stop(e);
	snprintf(pidfile, sizeof(pidfile), "%s/blkback.pid", e->h.dir);
	unlink(pidfile);
	argv[n++] = "pvkit-blkback";
	argv[n++] = "--xenstore";
	argv[n++] = e->xs_sock;
	argv[n++] = "--pid-file";
	argv[n++] = pidfile;
	while (args && *args && n < 14)
		argv[n++] = *args++;
	argv[n] = NULL;
	e->bk = fork();
	if (e->bk < 0)
		return -errno;
	if (e->bk == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		setenv("PVKIT_HV_SOCK", e->h.sock, 1);
		setenv("PVKIT_PLATFORM", "emulated", 1);
		execv(getenv("PVKIT_BLKBACK"), (char *const *)argv);
		perror("exec pvkit-blkback");
		_exit(127);
	}
	/* Serving once the pid file is written (after its watch). */
	for (i = 0; i < 1000; i++) {
		if (access(pidfile, F_OK) == 0)
			return 0;
		if (waitpid(e->bk, NULL, WNOHANG) == e->bk) {
			e->bk = 0;
			return -ESRCH;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

void blk_env_stop(struct blk_env *e)
{
	char cmd[128];

	blk_env_backend_stop(e);
	xs_client_close(e->xs);
	if (e->xsd > 0) {
		kill(e->xsd, SIGTERM);
		waitpid(e->xsd, NULL, 0);
	}
	harness_stop(&e->h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->shm);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", e->shm);
}

int blk_env_disk(struct blk_env *e, const char *name, uint64_t size, char *path,
		 size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", e->shm, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (ftruncate(fileno(f), (off_t)size) < 0) {
		fclose(f);
		return -errno;
	}
	fclose(f);
	return 0;
}

/* Write a node and give it perms (owner first). */
static int wnode(struct xs_client *xs, const char *dir, const char *node,
		 const char *val, const struct xs_perm *perms)
{
	char path[256];
	int rc;

	snprintf(path, sizeof(path), "%s%s%s", dir, node ? "/" : "",
		 node ? node : "");
	rc = val ? xs_write_str(xs, XS_TX_NONE, path, val)
		 : xs_mkdir(xs, XS_TX_NONE, path);
	if (!rc)
		rc = xs_set_perms(xs, XS_TX_NONE, path, perms, 2);
	return rc;
}

static int write_vbd(struct blk_env *e, domid_t d, const char *disk,
		     const char *mode)
{
	struct xs_perm fe_perms[2] = {{d, XS_PERM_NONE}, {0, XS_PERM_READ}};
	struct xs_perm be_perms[2] = {{0, XS_PERM_NONE}, {d, XS_PERM_READ}};
	char fe[128], be[128], v[64];
	int rc = 0;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", d,
		 BLK_DEVID);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", d,
		 BLK_DEVID);
	/* The frontend directory first, the backend's last (it triggers
	 * the probe). */
	if (!rc)
		rc = wnode(e->xs, fe, NULL, NULL, fe_perms);
	if (!rc)
		rc = wnode(e->xs, fe, "backend", be, fe_perms);
	if (!rc)
		rc = wnode(e->xs, fe, "backend-id", "0", fe_perms);
	snprintf(v, sizeof(v), "%u", BLK_DEVID);
	if (!rc)
		rc = wnode(e->xs, fe, "virtual-device", v, fe_perms);
	if (!rc)
		rc = wnode(e->xs, fe, "device-type", "disk", fe_perms);
	if (!rc)
		rc = wnode(e->xs, fe, "state", "1", fe_perms);
	if (!rc)
		rc = wnode(e->xs, be, NULL, NULL, be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "frontend", fe, be_perms);
	snprintf(v, sizeof(v), "%u", d);
	if (!rc)
		rc = wnode(e->xs, be, "frontend-id", v, be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "params", disk, be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "type", "file", be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "device-type", "disk", be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "online", "1", be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "mode", mode, be_perms);
	if (!rc)
		rc = wnode(e->xs, be, "state", "1", be_perms);
	return rc;
}

static int guest_main(int fd, uintptr_t fnp, void *arg)
{
	blk_guest_fn fn = (blk_guest_fn)fnp;
	struct pvk_kernel *k;
	int rc;

	if (pvk_kernel_boot("blk-guest", fd, 0, &k))
		return 100;
	rc = fn(pvk_kernel_platform(k), pvk_kernel_xs(k), arg);
	pvk_kernel_close(k);
	return rc;
}

static int kernel_main(int fd, uintptr_t fnp, void *arg)
{
	blk_kernel_fn fn = (blk_kernel_fn)fnp;
	struct pvk_kernel *k;

	if (pvk_kernel_boot("blk-kernel", fd, 0, &k))
		return 100;
	/* The process ends with whatever threads fn left running. */
	return fn(k, arg);
}

static int guest_spawn(struct blk_env *e, const char *disk, const char *mode,
		       harness_entry entry, uintptr_t fn, const void *arg,
		       size_t arg_size, domid_t *domid, pid_t *pid)
{
	struct evtchn_alloc_unbound a = {.remote_dom = 0};
	struct xs_perm perm;
	uint64_t pfn;
	char path[64];
	int fd, rc;
	long r;

	rc = pvk_dom_create(e->h.dom0, "blk", 65536, 65536, 2, "blk", domid,
			    &fd);
	if (rc)
		return rc;
	a.dom = *domid;
	r = pvk_rt_hypercall(e->h.dom0, __HYPERVISOR_event_channel_op,
			     EVTCHNOP_alloc_unbound, 0, &a, sizeof(a),
			     sizeof(a), NULL, NULL);
	if (r < 0)
		return (int)r;
	rc = pvk_dom_set_param(e->h.dom0, *domid, HVM_PARAM_STORE_EVTCHN,
			       a.port);
	if (!rc)
		rc = pvk_dom_get_param(e->h.dom0, *domid, HVM_PARAM_STORE_PFN,
				       &pfn);
	snprintf(path, sizeof(path), "/local/domain/%u", *domid);
	xs_rm(e->xs, XS_TX_NONE, path);
	if (!rc)
		rc = xs_mkdir(e->xs, XS_TX_NONE, path);
	perm.id = *domid;
	perm.perms = XS_PERM_NONE;
	if (!rc)
		rc = xs_set_perms(e->xs, XS_TX_NONE, path, &perm, 1);
	if (!rc && disk)
		rc = write_vbd(e, *domid, disk, mode);
	if (!rc)
		rc = xs_introduce(e->xs, *domid, pfn, a.port);
	if (rc)
		return rc;
	rc = harness_spawn(e->h.dom0, entry, fn, arg, arg_size, fd, pid);
	close(fd);
	if (rc)
		return rc;
	return pvk_dom_simple(e->h.dom0, PVK_HC_dom_unpause, *domid);
}

int blk_env_guest(struct blk_env *e, const char *disk, const char *mode,
		  blk_guest_fn fn, const void *arg, size_t arg_size,
		  domid_t *domid, pid_t *pid)
{
	return guest_spawn(e, disk, mode, guest_main, (uintptr_t)fn, arg,
			   arg_size, domid, pid);
}

int blk_env_kernel(struct blk_env *e, const char *disk, const char *mode,
		   blk_kernel_fn fn, const void *arg, size_t arg_size,
		   domid_t *domid, pid_t *pid)
{
	return guest_spawn(e, disk, mode, kernel_main, (uintptr_t)fn, arg,
			   arg_size, domid, pid);
}

int blk_env_guest_end(struct blk_env *e, domid_t domid, pid_t pid)
{
	char path[96];
	int st = harness_wait(pid);

	pvk_dom_simple(e->h.dom0, PVK_HC_dom_destroy, domid);
	xs_release(e->xs, domid);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u", domid);
	xs_rm(e->xs, XS_TX_NONE, path);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xs_rm(e->xs, XS_TX_NONE, path);
	return st;
}
