/*
 * hvd.c - pvkit-hvd, the emulated hypervisor daemon.
 *
 * The I/O shell around the pure core in hv.h: one epoll loop that owns every
 * domain's memory file (memfd), shared_info pages, per-vCPU event fds
 * (the "vector callback") and single-shot timers (timerfd).  Dom0 processes
 * connect to the listening socket (mode 0600: only the host's root is Dom0);
 * a DomU's kernel process inherits its end of a socketpair made at creation,
 * so its identity is its connection and nothing it sends can name another.
 *
 * Trust boundary: every datagram from a domain is checked for size and
 * argument ranges before the core sees it; a malformed hypercall gets an
 * error reply, never a crash.
 */
#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"
#include "hv/hc_wire.h"
#include "hv/hv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/features.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

#define PAGE_SIZE 4096u
#define MAX_MEM_PAGES (PVK_EMU_MAX_MEM_MIB << 8) /* in 4 KiB pages */

enum src_type { SRC_LISTEN, SRC_CONN, SRC_BELL, SRC_TIMER, SRC_SIGNAL };

struct src {
	enum src_type type;
};

struct hvd;

struct conn {
	struct src src; /* SRC_CONN */
	struct hvd *hvd;
	int fd;
	struct hv_domain *dom;
	struct hv_sink own_sink; /* Dom0 processes */
	struct hv_sink *sink;	 /* own_sink, or the DomU's kernel sink */
	struct shared_info *si;	 /* Dom0: own page */
	int sh_fd;
	int efd;	     /* Dom0: its single vCPU's event fd */
	struct src bell_src; /* SRC_BELL */
	int ring_fd, bell_fd;
	struct pvk_send_ring *ring;
	uint32_t ring_cons; /* our copy: the guest may scribble on ring->cons */
	bool hello_done;
	uint64_t hello_seq; /* DomU hello held while paused */
	bool hello_pending;
	uint64_t suspend_seq; /* SCHEDOP_shutdown(suspend) held */
	bool suspend_pending;
	pid_t pid;
	unsigned int gslot; /* Dom0 copier slot in active tables, 0: none */
	struct conn *next;
};

struct vtimer {
	struct src src; /* SRC_TIMER */
	struct hv_domain *dom;
	unsigned int vcpu;
	int fd;
};

/* Shell state of a DomU (hv_domain.priv). */
struct dom_priv {
	int mem_fd;
	int gact_fd; /* its active grant table (common/gnt_active.h) */
	size_t mem_len;
	int sh_fd;
	struct shared_info *si;
	struct hv_sink sink;
	int efd[HV_MAX_VCPUS];
	struct vtimer timer[HV_MAX_VCPUS];
	struct conn *kernel; /* the DomU's process, once connected */
	char cmdline[PVK_CMDLINE_MAX];
};

struct hvd {
	struct hv hv;
	int epfd;
	struct src listen_src;
	int listen_fd;
	struct src signal_src;
	int signal_fd;
	struct conn *conns;
	bool quit;
	pid_t last_pid; /* sender of the datagram being handled */
	struct conn *gslot_conn[PVK_GACT_SLOTS]; /* copier slots' owners */
	int gact_fd_new; /* made by env_gact_alloc for the domain in creation */
	uint64_t frees;	 /* bumped whenever an epoll source is freed */
	uint8_t buf[PVK_HC_MAX_MSG];
	uint8_t out[PVK_HC_MAX_MSG];
};

static struct hvd *hvd_of(struct hv *hv)
{
	return (struct hvd *)((char *)hv - offsetof(struct hvd, hv));
}

/* ---- environment ops for the core ---- */

static void env_kick(struct hv_sink *s, unsigned int vcpu)
{
	uint64_t one = 1;
	int fd;

	if (s->dom->privileged) {
		struct conn *c = s->priv;

		fd = c->efd;
	} else {
		struct dom_priv *p = s->dom->priv;

		fd = p->efd[vcpu];
	}
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pvk_warn("kick d%u v%u: %s", s->dom->domid, vcpu,
			 strerror(errno));
}

static void env_timer_set(struct hv_domain *d, unsigned int vcpu,
			  uint64_t deadline)
{
	struct dom_priv *p = d->priv;
	struct vtimer *t = &p->timer[vcpu];
	struct itimerspec its = {0};

	if (t->fd < 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};

		if (!deadline)
			return;
		t->fd =
		    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (t->fd < 0) {
			pvk_err("timerfd: %s", strerror(errno));
			return;
		}
		epoll_ctl(hvd_of(d->hv)->epfd, EPOLL_CTL_ADD, t->fd, &ev);
	}
	if (deadline) {
		its.it_value.tv_sec = (time_t)(deadline / 1000000000ull);
		its.it_value.tv_nsec = (long)(deadline % 1000000000ull);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void env_page_release(struct hv_domain *d, uint64_t gpfn)
{
	struct dom_priv *p = d->priv;

	if (fallocate(p->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(gpfn * PAGE_SIZE), PAGE_SIZE) < 0)
		pvk_warn("d%u: punch hole at gpfn %#llx: %s", d->domid,
			 (unsigned long long)gpfn, strerror(errno));
}

static void conn_close(struct conn *c);
static int reply(struct conn *c, uint64_t seq, int64_t rc, const void *arg,
		 size_t len, const int *fds, unsigned int nfds);

static void proc_signal(struct hv_domain *d, int sig)
{
	struct dom_priv *p = d->priv;

	if (p && p->kernel && p->kernel->pid > 1 && p->kernel->pid != getpid())
		kill(p->kernel->pid, sig);
}

static void env_dom_changed(struct hv_domain *d)
{
	struct dom_priv *p = d->priv;

	if (d->privileged || !p)
		return;
	if (d->state == HV_DOM_SHUTDOWN) {
		pvk_info("d%u (%s) shut down, reason %u", d->domid, d->name,
			 d->shutdown_reason);
		/* Its vCPUs never run again: stop the process. A suspended
		 * domain is frozen so it can be resumed. */
		proc_signal(d, d->shutdown_reason == SHUTDOWN_suspend
				   ? SIGSTOP
				   : SIGKILL);
	} else if (d->state == HV_DOM_DYING) {
		pvk_info("d%u (%s) destroyed", d->domid, d->name);
		proc_signal(d, SIGKILL);
		if (p->kernel)
			conn_close(p->kernel);
	}
}

/* The sink's process sees the hint in its send-ring page. */
static void env_direct_hint(struct hv_sink *s, evtchn_port_t port, bool on)
{
	struct conn *c;
	uint64_t m;

	if (s->dom->privileged) {
		c = s->priv;
	} else {
		struct dom_priv *p = s->dom->priv;

		c = p && s == &p->sink ? p->kernel : NULL;
	}
	if (!c || !c->ring || port >= PVK_DIRECT_HINT_PORTS)
		return;
	m = (uint64_t)1 << (port % 64);
	if (on)
		__atomic_fetch_or(&c->ring->direct_hint[port / 64], m,
				  __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&c->ring->direct_hint[port / 64], ~m,
				   __ATOMIC_SEQ_CST);
}

static void env_dom_free(struct hv_domain *d)
{
	struct dom_priv *p = d->priv;
	unsigned int v;

	if (!p)
		return;
	hvd_of(d->hv)->frees++; /* its timers were epoll sources */
	for (v = 0; v < HV_MAX_VCPUS; v++) {
		if (p->efd[v] >= 0)
			close(p->efd[v]);
		if (p->timer[v].fd >= 0)
			close(p->timer[v].fd);
	}
	if (d->mem)
		munmap(d->mem, p->mem_len);
	if (p->si)
		munmap(p->si, PAGE_SIZE);
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	if (p->gact_fd >= 0)
		close(p->gact_fd);
	if (p->sh_fd >= 0)
		close(p->sh_fd);
	free(p);
	d->priv = NULL;
}

/* The active grant table of a domain in creation: a memory file, so that
 * Dom0 copiers can share it (PVK_HC_gnt_share). */
static void *env_gact_alloc(struct hv_domain *d, size_t size)
{
	struct hvd *h = hvd_of(d->hv);
	int fd = memfd_create("pvkit-gnt-active", MFD_CLOEXEC);
	void *m;

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	if (h->gact_fd_new >= 0)
		close(h->gact_fd_new);
	h->gact_fd_new = fd;
	return m;
fail:
	close(fd);
	return NULL;
}

static void env_gact_free(struct hv_domain *d, void *base, size_t size)
{
	(void)d;
	munmap(base, size);
}

/* Whether the process holding copier slot `slot` is gone: its connection
 * closed, or hung up and not yet read. */
static bool env_gact_holder_dead(struct hv *hv, unsigned int slot)
{
	struct hvd *h = hvd_of(hv);
	struct conn *c;
	struct pollfd pfd;

	if (slot >= PVK_GACT_SLOTS || slot == PVK_GACT_HVD)
		return false;
	c = h->gslot_conn[slot];
	if (!c)
		return true;
	pfd.fd = c->fd;
	pfd.events = POLLRDHUP;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) > 0 &&
	       (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

static const struct hv_env_ops env_ops = {
    .gact_alloc = env_gact_alloc,
    .gact_free = env_gact_free,
    .gact_holder_dead = env_gact_holder_dead,
    .kick = env_kick,
    .timer_set = env_timer_set,
    .page_release = env_page_release,
    .dom_changed = env_dom_changed,
    .dom_free = env_dom_free,
    .direct_hint = env_direct_hint,
};

/* ---- helpers ---- */

static int shared_page(const char *name, int *fd_out, void **map_out)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *m;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, PAGE_SIZE) < 0)
		goto fail;
	m = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	*fd_out = fd;
	*map_out = m;
	return 0;
fail : {
	int e = -errno;

	close(fd);
	return e;
}
}

static int reply(struct conn *c, uint64_t seq, int64_t rc, const void *arg,
		 size_t len, const int *fds, unsigned int nfds)
{
	struct hvd *h = c->hvd;
	struct pvk_hc_rsp *rsp = (struct pvk_hc_rsp *)h->out;
	int err;

	if (len > sizeof(h->out) - sizeof(*rsp))
		return -EMSGSIZE;
	memset(rsp, 0, sizeof(*rsp));
	rsp->rc = rc;
	rsp->seq = seq;
	rsp->nfds = nfds;
	if (len)
		memmove(h->out + sizeof(*rsp), arg, len);
	err = pvk_send_fds(c->fd, h->out, sizeof(*rsp) + len, fds, nfds);
	if (err && err != -EPIPE)
		pvk_warn("reply to d%u: %s", c->dom ? c->dom->domid : 0,
			 strerror(-err));
	return err;
}

/* ---- hypercall handlers: each validates its own arguments ---- */

struct call {
	struct conn *c;
	const struct pvk_hc_req *req;
	uint8_t *arg; /* mutable copy of the argument bytes */
	size_t len;
	/* reply */
	int64_t rc;
	size_t out_len; /* bytes of arg to send back */
	int fds[PVK_MAX_FDS];
	unsigned int nfds;
	bool deferred;	/* reply sent later */
	bool close_fds; /* fds were made for the reply: close once sent */
};

#define NEED(sz)                                                               \
	do {                                                                   \
		if (cl->len != (sz))                                           \
			return -EINVAL;                                        \
	} while (0)

static struct hv_domain *target_dom(struct call *cl, domid_t domid)
{
	struct hv_domain *self = cl->c->dom;

	if (domid == DOMID_SELF || domid == self->domid)
		return self;
	if (!self->privileged)
		return NULL;
	return hv_domain_get(&cl->c->hvd->hv, domid);
}

static int64_t do_evtchn(struct call *cl)
{
	struct hv_sink *s = cl->c->sink;

	switch (cl->req->cmd) {
	case EVTCHNOP_alloc_unbound:
		NEED(sizeof(struct evtchn_alloc_unbound));
		cl->out_len = cl->len;
		return hv_evtchn_alloc_unbound(s, (void *)cl->arg);
	case EVTCHNOP_bind_interdomain:
		NEED(sizeof(struct evtchn_bind_interdomain));
		cl->out_len = cl->len;
		return hv_evtchn_bind_interdomain(s, (void *)cl->arg);
	case EVTCHNOP_bind_virq:
		NEED(sizeof(struct evtchn_bind_virq));
		cl->out_len = cl->len;
		return hv_evtchn_bind_virq(s, (void *)cl->arg);
	case EVTCHNOP_bind_ipi:
		NEED(sizeof(struct evtchn_bind_ipi));
		cl->out_len = cl->len;
		return hv_evtchn_bind_ipi(s, (void *)cl->arg);
	case EVTCHNOP_bind_vcpu:
		NEED(sizeof(struct evtchn_bind_vcpu));
		return hv_evtchn_bind_vcpu(s, (void *)cl->arg);
	case EVTCHNOP_close:
		NEED(sizeof(struct evtchn_close));
		return hv_evtchn_close(s,
				       ((struct evtchn_close *)cl->arg)->port);
	case EVTCHNOP_send:
		NEED(sizeof(struct evtchn_send));
		return hv_evtchn_send(s, ((struct evtchn_send *)cl->arg)->port);
	case EVTCHNOP_status:
		NEED(sizeof(struct evtchn_status));
		cl->out_len = cl->len;
		return hv_evtchn_status(s, (void *)cl->arg);
	case EVTCHNOP_unmask:
		NEED(sizeof(struct evtchn_unmask));
		return hv_evtchn_unmask(
		    s, ((struct evtchn_unmask *)cl->arg)->port);
	case EVTCHNOP_reset:
		NEED(sizeof(struct evtchn_reset));
		return hv_evtchn_reset(s,
				       ((struct evtchn_reset *)cl->arg)->dom);
	case EVTCHNOP_bind_pirq:
		return -ENOSYS; /* no physical IRQs in emulation */
	case EVTCHNOP_init_control:
		NEED(sizeof(struct evtchn_init_control));
		cl->out_len = cl->len;
		return hv_fifo_init_control(s, (void *)cl->arg);
	case EVTCHNOP_expand_array:
		NEED(sizeof(struct evtchn_expand_array));
		return hv_fifo_expand_array(s, (void *)cl->arg);
	case EVTCHNOP_set_priority:
		NEED(sizeof(struct evtchn_set_priority));
		return hv_evtchn_set_priority(s, (void *)cl->arg);
	default:
		return -ENOSYS;
	}
}

/* Attach d's memory fd to the reply once; returns its index or -1. */
static int attach_mem_fd(struct call *cl, struct hv_domain *d)
{
	struct dom_priv *p = d->priv;
	unsigned int i;

	for (i = 0; i < cl->nfds; i++)
		if (cl->fds[i] == p->mem_fd)
			return (int)i;
	if (cl->nfds >= PVK_MAX_FDS)
		return -1;
	cl->fds[cl->nfds] = p->mem_fd;
	return (int)cl->nfds++;
}

static int64_t do_gnttab(struct call *cl)
{
	struct hv_sink *s = cl->c->sink;
	uint32_t count = cl->req->count, i;

	switch (cl->req->cmd) {
	case GNTTABOP_setup_table: {
		struct gnttab_setup_table *a = (void *)cl->arg;
		xen_pfn_t *frames = (xen_pfn_t *)(a + 1);
		struct hv_domain *d;
		int rc;

		if (cl->len < sizeof(*a))
			return -EINVAL;
		if (a->nr_frames > HV_MAX_GNT_FRAMES ||
		    cl->len != sizeof(*a) + a->nr_frames * sizeof(xen_pfn_t))
			return -EINVAL;
		d = target_dom(cl, a->dom);
		cl->out_len = cl->len;
		if (!d) {
			a->status = GNTST_bad_domain;
			return 0;
		}
		rc = hv_gnttab_setup_table(d, a->nr_frames, frames);
		a->status = rc ? GNTST_general_error : GNTST_okay;
		return 0;
	}
	case GNTTABOP_query_size: {
		struct gnttab_query_size *q = (void *)cl->arg;
		struct hv_domain *d;

		NEED(sizeof(*q));
		cl->out_len = cl->len;
		d = target_dom(cl, q->dom);
		if (!d) {
			q->status = GNTST_bad_domain;
			return 0;
		}
		return hv_gnttab_query_size(d, q);
	}
	case GNTTABOP_map_grant_ref: {
		struct gnttab_map_grant_ref *op = (void *)cl->arg;

		if (!count || cl->len != count * sizeof(*op))
			return -EINVAL;
		cl->out_len = cl->len;
		/* A mapping hands over the granter's memory file, so only Dom0
		 * (trusted) may map; DomU driver domains are not supported
		 * by the emulated platform yet. */
		if (!cl->c->dom->privileged) {
			for (i = 0; i < count; i++)
				op[i].status = GNTST_permission_denied;
			return 0;
		}
		for (i = 0; i < count; i++) {
			struct hv_domain *g;
			int idx;

			hv_gnttab_map(s, &op[i]);
			if (op[i].status != GNTST_okay)
				continue;
			g = hv_domain_get(&cl->c->hvd->hv, op[i].dom);
			idx = attach_mem_fd(cl, g);
			if (idx < 0) {
				struct gnttab_unmap_grant_ref u = {
				    .handle = op[i].handle};

				hv_gnttab_unmap(s, &u);
				op[i].status = GNTST_no_space;
				continue;
			}
			/* host_addr carries the index of the attached memory
			 * file; dev_bus_addr the byte offset in it. */
			op[i].host_addr = (uint64_t)idx;
		}
		return 0;
	}
	case GNTTABOP_unmap_grant_ref: {
		struct gnttab_unmap_grant_ref *op = (void *)cl->arg;

		if (!count || cl->len != count * sizeof(*op))
			return -EINVAL;
		cl->out_len = cl->len;
		for (i = 0; i < count; i++)
			hv_gnttab_unmap(s, &op[i]);
		return 0;
	}
	case GNTTABOP_copy: {
		struct gnttab_copy *op = (void *)cl->arg;

		if (!count || cl->len != count * sizeof(*op))
			return -EINVAL;
		cl->out_len = cl->len;
		for (i = 0; i < count; i++)
			hv_gnttab_copy(s, &op[i]);
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static void send_pending_suspend(struct conn *c, int64_t rc)
{
	if (!c->suspend_pending)
		return;
	c->suspend_pending = false;
	reply(c, c->suspend_seq, rc, NULL, 0, NULL, 0);
}

static int64_t do_sched(struct call *cl)
{
	struct hv_domain *self = cl->c->dom;

	switch (cl->req->cmd) {
	case SCHEDOP_yield:
	case SCHEDOP_block:
		/* The guest runtime blocks on its own vCPU event fd. */
		return 0;
	case SCHEDOP_shutdown: {
		struct sched_shutdown *a = (void *)cl->arg;
		int rc;

		NEED(sizeof(*a));
		if (a->reason > SHUTDOWN_MAX)
			return -EINVAL;
		if (a->reason == SHUTDOWN_suspend && !self->privileged) {
			cl->c->suspend_pending = true;
			cl->c->suspend_seq = cl->req->seq;
			cl->deferred = true;
		}
		rc = hv_domain_shutdown(self, a->reason);
		if (rc && cl->deferred) {
			cl->deferred = false;
			cl->c->suspend_pending = false;
		}
		return rc;
	}
	case SCHEDOP_remote_shutdown: {
		struct sched_remote_shutdown *a = (void *)cl->arg;
		struct hv_domain *d;

		NEED(sizeof(*a));
		if (!self->privileged)
			return -EPERM;
		d = hv_domain_get(&cl->c->hvd->hv, a->domain_id);
		if (!d)
			return -ESRCH;
		return hv_domain_shutdown(d, a->reason);
	}
	default:
		return -ENOSYS;
	}
}

static int64_t do_vcpu(struct call *cl)
{
	struct hv_domain *self = cl->c->dom;
	uint32_t vcpu = cl->req->count;

	if (vcpu >= cl->c->sink->nr_vcpus)
		return -ENOENT;
	switch (cl->req->cmd) {
	case VCPUOP_is_up:
		return 1;
	case VCPUOP_set_singleshot_timer: {
		struct vcpu_set_singleshot_timer *a = (void *)cl->arg;

		NEED(sizeof(*a));
		if (self->privileged)
			return -ENOSYS; /* Dom0 processes use host timers */
		if ((a->flags & VCPU_SSHOTTMR_future) &&
		    a->timeout_abs_ns < pvk_now_ns())
			return -ETIME;
		return hv_timer_set(self, vcpu,
				    a->timeout_abs_ns ? a->timeout_abs_ns : 1);
	}
	case VCPUOP_stop_singleshot_timer:
		if (self->privileged)
			return -ENOSYS;
		return hv_timer_set(self, vcpu, 0);
	default:
		return -ENOSYS;
	}
}

static int64_t do_memory(struct call *cl)
{
	switch (cl->req->cmd) {
	case XENMEM_increase_reservation:
	case XENMEM_populate_physmap:
	case XENMEM_decrease_reservation: {
		struct xen_memory_reservation *r = (void *)cl->arg;
		struct hv_domain *d;

		if (cl->len < sizeof(*r))
			return -EINVAL;
		if (r->nr_extents >
			(cl->len - sizeof(*r)) / sizeof(xen_pfn_t) ||
		    cl->len != sizeof(*r) + r->nr_extents * sizeof(xen_pfn_t))
			return -EINVAL;
		if (r->extent_order != 0)
			return -EINVAL; /* only 4 KiB extents */
		d = target_dom(cl, r->domid);
		if (!d)
			return -ESRCH;
		if (cl->req->cmd == XENMEM_decrease_reservation)
			return hv_mem_decrease(d, (xen_pfn_t *)(r + 1),
					       r->nr_extents);
		return hv_mem_populate(d, (xen_pfn_t *)(r + 1), r->nr_extents);
	}
	case XENMEM_current_reservation:
	case XENMEM_maximum_reservation: {
		struct hv_domain *d;

		NEED(sizeof(domid_t));
		d = target_dom(cl, *(domid_t *)cl->arg);
		if (!d)
			return -ESRCH;
		return (int64_t)(cl->req->cmd == XENMEM_current_reservation
				     ? d->tot_pages
				     : d->max_pages);
	}
	default:
		return -ENOSYS;
	}
}

static int64_t do_version(struct call *cl)
{
	switch (cl->req->cmd) {
	case XENVER_version:
		return (4 << 16) | 17;
	case XENVER_extraversion:
		NEED(sizeof(xen_extraversion_t));
		memset(cl->arg, 0, sizeof(xen_extraversion_t));
		strcpy((char *)cl->arg, "-pvkit");
		cl->out_len = cl->len;
		return 0;
	case XENVER_get_features: {
		struct xen_feature_info *f = (void *)cl->arg;

		NEED(sizeof(*f));
		f->submap = 0;
		if (f->submap_idx == 0)
			f->submap = (1u << XENFEAT_auto_translated_physmap) |
				    (1u << XENFEAT_hvm_callback_vector) |
				    (1u << XENFEAT_hvm_safe_pvclock);
		cl->out_len = cl->len;
		return 0;
	}
	case XENVER_pagesize:
		return PAGE_SIZE;
	default:
		return -ENOSYS;
	}
}

static int64_t do_hvm(struct call *cl)
{
	struct xen_hvm_param *a = (void *)cl->arg;
	struct hv_domain *d;

	if (cl->req->cmd != HVMOP_get_param && cl->req->cmd != HVMOP_set_param)
		return -ENOSYS;
	NEED(sizeof(*a));
	if (a->index >= HV_NR_HVM_PARAMS)
		return -EINVAL;
	d = target_dom(cl, a->domid);
	if (!d)
		return cl->c->dom->privileged ? -ESRCH : -EPERM;
	if (cl->req->cmd == HVMOP_get_param) {
		a->value = d->hvm_param[a->index];
		cl->out_len = cl->len;
		return 0;
	}
	/* A guest may set its own callback; the rest is the toolstack's. */
	if (!cl->c->dom->privileged && a->index != HVM_PARAM_CALLBACK_IRQ)
		return -EPERM;
	d->hvm_param[a->index] = a->value;
	return 0;
}

/* ---- pvkit control ops (privileged) ---- */

static void dom_priv_init(struct dom_priv *p)
{
	unsigned int v;

	memset(p, 0, sizeof(*p));
	p->mem_fd = p->sh_fd = p->gact_fd = -1;
	for (v = 0; v < HV_MAX_VCPUS; v++) {
		p->efd[v] = -1;
		p->timer[v].fd = -1;
		p->timer[v].src.type = SRC_TIMER;
	}
}

static struct conn *conn_new(struct hvd *h, int fd);

static int64_t do_dom_create(struct call *cl)
{
	struct hvd *h = cl->c->hvd;
	struct pvk_hc_dom_create *a = (void *)cl->arg;
	struct dom_priv *p = NULL;
	struct hv_domain *d = NULL;
	struct conn *kc;
	uint64_t mem_pages;
	void *mem = MAP_FAILED;
	int sv[2] = {-1, -1};
	unsigned int v;
	int rc;

	NEED(sizeof(*a));
	if (memchr(a->name, 0, sizeof(a->name)) == NULL ||
	    memchr(a->cmdline, 0, sizeof(a->cmdline)) == NULL)
		return -EINVAL;
	if (a->vcpus == 0 || a->vcpus > HV_MAX_VCPUS)
		return -EINVAL;
	if (a->max_pages == 0 || a->max_pages > MAX_MEM_PAGES ||
	    a->tot_pages > a->max_pages)
		return -EINVAL;
	if (a->max_grant_frames == 0)
		a->max_grant_frames = 32;
	if (a->max_grant_frames > HV_MAX_GNT_FRAMES)
		return -EINVAL;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	dom_priv_init(p);
	mem_pages = hv_domain_mem_pages(a->max_pages, a->max_grant_frames);
	p->mem_len = mem_pages * PAGE_SIZE;
	p->mem_fd = memfd_create("pvkit-guest-mem", MFD_CLOEXEC);
	if (p->mem_fd < 0 || ftruncate(p->mem_fd, (off_t)p->mem_len) < 0) {
		rc = -errno;
		goto fail;
	}
	mem = mmap(NULL, p->mem_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   p->mem_fd, 0);
	if (mem == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	rc = shared_page("pvkit-shared-info", &p->sh_fd, (void **)&p->si);
	if (rc)
		goto fail;
	for (v = 0; v < a->vcpus; v++) {
		/* Blocking: the vCPU thread sleeps in read(); our writes
		 * cannot block (the counter would need 2^64 of them). */
		p->efd[v] = eventfd(0, EFD_CLOEXEC);
		if (p->efd[v] < 0) {
			rc = -errno;
			goto fail;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = hv_domain_create(&h->hv, DOMID_INVALID, a->name, false, a->vcpus,
			      a->max_pages, a->tot_pages, a->max_grant_frames,
			      mem, mem_pages, &d);
	if (rc) {
		if (h->gact_fd_new >= 0)
			close(h->gact_fd_new);
		h->gact_fd_new = -1;
		goto fail;
	}
	mem = MAP_FAILED; /* owned by the domain (freed in env_dom_free) */
	p->gact_fd = h->gact_fd_new;
	h->gact_fd_new = -1;
	d->priv = p;
	d->paused = true; /* created paused, as in Xen */
	d->pause_count = 1;
	for (v = 0; v < a->vcpus; v++) {
		p->timer[v].dom = d;
		p->timer[v].vcpu = v;
	}
	hv_sink_init(&p->sink, d, p->si, a->vcpus, NULL);
	d->kernel = &p->sink;
	snprintf(p->cmdline, sizeof(p->cmdline), "%s", a->cmdline);
	hv_domain_write_start_info(d, p->cmdline);
	kc = conn_new(h, sv[0]);
	if (!kc) {
		sv[0] = -1; /* conn_new closed it */
		p = NULL;   /* freed with the domain */
		hv_domain_destroy(d);
		rc = -ENOMEM;
		goto fail;
	}
	sv[0] = -1;
	kc->dom = d;
	kc->sink = &p->sink;
	p->sink.priv = kc;
	p->kernel = kc;
	a->domid = d->domid;
	cl->out_len = cl->len;
	cl->fds[0] = sv[1];
	cl->nfds = 1;
	pvk_info("created d%u (%s): %llu/%llu pages, %u vcpus", d->domid,
		 d->name, (unsigned long long)a->tot_pages,
		 (unsigned long long)a->max_pages, a->vcpus);
	return 0;
fail:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (mem != MAP_FAILED)
		munmap(mem, p->mem_len);
	if (p) {
		for (v = 0; v < HV_MAX_VCPUS; v++)
			if (p->efd[v] >= 0)
				close(p->efd[v]);
		if (p->si)
			munmap(p->si, PAGE_SIZE);
		if (p->sh_fd >= 0)
			close(p->sh_fd);
		if (p->mem_fd >= 0)
			close(p->mem_fd);
		free(p);
	}
	return rc;
}

static int hello_reply(struct conn *c, uint64_t seq);

static int64_t do_dom_rename(struct call *cl)
{
	struct hvd *h = cl->c->hvd;
	struct pvk_hc_dom_rename *a = (void *)cl->arg;
	struct hv_domain *d;
	unsigned int id;

	NEED(sizeof(*a));
	_Static_assert(sizeof(a->name) == sizeof(d->name), "name sizes");
	if (!memchr(a->name, 0, sizeof(a->name)) || !a->name[0])
		return -EINVAL;
	d = hv_domain_get(&h->hv, (domid_t)a->domid);
	if (!d || a->domid >= DOMID_FIRST_RESERVED || d->state == HV_DOM_DYING)
		return -ESRCH;
	if (d->privileged)
		return -EPERM;
	for (id = 0; id < DOMID_FIRST_RESERVED; id++) {
		const struct hv_domain *o = h->hv.doms[id];

		if (o && o != d && o->state != HV_DOM_DYING &&
		    !strcmp(o->name, a->name))
			return -EEXIST;
	}
	pvk_info("d%u renamed from %s to %s", d->domid, d->name, a->name);
	memcpy(d->name, a->name, sizeof(d->name));
	return 0;
}

static int64_t do_domctl(struct call *cl)
{
	struct hvd *h = cl->c->hvd;
	struct pvk_hc_domid *a = (void *)cl->arg;
	struct hv_domain *d;

	if (!cl->c->dom->privileged)
		return -EPERM;
	if (cl->req->op == PVK_HC_dom_create)
		return do_dom_create(cl);
	if (cl->req->op == PVK_HC_dom_rename)
		return do_dom_rename(cl);
	if (cl->req->op == PVK_HC_dom_list) {
		struct pvk_dominfo *out = (void *)cl->arg;
		uint32_t first, max, n = 0, id;

		if (cl->len < sizeof(*a))
			return -EINVAL;
		first = a->domid;
		max = (uint32_t)a->value;
		/* Never more than the caller's buffer (its request size). */
		if (max > cl->len / sizeof(*out))
			max = (uint32_t)(cl->len / sizeof(*out));
		for (id = first; id < DOMID_FIRST_RESERVED && n < max; id++) {
			d = h->hv.doms[id];
			if (d)
				hv_domain_info(d, &out[n++]);
		}
		cl->out_len = n * sizeof(*out);
		return n;
	}
	NEED(sizeof(*a));
	d = hv_domain_get(&h->hv, (domid_t)a->domid);
	if (!d || a->domid >= DOMID_FIRST_RESERVED)
		return -ESRCH;
	if (d->privileged)
		return -EPERM;
	switch (cl->req->op) {
	case PVK_HC_dom_destroy: {
		struct dom_priv *p = d->priv;

		if (d->state == HV_DOM_DYING)
			return -ESRCH;
		if (p && p->kernel)
			send_pending_suspend(p->kernel, -ESRCH);
		hv_domain_destroy(d);
		return 0;
	}
	case PVK_HC_dom_pause:
		/* Counted, as Xen's pause by the system controller: each
		 * pause needs its unpause; at most 255. */
		if (d->pause_count >= 255)
			return -EOVERFLOW;
		if (d->pause_count++ == 0) {
			d->paused = true;
			proc_signal(d, SIGSTOP);
		}
		return 0;
	case PVK_HC_dom_unpause: {
		struct dom_priv *p = d->priv;

		if (d->pause_count == 0)
			return -EINVAL; /* not paused (Xen's answer) */
		if (--d->pause_count)
			return 0; /* paused more times than unpaused */
		d->paused = false;
		if (d->state == HV_DOM_RUNNING)
			proc_signal(d, SIGCONT);
		if (p && p->kernel && p->kernel->hello_pending) {
			p->kernel->hello_pending = false;
			hello_reply(p->kernel, p->kernel->hello_seq);
		}
		return 0;
	}
	case PVK_HC_dom_resume: {
		struct dom_priv *p = d->priv;

		if (d->state != HV_DOM_SHUTDOWN ||
		    d->shutdown_reason != SHUTDOWN_suspend)
			return -EINVAL;
		d->state = HV_DOM_RUNNING;
		/* Xen: SCHEDOP_shutdown(suspend) returns 1, "cancelled". */
		if (p && p->kernel)
			send_pending_suspend(p->kernel, 1);
		if (!d->paused)
			proc_signal(d, SIGCONT);
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static int64_t do_foreign_map(struct call *cl)
{
	struct pvk_hc_foreign_map *a = (void *)cl->arg;
	const xen_pfn_t *gfns = (const xen_pfn_t *)(a + 1);
	struct hv_domain *d;
	uint32_t i;

	if (!cl->c->dom->privileged)
		return -EPERM;
	if (cl->len < sizeof(*a) ||
	    a->count > (cl->len - sizeof(*a)) / sizeof(xen_pfn_t) ||
	    cl->len != sizeof(*a) + a->count * sizeof(xen_pfn_t))
		return -EINVAL;
	d = hv_domain_get(&cl->c->hvd->hv, (domid_t)a->domid);
	if (!d || a->domid >= DOMID_FIRST_RESERVED || !d->mem ||
	    d->state == HV_DOM_DYING)
		return -ESRCH;
	for (i = 0; i < a->count; i++)
		if (!hv_mem_frame_valid(d, gfns[i]))
			return -EFAULT;
	attach_mem_fd(cl, d);
	return 0;
}

/* PVK_HC_gnt_share: a granter's memory and active table for a Dom0
 * copier; rc is the connection's slot. */
static int64_t do_gnt_share(struct call *cl)
{
	struct hvd *h = cl->c->hvd;
	struct pvk_hc_domid *a = (void *)cl->arg;
	struct hv_domain *d;
	struct dom_priv *p;
	unsigned int s;

	if (!cl->c->dom->privileged)
		return -EPERM;
	NEED(sizeof(*a));
	d = hv_domain_get(&h->hv, (domid_t)a->domid);
	if (!d || a->domid >= DOMID_FIRST_RESERVED || !d->mem ||
	    d->state == HV_DOM_DYING || !(p = d->priv) || p->gact_fd < 0)
		return -ESRCH;
	if (!cl->c->gslot) {
		for (s = 1; s < PVK_GACT_SLOTS; s++)
			if (!h->gslot_conn[s])
				break;
		if (s == PVK_GACT_SLOTS)
			return -ENOSPC;
		h->gslot_conn[s] = cl->c;
		cl->c->gslot = s;
	}
	cl->fds[0] = p->mem_fd;
	cl->fds[1] = p->gact_fd;
	cl->nfds = 2;
	return cl->c->gslot;
}

/* ---- start of day ---- */

static int hello_reply(struct conn *c, uint64_t seq)
{
	struct hv_domain *d = c->dom;
	struct pvk_hc_hello hello = {0};
	int fds[PVK_MAX_FDS];
	unsigned int n = 0, v;

	hello.domid = d->domid;
	hello.nr_vcpus = c->sink->nr_vcpus;
	if (d->privileged) {
		fds[n++] = c->sh_fd;
		fds[n++] = c->ring_fd;
		fds[n++] = c->bell_fd;
		fds[n++] = c->efd;
	} else {
		struct dom_priv *p = d->priv;

		if (d->nr_vcpus + 4 > PVK_MAX_FDS)
			return -E2BIG;
		fds[n++] = p->sh_fd;
		fds[n++] = c->ring_fd;
		fds[n++] = c->bell_fd;
		for (v = 0; v < d->nr_vcpus; v++)
			fds[n++] = p->efd[v];
		fds[n++] = p->mem_fd;
		hello.has_memory = 1;
		hello.max_pages = d->max_pages;
		hello.tot_pages = d->tot_pages;
		hello.special_gpfn = d->special_gpfn;
		hello.mem_pages = d->mem_pages;
		hello.max_grant_frames = d->max_gnt_frames;
	}
	c->hello_done = true;
	return reply(c, seq, 0, &hello, sizeof(hello), fds, n);
}

static int64_t do_hello(struct call *cl)
{
	struct conn *c = cl->c;

	if (c->hello_done || c->hello_pending)
		return -EALREADY;
	/* The kernel vouches for the sender's pid (SO_PASSCRED); a
	 * socketpair's SO_PEERCRED would name its creator, us. */
	c->pid = c->hvd->last_pid;
	if (c->pid == getpid() || c->pid <= 1)
		c->pid = 0;
	{
		int zero = 0; /* credentials are needed only once */

		setsockopt(c->fd, SOL_SOCKET, SO_PASSCRED, &zero, sizeof(zero));
	}
	if (!c->dom->privileged && c->dom->paused) {
		/* Held until the toolstack unpauses the new domain. */
		c->hello_pending = true;
		c->hello_seq = cl->req->seq;
		cl->deferred = true;
		return 0;
	}
	if (hello_reply(c, cl->req->seq) < 0)
		return -EIO;
	cl->deferred = true; /* already replied */
	return 0;
}

/* PVK_HC_evtchn_direct: a port's inbox (rx) or its peer's (tx). */
static long do_direct(struct call *cl)
{
	struct pvk_hc_direct *a = (void *)cl->arg;
	struct hv_sink *s = cl->c->sink;
	int sv[2], w, rc;

	NEED(sizeof(*a));
	if (!s)
		return -EINVAL;
	switch (cl->req->cmd) {
	case PVK_DIRECT_rx:
		if (socketpair(AF_UNIX,
			       SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       sv) < 0)
			return -errno;
		rc = hv_evtchn_set_inbox(s, a->port, sv[1]);
		if (rc) {
			close(sv[0]);
			close(sv[1]);
			return rc;
		}
		/* hvd keeps no read end: when the owner closes it, every
		 * writer learns it from EPIPE. */
		shutdown(sv[1], SHUT_RD);
		cl->fds[cl->nfds++] = sv[0];
		cl->close_fds = true;
		return 0;
	case PVK_DIRECT_tx:
		rc = hv_evtchn_peer_inbox(s, a->port, &w);
		if (rc)
			return rc;
		cl->fds[cl->nfds++] = w;
		return 0;
	default:
		return -EINVAL;
	}
}

static void handle_call(struct conn *c, size_t n)
{
	struct hvd *h = c->hvd;
	struct pvk_hc_req req;
	struct call cl = {0};

	if (n < sizeof(req)) {
		pvk_warn("d%u: short hypercall (%zu bytes)", c->dom->domid, n);
		return;
	}
	memcpy(&req, h->buf, sizeof(req));
	cl.c = c;
	cl.req = &req;
	cl.arg = h->buf + sizeof(req);
	cl.len = n - sizeof(req);
	if (!c->hello_done && req.op != PVK_HC_hello) {
		cl.rc = -EPROTO;
		goto out;
	}
	switch (req.op) {
	case PVK_HC_hello:
		cl.rc = do_hello(&cl);
		break;
	case __HYPERVISOR_event_channel_op:
		cl.rc = do_evtchn(&cl);
		break;
	case __HYPERVISOR_grant_table_op:
		cl.rc = do_gnttab(&cl);
		break;
	case __HYPERVISOR_sched_op:
		cl.rc = do_sched(&cl);
		break;
	case __HYPERVISOR_vcpu_op:
		cl.rc = do_vcpu(&cl);
		break;
	case __HYPERVISOR_memory_op:
		cl.rc = do_memory(&cl);
		break;
	case __HYPERVISOR_xen_version:
		cl.rc = do_version(&cl);
		break;
	case __HYPERVISOR_hvm_op:
		cl.rc = do_hvm(&cl);
		break;
	case PVK_HC_foreign_map:
		cl.rc = do_foreign_map(&cl);
		break;
	case PVK_HC_gnt_share:
		cl.rc = do_gnt_share(&cl);
		break;
	case PVK_HC_evtchn_direct:
		cl.rc = do_direct(&cl);
		break;
	case PVK_HC_dom_create:
	case PVK_HC_dom_destroy:
	case PVK_HC_dom_pause:
	case PVK_HC_dom_unpause:
	case PVK_HC_dom_list:
	case PVK_HC_dom_resume:
	case PVK_HC_dom_rename:
		cl.rc = do_domctl(&cl);
		break;
	default:
		cl.rc = -ENOSYS;
		break;
	}
out:
	if (cl.deferred || (req.flags & PVK_HC_F_NOREPLY)) {
		if (cl.rc < 0 && !cl.deferred)
			pvk_debug("d%u: op %#x/%u failed: %lld", c->dom->domid,
				  req.op, req.cmd, (long long)cl.rc);
		/* fds made for this call (dom_create) would leak: none are
		 * made by deferred calls, and a no-reply caller loses them. */
		if (cl.close_fds) {
			unsigned int i;

			for (i = 0; i < cl.nfds; i++)
				close(cl.fds[i]);
		}
		return;
	}
	if (cl.rc < 0)
		cl.out_len = 0;
	reply(c, req.seq, cl.rc, cl.arg, cl.out_len, cl.fds, cl.nfds);
	if (req.op == PVK_HC_dom_create && cl.nfds)
		close(cl.fds[0]); /* the guest's end now travels */
	if (cl.close_fds) {
		unsigned int i;

		for (i = 0; i < cl.nfds; i++)
			close(cl.fds[i]);
	}
}

/* ---- connections ---- */

static struct conn *conn_new(struct hvd *h, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!c) {
		close(fd);
		return NULL;
	}
	c->src.type = SRC_CONN;
	c->hvd = h;
	c->fd = fd;
	{
		int one = 1;

		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	}
	c->sh_fd = c->efd = c->ring_fd = c->bell_fd = -1;
	c->bell_src.type = SRC_BELL;
	if (shared_page("pvkit-send-ring", &c->ring_fd, (void **)&c->ring))
		goto fail;
	c->bell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->bell_fd < 0)
		goto fail;
	/* Edge-triggered: every doorbell write is an edge, so the counter
	 * never needs reading (one syscall less per event; it would take
	 * 2^64 writes to fill it). */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.ptr = &c->bell_src;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, c->bell_fd, &ev) < 0)
		goto fail;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	c->next = h->conns;
	h->conns = c;
	return c;
fail:
	if (c->bell_fd >= 0) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->bell_fd, NULL);
		close(c->bell_fd);
	}
	if (c->ring)
		munmap(c->ring, PAGE_SIZE);
	if (c->ring_fd >= 0)
		close(c->ring_fd);
	close(fd);
	free(c);
	return NULL;
}

/* The doorbell rang: deliver every send in the ring. */
static void bell_input(struct conn *c)
{
	struct pvk_send_ring *r = c->ring;
	uint32_t prod, cons = c->ring_cons;

	prod = __atomic_load_n(&r->prod, __ATOMIC_ACQUIRE);
	if (prod - cons > PVK_SEND_RING_SLOTS) {
		pvk_warn("d%u: send ring producer index %u is bogus (consumer "
			 "%u): ring discarded",
			 c->dom ? c->dom->domid : 0, prod, cons);
		cons = prod;
	}
	while (cons != prod) {
		evtchn_port_t port = __atomic_load_n(
		    &r->port[cons % PVK_SEND_RING_SLOTS], __ATOMIC_RELAXED);

		cons++;
		if (c->hello_done && c->sink)
			hv_evtchn_send(c->sink, port);
	}
	c->ring_cons = cons;
	__atomic_store_n(&r->cons, cons, __ATOMIC_RELEASE);
}

static int conn_dom0_init(struct conn *c)
{
	struct hv_domain *d0 = hv_domain_get(&c->hvd->hv, 0);
	int rc;

	rc = shared_page("pvkit-dom0-shared", &c->sh_fd, (void **)&c->si);
	if (rc)
		return rc;
	c->efd = eventfd(0, EFD_CLOEXEC);
	if (c->efd < 0)
		return -errno;
	c->dom = d0;
	hv_sink_init(&c->own_sink, d0, c->si, 1, c);
	c->sink = &c->own_sink;
	hv_register_dom0_sink(&c->hvd->hv, c->sink);
	return 0;
}

static void conn_close(struct conn *c)
{
	struct hvd *h = c->hvd;
	struct conn **pp;

	h->frees++;
	for (pp = &h->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->bell_fd, NULL);
	if (c->gslot) {
		/* A copier gone, maybe in the middle of a copy: its pins go,
		 * a lock it held is broken (gnt_active.h). */
		unsigned int slot = c->gslot;
		uint64_t n;

		h->gslot_conn[slot] = NULL;
		n = hv_gact_drop_slot(&h->hv, slot);
		if (n)
			pvk_warn("copier slot %u (pid %d) went holding %llu "
				 "grant pins: dropped",
				 slot, (int)c->pid, (unsigned long long)n);
	}
	close(c->fd);
	close(c->bell_fd);
	if (c->dom && c->dom->privileged) {
		hv_sink_fini(&c->own_sink);
	} else if (c->dom) {
		struct hv_domain *d = c->dom;
		struct dom_priv *p = d->priv;

		/* The kernel process is gone: its mappings went with it. */
		hv_gnttab_release_sink(&p->sink);
		p->kernel = NULL;
		p->sink.priv = NULL;
		if (d->state == HV_DOM_RUNNING) {
			pvk_warn("d%u (%s): guest process exited without "
				 "shutting down: crashed",
				 d->domid, d->name);
			hv_domain_shutdown(d, SHUTDOWN_crash);
		}
	}
	/* Closing its ports above may have written hints into the ring. */
	munmap(c->ring, PAGE_SIZE);
	close(c->ring_fd);
	if (c->si)
		munmap(c->si, PAGE_SIZE);
	if (c->sh_fd >= 0)
		close(c->sh_fd);
	if (c->efd >= 0)
		close(c->efd);
	free(c);
}

static void conn_input(struct conn *c)
{
	struct hvd *h = c->hvd;
	unsigned int nfds = 0;
	ssize_t n;

	h->last_pid = 0;
	n = pvk_recv_fds_cred(c->fd, h->buf, sizeof(h->buf), NULL, &nfds,
			      &h->last_pid);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n == -EMSGSIZE) {
		pvk_warn("d%u: oversized hypercall dropped",
			 c->dom ? c->dom->domid : 0);
		return;
	}
	if (n <= 0) {
		conn_close(c);
		return;
	}
	handle_call(c, (size_t)n);
}

/* Deliver whatever sits in any send ring (after skipping events). */
static void bells_sweep(struct hvd *h)
{
	struct conn *c;

	for (c = h->conns; c; c = c->next)
		if (__atomic_load_n(&c->ring->prod, __ATOMIC_ACQUIRE) !=
		    c->ring_cons)
			bell_input(c);
}

static void listen_input(struct hvd *h)
{
	struct conn *c;
	int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = conn_new(h, fd);
	if (!c)
		return;
	if (conn_dom0_init(c) < 0) {
		pvk_err("dom0 connection setup failed");
		conn_close(c);
	}
}

static void timer_input(struct vtimer *t)
{
	uint64_t n;

	if (read(t->fd, &n, sizeof(n)) != sizeof(n))
		return;
	hv_timer_fire(t->dom, t->vcpu);
}

/* ---- main ---- */

static int hvd_option(void *arg, int c, const char *val)
{
	if (c != 's')
		return -EINVAL;
	*(const char **)arg = val;
	return 0;
}

static const struct option hvd_lopts[] = {
    {"socket", required_argument, NULL, 's'},
    {NULL, 0, NULL, 0},
};

static const struct pvk_daemon_spec hvd_spec = {
    .name = "pvkit-hvd",
    .synopsis = "--socket PATH [options]",
    .usage = "  The emulated hypervisor daemon.\n"
	     "  -s, --socket PATH         Dom0 processes connect here "
	     "(default $PVKIT_HV_SOCK)\n",
    .shortopts = "s:",
    .longopts = hvd_lopts,
    .option = hvd_option,
};

int main(int argc, char **argv)
{
	const char *sock = getenv("PVKIT_HV_SOCK");
	struct pvk_daemon dmn;
	struct hvd *h;
	struct hv_domain *d0;
	struct epoll_event ev;
	int rc;

	rc = pvk_daemon_parse(&dmn, &hvd_spec, &sock, argc, argv);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (optind != argc || !sock) {
		fprintf(stderr, "usage: pvkit-hvd --socket PATH [options] "
				"(--help)\n");
		return 2;
	}
	/* Before any thread: only the signalfd takes them. */
	if (pvk_daemon_setup(&dmn, NULL, true))
		return 1;
	h = calloc(1, sizeof(*h));
	if (!h || hv_init(&h->hv, &env_ops) < 0) {
		pvk_err("out of memory");
		return 1;
	}
	h->gact_fd_new = -1;
	rc = hv_domain_create(&h->hv, 0, "Domain-0", true, 1, 0, 0, 0, NULL, 0,
			      &d0);
	if (rc) {
		pvk_err("cannot create Domain-0: %s", strerror(-rc));
		return 1;
	}
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	/* mode 0600: only the host's root is Dom0 */
	h->listen_fd = pvk_unix_listen(sock, SOCK_SEQPACKET, 077);
	if (h->listen_fd < 0) {
		pvk_err("%s: %s", sock, strerror(-h->listen_fd));
		return 1;
	}
	h->listen_src.type = SRC_LISTEN;
	ev.events = EPOLLIN;
	ev.data.ptr = &h->listen_src;
	epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->listen_fd, &ev);
	h->signal_fd = dmn.sig_fd;
	h->signal_src.type = SRC_SIGNAL;
	ev.data.ptr = &h->signal_src;
	epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->signal_fd, &ev);
	pvk_daemon_ready(&dmn);
	pvk_info("listening on %s", sock);
	while (!h->quit) {
		struct epoll_event evs[64];
		int i, n = epoll_wait(h->epfd, evs, 64, -1);

		if (n < 0 && errno != EINTR) {
			pvk_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct src *s = evs[i].data.ptr;
			uint64_t frees = h->frees;

			switch (s->type) {
			case SRC_LISTEN:
				listen_input(h);
				break;
			case SRC_CONN:
				conn_input((struct conn *)s);
				break;
			case SRC_BELL:
				bell_input((struct conn *)((char *)s -
							   offsetof(struct conn,
								    bell_src)));
				break;
			case SRC_TIMER:
				timer_input((struct vtimer *)s);
				break;
			case SRC_SIGNAL:
				h->quit = true;
				break;
			}
			/* Something was freed: the rest of this batch may
			 * point at it, so poll again.  Doorbells are
			 * edge-triggered and would not be reported again:
			 * sweep every live send ring instead. */
			if (h->frees != frees) {
				bells_sweep(h);
				break;
			}
		}
	}
	pvk_info("shutting down");
	while (h->conns)
		conn_close(h->conns);
	hv_fini(&h->hv);
	unlink(sock);
	close(h->listen_fd);
	close(h->epfd);
	free(h);
	pvk_daemon_end(&dmn); /* the pid file, the signalfd */
	return 0;
}
