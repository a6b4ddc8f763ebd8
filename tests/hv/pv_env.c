/* pv_env.c - see pv_env.h. */
#include "pv_env.h"

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
#include "pvkit/kernel.h"

/* Start pvkit-xenstored, its store journaled in the harness's directory
 * (so a restart carries on), and connect e->xs. */
static int xsd_start(struct pv_env *e)
{
	pid_t parent = getpid();
	char journal[340];
	int rc = -ETIMEDOUT, i;

	snprintf(journal, sizeof(journal), "%s/xenstored", e->h.dir);
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
		      e->xs_sock, "--platform=emulated", "--journal", journal,
		      (char *)NULL);
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

int pv_env_start(struct pv_env *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = harness_start(&e->h);
	if (rc)
		return rc;
	snprintf(e->xs_sock, sizeof(e->xs_sock), "%s/xs.sock", e->h.dir);
	return xsd_start(e);
}

int pv_env_xenstored_kill(struct pv_env *e)
{
	xs_client_close(e->xs);
	e->xs = NULL;
	if (e->xsd > 0) {
		kill(e->xsd, SIGKILL);
		waitpid(e->xsd, NULL, 0);
	}
	e->xsd = 0;
	unlink(e->xs_sock);
	return xsd_start(e);
}

void pv_env_stop(struct pv_env *e)
{
	xs_client_close(e->xs);
	e->xs = NULL;
	if (e->xsd > 0) {
		kill(e->xsd, SIGTERM);
		waitpid(e->xsd, NULL, 0);
	}
	e->xsd = 0;
	harness_stop(&e->h);
}

void pv_env_daemon_stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

int pv_env_daemon(struct pv_env *e, const char *exe_var, const char *name,
		  const char *const *args, pid_t *pid)
{
	const char *argv[16], *exe = getenv(exe_var);
	char pidfile[340];
	pid_t parent = getpid(), p;
	unsigned int n = 0;
	int i;

	if (!exe)
		return -ENOENT;
	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", e->h.dir, name);
	unlink(pidfile);
	argv[n++] = name;
	argv[n++] = "--xenstore";
	argv[n++] = e->xs_sock;
	argv[n++] = "--pid-file";
	argv[n++] = pidfile;
	while (args && *args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
		setenv("PVKIT_HV_SOCK", e->h.sock, 1);
		setenv("PVKIT_PLATFORM", "emulated", 1);
		execv(exe, (char *const *)argv);
		perror("exec");
		_exit(127);
	}
	*pid = p;
	/* Serving once the pid file is written (after its watch). */
	for (i = 0; i < 1000; i++) {
		if (access(pidfile, F_OK) == 0)
			return 0;
		if (waitpid(p, NULL, WNOHANG) == p) {
			*pid = 0;
			return -ESRCH;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

int pv_env_node(struct xs_client *xs, const char *dir, const char *node,
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

int pv_env_device(struct pv_env *e, domid_t d, const char *type,
		  unsigned int devid, const char *const *fe_nodes,
		  const char *const *be_nodes)
{
	struct xs_perm fe_perms[2] = {{d, XS_PERM_NONE}, {0, XS_PERM_READ}};
	struct xs_perm be_perms[2] = {{0, XS_PERM_NONE}, {d, XS_PERM_READ}};
	char fe[128], be[128], v[32];
	int rc;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/%s/%u", d, type,
		 devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/%s/%u/%u", type, d,
		 devid);
	/* The frontend directory first, the backend's last (it triggers
	 * the probe). */
	rc = pv_env_node(e->xs, fe, NULL, NULL, fe_perms);
	if (!rc)
		rc = pv_env_node(e->xs, fe, "backend", be, fe_perms);
	if (!rc)
		rc = pv_env_node(e->xs, fe, "backend-id", "0", fe_perms);
	while (!rc && fe_nodes && fe_nodes[0]) {
		rc = pv_env_node(e->xs, fe, fe_nodes[0], fe_nodes[1], fe_perms);
		fe_nodes += 2;
	}
	if (!rc)
		rc = pv_env_node(e->xs, fe, "state", "1", fe_perms);
	if (!rc)
		rc = pv_env_node(e->xs, be, NULL, NULL, be_perms);
	if (!rc)
		rc = pv_env_node(e->xs, be, "frontend", fe, be_perms);
	snprintf(v, sizeof(v), "%u", d);
	if (!rc)
		rc = pv_env_node(e->xs, be, "frontend-id", v, be_perms);
	while (!rc && be_nodes && be_nodes[0]) {
		rc = pv_env_node(e->xs, be, be_nodes[0], be_nodes[1], be_perms);
		be_nodes += 2;
	}
	if (!rc)
		rc = pv_env_node(e->xs, be, "online", "1", be_perms);
	if (!rc)
		rc = pv_env_node(e->xs, be, "state", "1", be_perms);
	return rc;
}

static int guest_main(int fd, uintptr_t fnp, void *arg)
{
	pv_guest_fn fn = (pv_guest_fn)fnp;
	struct pvk_kernel *k;
	int rc;

	if (pvk_kernel_boot("pv-guest", fd, 0, &k))
		return 100;
	rc = fn(pvk_kernel_platform(k), pvk_kernel_xs(k), arg);
	pvk_kernel_close(k);
	return rc;
}

static int kernel_main(int fd, uintptr_t fnp, void *arg)
{
	pv_kernel_fn fn = (pv_kernel_fn)fnp;
	struct pvk_kernel *k;

	if (pvk_kernel_boot("pv-kernel", fd, 0, &k))
		return 100;
	/* The process ends with whatever threads fn left running. */
	return fn(k, arg);
}

static int guest_spawn(struct pv_env *e, pv_env_devices_fn devs, void *devs_arg,
		       harness_entry entry, uintptr_t fn, const void *arg,
		       size_t arg_size, domid_t *domid, pid_t *pid)
{
	struct evtchn_alloc_unbound a = {.remote_dom = 0};
	struct xs_perm perm;
	uint64_t pfn;
	char path[64];
	int fd, rc;
	long r;

	rc = pvk_dom_create(e->h.dom0, "pv", 65536, 65536, 2, "pv", domid, &fd);
	if (rc)
		return rc;
	a.dom = *domid;
	r = pvk_rt_hypercall(e->h.dom0, __HYPERVISOR_event_channel_op,
			     EVTCHNOP_alloc_unbound, 0, &a, sizeof(a),
			     sizeof(a), NULL, NULL);
	if (r < 0) {
		close(fd);
		return (int)r;
	}
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
	if (!rc && devs)
		rc = devs(e, *domid, devs_arg);
	if (!rc)
		rc = xs_introduce(e->xs, *domid, pfn, a.port);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = harness_spawn(e->h.dom0, entry, fn, arg, arg_size, fd, pid);
	close(fd);
	if (rc)
		return rc;
	return pvk_dom_simple(e->h.dom0, PVK_HC_dom_unpause, *domid);
}

int pv_env_guest(struct pv_env *e, pv_env_devices_fn devs, void *devs_arg,
		 pv_guest_fn fn, const void *arg, size_t arg_size,
		 domid_t *domid, pid_t *pid)
{
	return guest_spawn(e, devs, devs_arg, guest_main, (uintptr_t)fn, arg,
			   arg_size, domid, pid);
}

int pv_env_kernel(struct pv_env *e, pv_env_devices_fn devs, void *devs_arg,
		  pv_kernel_fn fn, const void *arg, size_t arg_size,
		  domid_t *domid, pid_t *pid)
{
	return guest_spawn(e, devs, devs_arg, kernel_main, (uintptr_t)fn, arg,
			   arg_size, domid, pid);
}

int pv_env_guest_end(struct pv_env *e, const char *type, domid_t domid,
		     pid_t pid)
{
	char path[96];
	int st = harness_wait(pid);

	pvk_dom_simple(e->h.dom0, PVK_HC_dom_destroy, domid);
	xs_release(e->xs, domid);
	if (type) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/%s/%u",
			 type, domid);
		xs_rm(e->xs, XS_TX_NONE, path);
	}
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	xs_rm(e->xs, XS_TX_NONE, path);
	return st;
}
