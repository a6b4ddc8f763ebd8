/*
 * console.h - the guest's PV console driver (hvc0 in Linux terms): the
 * frontend of struct xencons_interface (<xen/io/console.h>), on the page
 * HVM_PARAM_CONSOLE_PFN names, notified through HVM_PARAM_CONSOLE_EVTCHN.
 *
 * Written against the platform's event channel ops, so it runs on the
 * emulated platform and on real Xen alike.  Every call is thread-safe.
 * A backend that publishes a bogus ring index (one that would make us read
 * or write outside the ring) breaks the console for good: the driver logs
 * it once and every later call fails with -EIO.
 *
 * Functions return 0 / a count, or a negative errno.
 */
#ifndef PVKIT_CONSOLE_H
#define PVKIT_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_evtchn;
struct pvk_evtchn_ops;
struct pvk_console;

/* Start the driver on the ring page intf with the event channel port
 * already bound (or adopted) in h.  The caller keeps owning intf, ops and h
 * and keeps them alive until pvk_console_close(); h should serve nothing
 * else, since the driver consumes every port it reports.  *out is the
 * caller's. */
int pvk_console_open(struct xencons_interface *intf,
		     const struct pvk_evtchn_ops *ops, struct pvk_evtchn *h,
		     evtchn_port_t port, struct pvk_console **out);
/* Stop the driver's event thread and free it; NULL is allowed. */
void pvk_console_close(struct pvk_console *c);

/* Write len bytes to the out ring and notify the backend.  While the ring
 * is full wait for the backend to make room, for at most timeout_ms in all
 * (0: do not wait, < 0: no limit).  Returns the bytes written, which is
 * less than len when the time ran out, or -EIO on a broken console. */
ssize_t pvk_console_write(struct pvk_console *c, const void *buf, size_t len,
			  int timeout_ms);

/* Read up to len bytes of input, waiting up to timeout_ms (0: do not wait,
 * < 0: no limit) for the first.  Returns the count (0 on time-out), or
 * -EIO on a broken console. */
ssize_t pvk_console_read(struct pvk_console *c, void *buf, size_t len,
			 int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
