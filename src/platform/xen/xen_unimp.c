/* xen_unimp.c - the real-Xen platform when pvkit is built without libxen*:
 * opening it fails, so none of its ops tables (domctl included) exist. */
#include <errno.h>

#include "common/log.h"
#include "platform/platform_impl.h"

int pvk_platform_xen_open(struct pvk_platform **out)
{
	(void)out;
	pvk_err("platform xen: pvkit was built without libxen "
		"(meson -Dxen=enabled needs libxen-dev)");
	return -ENOSYS;
}

void pvk_platform_xen_free(struct pvk_platform *plat)
{
	(void)plat;
}
