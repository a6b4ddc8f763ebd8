/*
 * hc_wire.h - the hypercall channel between a domain and pvkit-hvd.
 *
 * Every domain (a DomU kernel process, or one Dom0 process) talks to the
 * emulated hypervisor over a SOCK_SEQPACKET socket.  One datagram is one
 * hypercall: a pvk_hc_req header followed by Xen's own argument structs
 * (struct evtchn_send, struct gnttab_copy[count], ...).  Where Xen passes a
 * guest handle (an array pointer), the array follows the struct in the
 * datagram and the handle field is ignored.  The reply is a pvk_hc_rsp
 * followed by the (updated) argument structs, with file descriptors attached
 * by SCM_RIGHTS where noted.  rc is Xen's return value: >= 0 or -XEN_E*.
 */
#ifndef PVKIT_HV_HC_WIRE_H
#define PVKIT_HV_HC_WIRE_H

#include <stdint.h>
#include <xen/xen.h>

#define PVK_HC_MAX_MSG 65536u

/* ops: Xen's __HYPERVISOR_* numbers, plus pvkit's own control ops. */
#define PVK_HC_BASE 0x10000u
#define PVK_HC_hello (PVK_HC_BASE + 0)	       /* start of day */
#define PVK_HC_dom_create (PVK_HC_BASE + 1)    /* privileged */
#define PVK_HC_dom_destroy (PVK_HC_BASE + 2)   /* privileged */
#define PVK_HC_dom_pause (PVK_HC_BASE + 3)     /* privileged */
#define PVK_HC_dom_unpause (PVK_HC_BASE + 4)   /* privileged */
#define PVK_HC_dom_list (PVK_HC_BASE + 5)      /* privileged */
#define PVK_HC_foreign_map (PVK_HC_BASE + 6)   /* privileged */
#define PVK_HC_dom_resume (PVK_HC_BASE + 7)    /* privileged */
#define PVK_HC_dom_maxmem (PVK_HC_BASE + 8)    /* privileged */
#define PVK_HC_evtchn_direct (PVK_HC_BASE + 9) /* cmd PVK_DIRECT_* */
#define PVK_HC_gnt_share (PVK_HC_BASE + 10)    /* privileged */
#define PVK_HC_dom_rename (PVK_HC_BASE + 11)   /* privileged */

/* PVK_HC_dom_rename: a domain's new name (NUL-terminated, not empty, no
 * other live domain's).  -EEXIST when another domain has it. */
struct pvk_hc_dom_rename {
	uint32_t domid;
	uint32_t pad;
	char name[64];
};

/* PVK_HC_gnt_share (arg: struct pvk_hc_domid): a Dom0 process asks for a
 * granting domain's active grant table (common/gnt_active.h) so that it
 * pins and copies grants itself.  Reply: rc the caller's slot in every
 * table (1..PVK_GACT_SLOTS-1, the same for the connection's life), fds
 * [0] the domain's memory file, [1] its table's file.  -ENOSPC: no slot
 * left (copy through the hypervisor instead). */

/* Direct event delivery (the emulated platform's irqfd): an interdomain
 * port's owner may ask for its port's inbox, a SOCK_SEQPACKET socket whose
 * write end only hvd and the port's peer hold.  A peer whose send-ring
 * page shows the hint bit for its own port asks for that write end and
 * sends one byte per event straight to the receiver, which raises the
 * event itself (the pending bit in its own shared_info or event word, the
 * mask honoured).  hvd keeps the rules: it hands a write end out only to
 * the current peer of a bound port, and a receiver closing its port closes
 * the read end, so a stale sender gets EPIPE and falls back to the
 * hypercall.  The arg is a struct pvk_hc_direct. */
#define PVK_DIRECT_rx 0 /* reply fd: the read end of port's inbox */
#define PVK_DIRECT_tx 1 /* reply fd: the write end of port's peer's inbox */
struct pvk_hc_direct {
	uint32_t port;
	uint32_t pad;
};

/* req.flags */
#define PVK_HC_F_NOREPLY (1u << 0) /* fire and forget (EVTCHNOP_send) */

struct pvk_hc_req {
	uint32_t op;	/* __HYPERVISOR_* or PVK_HC_* */
	uint32_t cmd;	/* sub-operation (EVTCHNOP_*, GNTTABOP_*, ...) */
	uint32_t flags; /* PVK_HC_F_* */
	uint32_t count; /* batch count, or the vCPU id for vcpu_op */
	uint64_t seq;	/* echoed in the reply */
};

struct pvk_hc_rsp {
	int64_t rc;
	uint64_t seq;
	uint32_t nfds; /* descriptors attached */
	uint32_t pad;
};

/* The send ring: a page shared between a domain's channel and hvd through
 * which EVTCHNOP_send travels without a datagram (the hot path).  The domain
 * produces ports and rings the doorbell eventfd; hvd consumes, validating
 * every port exactly like EVTCHNOP_send and never trusting prod beyond one
 * ring's worth.  When the ring is full the domain falls back to the
 * datagram. */
#define PVK_SEND_RING_SLOTS 512u
#define PVK_DIRECT_HINT_PORTS 4096u
struct pvk_send_ring {
	uint32_t prod; /* written by the domain */
	uint32_t cons; /* written by hvd */
	uint32_t pad[2];
	uint32_t port[PVK_SEND_RING_SLOTS];
	/* written by hvd: bit p set = port p's peer has an inbox, so
	 * PVK_DIRECT_tx on p will succeed (a hint, rechecked by hvd) */
	uint64_t direct_hint[PVK_DIRECT_HINT_PORTS / 64];
};
_Static_assert(sizeof(struct pvk_send_ring) <= 4096, "send ring page");

/* PVK_HC_hello reply payload; fds: [shared page, send ring page, doorbell
 * eventfd, vcpu eventfd * nr_vcpus, guest memory (DomU only)]. */
struct pvk_hc_hello {
	uint32_t domid;
	uint32_t nr_vcpus;
	uint64_t max_pages;    /* RAM pages [0, max_pages) */
	uint64_t tot_pages;    /* populated at start */
	uint64_t special_gpfn; /* first special page (start info) */
	uint64_t mem_pages;    /* size of the guest memory file in pages */
	uint32_t max_grant_frames;
	uint32_t has_memory; /* 0 for Dom0 processes */
};

/* Special pages, at special_gpfn + index. */
#define PVK_SPECIAL_START_INFO 0
#define PVK_SPECIAL_XENSTORE 1
#define PVK_SPECIAL_CONSOLE 2
#define PVK_SPECIAL_GNTTAB 3 /* first of max_grant_frames frames */

#define PVK_NAME_MAX 64
#define PVK_CMDLINE_MAX 1024

struct pvk_hc_dom_create {
	char name[PVK_NAME_MAX];
	uint64_t max_pages;
	uint64_t tot_pages;
	uint32_t vcpus;
	uint32_t max_grant_frames;
	char cmdline[PVK_CMDLINE_MAX];
	/* OUT */
	uint32_t domid; /* reply carries one fd: the domain's channel */
	uint32_t pad;
};

struct pvk_hc_domid {
	uint32_t domid;
	uint32_t pad;
	uint64_t value; /* dom_maxmem: pages */
};

struct pvk_hc_foreign_map {
	uint32_t domid;
	uint32_t count; /* gfns follow; reply: fd of the memory file */
};

/* hvm_start_info, layout from Xen's public/arch-x86/hvm/start_info.h
 * (Debian's libxen-dev does not ship that header). */
#define PVK_HVM_START_MAGIC 0x336ec578u
struct pvk_hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
struct pvk_hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved */
	uint32_t reserved;
};
#define PVK_HVM_MEMMAP_RAM 1
#define PVK_HVM_MEMMAP_RESERVED 2

#endif
