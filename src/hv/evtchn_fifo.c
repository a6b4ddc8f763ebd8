/*
 * evtchn_fifo.c - the FIFO event-channel ABI.
 *
 * Once a DomU registers a control block (EVTCHNOP_init_control), its events
 * are delivered through per-vCPU, per-priority queues of event words that
 * live in the guest's own memory: the event array pages it adds with
 * EVTCHNOP_expand_array.  A word holds PENDING, MASKED, LINKED, BUSY and the
 * 17-bit LINK to the next port.  The guest consumes from the queue heads
 * (control block head[]); only the hypervisor links at the tail.  Words are
 * guest-writable at any moment, so every update is an atomic
 * read-modify-write and nothing read from them is trusted beyond its bits.
 */
#include "hv/hv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 4096u
#define WORDS_PER_PAGE (PAGE_SIZE / sizeof(event_word_t))
#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED (1u << EVTCHN_FIFO_LINKED)
#define W_BUSY (1u << EVTCHN_FIFO_BUSY)

static event_word_t *fifo_word(struct hv_domain *d, evtchn_port_t port)
{
	struct hv_fifo *f = d->fifo;
	uint32_t pg = port / WORDS_PER_PAGE;

	if (!f || pg >= f->nr_pages)
		return NULL;
	return (event_word_t *)(d->mem + f->array[pg] * PAGE_SIZE) +
	       port % WORDS_PER_PAGE;
}

static struct evtchn_fifo_control_block *fifo_cb(struct hv_domain *d,
						 unsigned int v)
{
	struct hv_fifo_vcpu *fv = &d->fifo->vcpu[v];

	if (!fv->registered)
		return NULL;
	return (struct evtchn_fifo_control_block *)(d->mem +
						     fv->gfn * PAGE_SIZE +
						     fv->offset);
}

/* A frame the guest may hand us: populated RAM, not already in use. */
static bool fifo_frame_ok(struct hv_domain *d, xen_pfn_t gfn)
{
	return gfn < d->max_pages && hv_mem_is_populated(d, gfn) &&
	       !hv_fifo_frame_in_use(d, gfn);
}

bool hv_fifo_frame_in_use(const struct hv_domain *d, xen_pfn_t gfn)
{
	const struct hv_fifo *f = d->fifo;
	unsigned int i;

	if (!f)
		return false;
	for (i = 0; i < f->nr_pages; i++)
		if (f->array[i] == gfn)
			return true;
	for (i = 0; i < HV_MAX_VCPUS; i++)
		if (f->vcpu[i].registered && f->vcpu[i].gfn == gfn)
			return true;
	return false;
}

int hv_fifo_init_control(struct hv_sink *caller, struct evtchn_init_control *a)
{
	struct hv_domain *d = caller->dom;
	struct hv_fifo_vcpu *fv;
	uint32_t i;

	a->link_bits = 0;
	if (!d->mem || d->kernel != caller)
		return -EOPNOTSUPP; /* Dom0 processes keep the 2-level ABI */
	if (a->vcpu >= d->nr_vcpus)
		return -ENOENT;
	if (a->offset > PAGE_SIZE - sizeof(struct evtchn_fifo_control_block) ||
	    (a->offset & 7))
		return -EINVAL;
	/* Everything is checked before the domain switches ABI: a refused
	 * call leaves it on the 2-level ABI. */
	if (d->fifo && d->fifo->vcpu[a->vcpu].registered)
		return -EINVAL;
	if (!fifo_frame_ok(d, a->control_gfn))
		return -EINVAL;
	if (!d->fifo) {
		d->fifo = calloc(1, sizeof(*d->fifo));
		if (!d->fifo)
			return -ENOMEM;
		/* Every port starts at the default priority; events pending
		 * before the switch are lost, as the ABI says. */
		for (i = 1; i < d->nr_ports; i++) {
			d->ports[i].priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
			d->ports[i].fifo_lost = false;
		}
	}
	fv = &d->fifo->vcpu[a->vcpu];
	fv->gfn = a->control_gfn;
	fv->offset = a->offset;
	memset(fv->tail, 0, sizeof(fv->tail));
	fv->registered = true;
	memset(fifo_cb(d, a->vcpu), 0, sizeof(struct evtchn_fifo_control_block));
	a->link_bits = EVTCHN_FIFO_LINK_BITS;
	return 0;
}

int hv_fifo_expand_array(struct hv_sink *caller, struct evtchn_expand_array *a)
{
	struct hv_domain *d = caller->dom;
	struct hv_fifo *f = d->fifo;
	uint32_t first, i;

	if (!f || d->kernel != caller)
		return -EINVAL;
	if (f->nr_pages >= HV_FIFO_MAX_PAGES)
		return -ENOSPC;
	if (!fifo_frame_ok(d, a->array_gfn))
		return -EINVAL;
	f->array[f->nr_pages] = a->array_gfn;
	memset(d->mem + a->array_gfn * PAGE_SIZE, 0, PAGE_SIZE);
	first = f->nr_pages++ * WORDS_PER_PAGE;
	/* Events that found no word are delivered now. */
	for (i = first; i < d->nr_ports && i < first + WORDS_PER_PAGE; i++)
		if (d->ports[i].fifo_lost) {
			d->ports[i].fifo_lost = false;
			hv_fifo_set_pending(d, &d->ports[i], i);
		}
	return 0;
}

int hv_fifo_set_priority(struct hv_port *p, uint32_t priority)
{
	if (priority > EVTCHN_FIFO_PRIORITY_MIN)
		return -EINVAL;
	p->priority = (uint8_t)priority;
	return 0;
}

/* Make the word at tail point at port; false if tail is no longer linked
 * (the guest consumed it), so port must become the new head. */
static bool fifo_set_link(event_word_t *tail, evtchn_port_t port)
{
	event_word_t w = __atomic_load_n(tail, __ATOMIC_SEQ_CST), n;
	unsigned int tries;

	for (tries = 0; tries < 1000; tries++) {
		if (!(w & W_LINKED))
			return false;
		if (w & W_BUSY) {
			w = __atomic_load_n(tail, __ATOMIC_SEQ_CST);
			continue;
		}
		n = (w & ~(event_word_t)EVTCHN_FIFO_LINK_MASK) | port;
		if (__atomic_compare_exchange_n(tail, &w, n, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return true;
	}
	/* A guest holding BUSY forever only hurts itself: start a new head. */
	return false;
}

/* Queue port, whose word we just marked LINKED, at the tail of its
 * priority's queue on its vCPU (Xen's evtchn_fifo_set_pending, second
 * half). */
static void fifo_link(struct hv_domain *d, struct hv_port *p,
		      evtchn_port_t port)
{
	struct hv_fifo *f = d->fifo;
	struct evtchn_fifo_control_block *cb;
	struct hv_fifo_vcpu *fv;
	unsigned int v = p->vcpu < d->nr_vcpus ? p->vcpu : 0;
	unsigned int prio = p->priority <= EVTCHN_FIFO_PRIORITY_MIN
				    ? p->priority
				    : EVTCHN_FIFO_PRIORITY_DEFAULT;
	bool linked = false;

	fv = &f->vcpu[v];
	cb = fifo_cb(d, v);
	/* A tail equal to port looks linked (we just set LINKED) but the
	 * queue is empty: port becomes the head. */
	if (fv->tail[prio] && fv->tail[prio] != port) {
		event_word_t *tw = fifo_word(d, fv->tail[prio]);

		if (tw)
			linked = fifo_set_link(tw, port);
	}
	if (!linked && cb)
		__atomic_store_n(&cb->head[prio], port, __ATOMIC_SEQ_CST);
	fv->tail[prio] = port;
	if (!linked && cb &&
	    !(__atomic_fetch_or(&cb->ready, 1u << prio, __ATOMIC_SEQ_CST) &
	      (1u << prio)))
		hv_evtchn_kick(d->kernel, v);
}

void hv_fifo_set_pending(struct hv_domain *d, struct hv_port *p,
			 evtchn_port_t port)
{
	event_word_t *w = fifo_word(d, port), old;

	if (!w) {
		p->fifo_lost = true; /* delivered when its page arrives */
		return;
	}
	old = __atomic_fetch_or(w, W_PENDING, __ATOMIC_SEQ_CST) | W_PENDING;
	if (old & (W_MASKED | W_LINKED))
		return;
	if (__atomic_fetch_or(w, W_LINKED, __ATOMIC_SEQ_CST) & W_LINKED)
		return; /* the guest raced us; it is queued already */
	fifo_link(d, p, port);
}

int hv_fifo_unmask(struct hv_domain *d, struct hv_port *p, evtchn_port_t port)
{
	event_word_t *w = fifo_word(d, port), old;

	if (!w)
		return 0;
	/* Link it again only if it is still pending: testing PENDING and
	 * then setting it (as a plain set_pending would) races with the
	 * guest consuming the event meanwhile, and raises it twice. */
	old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	do {
		if (!(old & W_PENDING) || (old & (W_MASKED | W_LINKED)))
			return 0;
	} while (!__atomic_compare_exchange_n(w, &old, old | W_LINKED, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	fifo_link(d, p, port);
	return 0;
}

void hv_fifo_clear(struct hv_domain *d, evtchn_port_t port)
{
	event_word_t *w = fifo_word(d, port);

	if (w)
		__atomic_fetch_and(w, ~W_PENDING, __ATOMIC_SEQ_CST);
}

void hv_fifo_free(struct hv_domain *d)
{
	free(d->fifo);
	d->fifo = NULL;
}
