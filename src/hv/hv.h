/*
 * hv.h - the emulated hypervisor's pure core.
 *
 * Domains, event channels (2-level ABI), grant tables v1, memory
 * reservations, HVM params and timers as plain data and functions.  The core
 * does no I/O: waking a vCPU, arming a timer and returning a page to the
 * host go through struct hv_env_ops, implemented by the daemon (hvd.c) and
 * by fakes in the unit tests.  Guest memory and shared pages are ordinary
 * memory here; in the daemon they are memfd mappings shared with the guest.
 *
 * Everything a guest can reach is validated: functions return 0 / -errno
 * (Xen's errno values), grant ops report GNTST_* per entry.
 */
#ifndef PVKIT_HV_HV_H
#define PVKIT_HV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "common/gnt_active.h"
#include "pvkit/dominfo.h"

#define HV_MAX_VCPUS PVK_EMU_MAX_VCPUS
#define HV_NR_VIRQS 24
/* 2-level ABI: one bit per port in shared_info's pending/mask arrays. */
#define HV_2L_NR_PORTS (sizeof(xen_ulong_t) * sizeof(xen_ulong_t) * 64)
#define HV_GNT_PER_FRAME (4096 / sizeof(grant_entry_v1_t))
#define HV_MAX_GNT_FRAMES 64
#define HV_MAX_MAPTRACK 65536
#define HV_NR_HVM_PARAMS 64

struct hv;
struct hv_domain;

/* An event sink: where a domain's events are delivered.  A DomU has one
 * (its kernel, with nr_vcpus vCPUs); each Dom0 process is its own sink with
 * one vCPU, like a private /dev/xen/evtchn.  Owned by the daemon's
 * connection (priv); the core holds pointers while ports refer to it. */
struct hv_sink {
	struct hv_domain *dom;
	struct shared_info *si; /* the sink's shared_info page */
	unsigned int nr_vcpus;
	evtchn_port_t virq_port[HV_MAX_VCPUS][HV_NR_VIRQS];
	struct hv_maptrack *maptrack; /* grant mappings held by this sink */
	uint32_t maptrack_len, maptrack_used, maptrack_free;
	void *priv;
};

struct hv_port {
	uint8_t state; /* EVTCHNSTAT_* */
	uint16_t vcpu; /* notify vCPU */
	struct hv_sink *sink;
	domid_t rdom;	     /* unbound: allowed remote; interdomain: peer */
	evtchn_port_t rport; /* interdomain: peer port */
	uint32_t virq;	     /* virq number */
	uint8_t priority;    /* FIFO ABI queue (0 highest .. 15) */
	bool fifo_lost;	     /* FIFO: raised before its event word existed */
	bool has_inbox;	     /* direct delivery: inbox_w is open */
	int inbox_w;	     /* write end of the port's inbox (shell's fd) */
};

#define HV_FIFO_MAX_PAGES 8 /* 8192 ports */
struct hv_fifo_vcpu {
	bool registered;
	xen_pfn_t gfn;
	uint32_t offset;
	evtchn_port_t tail[EVTCHN_FIFO_MAX_QUEUES];
};
/* FIFO ABI state of a DomU (NULL: 2-level ABI). */
struct hv_fifo {
	xen_pfn_t array[HV_FIFO_MAX_PAGES];
	uint32_t nr_pages;
	struct hv_fifo_vcpu vcpu[HV_MAX_VCPUS];
};

struct hv_maptrack {
	bool in_use;
	bool writable;
	domid_t dom;
	uint64_t gen; /* granter's incarnation */
	grant_ref_t ref;
	uint32_t next_free;
};

enum hv_dom_state {
	HV_DOM_RUNNING,
	HV_DOM_SHUTDOWN, /* shut down, with shutdown_reason */
	HV_DOM_DYING,	 /* destroyed, waiting for foreign pins to drop */
};

struct hv_domain {
	struct hv *hv;
	domid_t domid;
	uint64_t gen; /* unique across the daemon's life */
	char name[64];
	bool privileged;
	bool paused;		   /* pause_count > 0 */
	unsigned int pause_count; /* the toolstack's pauses, as Xen counts */
	enum hv_dom_state state;
	uint32_t shutdown_reason;
	unsigned int nr_vcpus;

	struct hv_port *ports;
	uint32_t nr_ports; /* allocated entries */
	uint32_t max_ports;
	struct hv_sink *kernel; /* DomU: its single sink */

	/* Guest memory: mem_pages pages; RAM [0, max_pages), then special
	 * pages and grant frames from special_gpfn. */
	uint8_t *mem;
	uint64_t mem_pages, max_pages, tot_pages;
	uint64_t *populated; /* bitmap over [0, max_pages): in gact's file */
	uint64_t special_gpfn;
	uint32_t gnt_frames, max_gnt_frames;
	/* The active grant table (common/gnt_active.h): pvkit-hvd pins as
	 * slot PVK_GACT_HVD; privileged copiers share the file. */
	struct pvk_gact gact;
	void *gact_base;
	size_t gact_size;
	uint64_t foreign_pins; /* pvkit-hvd's active pins by other domains */

	struct hv_fifo *fifo;

	uint64_t timer_deadline[HV_MAX_VCPUS];
	uint64_t hvm_param[HV_NR_HVM_PARAMS];
	uint64_t cpu_time_ns;
	void *priv;
};

struct hv_env_ops {
	/* The vCPU's upcall became pending: wake it. */
	void (*kick)(struct hv_sink *s, unsigned int vcpu);
	/* Arm (deadline_ns != 0) or disarm the vCPU's single-shot timer. */
	void (*timer_set)(struct hv_domain *d, unsigned int vcpu,
			  uint64_t deadline_ns);
	/* Return a page of d's memory to the host (punch a hole). */
	void (*page_release)(struct hv_domain *d, uint64_t gpfn);
	/* d shut down or is being destroyed (VIRQ_DOM_EXC already raised). */
	void (*dom_changed)(struct hv_domain *d);
	/* d's last reference went: free shell resources (priv). */
	void (*dom_free)(struct hv_domain *d);
	/* Direct delivery: whether port of sink s may fetch its peer's inbox
	 * (PVK_DIRECT_tx) changed.  Optional. */
	void (*direct_hint)(struct hv_sink *s, evtchn_port_t port, bool on);
	/* The active grant table's file of a new domain: size bytes, zeroed
	 * (NULL: calloc'ed, private).  Optional; gact_free undoes it. */
	void *(*gact_alloc)(struct hv_domain *d, size_t size);
	void (*gact_free)(struct hv_domain *d, void *base, size_t size);
	/* Whether the process holding copier slot `slot` is gone (its lock
	 * may be broken).  Optional. */
	bool (*gact_holder_dead)(struct hv *hv, unsigned int slot);
};

struct hv {
	struct hv_domain **doms; /* indexed by domid, DOMID_FIRST_RESERVED */
	const struct hv_env_ops *env;
	domid_t next_domid;
	uint64_t next_gen;
	uint32_t default_max_ports;
	struct hv_sink **dom0_sinks; /* for global VIRQs */
	unsigned int nr_dom0_sinks, cap_dom0_sinks;
};

/* ---- hv.c: domains ---- */
int hv_init(struct hv *hv, const struct hv_env_ops *env);
void hv_fini(struct hv *hv);
struct hv_domain *hv_domain_get(struct hv *hv, domid_t domid);
/* Create a domain.  mem (mem_pages pages, zeroed) is owned by the caller
 * (the shell) and must outlive the domain.  privileged: Dom0. */
int hv_domain_create(struct hv *hv, domid_t want, const char *name,
		     bool privileged, unsigned int nr_vcpus, uint64_t max_pages,
		     uint64_t tot_pages, uint32_t max_gnt_frames, uint8_t *mem,
		     uint64_t mem_pages, struct hv_domain **out);
/* Size of the memory file for a domain of this shape, in pages. */
uint64_t hv_domain_mem_pages(uint64_t max_pages, uint32_t max_gnt_frames);
/* Destroy: close every port, drop every mapping it holds, mark dying; the
 * struct is freed (env->dom_free) once no other domain pins its grants. */
void hv_domain_destroy(struct hv_domain *d);
int hv_domain_shutdown(struct hv_domain *d, uint32_t reason);
/* Fill a pvk_dominfo. */
void hv_domain_info(const struct hv_domain *d, struct pvk_dominfo *out);
/* Write the PVH start info page (start info, cmdline, memmap). */
int hv_domain_write_start_info(struct hv_domain *d, const char *cmdline);

/* ---- sinks ---- */
int hv_sink_init(struct hv_sink *s, struct hv_domain *d, struct shared_info *si,
		 unsigned int nr_vcpus, void *priv);
/* Detach a sink: close its ports (Dom0) and release its grant mappings. */
void hv_sink_fini(struct hv_sink *s);

/* ---- evtchn.c: event channels, 2-level ABI ---- */
int hv_evtchn_alloc_unbound(struct hv_sink *caller,
			    struct evtchn_alloc_unbound *a);
int hv_evtchn_bind_interdomain(struct hv_sink *caller,
			       struct evtchn_bind_interdomain *a);
int hv_evtchn_bind_virq(struct hv_sink *caller, struct evtchn_bind_virq *a);
int hv_evtchn_bind_ipi(struct hv_sink *caller, struct evtchn_bind_ipi *a);
int hv_evtchn_bind_vcpu(struct hv_sink *caller, struct evtchn_bind_vcpu *a);
int hv_evtchn_close(struct hv_sink *caller, evtchn_port_t port);
int hv_evtchn_send(struct hv_sink *caller, evtchn_port_t port);
int hv_evtchn_status(struct hv_sink *caller, struct evtchn_status *a);
int hv_evtchn_unmask(struct hv_sink *caller, evtchn_port_t port);
int hv_evtchn_reset(struct hv_sink *caller, domid_t dom);
/* Direct delivery: give the caller's unbound or interdomain port an inbox
 * whose write end w the core now owns (closed with the port), and hint the
 * peer.  -EEXIST if it has one. */
int hv_evtchn_set_inbox(struct hv_sink *caller, evtchn_port_t port, int w);
/* The write end of the inbox of the caller's port's current peer (the
 * core keeps it: the shell passes a copy), or -ENOTCONN / -ENOENT. */
int hv_evtchn_peer_inbox(struct hv_sink *caller, evtchn_port_t port, int *w);
/* Raise a VIRQ on a vCPU of sink s (no-op if unbound). */
void hv_evtchn_raise_virq(struct hv_sink *s, unsigned int vcpu, uint32_t virq);
/* Raise a global VIRQ (VIRQ_DOM_EXC) on every Dom0 sink that bound it. */
void hv_evtchn_raise_global_virq(struct hv *hv, uint32_t virq);
/* Close every port of d (destroy). */
void hv_evtchn_close_all(struct hv_domain *d);
/* Close ports delivered to sink s. */
void hv_evtchn_close_sink(struct hv_sink *s);
/* Register a Dom0 sink for global VIRQ delivery. */
void hv_register_dom0_sink(struct hv *hv, struct hv_sink *s);
void hv_unregister_dom0_sink(struct hv *hv, struct hv_sink *s);

/* Mark vCPU v of s as having an event pending and wake it. */
void hv_evtchn_kick(struct hv_sink *s, unsigned int vcpu);

/* ---- evtchn_fifo.c: the FIFO ABI (DomUs) ---- */
int hv_fifo_init_control(struct hv_sink *caller, struct evtchn_init_control *a);
int hv_fifo_expand_array(struct hv_sink *caller, struct evtchn_expand_array *a);
int hv_fifo_set_priority(struct hv_port *p, uint32_t priority);
void hv_fifo_set_pending(struct hv_domain *d, struct hv_port *p,
			 evtchn_port_t port);
int hv_fifo_unmask(struct hv_domain *d, struct hv_port *p, evtchn_port_t port);
void hv_fifo_clear(struct hv_domain *d, evtchn_port_t port);
bool hv_fifo_frame_in_use(const struct hv_domain *d, xen_pfn_t gfn);
void hv_fifo_free(struct hv_domain *d);
int hv_evtchn_set_priority(struct hv_sink *caller,
			   struct evtchn_set_priority *a);

/* ---- gnttab.c: grant tables v1 ---- */
int hv_gnttab_setup_table(struct hv_domain *d, uint32_t nr_frames,
			  xen_pfn_t *frames);
int hv_gnttab_query_size(struct hv_domain *d, struct gnttab_query_size *q);
/* Map: fills status, handle, dev_bus_addr (byte offset of the frame in the
 * granter's memory file). */
void hv_gnttab_map(struct hv_sink *mapper, struct gnttab_map_grant_ref *op);
void hv_gnttab_unmap(struct hv_sink *mapper, struct gnttab_unmap_grant_ref *op);
void hv_gnttab_copy(struct hv_sink *caller, struct gnttab_copy *op);
/* Drop every mapping held by sink s. */
void hv_gnttab_release_sink(struct hv_sink *s);
/* pvkit-hvd's side of the active table's lock (gnt_active.h): waits for a
 * copier, breaking the lock of one that died. */
void hv_gact_lock(struct hv_domain *d);
void hv_gact_unlock(struct hv_domain *d);
/* A copier's process is gone: forget its pins in every domain's table.
 * Returns the pins dropped. */
uint64_t hv_gact_drop_slot(struct hv *hv, unsigned int slot);

/* ---- memory.c: reservations ---- */
/* Returns the number of extents done (>= 0) or -errno. */
long hv_mem_populate(struct hv_domain *d, const xen_pfn_t *gpfns, uint64_t n);
long hv_mem_decrease(struct hv_domain *d, const xen_pfn_t *gpfns, uint64_t n);
bool hv_mem_is_populated(const struct hv_domain *d, xen_pfn_t gpfn);
/* A frame another domain may access: populated RAM or a special page. */
bool hv_mem_frame_valid(const struct hv_domain *d, xen_pfn_t gpfn);

/* ---- timers ---- */
int hv_timer_set(struct hv_domain *d, unsigned int vcpu, uint64_t deadline);
void hv_timer_fire(struct hv_domain *d, unsigned int vcpu);

#endif
