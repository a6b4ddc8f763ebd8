/*
 * netif.c - the netif protocol core (netif.h says what and why).
 */
/* Xen's own Toeplitz function, from the public header. */
#define XEN_NETIF_DEFINE_TOEPLITZ
#include "netif/netif.h"

#include <errno.h>

_Static_assert(sizeof(struct netif_extra_info) ==
		   sizeof(struct netif_tx_request) - 4,
	       "an extra info fits a TX request slot");
_Static_assert(sizeof(struct netif_extra_info) ==
		   sizeof(struct netif_rx_response),
	       "an extra info is an RX response slot");
_Static_assert(NETIF_TX_RING_SIZE == 256 && NETIF_RX_RING_SIZE == 256,
	       "one-page rings of 256 slots, as netif.h's comment says");

/* One copy of a slot the frontend may still be writing (XSA-155). */
static void copy_once(void *dst, const volatile void *src, size_t n)
{
	const volatile uint8_t *s = src;
	uint8_t *d = dst;
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = s[i];
}

/* ---- TX ------------------------------------------------------------------ */

int netif_tx_back_init(struct netif_tx_back *b, void *sring)
{
	if (!sring)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	BACK_RING_INIT(&b->r, (netif_tx_sring_t *)sring, NETIF_PAGE_SIZE);
	return 0;
}

bool netif_tx_back_peek(const struct netif_tx_back *b)
{
	const volatile RING_IDX *prod = &b->r.sring->req_prod;

	return !b->broken && *prod != b->r.req_cons;
}

bool netif_tx_peek_size(const struct netif_tx_back *b, uint16_t *size)
{
	struct netif_tx_request t;

	if (!netif_tx_back_peek(b))
		return false;
	rmb();
	copy_once(&t, RING_GET_REQUEST(&b->r, b->r.req_cons), sizeof(t));
	*size = t.size;
	return true;
}

static int tx_fatal(struct netif_tx_back *b, const char **why, const char *w)
{
	b->broken = true;
	*why = w;
	return -EPROTO;
}

/* The extra info slots after the first request; *used counts slots. */
static int tx_extras(struct netif_tx_back *b, struct netif_tx_pkt *p,
		     RING_IDX cons, unsigned int avail, unsigned int *used,
		     const char **why)
{
	struct netif_extra_info x;

	do {
		if (*used >= avail)
			return tx_fatal(b, why, "missing extra info");
		copy_once(&x, RING_GET_REQUEST(&b->r, cons + *used), sizeof(x));
		(*used)++;
		p->nextra++;
		if (x.type == XEN_NETIF_EXTRA_TYPE_NONE ||
		    x.type >= XEN_NETIF_EXTRA_TYPE_MAX)
			return tx_fatal(b, why, "bad extra info type");
		if (p->has_extra & (1u << x.type))
			return tx_fatal(b, why, "extra info type given twice");
		if (x.type == XEN_NETIF_EXTRA_TYPE_GSO) {
			if (!x.u.gso.size)
				return tx_fatal(b, why, "GSO size 0");
			if (x.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
			    x.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)
				return tx_fatal(b, why, "bad GSO type");
		}
		p->has_extra |= 1u << x.type;
		p->extra[x.type - 1] = x;
	} while (x.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	return 0;
}

int netif_tx_take(struct netif_tx_back *b, struct netif_tx_pkt *p,
		  const char **why)
{
	RING_IDX prod, cons = b->r.req_cons;
	unsigned int avail, used = 1, nf = 0;
	uint32_t left;
	bool more;
	int rc;

	if (b->broken)
		return tx_fatal(b, why, "ring already broken");
	prod = *(volatile RING_IDX *)&b->r.sring->req_prod;
	rmb(); /* the requests after the index */
	avail = prod - cons;
	if (avail > NETIF_TX_RING_SIZE)
		return tx_fatal(b, why, "impossible number of requests");
	if (!avail)
		return 0;
	p->nreq = 1;
	p->has_extra = 0;
	p->nextra = 0;
	p->drop = NETIF_TX_OK;
	p->mcast = false;
	copy_once(&p->req[0], RING_GET_REQUEST(&b->r, cons), sizeof(p->req[0]));
	p->len = p->req[0].size;
	if (p->req[0].flags & NETTXF_extra_info) {
		rc = tx_extras(b, p, cons, avail, &used, why);
		if (rc)
			return rc;
		if (p->has_extra & (1u << XEN_NETIF_EXTRA_TYPE_MCAST_ADD |
				    1u << XEN_NETIF_EXTRA_TYPE_MCAST_DEL)) {
			p->mcast = true;
			b->r.req_cons = cons + used;
			return 1;
		}
	}
	left = p->len;
	more = p->req[0].flags & NETTXF_more_data;
	while (more) {
		struct netif_tx_request *t;

		if (used >= avail)
			return tx_fatal(b, why, "packet runs past req_prod");
		if (nf >= NETIF_TX_FATAL_FOLLOW)
			return tx_fatal(b, why, "too many slots");
		t = &p->req[1 + nf];
		copy_once(t, RING_GET_REQUEST(&b->r, cons + used), sizeof(*t));
		used++;
		nf++;
		if (!p->drop && nf > NETIF_TX_MAX_FOLLOW)
			p->drop = NETIF_TX_DROP_TOO_MANY_SLOTS;
		if (!p->drop && t->size > left)
			p->drop = NETIF_TX_DROP_SLOT_TOO_BIG;
		if (!p->drop) {
			left -= t->size;
			p->frag[nf] = t->size;
		}
		if ((uint32_t)t->offset + t->size > NETIF_PAGE_SIZE)
			return tx_fatal(b, why, "slot crosses its page");
		more = t->flags & NETTXF_more_data;
	}
	p->nreq = 1 + nf;
	b->r.req_cons = cons + used;
	if (p->drop)
		return 1;
	p->frag[0] = (uint16_t)left;
	if (left < NETIF_ETH_HLEN) {
		p->drop = NETIF_TX_DROP_RUNT;
		return 1;
	}
	if ((uint32_t)p->req[0].offset + left > NETIF_PAGE_SIZE)
		return tx_fatal(b, why, "slot crosses its page");
	return 1;
}

static void tx_rsp(struct netif_tx_back *b, uint16_t id, int16_t status)
{
	struct netif_tx_response *r =
	    RING_GET_RESPONSE(&b->r, b->r.rsp_prod_pvt);

	r->id = id;
	r->status = status;
	b->r.rsp_prod_pvt++;
}

void netif_tx_respond(struct netif_tx_back *b, const struct netif_tx_pkt *p,
		      int16_t status)
{
	unsigned int i;

	tx_rsp(b, p->req[0].id, status);
	for (i = 0; i < p->nextra; i++)
		tx_rsp(b, 0, NETIF_RSP_NULL);
	for (i = 1; i < p->nreq; i++)
		tx_rsp(b, p->req[i].id, status);
}

bool netif_tx_back_push(struct netif_tx_back *b)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->r, notify);
	return notify;
}

bool netif_tx_back_final_check(struct netif_tx_back *b)
{
	int more;

	if (b->broken)
		return false;
	RING_FINAL_CHECK_FOR_REQUESTS(&b->r, more);
	return more;
}

/* ---- RX ------------------------------------------------------------------ */

int netif_rx_back_init(struct netif_rx_back *b, void *sring)
{
	if (!sring)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	BACK_RING_INIT(&b->r, (netif_rx_sring_t *)sring, NETIF_PAGE_SIZE);
	return 0;
}

int netif_rx_avail(struct netif_rx_back *b, unsigned int *n, const char **why)
{
	RING_IDX prod;

	*n = 0;
	if (b->broken) {
		*why = "ring already broken";
		return -EPROTO;
	}
	prod = *(volatile RING_IDX *)&b->r.sring->req_prod;
	rmb();
	/* Requests the frontend may have posted: never more than the ring
	 * holds beyond the responses we produced. */
	if (prod - b->r.rsp_prod_pvt > NETIF_RX_RING_SIZE ||
	    prod - b->r.req_cons > NETIF_RX_RING_SIZE) {
		b->broken = true;
		*why = "impossible number of RX requests";
		return -EPROTO;
	}
	*n = prod - b->r.req_cons;
	return 0;
}

unsigned int netif_rx_slots(uint32_t len, unsigned int nextra)
{
	unsigned int data = (len + NETIF_PAGE_SIZE - 1) / NETIF_PAGE_SIZE;

	return (data ? data : 1) + nextra;
}

void netif_rx_take(struct netif_rx_back *b, struct netif_rx_request *req,
		   RING_IDX *idx)
{
	*idx = b->r.req_cons;
	copy_once(req, RING_GET_REQUEST(&b->r, *idx), sizeof(*req));
	b->r.req_cons++;
}

void netif_rx_peek(struct netif_rx_back *b, unsigned int k,
		   struct netif_rx_request *req)
{
	copy_once(req, RING_GET_REQUEST(&b->r, b->r.req_cons + k),
		  sizeof(*req));
}

void netif_rx_consume(struct netif_rx_back *b, RING_IDX *idx)
{
	*idx = b->r.req_cons++;
}

void netif_rx_respond(struct netif_rx_back *b, RING_IDX idx, uint16_t id,
		      uint16_t offset, uint16_t flags, int16_t status)
{
	struct netif_rx_response r = {
	    .id = id, .offset = offset, .flags = flags, .status = status};

	memcpy(RING_GET_RESPONSE(&b->r, idx), &r, sizeof(r));
}

void netif_rx_respond_extra(struct netif_rx_back *b, RING_IDX idx,
			    const struct netif_extra_info *x)
{
	memcpy(RING_GET_RESPONSE(&b->r, idx), x, sizeof(*x));
}

bool netif_rx_back_push(struct netif_rx_back *b, RING_IDX end)
{
	int notify;

	b->r.rsp_prod_pvt = end;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->r, notify);
	return notify;
}

bool netif_rx_back_want(struct netif_rx_back *b, unsigned int want)
{
	volatile netif_rx_sring_t *s = b->r.sring;

	if (b->broken)
		return false;
	s->req_event = b->r.req_cons + (want ? want : 1);
	mb();
	return s->req_prod - b->r.req_cons >= (want ? want : 1);
}

/* ---- checksum offload ------------------------------------------------ */

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int netif_parse_l4(const uint8_t *pkt, size_t len, struct netif_l4 *l4)
{
	size_t off = NETIF_ETH_HLEN;
	uint16_t type;
	uint8_t proto;

	memset(l4, 0, sizeof(*l4));
	if (len < NETIF_ETH_HLEN)
		return -EINVAL;
	type = be16(pkt + 12);
	if (type == 0x8100) { /* one 802.1Q tag */
		if (len < off + 4)
			return -EINVAL;
		type = be16(pkt + 16);
		off += 4;
	}
	if (type == 0x0800) {
		size_t ihl;

		if (len < off + 20 || (pkt[off] >> 4) != 4)
			return -EINVAL;
		ihl = (size_t)(pkt[off] & 15) * 4;
		if (ihl < 20 || len < off + ihl)
			return -EINVAL;
		if (be16(pkt + off + 6) & 0x3fff) /* MF or an offset */
			return -EPROTONOSUPPORT;
		proto = pkt[off + 9];
		off += ihl;
	} else if (type == 0x86dd) {
		unsigned int hops = 0;

		if (len < off + 40 || (pkt[off] >> 4) != 6)
			return -EINVAL;
		proto = pkt[off + 6];
		off += 40;
		l4->ipv6 = true;
		/* hop-by-hop 0, routing 43, destination options 60 */
		while (proto == 0 || proto == 43 || proto == 60) {
			if (++hops > 8 || len < off + 8)
				return -EINVAL;
			proto = pkt[off];
			off += ((size_t)pkt[off + 1] + 1) * 8;
		}
	} else {
		return -EPROTONOSUPPORT;
	}
	if (proto == 6) {
		size_t doff;

		if (len < off + 20)
			return -EINVAL;
		doff = (size_t)(pkt[off + 12] >> 4) * 4;
		if (doff < 20 || len < off + doff)
			return -EINVAL;
		l4->csum_offset = 16;
		l4->hdr_len = (uint16_t)(off + doff);
	} else if (proto == 17) {
		if (len < off + 8)
			return -EINVAL;
		l4->csum_offset = 6;
		l4->hdr_len = (uint16_t)(off + 8);
	} else {
		return -EPROTONOSUPPORT;
	}
	if (off > 0xffff - 64)
		return -EINVAL;
	l4->csum_start = (uint16_t)off;
	l4->proto = proto;
	return 0;
}

/* The one's complement sum of n bytes, added to sum (not folded). */
static uint64_t sum16(const uint8_t *p, size_t n, uint64_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += be16(p + i);
	if (n & 1)
		sum += (uint64_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

void netif_csum_pseudo(uint8_t *pkt, size_t len, const struct netif_l4 *l4)
{
	/* the IP header (after the Ethernet header and its tag, if any):
	 * IPv4's addresses at 12..19 of it, IPv6's at 8..39 */
	size_t ip = be16(pkt + 12) == 0x8100 ? 18 : 14;
	size_t l4len = len - l4->csum_start;
	uint64_t sum;
	uint16_t s;

	if (l4->ipv6)
		sum = sum16(pkt + ip + 8, 32, 0);
	else
		sum = sum16(pkt + ip + 12, 8, 0);
	sum += l4->proto;
	sum += l4len;
	s = fold(sum);
	pkt[l4->csum_start + l4->csum_offset] = (uint8_t)(s >> 8);
	pkt[l4->csum_start + l4->csum_offset + 1] = (uint8_t)s;
}

int netif_csum_finish(uint8_t *pkt, size_t len, uint16_t start,
		      uint16_t offset)
{
	uint16_t s;

	if ((size_t)start + offset + 2 > len)
		return -EINVAL;
	s = (uint16_t)~fold(sum16(pkt + start, len - start, 0));
	/* UDP: a computed 0 is sent as all ones */
	if (!s && offset == 6)
		s = 0xffff;
	pkt[start + offset] = (uint8_t)(s >> 8);
	pkt[start + offset + 1] = (uint8_t)s;
	return 0;
}

/* ---- the control ring ------------------------------------------------ */

void netif_ctrl_serve(struct netif_hash *h, unsigned int nq,
		      const struct xen_netif_ctrl_request *req,
		      netif_fetch_fn fetch, void *arg,
		      struct xen_netif_ctrl_response *rsp)
{
	uint32_t st = XEN_NETIF_CTRL_STATUS_SUCCESS, data = 0, i;
	uint8_t key[NETIF_HASH_KEY_MAX];
	uint32_t map[NETIF_HASH_MAPPING_MAX];

	switch (req->type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (req->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    req->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
			st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		else
			h->alg = req->data[0];
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			st = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		else
			data = NETIF_HASH_TYPES;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			st = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		else if (req->data[0] & ~NETIF_HASH_TYPES)
			st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		else
			h->flags = req->data[0];
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		if (req->data[1] > NETIF_HASH_KEY_MAX) {
			st = XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
			break;
		}
		memset(key, 0, sizeof(key));
		if (req->data[1] &&
		    fetch(arg, (grant_ref_t)req->data[0], key, req->data[1]))
			st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		else
			memcpy(h->key, key, sizeof(key));
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		data = NETIF_HASH_MAPPING_MAX;
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (req->data[0] > NETIF_HASH_MAPPING_MAX) {
			st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		h->size = req->data[0];
		memset(h->mapping, 0, sizeof(h->mapping));
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: {
		uint32_t len = req->data[1], off = req->data[2];

		/* each bound alone, then together: no wrap (XSA-270) */
		if (len > NETIF_HASH_MAPPING_MAX) {
			st = XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
			break;
		}
		if (off > NETIF_HASH_MAPPING_MAX || off + len > h->size) {
			st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		if (len && fetch(arg, (grant_ref_t)req->data[0], map,
				 len * sizeof(uint32_t))) {
			st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		for (i = 0; i < len; i++)
			if (map[i] >= nq)
				st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		if (st == XEN_NETIF_CTRL_STATUS_SUCCESS)
			memcpy(h->mapping + off, map, len * sizeof(uint32_t));
		break;
	}
	default:
		/* staging grants (GREF_MAPPING) and unknown types */
		st = XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		break;
	}
	rsp->id = req->id;
	rsp->type = req->type;
	rsp->status = st;
	rsp->data = data;
}

bool netif_hash_frame(const struct netif_hash *h, const uint8_t *pkt,
		      size_t len, uint32_t *value, uint8_t *type)
{
	struct netif_l4 l4;
	uint8_t in[36];
	uint16_t et;
	size_t ip, n;
	bool tcp;
	int rc;

	if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || !h->flags ||
	    len < NETIF_ETH_HLEN + 4)
		return false;
	rc = netif_parse_l4(pkt, len, &l4);
	if (rc == -EINVAL)
		return false;
	ip = be16(pkt + 12) == 0x8100 ? 18 : 14;
	et = be16(pkt + ip - 2);
	tcp = !rc && l4.proto == 6;
	if (et == 0x0800 && len >= ip + 20) {
		tcp = tcp && (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
		if (!tcp && !(h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4))
			return false;
		memcpy(in, pkt + ip + 12, 8);
		n = 8;
		*type = tcp ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP
			    : _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	} else if (et == 0x86dd && len >= ip + 40) {
		tcp = tcp && (h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
		if (!tcp && !(h->flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6))
			return false;
		memcpy(in, pkt + ip + 8, 32);
		n = 32;
		*type = tcp ? _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
			    : _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	} else {
		return false;
	}
	if (tcp) { /* the ports follow the addresses */
		memcpy(in + n, pkt + l4.csum_start, 4);
		n += 4;
	}
	*value = xen_netif_toeplitz_hash(h->key, sizeof(h->key), in,
					 (unsigned int)n);
	return true;
}

unsigned int netif_hash_queue(const struct netif_hash *h, uint32_t value,
			      unsigned int nq)
{
	if (h->size)
		return h->mapping[value % h->size];
	return nq ? value % nq : 0;
}

const char *netif_tx_error_name(enum netif_tx_error e)
{
	switch (e) {
	case NETIF_TX_OK:
		return "ok";
	case NETIF_TX_DROP_TOO_MANY_SLOTS:
		return "too-many-slots";
	case NETIF_TX_DROP_SLOT_TOO_BIG:
		return "slot-too-big";
	case NETIF_TX_DROP_RUNT:
		return "runt";
	case NETIF_TX_DROP_MAX:
		break;
	}
	return "?";
}
