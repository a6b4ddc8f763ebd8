/*
 * kernel.c - pvkit-guest, the default DomU kernel.
 *
 * Start of day from the hypervisor channel ($PVKIT_HV_FD): map memory and
 * shared_info, check the hypervisor (xen_version, XENFEAT_*), start the vCPUs,
 * connect xenstore over the shared ring (HVM_PARAM_STORE_PFN/EVTCHN), then
 * run the control driver: advertise control/feature-*, watch
 * control/shutdown and carry out poweroff, reboot, halt, suspend and crash.
 * The PV console (HVM_PARAM_CONSOLE_PFN/EVTCHN) comes up right after start
 * of day: a boot banner, then every log line; input lines are answered
 * ("ping" -> "pong", anything else echoed) so the input path can be tested.
 */
#include "pvkit/console.h"
#include "pvkit/guest.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"
#include "pvkit/blkfront.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xen/features.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>
#include <xen/sched.h>
#include <xen/version.h>

struct kernel {
	struct pvk_rt *rt;
	struct pvk_platform *plat;
	struct pvk_evtchn *xs_evtchn;
	struct pvk_evtchn *cons_evtchn;
	struct pvk_console *cons;
	bool cons_stalled; /* under the log hook's serialisation */
	struct xs_client *xs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char request[32]; /* pending control/shutdown request */
	struct blkfront *disks[16];
	unsigned int ndisks;
};

static void on_shutdown_watch(struct xs_client *xs, const char *path,
			      const char *token, void *arg)
{
	struct kernel *k = arg;
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
	}
	free(val);
}

static int control_start(struct kernel *k)
{
	static const char *const feats[] = {"feature-poweroff",
					    "feature-reboot",
					    "feature-suspend"};
	char path[64];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		snprintf(path, sizeof(path), "control/%s", feats[i]);
		rc = xs_write_str(k->xs, XS_TX_NONE, path, "1");
		if (rc)
			return rc;
	}
	return xs_watch(k->xs, "control/shutdown", "shutdown",
			on_shutdown_watch, k);
}

/* Carry out one request; returns only if the domain goes on running. */
/* Connect every vbd the toolstack gave us (device/vbd/<devid>) and read
 * its first sector, the way a kernel probes its disks at boot. */
static void disks_probe(struct kernel *k)
{
	static uint8_t sector[512] __attribute__((aligned(512)));
	char **ids = NULL;
	unsigned int n = 0, i;

	if (xs_directory(k->xs, XS_TX_NONE, "device/vbd", &ids, &n) < 0)
		return;
	for (i = 0; i < n && k->ndisks < 16; i++) {
		const struct blkfront_info *in;
		struct blkfront *bf;
		int rc = blkfront_open(k->plat, k->xs, ids[i], NULL, &bf);

		if (rc) {
			pvk_err("vbd %s: %s", ids[i], strerror(-rc));
			continue;
		}
		in = blkfront_info(bf);
		pvk_info("vbd %s: %llu sectors of %u bytes%s; ring pages %u, "
			 "indirect %u, persistent %s, flush %s, discard %s",
			 ids[i], (unsigned long long)in->sectors,
			 in->sector_size, in->readonly ? ", read-only" : "",
			 in->ring_pages, in->indirect_segs,
			 in->persistent ? "yes" : "no",
			 in->flush ? "yes" : "no", in->discard ? "yes" : "no");
		rc = blkfront_read(bf, 0, sector, 1);
		if (rc)
			pvk_err("vbd %s: reading sector 0: %s", ids[i],
				strerror(-rc));
		else
			pvk_info("vbd %s: sector 0 starts %02x %02x %02x %02x",
				 ids[i], sector[0], sector[1], sector[2],
				 sector[3]);
		k->disks[k->ndisks++] = bf;
	}
	free(ids);
}

/* Before the domain goes away: make writes durable, close the disks. */
static void disks_close(struct kernel *k)
{
	while (k->ndisks) {
		struct blkfront *bf = k->disks[--k->ndisks];

		if (!blkfront_info(bf)->readonly && blkfront_info(bf)->flush)
			blkfront_flush(bf);
		blkfront_close(bf);
	}
}

static void control_do(struct kernel *k, const char *req)
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
		return;
	}
	/* Acknowledge by clearing the node, as Linux does. */
	xs_write_str(k->xs, XS_TX_NONE, "control/shutdown", "");
	pvk_info("control: %s", req);
	if (reason != SHUTDOWN_suspend && reason != SHUTDOWN_crash)
		disks_close(k);
	rc = pvk_sched_shutdown(k->rt, reason);
	if (reason == SHUTDOWN_suspend)
		pvk_info("resumed (%d)", rc);
	else
		pvk_err("shutdown(%u) returned %d", reason, rc);
}

/* Log hook: every log line to the console too.  A backend that does not
 * drain the ring (none running) costs one bounded wait, then lines are
 * dropped without waiting until there is room again. */
static void console_log_line(const char *line, size_t len, void *arg)
{
	struct kernel *k = arg;
	char buf[1100];
	ssize_t n;

	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	n = pvk_console_write(k->cons, buf, len, k->cons_stalled ? 0 : 200);
	k->cons_stalled = n < (ssize_t)len;
}

static void console_puts(struct kernel *k, const char *s)
{
	pvk_console_write(k->cons, s, strlen(s), 1000);
}

/* Answer one input line: "ping" -> "pong", anything else echoed. */
static void console_answer(struct kernel *k, const char *line, bool cut)
{
	char out[300];
	size_t i;

	if (!cut && !strcmp(line, "ping")) {
		console_puts(k, "pong\n");
		return;
	}
	snprintf(out, sizeof(out), "echo: %s%s\n", line, cut ? "..." : "");
	for (i = 6; out[i] && out[i] != '\n'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			out[i] = '?';
	console_puts(k, out);
}

static void *console_input(void *arg)
{
	struct kernel *k = arg;
	char line[128], buf[256];
	size_t len = 0;
	bool cut = false;
	ssize_t n, i;

	for (;;) {
		n = pvk_console_read(k->cons, buf, sizeof(buf), -1);
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || buf[i] == '\r') {
				line[len] = 0;
				if (len || cut)
					console_answer(k, line, cut);
				len = 0;
				cut = false;
			} else if (len < sizeof(line) - 1) {
				line[len++] = buf[i];
			} else {
				cut = true;
			}
		}
	}
	return NULL;
}

static int console_start(struct kernel *k)
{
	uint64_t pfn, port;
	pthread_t t;
	char banner[400];
	void *page;
	int rc;

	if (pvk_rt_hvm_param(k->rt, HVM_PARAM_CONSOLE_PFN, &pfn) ||
	    pvk_rt_hvm_param(k->rt, HVM_PARAM_CONSOLE_EVTCHN, &port) || !port)
		return -ENOENT;
	page = pvk_rt_gpfn_to_ptr(k->rt, pfn);
	if (!page)
		return -EFAULT;
	rc = k->plat->evtchn->open(k->plat, &k->cons_evtchn);
	if (!rc)
		rc = pvk_platform_emulated_adopt_port(k->cons_evtchn,
						      (evtchn_port_t)port);
	if (!rc)
		rc = pvk_console_open(page, k->plat->evtchn, k->cons_evtchn,
				      (evtchn_port_t)port, &k->cons);
	if (rc)
		return rc;
	snprintf(banner, sizeof(banner),
		 "Booting pvkit-guest on d%u: %u vCPUs, %llu pages, "
		 "cmdline '%s'\n",
		 pvk_rt_domid(k->rt), pvk_rt_nr_vcpus(k->rt),
		 (unsigned long long)pvk_rt_tot_pages(k->rt),
		 pvk_rt_cmdline(k->rt));
	console_puts(k, banner);
	pvk_log_set_hook(console_log_line, k);
	rc = -pthread_create(&t, NULL, console_input, k);
	if (!rc)
		pthread_detach(t);
	return rc;
}

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

int main(void)
{
	struct kernel k;
	uint64_t store_pfn, store_port;
	void *page;
	int rc;

	memset(&k, 0, sizeof(k));
	pthread_mutex_init(&k.lock, NULL);
	pthread_cond_init(&k.cond, NULL);
	pvk_log_init("pvkit-guest", PVK_LOG_INFO);
	rc = pvk_rt_open(NULL, -1, &k.rt);
	if (rc) {
		pvk_err("cannot open the hypervisor channel: %s", strerror(-rc));
		return 1;
	}
	pvk_log_init("pvkit-guest", PVK_LOG_INFO);
	rc = pvk_rt_start(k.rt);
	if (rc == 0)
		rc = check_hypervisor(k.rt);
	if (rc) {
		pvk_err("start of day failed: %s", strerror(-rc));
		goto crash;
	}
	pvk_info("d%u up: %u vCPUs, %llu pages, cmdline '%s'",
		 pvk_rt_domid(k.rt), pvk_rt_nr_vcpus(k.rt),
		 (unsigned long long)pvk_rt_tot_pages(k.rt),
		 pvk_rt_cmdline(k.rt));
	rc = pvk_platform_emulated_from_rt(k.rt, &k.plat);
	if (rc) {
		pvk_err("platform: %s", strerror(-rc));
		goto crash;
	}
	rc = console_start(&k);
	if (rc)
		pvk_warn("no PV console: %s", strerror(-rc));
	if (pvk_rt_hvm_param(k.rt, HVM_PARAM_STORE_PFN, &store_pfn) ||
	    pvk_rt_hvm_param(k.rt, HVM_PARAM_STORE_EVTCHN, &store_port) ||
	    !store_port) {
		pvk_err("no xenstore (HVM params unset)");
		goto crash;
	}
	page = pvk_rt_gpfn_to_ptr(k.rt, store_pfn);
	rc = k.plat->evtchn->open(k.plat, &k.xs_evtchn);
	if (!rc)
		rc = pvk_platform_emulated_adopt_port(
			k.xs_evtchn, (evtchn_port_t)store_port);
	if (!rc && page)
		rc = xs_client_open_ring(page, k.plat->evtchn, k.xs_evtchn,
					 (evtchn_port_t)store_port, &k.xs);
	if (!rc)
		rc = control_start(&k);
	if (rc) {
		pvk_err("xenstore/control setup failed: %s", strerror(-rc));
		goto crash;
	}
	pvk_info("control driver ready");
	disks_probe(&k);
	for (;;) {
		char req[32];

		pthread_mutex_lock(&k.lock);
		while (!k.request[0])
			pthread_cond_wait(&k.cond, &k.lock);
		memcpy(req, k.request, sizeof(req));
		k.request[0] = 0;
		pthread_mutex_unlock(&k.lock);
		control_do(&k, req);
	}
crash:
	pvk_sched_shutdown(k.rt, SHUTDOWN_crash);
	return 1;
}
