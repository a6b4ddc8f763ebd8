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
	char disk_id[16][16];      /* device/vbd/<id> */
	char disk_online[16][160]; /* its backend's online node, watched */
	unsigned int ndisks;
	bool vbd_changed;          /* device/vbd or an online node changed */
};

/* device/vbd or a backend's online node changed: the main loop rescans. */
static void on_vbd_watch(struct xs_client *xs, const char *path,
			 const char *token, void *arg)
{
	struct kernel *k = arg;

	(void)xs;
	(void)path;
	(void)token;
	pthread_mutex_lock(&k->lock);
	k->vbd_changed = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

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
/* Connect the vbd id and read its first sector, the way a kernel probes
 * a disk; then watch its backend's online node (hot-unplug). */
static void disk_connect(struct kernel *k, const char *id)
{
	static uint8_t sector[512] __attribute__((aligned(512)));
	const struct blkfront_info *in;
	struct blkfront *bf;
	char path[64], *be = NULL;
	unsigned int i = k->ndisks;
	int rc;

	if (i >= 16)
		return;
	rc = blkfront_open(k->plat, k->xs, id, NULL, &bf);
	if (rc) {
		pvk_err("vbd %s: %s", id, strerror(-rc));
		return;
	}
	in = blkfront_info(bf);
	pvk_info("vbd %s: %llu sectors of %u bytes%s; ring pages %u, "
		 "indirect %u, persistent %s, flush %s, discard %s",
		 id, (unsigned long long)in->sectors,
		 in->sector_size, in->readonly ? ", read-only" : "",
		 in->ring_pages, in->indirect_segs,
		 in->persistent ? "yes" : "no",
		 in->flush ? "yes" : "no", in->discard ? "yes" : "no");
	rc = blkfront_read(bf, 0, sector, 1);
	if (rc)
		pvk_err("vbd %s: reading sector 0: %s", id, strerror(-rc));
	else
		pvk_info("vbd %s: sector 0 starts %02x %02x %02x %02x", id,
			 sector[0], sector[1], sector[2], sector[3]);
	k->disks[i] = bf;
	snprintf(k->disk_id[i], sizeof(k->disk_id[i]), "%s", id);
	k->disk_online[i][0] = 0;
	snprintf(path, sizeof(path), "device/vbd/%s/backend", id);
	if (xs_read(k->xs, XS_TX_NONE, path, &be, NULL) == 0) {
		snprintf(k->disk_online[i], sizeof(k->disk_online[i]),
			 "%s/online", be);
		if (xs_watch(k->xs, k->disk_online[i], "vbd", on_vbd_watch, k))
			k->disk_online[i][0] = 0;
	}
	free(be);
	k->ndisks++;
}

/* Connect every vbd the toolstack gave us (device/vbd/<devid>). */
static void disks_probe(struct kernel *k)
{
	char **ids = NULL;
	unsigned int n = 0, i;

	if (xs_directory(k->xs, XS_TX_NONE, "device/vbd", &ids, &n) < 0)
		return;
	for (i = 0; i < n; i++)
		disk_connect(k, ids[i]);
	free(ids);
}

static void disk_drop(struct kernel *k, unsigned int i)
{
	struct blkfront *bf = k->disks[i];

	if (k->disk_online[i][0])
		xs_unwatch(k->xs, k->disk_online[i], "vbd");
	if (!blkfront_info(bf)->readonly && blkfront_info(bf)->flush)
		blkfront_flush(bf);
	blkfront_close(bf);
	k->ndisks--;
	if (i != k->ndisks) {
		k->disks[i] = k->disks[k->ndisks];
		memcpy(k->disk_id[i], k->disk_id[k->ndisks],
		       sizeof(k->disk_id[i]));
		memcpy(k->disk_online[i], k->disk_online[k->ndisks],
		       sizeof(k->disk_online[i]));
	}
}

/* Hot-plug: close the disks being removed (backend online=0, or the
 * device gone), connect the vbds that appeared (frontend Initialising,
 * as the toolstack writes them). */
static void disks_rescan(struct kernel *k)
{
	char **ids = NULL, path[64], *val = NULL;
	unsigned int n = 0, i, j;

	for (i = 0; i < k->ndisks;) {
		bool gone, offline = false;

		snprintf(path, sizeof(path), "device/vbd/%s/state",
			 k->disk_id[i]);
		gone = xs_read(k->xs, XS_TX_NONE, path, &val, NULL) != 0;
		free(val);
		val = NULL;
		if (!gone && k->disk_online[i][0] &&
		    xs_read(k->xs, XS_TX_NONE, k->disk_online[i], &val,
			    NULL) == 0)
			offline = !strcmp(val, "0");
		free(val);
		val = NULL;
		if (!gone && !offline) {
			i++;
			continue;
		}
		pvk_info("vbd %s: removed", k->disk_id[i]);
		disk_drop(k, i);
	}
	if (xs_directory(k->xs, XS_TX_NONE, "device/vbd", &ids, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < k->ndisks; j++)
			if (!strcmp(k->disk_id[j], ids[i]))
				break;
		if (j < k->ndisks)
			continue;
		snprintf(path, sizeof(path), "device/vbd/%s/state", ids[i]);
		if (xs_read(k->xs, XS_TX_NONE, path, &val, NULL) == 0 &&
		    !strcmp(val, "1")) {
			pvk_info("vbd %s: hot-plugged", ids[i]);
			disk_connect(k, ids[i]);
		}
		free(val);
		val = NULL;
	}
	free(ids);
}

/* Before the domain goes away: make writes durable, close the disks. */
static void disks_close(struct kernel *k)
{
	while (k->ndisks)
		disk_drop(k, k->ndisks - 1);
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
	/* Hot-plug: vbds appearing and going (block-attach/-detach). */
	if (xs_watch(k.xs, "device/vbd", "vbd", on_vbd_watch, &k))
		pvk_warn("cannot watch device/vbd: no disk hot-plug");
	for (;;) {
		char req[32];
		bool rescan;

		pthread_mutex_lock(&k.lock);
		while (!k.request[0] && !k.vbd_changed)
			pthread_cond_wait(&k.cond, &k.lock);
		rescan = k.vbd_changed;
		k.vbd_changed = false;
		memcpy(req, k.request, sizeof(req));
		k.request[0] = 0;
		pthread_mutex_unlock(&k.lock);
		if (rescan)
			disks_rescan(&k);
		if (req[0])
			control_do(&k, req);
	}
crash:
	pvk_sched_shutdown(k.rt, SHUTDOWN_crash);
	return 1;
}
