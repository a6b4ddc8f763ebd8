/*
 * hello-kernel.c - the smallest useful pvkit kernel, built out of tree
 * against the installed libpvkit (see Makefile, docs/writing-a-kernel.md).
 *
 * Start of day as pvkit-guest does it, the PV console (a greeting, then
 * every log line), xenstore over the shared ring, each vbd's sector 0 read
 * through blkfront, then it waits for control/shutdown: poweroff or reboot.
 *
 * Run it: kernel = "/path/to/hello-kernel" in a domain's config, then
 * `pvkit create`; its console is <state>/console-<name>.log (or
 * `pvkit console NAME`), its stderr <state>/guest-<name>.log.
 */
#include <pvkit/blkfront.h>
#include <pvkit/console.h>
#include <pvkit/guest.h>
#include <pvkit/log.h>
#include <pvkit/platform.h>
#include <pvkit/xs.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char request[16]; /* control/shutdown's value, under lock */

/* Every log line (ours and the library's) to the console as well. */
static void log_to_console(const char *line, size_t len, void *arg)
{
	pvk_console_write(arg, line, len, 100);
	pvk_console_write(arg, "\n", 1, 100);
}

/* Map the page an HVM param names and route its event channel port to a
 * new handle: the console's and xenstore's rings come this way. */
static void *ring_open(struct pvk_rt *rt, struct pvk_platform *plat,
		       uint32_t pfn_param, uint32_t port_param,
		       struct pvk_evtchn **h, evtchn_port_t *port)
{
	uint64_t pfn, p;

	if (pvk_rt_hvm_param(rt, pfn_param, &pfn) ||
	    pvk_rt_hvm_param(rt, port_param, &p) || !p ||
	    plat->evtchn->open(plat, h))
		return NULL;
	if (pvk_platform_emulated_adopt_port(*h, (evtchn_port_t)p))
		return NULL;
	*port = (evtchn_port_t)p;
	return pvk_rt_gpfn_to_ptr(rt, pfn);
}

/* Runs on the xenstore client's thread: just hand the request over (no
 * blocking xenstore work in a watch callback). */
static void on_shutdown(struct xs_client *xs, const char *path,
			const char *token, void *arg)
{
	char *val = NULL;

	(void)path, (void)token, (void)arg;
	if (xs_read(xs, XS_TX_NONE, "control/shutdown", &val, NULL) == 0 &&
	    val[0] && strlen(val) < sizeof(request)) {
		pthread_mutex_lock(&lock);
		strcpy(request, val);
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&lock);
	}
	free(val);
}

/* Connect each disk the toolstack gave us (device/vbd/<id>), read sector 0,
 * close it again. */
static void disks_show(struct pvk_platform *plat, struct xs_client *xs)
{
	static unsigned char sector[512] __attribute__((aligned(512)));
	struct blkfront *bf;
	char **ids = NULL, text[17];
	unsigned int n = 0, i, j;

	if (xs_directory(xs, XS_TX_NONE, "device/vbd", &ids, &n))
		n = 0;
	pvk_info("%u vbd(s)", n);
	for (i = 0; i < n; i++) {
		if (blkfront_open(plat, xs, ids[i], NULL, &bf))
			continue; /* blkfront logged why */
		if (blkfront_read(bf, 0, sector, 1) == 0) {
			for (j = 0; j < 16; j++)
				text[j] = sector[j] >= 0x20 && sector[j] < 0x7f
						  ? (char)sector[j] : '.';
			text[16] = 0;
			pvk_info("vbd %s: %llu sectors, sector 0: %s", ids[i],
				 (unsigned long long)blkfront_info(bf)->sectors,
				 text);
		}
		blkfront_close(bf);
	}
	free(ids); /* one allocation: the array and its strings */
}

int main(void)
{
	struct pvk_rt *rt = NULL;
	struct pvk_platform *plat = NULL;
	struct pvk_evtchn *cons_h, *xs_h;
	struct pvk_console *cons = NULL;
	struct xs_client *xs = NULL;
	evtchn_port_t port;
	unsigned int reason;
	void *page;

	pvk_log_init("hello-kernel", PVK_LOG_INFO);
	/* Start of day: the channel in $PVKIT_HV_FD; returns once unpaused. */
	if (pvk_rt_open(NULL, -1, &rt)) {
		pvk_err("no hypervisor channel (run me with pvkit create)");
		return 1;
	}
	if (pvk_rt_start(rt) || pvk_platform_emulated_from_rt(rt, &plat))
		goto crash;

	page = ring_open(rt, plat, HVM_PARAM_CONSOLE_PFN,
			 HVM_PARAM_CONSOLE_EVTCHN, &cons_h, &port);
	if (page && pvk_console_open(page, plat->evtchn, cons_h, port,
				     &cons) == 0)
		pvk_log_set_hook(log_to_console, cons);
	pvk_info("Hello from d%u: %u vCPUs, %llu pages, cmdline '%s'",
		 pvk_rt_domid(rt), pvk_rt_nr_vcpus(rt),
		 (unsigned long long)pvk_rt_tot_pages(rt), pvk_rt_cmdline(rt));

	page = ring_open(rt, plat, HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN,
			 &xs_h, &port);
	if (!page || xs_client_open_ring(page, plat->evtchn, xs_h, port, &xs))
		goto crash;
	/* The control driver: say what we answer, watch the request node. */
	if (xs_write_str(xs, XS_TX_NONE, "control/feature-poweroff", "1") ||
	    xs_write_str(xs, XS_TX_NONE, "control/feature-reboot", "1") ||
	    xs_watch(xs, "control/shutdown", "shutdown", on_shutdown, NULL))
		goto crash;

	disks_show(plat, xs);
	pvk_info("ready; waiting for control/shutdown");
	for (;;) {
		pthread_mutex_lock(&lock);
		while (!request[0])
			pthread_cond_wait(&cond, &lock);
		reason = !strcmp(request, "poweroff") ? SHUTDOWN_poweroff
			 : !strcmp(request, "reboot") ? SHUTDOWN_reboot
						      : ~0u;
		pvk_info("control/shutdown: %s%s", request,
			 reason == ~0u ? " (ignored)" : "");
		request[0] = 0;
		pthread_mutex_unlock(&lock);
		/* Acknowledge by clearing the node, as Linux does. */
		xs_write_str(xs, XS_TX_NONE, "control/shutdown", "");
		if (reason != ~0u)
			break;
	}
	pvk_sched_shutdown(rt, reason); /* returns only on error */
crash:
	pvk_err("giving up: crashing the domain");
	pvk_sched_shutdown(rt, SHUTDOWN_crash);
	return 1;
}
