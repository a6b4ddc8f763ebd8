/*
 * kernel.c - start of day and the control driver for DomU kernels
 * (include/pvkit/kernel.h).  The state a later restore needs is not kept
 * here: see docs/architecture.md, "Suspend, resume and what survives".
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/features.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>
#include <xen/sched.h>
#include <xen/version.h>

#include "common/log.h"
#include "pvkit/console.h"
#include "pvkit/guest.h"
#include "pvkit/kernel.h"
#include "pvkit/platform.h"
#include "pvkit/xenbus_frontend.h"
#include "pvkit/xs.h"

#define REQ_MAX 32

struct pvk_kernel {
	struct pvk_rt *rt;
	struct pvk_platform *plat;
	struct pvk_evtchn *xs_evtchn;
	struct pvk_evtchn *cons_evtchn;
	struct pvk_console *cons;
	bool cons_stalled; /* under the log hook's serialisation */
	struct xs_client *xs;

	struct pvk_control_hooks hooks;
	void *hooks_arg;
	bool control;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char request[REQ_MAX]; /* pending control/shutdown request */
};

struct pvk_rt *pvk_kernel_rt(const struct pvk_kernel *k) { return k->rt; }

struct pvk_platform *pvk_kernel_platform(const struct pvk_kernel *k)
{
	return k->plat;
}

struct xs_client *pvk_kernel_xs(const struct pvk_kernel *k) { return k->xs; }

struct pvk_console *pvk_kernel_console(const struct pvk_kernel *k)
{
	return k->cons;
}

/* ---- start of day ----------------------------------------------------------
 */

static int check_hypervisor(struct pvk_rt *rt)
{
	struct xen_feature_info fi = {.submap_idx = 0};
	long ver = pvk_rt_hypercall(rt, __HYPERVISOR_xen_version,
				    XENVER_version, 0, NULL, 0, 0, NULL, NULL);

	if (ver < 0)
		return (int)ver;
	if (pvk_rt_hypercall(rt, __HYPERVISOR_xen_version, XENVER_get_features,
			     0, &fi, sizeof(fi), sizeof(fi), NULL, NULL) < 0)
		return -EIO;
	pvk_info("Xen version %ld.%ld detected; features %#x", ver >> 16,
		 ver & 0xffff, fi.submap);
	if (!(fi.submap & (1u << XENFEAT_hvm_callback_vector)))
		return -ENOTSUP;
	return 0;
}

/* A special page named by two HVM params: its address and its port,
 * routed to a fresh event channel handle. */
static int special_page(struct pvk_kernel *k, uint32_t pfn_param,
			uint32_t port_param, void **page, struct pvk_evtchn **h,
			evtchn_port_t *port)
{
	uint64_t pfn, p;
	int rc;

	if (pvk_rt_hvm_param(k->rt, pfn_param, &pfn) ||
	    pvk_rt_hvm_param(k->rt, port_param, &p) || !p || p > UINT32_MAX)
		return -ENOENT;
	*page = pvk_rt_gpfn_to_ptr(k->rt, pfn);
	if (!*page)
		return -EFAULT;
	rc = k->plat->evtchn->open(k->plat, h);
	if (!rc)
		rc = pvk_platform_emulated_adopt_port(*h, (evtchn_port_t)p);
	*port = (evtchn_port_t)p;
	return rc;
}

/* Log hook: every log line to the console too.  A backend that does not
 * drain the ring (none running) costs one bounded wait, then lines are
 * dropped without waiting until there is room again. */
static void console_log_line(const char *line, size_t len, void *arg)
{
	struct pvk_kernel *k = arg;
	char buf[1100];
	ssize_t n;

	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	n = pvk_console_write(k->cons, buf, len, k->cons_stalled ? 0 : 200);
	k->cons_stalled = n < (ssize_t)len;
}

static int console_start(struct pvk_kernel *k, const char *name)
{
	evtchn_port_t port;
	char banner[400];
	void *page;
	int rc;

	rc = special_page(k, HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN,
			  &page, &k->cons_evtchn, &port);
	if (!rc)
		rc = pvk_console_open(page, k->plat->evtchn, k->cons_evtchn,
				      port, &k->cons);
	if (rc)
		return rc;
	snprintf(banner, sizeof(banner),
		 "Booting %s on d%u: %u vCPUs, %llu pages, cmdline '%s'\n",
		 name, pvk_rt_domid(k->rt), pvk_rt_nr_vcpus(k->rt),
		 (unsigned long long)pvk_rt_tot_pages(k->rt),
		 pvk_rt_cmdline(k->rt));
	pvk_console_write(k->cons, banner, strlen(banner), 1000);
	pvk_log_set_hook(console_log_line, k);
	return 0;
}

int pvk_kernel_boot(const char *name, int fd, unsigned int flags,
		    struct pvk_kernel **out)
{
	struct pvk_kernel *k = calloc(1, sizeof(*k));
	evtchn_port_t port;
	void *page;
	int rc;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	pvk_log_init(name, PVK_LOG_INFO);
	rc = pvk_rt_open(NULL, fd, &k->rt);
	if (rc) {
		pvk_err("cannot open the hypervisor channel: %s",
			strerror(-rc));
		goto fail;
	}
	rc = pvk_rt_start(k->rt);
	if (!rc)
		rc = check_hypervisor(k->rt);
	if (rc) {
		pvk_err("start of day failed: %s", strerror(-rc));
		goto fail;
	}
	pvk_info("d%u up: %u vCPUs, %llu pages, cmdline '%s'",
		 pvk_rt_domid(k->rt), pvk_rt_nr_vcpus(k->rt),
		 (unsigned long long)pvk_rt_tot_pages(k->rt),
		 pvk_rt_cmdline(k->rt));
	rc = pvk_platform_emulated_from_rt(k->rt, &k->plat);
	if (rc) {
		pvk_err("platform: %s", strerror(-rc));
		goto fail;
	}
	if ((flags & PVK_KERNEL_CONSOLE) && (rc = console_start(k, name)))
		pvk_warn("no PV console: %s", strerror(-rc));
	rc = special_page(k, HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN, &page,
			  &k->xs_evtchn, &port);
	if (!rc)
		rc = xs_client_open_ring(page, k->plat->evtchn, k->xs_evtchn,
					 port, &k->xs);
	if (rc) {
		pvk_err("no xenstore: %s", strerror(-rc));
		goto fail;
	}
	*out = k;
	return 0;
fail:
	if (k->rt) /* a domain that cannot boot has crashed */
		pvk_sched_shutdown(k->rt, SHUTDOWN_crash);
	pvk_kernel_close(k);
	return rc;
}

void pvk_kernel_close(struct pvk_kernel *k)
{
	if (!k)
		return;
	if (k->control)
		xs_unwatch(k->xs, "control/shutdown", "control");
	xs_client_close(k->xs);
	if (k->cons) {
		pvk_log_set_hook(NULL, NULL);
		pvk_console_close(k->cons);
	}
	if (k->plat) {
		if (k->xs_evtchn)
			k->plat->evtchn->close(k->xs_evtchn);
		if (k->cons_evtchn)
			k->plat->evtchn->close(k->cons_evtchn);
		pvk_platform_close(k->plat);
	}
	if (k->rt)
		pvk_rt_close(k->rt);
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	free(k);
}

void pvk_kernel_crash(struct pvk_kernel *k)
{
	pvk_sched_shutdown(k->rt, SHUTDOWN_crash);
}

/* ---- the control driver -----------------------------------------------------
 */

static void on_shutdown_watch(struct xs_client *xs, const char *path,
			      const char *token, void *arg)
{
	struct pvk_kernel *k = arg;
	char *val = NULL;
	size_t len = 0;

	(void)path;
	(void)token;
	if (xs_read(xs, XS_TX_NONE, "control/shutdown", &val, &len) < 0)
		return;
	if (len && len < sizeof(k->request)) {
		pthread_mutex_lock(&k->lock);
		memcpy(k->request, val, len);
		k->request[len] = 0;
		pthread_cond_signal(&k->cond);
		pthread_mutex_unlock(&k->lock);
	} else if (len) {
		pvk_warn("control/shutdown: a request of %zu bytes ignored",
			 len);
	}
	free(val);
}

int pvk_kernel_control_start(struct pvk_kernel *k,
			     const struct pvk_control_hooks *hooks, void *arg)
{
	static const char *const feats[] = {"control/feature-poweroff",
					    "control/feature-reboot",
					    "control/feature-suspend"};
	size_t i;
	int rc = 0;

	if (hooks)
		k->hooks = *hooks;
	k->hooks_arg = arg;
	for (i = 0; !rc && i < sizeof(feats) / sizeof(feats[0]); i++)
		rc = xs_write_str(k->xs, XS_TX_NONE, feats[i], "1");
	if (!rc)
		rc = xs_watch(k->xs, "control/shutdown", "control",
			      on_shutdown_watch, k);
	if (rc)
		pvk_err("control driver: %s", strerror(-rc));
	k->control = !rc;
	return rc;
}

static int do_suspend(struct pvk_kernel *k, struct xenbus_bus *bus)
{
	bool cancelled;
	int rc;

	if (k->hooks.suspending)
		k->hooks.suspending(k->hooks_arg);
	if (bus)
		xenbus_bus_suspend(bus);
	rc = pvk_sched_shutdown(k->rt, SHUTDOWN_suspend);
	/* Xen: 1 means cancelled (the same domain goes on), 0 resumed in a
	 * new one; an error means we never left. */
	cancelled = rc != 0;
	if (rc < 0)
		pvk_err("suspend failed: %s; resuming in place", strerror(-rc));
	pvk_info("resumed (%s)", cancelled ? "cancelled" : "restored");
	if (bus)
		xenbus_bus_resume(bus, cancelled);
	if (k->hooks.resumed)
		k->hooks.resumed(k->hooks_arg, cancelled);
	return rc < 0 ? rc : cancelled;
}

int pvk_kernel_control(struct pvk_kernel *k, struct xenbus_bus *bus,
		       const char *req)
{
	unsigned int reason;
	int rc;

	if (!strcmp(req, "poweroff") || !strcmp(req, "halt"))
		reason = SHUTDOWN_poweroff;
	else if (!strcmp(req, "reboot"))
		reason = SHUTDOWN_reboot;
	else if (!strcmp(req, "suspend"))
		reason = SHUTDOWN_suspend;
	else if (!strcmp(req, "crash"))
		reason = SHUTDOWN_crash;
	else {
		pvk_warn("control/shutdown: unknown request '%s' ignored", req);
		xs_write_str(k->xs, XS_TX_NONE, "control/shutdown", "");
		return -EINVAL;
	}
	/* Acknowledge by clearing the node, as Linux does. */
	xs_write_str(k->xs, XS_TX_NONE, "control/shutdown", "");
	pvk_info("control: %s", req);
	if (reason == SHUTDOWN_suspend)
		return do_suspend(k, bus);
	if (reason != SHUTDOWN_crash) {
		if (k->hooks.stopping)
			k->hooks.stopping(k->hooks_arg, reason);
		xenbus_bus_close(bus);
	}
	rc = pvk_sched_shutdown(k->rt, reason);
	pvk_err("shutdown(%u) returned %d", reason, rc);
	return rc < 0 ? rc : -EIO;
}

int pvk_kernel_run(struct pvk_kernel *k, struct xenbus_bus *bus)
{
	char req[REQ_MAX];

	if (!k->control)
		return -EINVAL;
	for (;;) {
		pthread_mutex_lock(&k->lock);
		while (!k->request[0])
			pthread_cond_wait(&k->cond, &k->lock);
		memcpy(req, k->request, sizeof(req));
		k->request[0] = 0;
		pthread_mutex_unlock(&k->lock);
		pvk_kernel_control(k, bus, req);
	}
}
