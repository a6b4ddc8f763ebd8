/*
 * kernel.h - what every DomU "kernel" (a `kernel =` program the toolstack
 * starts for a domain on the emulated platform) does, once: start of day
 * and the control driver.  docs/writing-a-kernel.md is the contract.
 *
 * Start of day (pvk_kernel_boot): open the hypervisor channel inherited as
 * $PVKIT_HV_FD (blocks while the domain is created paused), map memory and
 * shared_info, start one dispatcher thread per vCPU, check the hypervisor
 * (xen_version, XENFEAT_hvm_callback_vector), open the platform, bring up
 * the PV console (every log line goes there too) and connect xenstore over
 * the shared ring (HVM_PARAM_STORE_PFN/EVTCHN).
 *
 * The control driver (pvk_kernel_control_start, pvk_kernel_run): advertise
 * control/feature-poweroff, -reboot and -suspend, watch control/shutdown
 * and carry out each request as Linux's drivers/xen/manage.c does:
 *   poweroff, halt, reboot: the owner's stopping hook, then every device
 *     of the bus is removed (writes made durable, closed), then
 *     SCHEDOP_shutdown with the reason;
 *   suspend: the bus suspends every device (no new I/O; what is in flight
 *     gets a bounded time, the rest is kept), SCHEDOP_shutdown(suspend),
 *     then the devices resume: in place when the hypervisor says 1
 *     (cancelled: the same domain goes on), reconnected and replayed
 *     otherwise (a restored domain);
 *   crash: SCHEDOP_shutdown(crash) at once.
 * An unknown request is acknowledged and ignored (logged).
 *
 * Functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef PVKIT_KERNEL_H
#define PVKIT_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_rt;
struct pvk_platform;
struct pvk_console;
struct xs_client;
struct xenbus_bus;
struct pvk_kernel;

#define PVK_KERNEL_CONSOLE (1u << 0) /* bring up the PV console, log to it */

/* Start of day.  name: the program's name in log lines; fd: the hypervisor
 * channel, or < 0 for $PVKIT_HV_FD.  On failure the reason is logged; a
 * kernel then crashes its domain (pvk_kernel_crash) or exits.  *out is the
 * caller's (pvk_kernel_close). */
int pvk_kernel_boot(const char *name, int fd, unsigned int flags,
		    struct pvk_kernel **out);
/* Tear down (tests; a kernel ends its domain with shutdown instead). */
void pvk_kernel_close(struct pvk_kernel *k);

struct pvk_rt *pvk_kernel_rt(const struct pvk_kernel *k);
struct pvk_platform *pvk_kernel_platform(const struct pvk_kernel *k);
struct xs_client *pvk_kernel_xs(const struct pvk_kernel *k);
/* NULL without PVK_KERNEL_CONSOLE or when the domain has none. */
struct pvk_console *pvk_kernel_console(const struct pvk_kernel *k);

/* What the kernel's owner is told by the control driver (each optional;
 * arg as given to pvk_kernel_control_start).  They run on the thread that
 * called pvk_kernel_run. */
struct pvk_control_hooks {
	/* Poweroff/reboot: before the devices are removed (e.g. unmount
	 * what uses them). */
	void (*stopping)(void *arg, unsigned int reason);
	/* Suspend: before the devices suspend, and after they resumed. */
	void (*suspending)(void *arg);
	void (*resumed)(void *arg, bool cancelled);
};

/* Start the control driver: advertise the features and watch
 * control/shutdown (requests wait until pvk_kernel_run).  Call it early:
 * the toolstack looks for the features to know a control driver runs. */
int pvk_kernel_control_start(struct pvk_kernel *k,
			     const struct pvk_control_hooks *hooks, void *arg);
/* Carry out control requests for the devices of bus (may be NULL: no
 * devices) until the domain powers off, reboots or crashes (then this
 * does not return; a poweroff or reboot closes bus, removing every
 * device, just before the domain ends).  Returns only on error. */
int pvk_kernel_run(struct pvk_kernel *k, struct xenbus_bus *bus);
/* Carry out one request ("poweroff", "suspend", ...) for bus as if it had
 * been written to control/shutdown.  For a suspend: 1 when it was
 * cancelled (the domain goes on in place), 0 when the domain was
 * restored, or a negative errno. */
int pvk_kernel_control(struct pvk_kernel *k, struct xenbus_bus *bus,
		       const char *request);
/* SCHEDOP_shutdown(crash); returns only if the hypervisor refused. */
void pvk_kernel_crash(struct pvk_kernel *k);

#ifdef __cplusplus
}
#endif

#endif
