/* nf_rx.c - see nf_rx.h. */
#include "nf_rx.h"

#include <errno.h>
#include <stdbool.h>

/* Whether slot i is available; -EPROTO when the chain is too long. */
static int need(unsigned int i, unsigned int n)
{
	if (i >= NF_RX_MAX_SLOTS)
		return -EPROTO;
	return i < n ? 1 : 0;
}

static void take_extra(const struct netif_extra_info *e, struct nf_rx_pkt *pkt)
{
	if (e->type == XEN_NETIF_EXTRA_TYPE_NONE ||
	    e->type >= XEN_NETIF_EXTRA_TYPE_MAX) {
		pkt->err = -EINVAL;
		return;
	}
	if (e->type == XEN_NETIF_EXTRA_TYPE_HASH) {
		/* the backend's Toeplitz hash (the control ring asked for
		 * it); another algorithm or type is not one we know */
		if (e->u.hash.algorithm ==
			XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ &&
		    e->u.hash.type <= _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) {
			pkt->has_hash = true;
			pkt->hash_type = e->u.hash.type;
			pkt->hash = (uint32_t)e->u.hash.value[0] |
				    (uint32_t)e->u.hash.value[1] << 8 |
				    (uint32_t)e->u.hash.value[2] << 16 |
				    (uint32_t)e->u.hash.value[3] << 24;
		}
		return;
	}
	if (e->type != XEN_NETIF_EXTRA_TYPE_GSO)
		return; /* multicast: nothing for us */
	if (!e->u.gso.size || (e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
			       e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)) {
		pkt->err = -EINVAL;
		return;
	}
	pkt->gso_type = e->u.gso.type;
	pkt->gso_size = e->u.gso.size;
}

int nf_rx_parse(const union nf_rx_slot *rsp, unsigned int n, uint32_t first,
		unsigned int ring_size, struct nf_rx_pkt *pkt)
{
	unsigned int i = 0, mask = ring_size - 1;
	bool more, extra;
	int rc;

	memset(pkt, 0, offsetof(struct nf_rx_pkt, frag));
	pkt->len = 0;
	pkt->err = 0;
	pkt->gso_type = pkt->gso_size = 0;
	do {
		struct netif_rx_response r;
		uint16_t slot = (uint16_t)((first + i) & mask);

		rc = need(i, n);
		if (rc <= 0)
			return rc;
		r = rsp[i].r;
		i++;
		if (r.id != slot)
			return -EPROTO;
		if (r.status < 0) {
			pkt->err = -EIO;
		} else if ((unsigned int)r.offset + (unsigned int)r.status >
			   NF_PAGE_SIZE) {
			pkt->err = -EINVAL;
		} else {
			struct nf_rx_frag *f = &pkt->frag[pkt->nfrags++];

			f->slot = slot;
			f->offset = r.offset;
			f->size = (uint16_t)r.status;
			pkt->len += (size_t)r.status;
		}
		more = r.flags & NETRXF_more_data;
		/* Extra info follows the first slot only (netif.h). */
		extra = i == 1 && (r.flags & NETRXF_extra_info);
		if (i == 1)
			pkt->flags = r.flags;
		while (extra) {
			struct netif_extra_info e;

			rc = need(i, n);
			if (rc <= 0)
				return rc;
			e = rsp[i].e;
			i++;
			take_extra(&e, pkt);
			extra = e.flags & XEN_NETIF_EXTRA_FLAG_MORE;
		}
	} while (more);
	if (!pkt->err && !pkt->len)
		pkt->err = -EINVAL;
	pkt->nslots = i;
	return 1;
}
