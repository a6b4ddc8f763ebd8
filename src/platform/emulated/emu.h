/* emu.h - the emulated platform's shared state, private to its files. */
#ifndef PVKIT_PLATFORM_EMU_H
#define PVKIT_PLATFORM_EMU_H

#include <pthread.h>
#include <stdbool.h>

#include "pvkit/guest.h"
#include "pvkit/platform.h"

/* The 2-level ABI's port space (as in the guest runtime). */
#define EMU_NR_PORTS (sizeof(xen_ulong_t) * sizeof(xen_ulong_t) * 64)
#define EMU_PAGE_SIZE 4096u

struct pvk_evtchn;

struct emu {
	struct pvk_platform pub;
	struct pvk_rt *rt;
	bool own_rt;
	/* Which handle owns each port: the runtime's handlers look the port
	 * up here under ev_lock, so a closing handle is never touched by a
	 * late event. */
	pthread_mutex_t ev_lock;
	struct pvk_evtchn **port_owner; /* EMU_NR_PORTS */
};

static inline struct emu *emu_of(struct pvk_platform *plat)
{
	return plat->priv;
}

extern const struct pvk_evtchn_ops emu_evtchn_ops;
extern const struct pvk_gnttab_ops emu_gnttab_ops;
extern const struct pvk_gntshr_ops emu_gntshr_ops;
extern const struct pvk_fmem_ops emu_fmem_ops;
extern const struct pvk_domctl_ops emu_domctl_ops;

#endif
