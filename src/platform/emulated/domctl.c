/*
 * domctl.c - the emulated platform's domain control: pvkit-hvd's privileged
 * operations (PVK_HC_dom_*, src/hv/hc_wire.h) and the Xen hypercalls a
 * toolstack makes for another domain (remote shutdown, HVM params, an
 * unbound port in the new domain, the version).  Only here does anything
 * above the runtime speak hvd's own control ops.
 */
#include <errno.h>
#include <string.h>

#include "hv/hc_wire.h"
#include "platform/emulated/emu.h"

#include <xen/sched.h>
#include <xen/version.h>

/* One hypercall carries at most this many entries. */
#define DOMLIST_BATCH 256u

static struct pvk_rt *rt_of(struct pvk_platform *plat)
{
	return emu_of(plat)->rt;
}

static int domctl_list(struct pvk_platform *plat, domid_t first,
		       struct pvk_dominfo *out, unsigned int max)
{
	if (!out && max)
		return -EINVAL;
	if (!max)
		return 0;
	return pvk_dom_list(rt_of(plat), first, out,
			    max < DOMLIST_BATCH ? max : DOMLIST_BATCH);
}

static int domctl_info(struct pvk_platform *plat, domid_t dom,
		       struct pvk_dominfo *out)
{
	int n = pvk_dom_list(rt_of(plat), dom, out, 1);

	if (n < 0)
		return n;
	return n == 1 && out->domid == dom ? 0 : -ESRCH;
}

static int domctl_create(struct pvk_platform *plat,
			 const struct pvk_domain_config *cfg, domid_t *dom,
			 int *kernel_fd)
{
	if (!cfg || !cfg->name || !dom || !kernel_fd)
		return -EINVAL;
	return pvk_dom_create(rt_of(plat), cfg->name, cfg->max_kib,
			      cfg->mem_kib, cfg->vcpus,
			      cfg->cmdline ? cfg->cmdline : "", dom, kernel_fd);
}

static int domctl_destroy(struct pvk_platform *plat, domid_t dom)
{
	return pvk_dom_simple(rt_of(plat), PVK_HC_dom_destroy, dom);
}

static int domctl_pause(struct pvk_platform *plat, domid_t dom)
{
	return pvk_dom_simple(rt_of(plat), PVK_HC_dom_pause, dom);
}

static int domctl_unpause(struct pvk_platform *plat, domid_t dom)
{
	return pvk_dom_simple(rt_of(plat), PVK_HC_dom_unpause, dom);
}

static int domctl_shutdown(struct pvk_platform *plat, domid_t dom,
			   unsigned int reason)
{
	struct sched_remote_shutdown a = {.domain_id = dom, .reason = reason};

	return (int)pvk_rt_hypercall(rt_of(plat), __HYPERVISOR_sched_op,
				     SCHEDOP_remote_shutdown, 0, &a, sizeof(a),
				     0, NULL, NULL);
}

static int domctl_set_param(struct pvk_platform *plat, domid_t dom,
			    uint32_t index, uint64_t value)
{
	return pvk_dom_set_param(rt_of(plat), dom, index, value);
}

static int domctl_get_param(struct pvk_platform *plat, domid_t dom,
			    uint32_t index, uint64_t *value)
{
	return pvk_dom_get_param(rt_of(plat), dom, index, value);
}

static int domctl_alloc_unbound(struct pvk_platform *plat, domid_t dom,
				domid_t remote, evtchn_port_t *port)
{
	struct evtchn_alloc_unbound a = {.dom = dom, .remote_dom = remote};
	long rc = pvk_rt_hypercall(rt_of(plat), __HYPERVISOR_event_channel_op,
				   EVTCHNOP_alloc_unbound, 0, &a, sizeof(a),
				   sizeof(a), NULL, NULL);

	if (rc < 0)
		return (int)rc;
	*port = a.port;
	return 0;
}

static int domctl_version(struct pvk_platform *plat, unsigned int *major,
			  unsigned int *minor)
{
	long v = pvk_rt_hypercall(rt_of(plat), __HYPERVISOR_xen_version,
				  XENVER_version, 0, NULL, 0, 0, NULL, NULL);

	if (v < 0)
		return (int)v;
	*major = (unsigned int)(v >> 16);
	*minor = (unsigned int)(v & 0xffff);
	return 0;
}

static int domctl_rename(struct pvk_platform *plat, domid_t dom,
			 const char *name)
{
	struct pvk_hc_dom_rename a = {.domid = dom};

	if (!*name || strlen(name) >= sizeof(a.name))
		return -EINVAL;
	memcpy(a.name, name, strlen(name) + 1);
	return (int)pvk_rt_hypercall(rt_of(plat), PVK_HC_dom_rename, 0, 0, &a,
				     sizeof(a), 0, NULL, NULL);
}

/* No save/restore yet: hvd has no image format (docs/architecture.md). */
const struct pvk_domctl_ops emu_domctl_ops = {
	.list = domctl_list,
	.info = domctl_info,
	.create = domctl_create,
	.destroy = domctl_destroy,
	.pause = domctl_pause,
	.unpause = domctl_unpause,
	.shutdown = domctl_shutdown,
	.set_param = domctl_set_param,
	.get_param = domctl_get_param,
	.alloc_unbound = domctl_alloc_unbound,
	.version = domctl_version,
	.rename = domctl_rename,
};
