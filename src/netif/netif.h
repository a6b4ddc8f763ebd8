/*
 * netif.h - the netif protocol core of pvkit-netback (<xen/io/netif.h> is
 * the spec): the backend ends of the TX and RX rings, taking a guest's
 * transmitted packet out of the TX ring exactly once (XSA-155) with
 * Linux netback's slot rules, and answering RX requests in their own ring
 * slots.
 *
 * Pure: no I/O, no allocation; every function works on caller memory, so
 * a test can put a frontend and a backend on one page in one process.
 *
 * The TX rules (Linux's xenvif_tx_build_gops, xenvif_count_requests and
 * xenvif_get_extras, which every Linux and FreeBSD netfront is written
 * against):
 *   - a producer index more than a ring ahead of what we answered is fatal
 *     (XSA-39: it would make us loop over garbage);
 *   - a packet is a first request (its size: the whole packet), its extra
 *     info slots (NETTXF_extra_info; each XEN_NETIF_EXTRA_FLAG_MORE chains
 *     one more), then follow-on requests while NETTXF_more_data is set; a
 *     packet that runs past the producer index is fatal (the frontend
 *     publishes whole packets);
 *   - up to NETIF_TX_MAX_FOLLOW follow-ons are a packet; up to
 *     NETIF_TX_FATAL_FOLLOW it is dropped (every slot answered ERROR);
 *     more is fatal;
 *   - a slot crossing its page (offset + size > 4096) is fatal; a
 *     follow-on larger than what is left of the packet, or a first slot
 *     shorter than an Ethernet header, is dropped;
 *   - an extra info of type NONE or >= XEN_NETIF_EXTRA_TYPE_MAX, one given
 *     twice, a GSO one with size 0 or an unknown GSO type is fatal;
 *   - a request with an MCAST_ADD or MCAST_DEL extra is a multicast
 *     control message, taken alone (p->mcast).
 * "Fatal" means the frontend broke the protocol: the caller disables the
 * vif with the reason (Linux's fatal_tx_err), never the process.
 *
 * Functions return 0 or a negative errno unless stated otherwise.
 */
#ifndef PVKIT_NETIF_H
#define PVKIT_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xen/grant_table.h>
#include <xen/xen.h>

#include "common/xen_ring.h"
#include <xen/io/netif.h>

#define NETIF_PAGE_SIZE 4096u
#define NETIF_TX_RING_SIZE __CONST_RING_SIZE(netif_tx, NETIF_PAGE_SIZE)
#define NETIF_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, NETIF_PAGE_SIZE)
#define NETIF_ETH_HLEN 14u
/* Follow-on requests after the first: a packet, dropped, fatal beyond. */
#define NETIF_TX_MAX_FOLLOW XEN_NETIF_NR_SLOTS_MIN
#define NETIF_TX_FATAL_FOLLOW 20u
#define NETIF_TX_MAX_SLOTS (1u + NETIF_TX_FATAL_FOLLOW)
/* Extra info slots a packet may carry: one of each type. */
#define NETIF_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)

/* ---- TX: what the guest sends ----------------------------------------- */

/* Why a packet was dropped or the vif must be disabled. */
enum netif_tx_error {
	NETIF_TX_OK = 0,
	/* dropped: every slot answered NETIF_RSP_ERROR */
	NETIF_TX_DROP_TOO_MANY_SLOTS,
	NETIF_TX_DROP_SLOT_TOO_BIG, /* a follow-on beyond the packet */
	NETIF_TX_DROP_RUNT,	    /* first slot < Ethernet header */
	NETIF_TX_DROP_MAX,
};

/* One packet, copied out of the ring. */
struct netif_tx_pkt {
	/* The data slots: [0] is the first request (its size field as
	 * sent: the whole packet), then the follow-ons. */
	struct netif_tx_request req[NETIF_TX_MAX_SLOTS];
	unsigned int nreq;
	/* The size of each data slot's fragment ([0]: the first slot's own
	 * part, the packet's size less the follow-ons). */
	uint16_t frag[NETIF_TX_MAX_SLOTS];
	uint32_t len; /* the packet's length (req[0].size) */
	/* Extras by type (extra[t - 1] valid when has_extra & (1 << t)), and
	 * how many ring slots they took. */
	struct netif_extra_info extra[NETIF_MAX_EXTRAS];
	unsigned int has_extra;
	unsigned int nextra;
	enum netif_tx_error drop; /* NETIF_TX_OK: a packet to forward */
	/* A multicast-control request (an MCAST_ADD or MCAST_DEL extra on a
	 * request that carries no data, as Linux netfront sends them): answer
	 * it, forward nothing; its follow-ons are not taken. */
	bool mcast;
};

struct netif_tx_back {
	netif_tx_back_ring_t r;
	bool broken;
};

int netif_tx_back_init(struct netif_tx_back *b, void *sring);
/* Requests waiting (0 when none or broken). */
bool netif_tx_back_peek(const struct netif_tx_back *b);
/* The size field of the next request (a packet's whole length), without
 * taking it: the rate limiter's look ahead.  False when none waits. */
bool netif_tx_peek_size(const struct netif_tx_back *b, uint16_t *size);
/* Take the next packet (the ring's req_cons moves past all its slots).
 * 1: *p holds a packet (which may be a drop: p->drop); 0: no request
 * waiting; -EPROTO: the frontend broke the protocol, *why says how (a
 * static string) and the ring is marked broken. */
int netif_tx_take(struct netif_tx_back *b, struct netif_tx_pkt *p,
		  const char **why);
/* Answer every slot of p: its data slots with status, its extra info
 * slots NETIF_RSP_NULL, in ring order.  Not pushed yet. */
void netif_tx_respond(struct netif_tx_back *b, const struct netif_tx_pkt *p,
		      int16_t status);
/* Publish the responses; true when the frontend wants an event. */
bool netif_tx_back_push(struct netif_tx_back *b);
/* Re-arm req_event; true when requests came meanwhile (do not sleep). */
bool netif_tx_back_final_check(struct netif_tx_back *b);

/* ---- RX: what the guest receives --------------------------------------- */

struct netif_rx_back {
	netif_rx_back_ring_t r;
	bool broken;
};

int netif_rx_back_init(struct netif_rx_back *b, void *sring);
/* RX requests posted and not yet taken; -EPROTO (*why, ring broken) when
 * the producer is more than a ring ahead. */
int netif_rx_avail(struct netif_rx_back *b, unsigned int *n, const char **why);
/* Ring slots a packet of len bytes with nextra extra infos takes: one per
 * page of data (each response carries up to a page at offset 0) plus
 * one per extra. */
unsigned int netif_rx_slots(uint32_t len, unsigned int nextra);
/* Copy the next request out of the ring (the caller checked
 * netif_rx_avail); *idx is its ring index, where its response goes. */
void netif_rx_take(struct netif_rx_back *b, struct netif_rx_request *req,
		   RING_IDX *idx);
/* Copy the request k after the next one out of the ring, leaving it there
 * (the caller checked netif_rx_avail: k below what it said). */
void netif_rx_peek(struct netif_rx_back *b, unsigned int k,
		   struct netif_rx_request *req);
/* Take the next request, peeked before; *idx is its ring index. */
void netif_rx_consume(struct netif_rx_back *b, RING_IDX *idx);
/* Answer the request at ring index idx (responses in the request's slot:
 * Linux netfront ignores the id). */
void netif_rx_respond(struct netif_rx_back *b, RING_IDX idx, uint16_t id,
		      uint16_t offset, uint16_t flags, int16_t status);
/* An extra info in the response slot at idx (its request consumed). */
void netif_rx_respond_extra(struct netif_rx_back *b, RING_IDX idx,
			    const struct netif_extra_info *x);
/* Publish responses up to (not including) index end; true when the
 * frontend wants an event. */
bool netif_rx_back_push(struct netif_rx_back *b, RING_IDX end);
/* Ask for an event when the frontend posts requests beyond what we have
 * (req_event = req_cons + want); true when they are there already. */
bool netif_rx_back_want(struct netif_rx_back *b, unsigned int want);

/* ---- checksum offload ------------------------------------------------
 * netif has no csum_start/csum_offset: a packet marked csum_blank (TX) or
 * bound for a TAP that wants them (virtio-net header) has its transport
 * header found by parsing.  Ethernet (one optional 802.1Q tag), IPv4 or
 * IPv6 (hop-by-hop, routing and destination-options headers skipped), TCP
 * or UDP; fragments and anything else are -EPROTONOSUPPORT, a packet too
 * short for its headers -EINVAL. */
struct netif_l4 {
	uint16_t csum_start;  /* where the transport header begins */
	uint16_t csum_offset; /* its checksum field, from csum_start */
	uint16_t hdr_len;     /* Ethernet + IP + transport headers */
	uint8_t proto;	      /* IPPROTO_TCP or IPPROTO_UDP */
	bool ipv6;
};
int netif_parse_l4(const uint8_t *pkt, size_t len, struct netif_l4 *l4);
/* Write the pseudo-header sum into the checksum field (what a partially
 * checksummed packet carries there), for a packet parsed as l4. */
void netif_csum_pseudo(uint8_t *pkt, size_t len, const struct netif_l4 *l4);
/* Finish a partial checksum in software: the one's complement sum of
 * pkt[start..len) (the field holding the pseudo-header sum) goes into
 * the field at start + offset.  -EINVAL when the field lies outside. */
int netif_csum_finish(uint8_t *pkt, size_t len, uint16_t start,
		      uint16_t offset);

/* ---- the control ring: hashing (feature-ctrl-ring) ----------------------
 * The frontend chooses a hash (Toeplitz), its key, the packet types it
 * covers and a table mapping hashes to queues; the backend computes the
 * hash of each packet it hands the guest and gives it as a HASH extra. */
#define NETIF_CTRL_RING_SIZE __CONST_RING_SIZE(xen_netif_ctrl, NETIF_PAGE_SIZE)
#define NETIF_HASH_KEY_MAX 40u	    /* octets, as Linux netback */
#define NETIF_HASH_MAPPING_MAX 128u /* entries, as Linux netback */
#define NETIF_HASH_TYPES                                                       \
	(XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |   \
	 XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

struct netif_hash {
	uint32_t alg;	/* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags; /* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t key[NETIF_HASH_KEY_MAX];
	uint32_t size; /* mapping entries; 0: hash modulo the queues */
	uint32_t mapping[NETIF_HASH_MAPPING_MAX];
};

/* Copy len bytes of the page the frontend granted as ref (from its start)
 * into dst: 0 or -errno.  The backend's grant copy. */
typedef int (*netif_fetch_fn)(void *arg, grant_ref_t ref, void *dst,
			      size_t len);
/* Serve one control request (already copied out of the ring) for a vif
 * of nq queues: *rsp gets the answer.  Every field is checked: sizes,
 * offsets and queue numbers (XSA-270); a failure leaves h unchanged. */
void netif_ctrl_serve(struct netif_hash *h, unsigned int nq,
		      const struct xen_netif_ctrl_request *req,
		      netif_fetch_fn fetch, void *arg,
		      struct xen_netif_ctrl_response *rsp);
/* The hash of an Ethernet frame under h: true and *value, *type (the
 * _XEN_NETIF_CTRL_HASH_TYPE_* bit number, the HASH extra's type) when h
 * covers its kind, the most specific kind first (TCP over plain IP). */
bool netif_hash_frame(const struct netif_hash *h, const uint8_t *pkt,
		      size_t len, uint32_t *value, uint8_t *type);
/* The queue for a hash: mapping[hash % size], or hash % nq. */
unsigned int netif_hash_queue(const struct netif_hash *h, uint32_t value,
			      unsigned int nq);

/* ---- names for logs ------------------------------------------------- */
const char *netif_tx_error_name(enum netif_tx_error e);

#endif
