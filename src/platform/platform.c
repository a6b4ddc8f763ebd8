/*
 * platform.c - choose and open a platform (emulated or real Xen) by name or
 * from the environment, and close it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "platform/platform_impl.h"

#define XEN_PRIVCMD "/dev/xen/privcmd"

int pvk_platform_open(const char *which, struct pvk_platform **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!which || !*which)
		which = getenv("PVKIT_PLATFORM");
	if (!which || !*which)
		which = access(XEN_PRIVCMD, F_OK) == 0 ? "xen" : "emulated";
	if (strcmp(which, "emulated") == 0)
		return pvk_platform_emulated_open(out);
	if (strcmp(which, "xen") == 0)
		return pvk_platform_xen_open(out);
	pvk_err("unknown platform '%s' (want 'emulated' or 'xen')", which);
	return -EINVAL;
}

void pvk_platform_close(struct pvk_platform *plat)
{
	if (!plat)
		return;
	if (strcmp(plat->name, "xen") == 0)
		pvk_platform_xen_free(plat);
	else
		pvk_platform_emulated_free(plat);
}
