/*
 * emulated.c - the emulated platform: opening it over a guest runtime
 * (pvkit-hvd's hypercall channel) and foreign memory.  Event channels,
 * grant mapping, grant sharing and domain control live beside it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "platform/emulated/emu.h"
#include "platform/platform_impl.h"

static int emu_new(struct pvk_rt *rt, bool own_rt, struct pvk_platform **out)
{
	struct emu *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->port_owner = calloc(EMU_NR_PORTS, sizeof(*e->port_owner));
	if (!e->port_owner) {
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_init(&e->ev_lock, NULL);
	e->rt = rt;
	e->own_rt = own_rt;
	e->pub.name = "emulated";
	e->pub.self = pvk_rt_domid(rt);
	e->pub.evtchn = &emu_evtchn_ops;
	e->pub.gnttab = &emu_gnttab_ops;
	e->pub.gntshr = &emu_gntshr_ops;
	e->pub.fmem = &emu_fmem_ops;
	e->pub.domctl = &emu_domctl_ops;
	/* Dom0 processes reach xenstored by its socket, DomUs by the ring. */
	e->pub.xs_path = pvk_rt_is_dom0(rt) ? getenv("XENSTORED_PATH") : NULL;
	e->pub.priv = e;
	*out = &e->pub;
	return 0;
}

int pvk_platform_emulated_from_rt(struct pvk_rt *rt,
				  struct pvk_platform **out)
{
	if (!rt || !out)
		return -EINVAL;
	return emu_new(rt, false, out);
}

int pvk_platform_emulated_open(struct pvk_platform **out)
{
	const char *fd_env = getenv("PVKIT_HV_FD");
	const char *sock = getenv("PVKIT_HV_SOCK");
	struct pvk_rt *rt = NULL;
	int rc;

	if (fd_env && *fd_env) {
		rc = pvk_rt_open(NULL, -1, &rt);
		if (rc) {
			pvk_err("emulated platform: hypercall channel fd "
				"$PVKIT_HV_FD=%s: %s", fd_env, strerror(-rc));
			return rc;
		}
	} else {
		if (!sock || !*sock) {
			pvk_err("emulated platform: neither $PVKIT_HV_FD nor "
				"$PVKIT_HV_SOCK is set");
			return -ENOENT;
		}
		rc = pvk_rt_open(sock, -1, &rt);
		if (rc) {
			pvk_err("emulated platform: cannot connect to %s: %s",
				sock, strerror(-rc));
			return rc;
		}
	}
	rc = pvk_rt_start(rt);
	if (rc)
		goto fail;
	rc = emu_new(rt, true, out);
	if (rc)
		goto fail;
	return 0;
fail:
	pvk_rt_close(rt);
	return rc;
}

void pvk_platform_emulated_free(struct pvk_platform *plat)
{
	struct emu *e = emu_of(plat);

	if (e->own_rt)
		pvk_rt_close(e->rt);
	pthread_mutex_destroy(&e->ev_lock);
	free(e->port_owner);
	free(e);
}

/* ---- foreign memory ---- */

struct pvk_fmem {
	struct emu *e;
};

static int fmem_open(struct pvk_platform *plat, struct pvk_fmem **out)
{
	struct pvk_fmem *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->e = emu_of(plat);
	*out = h;
	return 0;
}

static void fmem_close(struct pvk_fmem *h)
{
	free(h);
}

static int fmem_map(struct pvk_fmem *h, domid_t dom, const xen_pfn_t *gfns,
		    uint32_t count, int writable, void **addr)
{
	if (!count || !gfns || !addr)
		return -EINVAL;
	return pvk_foreign_map(h->e->rt, dom, gfns, count, writable != 0,
			       addr);
}

static int fmem_unmap(struct pvk_fmem *h, void *addr, uint32_t count)
{
	(void)h;
	if (!addr || !count)
		return -EINVAL;
	if (munmap(addr, (size_t)count * EMU_PAGE_SIZE) < 0)
		return -errno;
	return 0;
}

const struct pvk_fmem_ops emu_fmem_ops = {
	.open = fmem_open,
	.close = fmem_close,
	.map = fmem_map,
	.unmap = fmem_unmap,
};
