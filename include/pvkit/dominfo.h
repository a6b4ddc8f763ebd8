/*
 * dominfo.h - what the hypervisor says about a domain (domctl
 * getdomaininfo's subset): the record the emulated hypervisor, the guest
 * runtime and the platform's domctl ops share.  It sits below all three,
 * so the runtime and the hypervisor core need not include the platform.
 */
#ifndef PVKIT_DOMINFO_H
#define PVKIT_DOMINFO_H

#include <stdint.h>
#include <xen/xen.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the emulated hypervisor builds at most: the toolstack checks a
 * configuration against the same figures before it asks. */
#define PVK_EMU_MAX_VCPUS XEN_LEGACY_MAX_VCPUS
#define PVK_EMU_MAX_MEM_MIB (64ull << 10) /* 64 GiB */

#define PVK_DOMINFO_DYING (1u << 0)    /* being destroyed / reclaimed */
#define PVK_DOMINFO_SHUTDOWN (1u << 1) /* shut down; see shutdown_reason */
#define PVK_DOMINFO_PAUSED (1u << 2)
#define PVK_DOMINFO_BLOCKED (1u << 3) /* every vCPU blocked */
#define PVK_DOMINFO_RUNNING (1u << 4)
#define PVK_DOMINFO_PRIVILEGED (1u << 5)
struct pvk_dominfo {
	domid_t domid;
	uint32_t flags;		  /* PVK_DOMINFO_* */
	uint32_t shutdown_reason; /* SHUTDOWN_* when PVK_DOMINFO_SHUTDOWN */
	uint32_t vcpus;
	uint64_t tot_pages, max_pages;
	uint64_t cpu_time_ns;
	char name[64];
};

#ifdef __cplusplus
}
#endif

#endif
