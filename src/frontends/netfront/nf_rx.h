/*
 * nf_rx.h - netfront's pure receive-side parsing: one packet's chain of
 * rx responses (data slots, extra-info slots) taken apart and checked, no
 * I/O (unit-tested in tests/net/test_nf_rx.c).
 *
 * The responses are copies, made once from the shared ring (no double
 * fetch).  A packet is: a data slot, its extra-info slots when the first
 * says NETRXF_extra_info (chained by XEN_NETIF_EXTRA_FLAG_MORE), then more
 * data slots while a data slot says NETRXF_more_data.  Every slot is
 * answered in its request's ring slot (netif.h), so a data slot's id must
 * name that slot.
 */
#ifndef PVKIT_NF_RX_H
#define PVKIT_NF_RX_H

#include <stdbool.h>
#include <stdint.h>

/* The ring and netif ABI, with the barriers ring.h wants, as the netif
 * core includes them. */
#include "netif/netif.h"
#include "pvkit/netfront.h"

#define NF_PAGE_SIZE NETIF_PAGE_SIZE
/* Slots (data and extra info) one packet may take: more is a backend that
 * never ends its chain (Linux sends at most 18 data slots and 2 extras). */
#define NF_RX_MAX_SLOTS 64u
_Static_assert(NF_RX_MAX_SLOTS == NETFRONT_MAX_IOV, "a frame's fragments");

/* One rx ring slot's response, either form (8 bytes each). */
union nf_rx_slot {
	struct netif_rx_response r;
	struct netif_extra_info e;
};

struct nf_rx_frag {
	uint16_t slot; /* ring slot (= the page posted there) */
	uint16_t offset, size;
};

struct nf_rx_pkt {
	unsigned int nslots; /* ring slots the packet takes */
	unsigned int nfrags;
	bool has_hash;		/* a HASH extra (Toeplitz) */
	unsigned int hash_type; /* _XEN_NETIF_CTRL_HASH_TYPE_* */
	uint32_t hash;
	struct nf_rx_frag frag[NF_RX_MAX_SLOTS];
	size_t len;	    /* sum of the fragments */
	unsigned int flags; /* NETRXF_* of the first slot */
	unsigned int gso_type, gso_size;
	/* Not 0: the packet is to be dropped (why: -EIO an error status,
	 * -EINVAL a bad offset/size, extra info or an empty packet). */
	int err;
};

/* Parse the packet starting at rsp[0], the response in ring index first,
 * with n responses available in order (ring_size a power of two).
 * Returns 1 (pkt filled: a complete packet, maybe to drop), 0 (the chain
 * goes on past what is available: wait for more) or -EPROTO (a protocol
 * violation: a data slot answered out of its slot, or a chain longer than
 * NF_RX_MAX_SLOTS). */
int nf_rx_parse(const union nf_rx_slot *rsp, unsigned int n, uint32_t first,
		unsigned int ring_size, struct nf_rx_pkt *pkt);

#endif
