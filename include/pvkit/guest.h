/*
 * guest.h - the guest runtime: pvkit's "kernel" for a domain.
 *
 * A process becomes a domain by opening the hypercall channel: a DomU kernel
 * through the fd it inherited at creation ($PVKIT_HV_FD), a Dom0 process by
 * connecting to the hypervisor's socket.  Start of day maps shared_info, the
 * guest's memory (DomU) and one event fd per vCPU; pvk_rt_start() then runs
 * one dispatcher thread per vCPU that delivers each event to the handler
 * bound to its port, on the vCPU the port is bound to (per-vCPU upcalls).
 *
 * Functions return 0 / -errno unless stated otherwise.  A struct pvk_rt is
 * self-contained: several may live in one process (tests hold two domains).
 */
#ifndef PVKIT_GUEST_H
#define PVKIT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_rt;

typedef void (*pvk_evtchn_handler_t)(struct pvk_rt *rt, evtchn_port_t port,
				     unsigned int vcpu, void *arg);

/* Open the channel.  path != NULL: connect to the hypervisor socket as a
 * Dom0 process; else use fd (or $PVKIT_HV_FD when fd < 0) as a DomU kernel.
 * Blocks until the domain is unpaused.  Caller owns *out. */
int pvk_rt_open(const char *path, int fd, struct pvk_rt **out);
/* Start the per-vCPU dispatcher threads. */
int pvk_rt_start(struct pvk_rt *rt);
/* Stop the threads, close everything. */
void pvk_rt_close(struct pvk_rt *rt);
/* In a child after fork(): drop the parent's descriptors without touching
 * its threads or memory. */
void pvk_rt_abandon(struct pvk_rt *rt);

domid_t pvk_rt_domid(const struct pvk_rt *rt);
unsigned int pvk_rt_nr_vcpus(const struct pvk_rt *rt);
bool pvk_rt_is_dom0(const struct pvk_rt *rt);

/* A raw hypercall: Xen's op/cmd and argument struct(s), updated in place
 * with the reply (up to len bytes).  count: batch size or vCPU id.
 * fds/nfds (may be NULL) receive attached descriptors.  Returns Xen's
 * result (>= 0) or -errno. */
long pvk_rt_hypercall(struct pvk_rt *rt, uint32_t op, uint32_t cmd,
		      uint32_t count, void *arg, size_t len, size_t out_len,
		      int *fds, unsigned int *nfds);

/* ---- event channels ---- */
int pvk_evtchn_alloc_unbound(struct pvk_rt *rt, domid_t remote,
			     evtchn_port_t *port);
int pvk_evtchn_bind_interdomain(struct pvk_rt *rt, domid_t remote,
				evtchn_port_t rport, evtchn_port_t *port);
int pvk_evtchn_bind_virq(struct pvk_rt *rt, uint32_t virq, unsigned int vcpu,
			 evtchn_port_t *port);
int pvk_evtchn_bind_ipi(struct pvk_rt *rt, unsigned int vcpu,
			evtchn_port_t *port);
int pvk_evtchn_bind_vcpu(struct pvk_rt *rt, evtchn_port_t port,
			 unsigned int vcpu);
int pvk_evtchn_close(struct pvk_rt *rt, evtchn_port_t port);
/* Notify the remote end; wait=false sends without waiting for the
 * hypervisor's answer (Linux's notify_remote_via_evtchn ignores it too). */
int pvk_evtchn_send(struct pvk_rt *rt, evtchn_port_t port, bool wait);
int pvk_evtchn_status(struct pvk_rt *rt, struct evtchn_status *st);
/* Set the handler run (on the port's vCPU) when port fires. */
int pvk_evtchn_set_handler(struct pvk_rt *rt, evtchn_port_t port,
			   pvk_evtchn_handler_t fn, void *arg);
void pvk_evtchn_mask(struct pvk_rt *rt, evtchn_port_t port);
/* Clear the mask; an event that arrived while masked is delivered now. */
void pvk_evtchn_unmask(struct pvk_rt *rt, evtchn_port_t port);

/* Direct delivery (the emulated platform's irqfd, see src/hv/hc_wire.h):
 * interdomain ports get an inbox that peers send to without passing
 * through the hypervisor daemon; a vCPU polls it and raises the event.
 * claim takes port's inbox away from the vCPUs and returns its fd (still
 * the runtime's: it closes with the port) for the caller to poll; drain
 * then empties it: the events that came (0: none; -EPIPE: hvd is gone).
 * -ENOENT: the port has no inbox (events come as upcalls, as ever). */
int pvk_evtchn_direct_claim(struct pvk_rt *rt, evtchn_port_t port);
int pvk_evtchn_direct_drain(struct pvk_rt *rt, evtchn_port_t port);

/* The EVTCHNOP_send fast path (struct pvk_send_ring, src/hv/hc_wire.h) and
 * its doorbell fd, for tests that play a misbehaving guest. */
struct pvk_send_ring;
void pvk_rt_send_ring(struct pvk_rt *rt, struct pvk_send_ring **ring,
		      int *doorbell);

/* ---- PV timers: VCPUOP_set/stop_singleshot_timer (DomU) ---- */
uint64_t pvk_rt_system_time(void); /* ns, the hypervisor's clock */
int pvk_timer_set(struct pvk_rt *rt, unsigned int vcpu, uint64_t abs_ns);
int pvk_timer_stop(struct pvk_rt *rt, unsigned int vcpu);

/* ---- scheduling ---- */
int pvk_sched_yield(struct pvk_rt *rt);
/* Shut this domain down; returns only for SHUTDOWN_suspend (1: resumed in
 * place, "cancelled") or on error. */
int pvk_sched_shutdown(struct pvk_rt *rt, unsigned int reason);

/* ---- guest memory (DomU) ---- */
void *pvk_rt_gpfn_to_ptr(struct pvk_rt *rt, xen_pfn_t gpfn);
uint64_t pvk_rt_tot_pages(const struct pvk_rt *rt);
/* Allocate / free one page of the guest's own RAM. */
int pvk_page_alloc(struct pvk_rt *rt, xen_pfn_t *gpfn);
void pvk_page_free(struct pvk_rt *rt, xen_pfn_t gpfn);
/* Give pages back to the hypervisor / take them again (the balloon). */
long pvk_mem_decrease(struct pvk_rt *rt, const xen_pfn_t *gpfns, uint64_t n);
long pvk_mem_populate(struct pvk_rt *rt, const xen_pfn_t *gpfns, uint64_t n);
/* The start info page (PVH start of day). */
const char *pvk_rt_cmdline(struct pvk_rt *rt);
int pvk_rt_hvm_param(struct pvk_rt *rt, uint32_t index, uint64_t *value);

/* ---- grant table client (the granting side) ---- */
/* Grant dom access to one of our frames; *ref receives the reference. */
int pvk_gnt_grant(struct pvk_rt *rt, domid_t dom, xen_pfn_t gpfn,
		  bool readonly, grant_ref_t *ref);
/* End access.  -EBUSY while the peer still has it mapped or is copying
 * (GTF_reading/GTF_writing set): the ref stays valid, retry later. */
int pvk_gnt_end(struct pvk_rt *rt, grant_ref_t ref);
/* The raw entry, for tests and the control paths. */
grant_entry_v1_t *pvk_gnt_entry(struct pvk_rt *rt, grant_ref_t ref);

/* ---- Dom0: toolstack operations (privileged) ---- */
struct pvk_dominfo;
int pvk_dom_create(struct pvk_rt *rt, const char *name, uint64_t max_kib,
		   uint64_t mem_kib, unsigned int vcpus, const char *cmdline,
		   domid_t *domid, int *chan_fd);
int pvk_dom_simple(struct pvk_rt *rt, uint32_t op, domid_t domid);
int pvk_dom_list(struct pvk_rt *rt, domid_t first, struct pvk_dominfo *out,
		 unsigned int max);
int pvk_dom_set_param(struct pvk_rt *rt, domid_t domid, uint32_t index,
		      uint64_t value);
int pvk_dom_get_param(struct pvk_rt *rt, domid_t domid, uint32_t index,
		      uint64_t *value);
/* Map count frames of dom (privcmd-style); munmap() to release. */
int pvk_foreign_map(struct pvk_rt *rt, domid_t dom, const xen_pfn_t *gfns,
		    uint32_t count, bool writable, void **addr);

#ifdef __cplusplus
}
#endif

#endif
