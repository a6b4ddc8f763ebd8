/* platform_impl.h - what pvk_platform_open() needs from each platform. */
#ifndef PVKIT_PLATFORM_IMPL_H
#define PVKIT_PLATFORM_IMPL_H

#include "pvkit/platform.h"

/* Open the emulated platform from the environment ($PVKIT_HV_FD or
 * $PVKIT_HV_SOCK); the platform owns the runtime it opens. */
int pvk_platform_emulated_open(struct pvk_platform **out);
void pvk_platform_emulated_free(struct pvk_platform *plat);

/* The real-Xen platform; -ENODEV without /dev/xen, -ENOSYS when pvkit was
 * built without libxen*. */
int pvk_platform_xen_open(struct pvk_platform **out);
void pvk_platform_xen_free(struct pvk_platform *plat);

#endif
