/*
 * hv.c - domains: creation, shutdown, destruction, start info, timers.
 */
#include "hv/hv.h"
#include "hv/hc_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 4096u

int hv_init(struct hv *hv, const struct hv_env_ops *env)
{
	memset(hv, 0, sizeof(*hv));
	hv->doms = calloc(DOMID_FIRST_RESERVED, sizeof(*hv->doms));
	if (!hv->doms)
		return -ENOMEM;
	hv->env = env;
	hv->next_domid = 1;
	hv->next_gen = 1;
	hv->default_max_ports = 1023;
	return 0;
}

static void gact_release(struct hv_domain *d)
{
	if (!d->gact_base)
		return;
	if (d->hv->env->gact_free)
		d->hv->env->gact_free(d, d->gact_base, d->gact_size);
	else
		free(d->gact_base);
	d->gact_base = NULL;
	d->populated = NULL;
}

static void domain_free(struct hv_domain *d)
{
	struct hv *hv = d->hv;

	if (hv->doms[d->domid] == d)
		hv->doms[d->domid] = NULL;
	if (hv->env->dom_free)
		hv->env->dom_free(d);
	free(d->ports);
	free(d->fifo);
	gact_release(d);
	free(d);
}

void hv_fini(struct hv *hv)
{
	unsigned int i;

	if (!hv->doms)
		return;
	for (i = 0; i < DOMID_FIRST_RESERVED; i++)
		if (hv->doms[i])
			domain_free(hv->doms[i]);
	free(hv->doms);
	free(hv->dom0_sinks);
	memset(hv, 0, sizeof(*hv));
}

struct hv_domain *hv_domain_get(struct hv *hv, domid_t domid)
{
	if (domid >= DOMID_FIRST_RESERVED)
		return NULL;
	return hv->doms[domid];
}

uint64_t hv_domain_mem_pages(uint64_t max_pages, uint32_t max_gnt_frames)
{
	return max_pages + PVK_SPECIAL_GNTTAB + max_gnt_frames;
}

static int domid_alloc(struct hv *hv, domid_t *out)
{
	unsigned int i;

	/* Round robin from the last one handed out, as Xen does, so a
	 * destroyed domain's id is not reused at once. */
	for (i = 0; i < DOMID_FIRST_RESERVED - 1; i++) {
		domid_t id = hv->next_domid;

		hv->next_domid = (unsigned int)id + 1 >= DOMID_FIRST_RESERVED
				     ? 1
				     : (domid_t)(id + 1);
		if (!hv->doms[id]) {
			*out = id;
			return 0;
		}
	}
	return -ENOSPC;
}

int hv_domain_create(struct hv *hv, domid_t want, const char *name,
		     bool privileged, unsigned int nr_vcpus, uint64_t max_pages,
		     uint64_t tot_pages, uint32_t max_gnt_frames, uint8_t *mem,
		     uint64_t mem_pages, struct hv_domain **out)
{
	struct hv_domain *d = NULL;
	domid_t domid;
	uint64_t i;
	int rc;

	if (nr_vcpus == 0 || nr_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	if (tot_pages > max_pages || max_gnt_frames > HV_MAX_GNT_FRAMES)
		return -EINVAL;
	if (mem && mem_pages != hv_domain_mem_pages(max_pages, max_gnt_frames))
		return -EINVAL;
	if (want != DOMID_INVALID) {
		if (want >= DOMID_FIRST_RESERVED || hv->doms[want])
			return -EEXIST;
		domid = want;
	} else {
		rc = domid_alloc(hv, &domid);
		if (rc)
			return rc;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->hv = hv;
	d->domid = domid;
	d->gen = hv->next_gen++;
	snprintf(d->name, sizeof(d->name), "%s", name ? name : "");
	d->privileged = privileged;
	d->nr_vcpus = nr_vcpus;
	d->max_ports = hv->default_max_ports + 1;
	if (d->max_ports > HV_2L_NR_PORTS)
		d->max_ports = HV_2L_NR_PORTS;
	d->state = HV_DOM_RUNNING;
	if (mem) {
		d->mem = mem;
		d->mem_pages = mem_pages;
		d->max_pages = max_pages;
		d->special_gpfn = max_pages;
		d->max_gnt_frames = max_gnt_frames;
		d->gact_size = pvk_gact_size(max_pages, max_gnt_frames);
		d->gact_base = hv->env->gact_alloc
				   ? hv->env->gact_alloc(d, d->gact_size)
				   : calloc(1, d->gact_size);
		if (!d->gact_base) {
			rc = -ENOMEM;
			goto fail;
		}
		pvk_gact_init(d->gact_base, d->gact_size, domid, d->gen,
			      max_pages, mem_pages, max_gnt_frames, mem,
			      &d->gact);
		d->populated = d->gact.populated;
		for (i = 0; i < tot_pages; i++)
			d->populated[i / 64] |= 1ull << (i % 64);
		d->tot_pages = tot_pages;
		d->hvm_param[HVM_PARAM_STORE_PFN] =
		    d->special_gpfn + PVK_SPECIAL_XENSTORE;
		d->hvm_param[HVM_PARAM_CONSOLE_PFN] =
		    d->special_gpfn + PVK_SPECIAL_CONSOLE;
	}
	hv->doms[domid] = d;
	*out = d;
	return 0;
fail:
	gact_release(d);
	free(d);
	return rc;
}

int hv_domain_write_start_info(struct hv_domain *d, const char *cmdline)
{
	struct pvk_hvm_start_info *si;
	struct pvk_hvm_memmap_entry *mm;
	uint8_t *page;
	uint64_t base;
	size_t len;

	if (!d->mem)
		return -EOPNOTSUPP;
	len = cmdline ? strlen(cmdline) : 0;
	if (len >= PVK_CMDLINE_MAX)
		return -E2BIG;
	base = d->special_gpfn * PAGE_SIZE;
	page = d->mem + base;
	memset(page, 0, PAGE_SIZE);
	si = (struct pvk_hvm_start_info *)page;
	mm = (struct pvk_hvm_memmap_entry *)(page + 256);
	si->magic = PVK_HVM_START_MAGIC;
	si->version = 1;
	si->memmap_paddr = base + 256;
	si->memmap_entries = 2;
	si->cmdline_paddr = base + 1024;
	memcpy(page + 1024, cmdline ? cmdline : "", len + 1);
	mm[0].addr = 0;
	mm[0].size = d->max_pages * PAGE_SIZE;
	mm[0].type = PVK_HVM_MEMMAP_RAM;
	mm[1].addr = d->special_gpfn * PAGE_SIZE;
	mm[1].size = (d->mem_pages - d->special_gpfn) * PAGE_SIZE;
	mm[1].type = PVK_HVM_MEMMAP_RESERVED;
	return 0;
}

int hv_sink_init(struct hv_sink *s, struct hv_domain *d, struct shared_info *si,
		 unsigned int nr_vcpus, void *priv)
{
	if (nr_vcpus == 0 || nr_vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->dom = d;
	s->si = si;
	s->nr_vcpus = nr_vcpus;
	s->priv = priv;
	s->maptrack_free = UINT32_MAX;
	return 0;
}

void hv_sink_fini(struct hv_sink *s)
{
	if (!s->dom)
		return;
	hv_gnttab_release_sink(s);
	if (s->dom->privileged) {
		hv_evtchn_close_sink(s);
		hv_unregister_dom0_sink(s->dom->hv, s);
	} else {
		struct hv_domain *d = s->dom;
		uint32_t i;

		/* A DomU's ports outlive its kernel: they stay open (peers
		 * still see them) but deliver nowhere. */
		for (i = 1; i < d->nr_ports; i++)
			if (d->ports[i].sink == s)
				d->ports[i].sink = NULL;
	}
	if (s->dom->kernel == s)
		s->dom->kernel = NULL;
	s->dom = NULL;
}

int hv_domain_shutdown(struct hv_domain *d, uint32_t reason)
{
	unsigned int v;

	if (reason > SHUTDOWN_MAX)
		return -EINVAL;
	if (d->privileged)
		return -EPERM; /* Dom0 is the host: it is not shut down here */
	if (d->state != HV_DOM_RUNNING)
		return 0; /* first reason wins, as in Xen */
	d->state = HV_DOM_SHUTDOWN;
	d->shutdown_reason = reason;
	for (v = 0; v < d->nr_vcpus; v++) {
		if (d->timer_deadline[v] && d->hv->env->timer_set)
			d->hv->env->timer_set(d, v, 0);
		d->timer_deadline[v] = 0;
	}
	hv_evtchn_raise_global_virq(d->hv, VIRQ_DOM_EXC);
	if (d->hv->env->dom_changed)
		d->hv->env->dom_changed(d);
	return 0;
}

void hv_domain_destroy(struct hv_domain *d)
{
	unsigned int v;

	if (d->state != HV_DOM_DYING) {
		d->state = HV_DOM_DYING;
		if (d->gact_base) { /* copiers pin it no more */
			hv_gact_lock(d);
			d->gact.hdr->dead = 1;
			hv_gact_unlock(d);
		}
		for (v = 0; v < d->nr_vcpus; v++)
			if (d->timer_deadline[v] && d->hv->env->timer_set)
				d->hv->env->timer_set(d, v, 0);
		hv_evtchn_close_all(d);
		if (d->kernel)
			hv_gnttab_release_sink(d->kernel);
		hv_evtchn_raise_global_virq(d->hv, VIRQ_DOM_EXC);
		if (d->hv->env->dom_changed)
			d->hv->env->dom_changed(d);
	}
	/* Others still map our grants: stay a zombie until they unmap. */
	if (!d->foreign_pins)
		domain_free(d);
}

void hv_domain_info(const struct hv_domain *d, struct pvk_dominfo *out)
{
	memset(out, 0, sizeof(*out));
	out->domid = d->domid;
	if (d->privileged)
		out->flags |= PVK_DOMINFO_PRIVILEGED;
	switch (d->state) {
	case HV_DOM_RUNNING:
		out->flags |=
		    d->paused ? PVK_DOMINFO_PAUSED : PVK_DOMINFO_RUNNING;
		break;
	case HV_DOM_SHUTDOWN:
		out->flags |= PVK_DOMINFO_SHUTDOWN;
		out->shutdown_reason = d->shutdown_reason;
		break;
	case HV_DOM_DYING:
		out->flags |= PVK_DOMINFO_DYING;
		break;
	}
	out->vcpus = d->nr_vcpus;
	out->tot_pages = d->tot_pages;
	out->max_pages = d->max_pages;
	out->cpu_time_ns = d->cpu_time_ns;
	snprintf(out->name, sizeof(out->name), "%s", d->name);
}

int hv_timer_set(struct hv_domain *d, unsigned int vcpu, uint64_t deadline)
{
	if (vcpu >= d->nr_vcpus)
		return -ENOENT;
	if (d->state != HV_DOM_RUNNING)
		return -EINVAL;
	d->timer_deadline[vcpu] = deadline;
	if (d->hv->env->timer_set)
		d->hv->env->timer_set(d, vcpu, deadline);
	return 0;
}

void hv_timer_fire(struct hv_domain *d, unsigned int vcpu)
{
	if (vcpu >= d->nr_vcpus || !d->timer_deadline[vcpu])
		return;
	d->timer_deadline[vcpu] = 0;
	hv_evtchn_raise_virq(d->kernel, vcpu, VIRQ_TIMER);
}
