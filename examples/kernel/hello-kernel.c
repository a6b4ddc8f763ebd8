/*
 * hello-kernel.c - a small pvkit kernel, built out of tree against the
 * installed libpvkit (see Makefile, docs/writing-a-kernel.md).
 *
 * The kernel library does start of day (the hypervisor channel, vCPUs,
 * the PV console: a banner, then every log line, xenstore over its ring)
 * and the control driver (poweroff, reboot, suspend).  A xenbus bus with
 * blkfront connects every vbd, hot-plugged ones too; for each we print the
 * start of sector 0.
 *
 * Run it: kernel = "/path/to/hello-kernel" in a domain's config, then
 * `pvkit create`; its console is <state>/console-<name>.log (or
 * `pvkit console NAME`), its stderr <state>/guest-<name>.log.
 */
#include <pvkit/blkfront.h>
#include <pvkit/guest.h>
#include <pvkit/kernel.h>
#include <pvkit/log.h>
#include <pvkit/xenbus_frontend.h>

#include <stdint.h>
#include <string.h>
#include <xen/sched.h>

/* The bus connected a disk (on its own thread): read sector 0. */
static void disk_added(struct xenbus_bus *bus, const char *type,
		       const char *id, void *priv, void *arg)
{
	static unsigned char sector[512] __attribute__((aligned(512)));
	struct blkfront *bf = priv;
	char text[17];
	int i;

	(void)bus, (void)type, (void)arg;
	if (blkfront_read(bf, 0, sector, 1))
		return; /* blkfront logged why */
	for (i = 0; i < 16; i++)
		text[i] = sector[i] >= 0x20 && sector[i] < 0x7f
				  ? (char)sector[i] : '.';
	text[16] = 0;
	pvk_info("vbd %s: %llu sectors, sector 0: %s", id,
		 (unsigned long long)blkfront_info(bf)->sectors, text);
}

/* The control driver tells us before the domain goes. */
static void stopping(void *arg, unsigned int reason)
{
	(void)arg;
	pvk_info("control/shutdown: %s", reason == SHUTDOWN_poweroff ? "poweroff" : "reboot");
}

int main(void)
{
	static const struct xenbus_frontend_driver *const drivers[] = {
		&blkfront_driver,
	};
	static const struct xenbus_bus_hooks bus_hooks = {.added = disk_added};
	static const struct pvk_control_hooks control = {.stopping = stopping};
	struct xenbus_bus *bus = NULL;
	struct pvk_kernel *k;

	/* Returns once the domain is unpaused; says why if it cannot. */
	if (pvk_kernel_boot("hello-kernel", -1, PVK_KERNEL_CONSOLE, &k))
		return 1;
	pvk_info("Hello from d%u: %u vCPUs, %llu pages, cmdline '%s'",
		 pvk_rt_domid(pvk_kernel_rt(k)), pvk_rt_nr_vcpus(pvk_kernel_rt(k)),
		 (unsigned long long)pvk_rt_tot_pages(pvk_kernel_rt(k)),
		 pvk_rt_cmdline(pvk_kernel_rt(k)));
	if (pvk_kernel_control_start(k, &control, NULL))
		goto crash;
	if (xenbus_bus_open(pvk_kernel_platform(k), pvk_kernel_xs(k), drivers,
			    1, &bus_hooks, NULL, 0, &bus))
		pvk_warn("no devices");
	pvk_info("ready; waiting for control/shutdown");
	pvk_kernel_run(k, bus); /* returns only on error */
crash:
	pvk_err("giving up: crashing the domain");
	pvk_kernel_crash(k);
	return 1;
}
