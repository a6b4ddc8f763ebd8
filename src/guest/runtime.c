/*
 * runtime.c - the guest runtime: hypercall channel, start of day, per-vCPU
 * event dispatch, PV timers, guest memory and the grant-table client.
 */
#include "pvkit/guest.h"
#include "pvkit/dominfo.h"
#include "hv/hc_wire.h"
#include "common/log.h"
#include "common/spin.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/hvm/hvm_op.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

#define PAGE_SIZE 4096u
#define NR_PORTS (sizeof(xen_ulong_t) * sizeof(xen_ulong_t) * 64)
#define BITS_PER_XLONG (sizeof(xen_ulong_t) * 8)
#define MAX_VCPUS XEN_LEGACY_MAX_VCPUS
#define GNT_PER_FRAME (PAGE_SIZE / sizeof(grant_entry_v1_t))
#define GNT_RESERVED 8 /* GNTTAB_NR_RESERVED_ENTRIES */
#define FIFO_MAX_PAGES 8
#define FIFO_WORDS (PAGE_SIZE / sizeof(event_word_t))
#define FW_PENDING (1u << EVTCHN_FIFO_PENDING)
#define FW_MASKED (1u << EVTCHN_FIFO_MASKED)
#define FW_LINKED (1u << EVTCHN_FIFO_LINKED)

struct port_handler {
	pvk_evtchn_handler_t fn;
	void *arg;
	uint16_t vcpu;
};

struct vcpu {
	struct pvk_rt *rt;
	unsigned int id;
	int efd;
	int epfd; /* efd and the inboxes of the ports bound to this vCPU */
	pthread_t thread;
	bool running;
	struct pvk_spin spin; /* watching the ports before sleeping */
};

/* Direct delivery (PVK_HC_evtchn_direct): the port's inbox, polled by its
 * vCPU unless claimed, and the peer's inbox we send to. */
struct direct_port {
	int rx, tx;
	uint16_t vcpu;
	bool claimed;
};
#define EV_KICK UINT64_MAX /* epoll tag of a vCPU's own eventfd */
#define EV_HVD (UINT64_MAX - 1) /* vCPU 0's: the hypervisor connection */

struct pvk_rt {
	int fd;
	bool direct; /* PVKIT_EVTCHN_DIRECT=0 turns it off */
	struct direct_port *dports; /* NR_PORTS */
	pthread_rwlock_t direct_lock;
	pthread_mutex_t call_lock;
	uint64_t seq;
	struct pvk_hc_hello hello;
	struct shared_info *si;
	struct pvk_send_ring *ring; /* EVTCHNOP_send fast path */
	/* FIFO ABI (DomU, opt-in): control blocks and event array */
	bool fifo;
	struct evtchn_fifo_control_block *fifo_cb[MAX_VCPUS];
	event_word_t *fifo_page[FIFO_MAX_PAGES];
	uint32_t fifo_pages;
	uint32_t fifo_head[MAX_VCPUS][EVTCHN_FIFO_MAX_QUEUES];
	pthread_mutex_t fifo_lock;
	int bell_fd;
	pthread_mutex_t ring_lock;
	bool stopping;
	struct vcpu vcpus[MAX_VCPUS];
	bool started;
	struct port_handler *handlers; /* NR_PORTS */
	pthread_mutex_t handler_lock;

	/* DomU memory */
	uint8_t *mem;
	size_t mem_len;
	pthread_mutex_t mem_lock;
	xen_pfn_t *free_pages;
	uint64_t nr_free;
	/* grant table */
	uint32_t gnt_frames;
	grant_ref_t *gnt_free;
	uint32_t nr_gnt_free;
	pthread_mutex_t gnt_lock;
	char cmdline[PVK_CMDLINE_MAX];
};

long pvk_rt_hypercall(struct pvk_rt *rt, uint32_t op, uint32_t cmd,
		      uint32_t count, void *arg, size_t len, size_t out_len,
		      int *fds, unsigned int *nfds)
{
	static __thread uint8_t buf[PVK_HC_MAX_MSG];
	struct pvk_hc_req req = {.op = op, .cmd = cmd, .count = count};
	struct pvk_hc_rsp rsp;
	unsigned int got = PVK_MAX_FDS;
	int myfds[PVK_MAX_FDS];
	long rc;
	ssize_t n;

	if (len > sizeof(buf) - sizeof(req) || out_len > len)
		return -E2BIG;
	pthread_mutex_lock(&rt->call_lock);
	req.seq = ++rt->seq;
	memcpy(buf, &req, sizeof(req));
	if (len)
		memcpy(buf + sizeof(req), arg, len);
	rc = pvk_send_fds(rt->fd, buf, sizeof(req) + len, NULL, 0);
	if (rc)
		goto out;
	n = pvk_recv_fds(rt->fd, buf, sizeof(buf), myfds, &got);
	if (n < 0) {
		rc = n;
		goto out;
	}
	if (n == 0) {
		rc = -EPIPE;
		goto out;
	}
	if ((size_t)n < sizeof(rsp)) {
		rc = -EPROTO;
		goto closefds;
	}
	memcpy(&rsp, buf, sizeof(rsp));
	if (rsp.seq != req.seq) {
		rc = -EPROTO;
		goto closefds;
	}
	rc = (long)rsp.rc;
	if (rc >= 0 && out_len) {
		size_t have = (size_t)n - sizeof(rsp);

		memcpy(arg, buf + sizeof(rsp), have < out_len ? have : out_len);
	}
	if (fds && nfds) {
		unsigned int i;

		for (i = 0; i < got; i++) {
			if (i < *nfds)
				fds[i] = myfds[i];
			else
				close(myfds[i]);
		}
		*nfds = got < *nfds ? got : *nfds;
		got = 0;
	}
closefds:
	while (got)
		close(myfds[--got]);
out:
	pthread_mutex_unlock(&rt->call_lock);
	return rc;
}

static int hc_send_noreply(struct pvk_rt *rt, uint32_t op, uint32_t cmd,
			   const void *arg, size_t len)
{
	struct {
		struct pvk_hc_req req;
		uint8_t arg[64];
	} m = {{.op = op, .cmd = cmd, .flags = PVK_HC_F_NOREPLY}, {0}};

	if (len > sizeof(m.arg))
		return -E2BIG;
	memcpy(m.arg, arg, len);
	/* A single datagram: no lock needed, no reply will come. */
	return pvk_send_fds(rt->fd, &m, sizeof(m.req) + len, NULL, 0);
}

/* ---- start of day ---- */

static int mem_init(struct pvk_rt *rt, int mem_fd)
{
	const struct pvk_hvm_start_info *si;
	uint64_t i;

	rt->mem_len = rt->hello.mem_pages * PAGE_SIZE;
	rt->mem = mmap(NULL, rt->mem_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       mem_fd, 0);
	if (rt->mem == MAP_FAILED) {
		rt->mem = NULL;
		return -errno;
	}
	si = (const void *)(rt->mem + rt->hello.special_gpfn * PAGE_SIZE);
	if (si->magic != PVK_HVM_START_MAGIC ||
	    si->cmdline_paddr >= rt->mem_len)
		return -EPROTO;
	snprintf(rt->cmdline, sizeof(rt->cmdline), "%s",
		 (const char *)rt->mem + si->cmdline_paddr);
	/* Every populated RAM page is the kernel's to hand out; page 0 stays
	 * unused, as on real hardware. */
	rt->free_pages = calloc(rt->hello.tot_pages + 1, sizeof(xen_pfn_t));
	if (!rt->free_pages)
		return -ENOMEM;
	for (i = rt->hello.tot_pages; i > 1; i--)
		rt->free_pages[rt->nr_free++] = i - 1;
	return 0;
}

int pvk_rt_open(const char *path, int fd, struct pvk_rt **out)
{
	struct pvk_rt *rt;
	int fds[PVK_MAX_FDS];
	unsigned int nfds = PVK_MAX_FDS, i, need;
	uint64_t poll_ns;
	long rc;

	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	pthread_mutex_init(&rt->call_lock, NULL);
	pthread_mutex_init(&rt->handler_lock, NULL);
	pthread_mutex_init(&rt->mem_lock, NULL);
	pthread_mutex_init(&rt->gnt_lock, NULL);
	pthread_mutex_init(&rt->ring_lock, NULL);
	pthread_mutex_init(&rt->fifo_lock, NULL);
	pthread_rwlock_init(&rt->direct_lock, NULL);
	rt->bell_fd = -1;
	for (i = 0; i < MAX_VCPUS; i++)
		rt->vcpus[i].efd = rt->vcpus[i].epfd = -1;
	if (path) {
		rt->fd = pvk_unix_connect(path, SOCK_SEQPACKET);
	} else {
		if (fd < 0) {
			uint64_t v;

			if (pvk_parse_u64(getenv("PVKIT_HV_FD"), 0, 65535,
					  &v) < 0) {
				rc = -EBADF;
				goto fail_nofd;
			}
			fd = (int)v;
		}
		rt->fd = fd;
	}
	if (rt->fd < 0) {
		rc = rt->fd;
		goto fail_nofd;
	}
	rt->handlers = calloc(NR_PORTS, sizeof(*rt->handlers));
	rt->dports = calloc(NR_PORTS, sizeof(*rt->dports));
	if (!rt->handlers || !rt->dports) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < NR_PORTS; i++)
		rt->dports[i].rx = rt->dports[i].tx = -1;
	{
		const char *d = getenv("PVKIT_EVTCHN_DIRECT");
		const char *pu = getenv("PVKIT_EVTCHN_POLL_US");
		uint64_t us = 0;

		rt->direct = !d || strcmp(d, "0") != 0;
		/* The vCPUs' polling budget: off unless asked for. */
		if (pu && pvk_parse_u64(pu, 0, 1000, &us) < 0) {
			pvk_warn("PVKIT_EVTCHN_POLL_US: 0-1000 (us); not "
				 "polling");
			us = 0;
		}
		poll_ns = us * 1000;
	}
	rc = pvk_rt_hypercall(rt, PVK_HC_hello, 0, 0, &rt->hello,
			      sizeof(rt->hello), sizeof(rt->hello), fds, &nfds);
	if (rc < 0)
		goto fail;
	need = 3 + rt->hello.nr_vcpus + (rt->hello.has_memory ? 1 : 0);
	if (rt->hello.nr_vcpus == 0 || rt->hello.nr_vcpus > MAX_VCPUS ||
	    nfds != need) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		rc = -EPROTO;
		goto fail;
	}
	rt->si = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fds[0], 0);
	close(fds[0]);
	rt->ring = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			fds[1], 0);
	close(fds[1]);
	rt->bell_fd = fds[2];
	for (i = 0; i < rt->hello.nr_vcpus; i++) {
		rt->vcpus[i].rt = rt;
		rt->vcpus[i].id = i;
		pvk_spin_init(&rt->vcpus[i].spin, poll_ns, NULL);
		pvk_spin_syscall_looks(&rt->vcpus[i].spin);
		rt->vcpus[i].efd = fds[3 + i];
	}
	for (i = 0; i < rt->hello.nr_vcpus; i++) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.u64 = EV_KICK};

		rt->vcpus[i].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (rt->vcpus[i].epfd < 0 ||
		    epoll_ctl(rt->vcpus[i].epfd, EPOLL_CTL_ADD,
			      rt->vcpus[i].efd, &ev) < 0) {
			for (i = need; i-- > 3 + rt->hello.nr_vcpus;)
				close(fds[i]);
			rc = -errno;
			goto fail;
		}
	}
	/* vCPU 0 also learns when the hypervisor goes away (hang-up only:
	 * replies are read by the callers that wait for them). */
	{
		struct epoll_event ev = {.events = EPOLLRDHUP,
					 .data.u64 = EV_HVD};

		if (epoll_ctl(rt->vcpus[0].epfd, EPOLL_CTL_ADD, rt->fd, &ev) <
		    0) {
			for (i = need; i-- > 3 + rt->hello.nr_vcpus;)
				close(fds[i]);
			rc = -errno;
			goto fail;
		}
	}
	if (rt->si == MAP_FAILED || rt->ring == MAP_FAILED) {
		if (rt->si == MAP_FAILED)
			rt->si = NULL;
		if (rt->ring == MAP_FAILED)
			rt->ring = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	if (rt->hello.has_memory) {
		rc = mem_init(rt, fds[need - 1]);
		close(fds[need - 1]);
		if (rc)
			goto fail;
	}
	*out = rt;
	return 0;
fail:
	pvk_rt_close(rt);
	return (int)rc;
fail_nofd:
	free(rt);
	return (int)rc;
}

domid_t pvk_rt_domid(const struct pvk_rt *rt)
{
	return (domid_t)rt->hello.domid;
}

unsigned int pvk_rt_nr_vcpus(const struct pvk_rt *rt)
{
	return rt->hello.nr_vcpus;
}

bool pvk_rt_is_dom0(const struct pvk_rt *rt)
{
	return !rt->hello.has_memory;
}

const char *pvk_rt_cmdline(struct pvk_rt *rt)
{
	return rt->cmdline;
}

/* ---- event dispatch ---- */

static bool xbit_test_and_clear(xen_ulong_t *w, unsigned int b)
{
	xen_ulong_t m = (xen_ulong_t)1 << b;

	return __atomic_fetch_and(w, ~m, __ATOMIC_SEQ_CST) & m;
}

static void dispatch(struct vcpu *v)
{
	struct pvk_rt *rt = v->rt;
	struct shared_info *si = rt->si;
	struct vcpu_info *vi = &si->vcpu_info[v->id];

	while (__atomic_exchange_n(&vi->evtchn_upcall_pending, 0,
				   __ATOMIC_SEQ_CST)) {
		xen_ulong_t sel = __atomic_exchange_n(&vi->evtchn_pending_sel,
						      0, __ATOMIC_SEQ_CST);

		while (sel) {
			unsigned int w = (unsigned int)__builtin_ctzl(sel);
			xen_ulong_t bits;

			sel &= sel - 1;
			bits = __atomic_load_n(&si->evtchn_pending[w],
					       __ATOMIC_SEQ_CST) &
			       ~__atomic_load_n(&si->evtchn_mask[w],
						__ATOMIC_SEQ_CST);
			while (bits) {
				unsigned int b =
					(unsigned int)__builtin_ctzl(bits);
				evtchn_port_t port = w * BITS_PER_XLONG + b;
				struct port_handler h;

				bits &= bits - 1;
				h = rt->handlers[port];
				if (h.vcpu != v->id)
					continue; /* another vCPU's port */
				if (!h.fn)
					continue; /* stays pending until bound */
				if (!xbit_test_and_clear(
					    &si->evtchn_pending[w], b))
					continue;
				if (h.fn)
					h.fn(rt, port, v->id, h.arg);
			}
		}
	}
}

static event_word_t *fifo_word(struct pvk_rt *rt, evtchn_port_t port)
{
	uint32_t pg = port / FIFO_WORDS;

	if (pg >= __atomic_load_n(&rt->fifo_pages, __ATOMIC_ACQUIRE))
		return NULL;
	return rt->fifo_page[pg] + port % FIFO_WORDS;
}

/* Take the head of queue prio off the list and handle it (Xen's FIFO ABI:
 * the guest unlinks at the head, only the hypervisor links at the tail). */
static void fifo_consume_one(struct vcpu *v, unsigned int prio,
			     uint32_t *ready)
{
	struct pvk_rt *rt = v->rt;
	struct evtchn_fifo_control_block *cb = rt->fifo_cb[v->id];
	uint32_t head = rt->fifo_head[v->id][prio];
	event_word_t *w, old, nw;
	evtchn_port_t port;

	if (!head)
		head = __atomic_load_n(&cb->head[prio], __ATOMIC_ACQUIRE);
	port = head;
	w = port ? fifo_word(rt, port) : NULL;
	if (!w) {
		*ready &= ~(1u << prio);
		rt->fifo_head[v->id][prio] = 0;
		return;
	}
	old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	do
		nw = old & ~(FW_LINKED | (event_word_t)EVTCHN_FIFO_LINK_MASK);
	while (!__atomic_compare_exchange_n(w, &old, nw, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	head = old & EVTCHN_FIFO_LINK_MASK;
	if (!head)
		*ready &= ~(1u << prio);
	rt->fifo_head[v->id][prio] = head;
	if ((old & FW_PENDING) && !(old & FW_MASKED)) {
		struct port_handler h = rt->handlers[port < NR_PORTS ? port : 0];

		/* Without a handler it stays pending; binding one re-links it
		 * through unmask. */
		if (h.fn && (__atomic_fetch_and(w, ~FW_PENDING,
						__ATOMIC_SEQ_CST) &
			     FW_PENDING))
			h.fn(rt, port, v->id, h.arg);
	}
}

static void dispatch_fifo(struct vcpu *v)
{
	struct pvk_rt *rt = v->rt;
	struct vcpu_info *vi = &rt->si->vcpu_info[v->id];
	struct evtchn_fifo_control_block *cb = rt->fifo_cb[v->id];

	while (__atomic_exchange_n(&vi->evtchn_upcall_pending, 0,
				   __ATOMIC_SEQ_CST)) {
		uint32_t ready = __atomic_exchange_n(&cb->ready, 0,
						     __ATOMIC_SEQ_CST);

		while (ready) {
			/* lowest bit = highest priority */
			fifo_consume_one(v, (unsigned int)__builtin_ctz(ready),
					 &ready);
			ready |= __atomic_exchange_n(&cb->ready, 0,
						     __ATOMIC_SEQ_CST);
		}
	}
}

/* ---- direct delivery ---- */

/* Read every datagram waiting in an inbox: how many (events), or -EPIPE
 * once nobody can write to it any more. */
static int inbox_drain(int fd)
{
	struct mmsghdr mm[16];
	struct iovec iov[16];
	uint8_t b[16];
	int total = 0, n, i;

	for (i = 0; i < 16; i++) {
		iov[i].iov_base = &b[i];
		iov[i].iov_len = 1;
		memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		n = recvmmsg(fd, mm, 16, MSG_DONTWAIT, NULL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? total
								 : -errno;
		for (i = 0; i < n; i++)
			if (mm[i].msg_len == 0)
				return total ? total : -EPIPE; /* EOF */
		total += n;
		if (n < 16)
			return total;
	}
}

/* A peer sent to port directly: do what the hypervisor's set_pending
 * would, on this vCPU: raise the event and, unmasked, handle it now. */
static void direct_raise(struct vcpu *v, evtchn_port_t port)
{
	struct pvk_rt *rt = v->rt;
	struct port_handler h;

	if (rt->fifo) {
		event_word_t *w = fifo_word(rt, port), old;

		if (!w)
			return;
		old = __atomic_fetch_or(w, FW_PENDING, __ATOMIC_SEQ_CST);
		/* Already pending (queued, or held by the mask: unmask
		 * relinks it), or masked now. */
		if (old & (FW_PENDING | FW_MASKED))
			return;
		h = rt->handlers[port];
		/* No handler: stays pending; binding one unmasks it. */
		if (h.fn && (__atomic_fetch_and(w, ~FW_PENDING,
						__ATOMIC_SEQ_CST) &
			     FW_PENDING))
			h.fn(rt, port, v->id, h.arg);
		return;
	} else {
		struct shared_info *si = rt->si;
		unsigned int wd = port / BITS_PER_XLONG,
			     b = port % BITS_PER_XLONG;
		xen_ulong_t m = (xen_ulong_t)1 << b;

		if (__atomic_fetch_or(&si->evtchn_pending[wd], m,
				      __ATOMIC_SEQ_CST) &
		    m)
			return;
		if (__atomic_load_n(&si->evtchn_mask[wd], __ATOMIC_SEQ_CST) &
		    m)
			return;
		h = rt->handlers[port];
		if (h.fn && xbit_test_and_clear(&si->evtchn_pending[wd], b))
			h.fn(rt, port, v->id, h.arg);
	}
}

static void direct_input(struct vcpu *v, evtchn_port_t port)
{
	struct pvk_rt *rt = v->rt;
	struct direct_port *dp;
	int n = 0;

	if (port >= NR_PORTS)
		return;
	dp = &rt->dports[port];
	pthread_rwlock_rdlock(&rt->direct_lock);
	if (dp->rx >= 0 && !dp->claimed) {
		n = inbox_drain(dp->rx);
		if (n < 0) /* hvd is gone: stop polling it */
			epoll_ctl(v->epfd, EPOLL_CTL_DEL, dp->rx, NULL);
	}
	pthread_rwlock_unlock(&rt->direct_lock);
	if (n > 0)
		direct_raise(v, port);
}

/* Ask hvd for port's inbox and poll it on vCPU vcpu. */
static void direct_rx_setup(struct pvk_rt *rt, evtchn_port_t port,
			    unsigned int vcpu)
{
	struct pvk_hc_direct a = {.port = port};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = port};
	unsigned int nfds = 1;
	int fd = -1;
	long rc;

	if (!rt->direct || port >= NR_PORTS || vcpu >= rt->hello.nr_vcpus)
		return;
	rc = pvk_rt_hypercall(rt, PVK_HC_evtchn_direct, PVK_DIRECT_rx, 0, &a,
			      sizeof(a), 0, &fd, &nfds);
	if (rc < 0 || nfds != 1 || fd < 0) {
		pvk_debug("port %u: no direct delivery: %s", port,
			  strerror(rc < 0 ? (int)-rc : EPROTO));
		return;
	}
	pthread_rwlock_wrlock(&rt->direct_lock);
	if (rt->dports[port].rx >= 0)
		close(rt->dports[port].rx);
	rt->dports[port].rx = fd;
	rt->dports[port].vcpu = (uint16_t)vcpu;
	rt->dports[port].claimed = false;
	if (epoll_ctl(rt->vcpus[vcpu].epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		pvk_warn("port %u: cannot poll its inbox: %s", port,
			 strerror(errno));
	pthread_rwlock_unlock(&rt->direct_lock);
}

/* Forget port's direct state (it is being closed). */
static void direct_forget(struct pvk_rt *rt, evtchn_port_t port)
{
	struct direct_port *dp;

	if (port >= NR_PORTS)
		return;
	dp = &rt->dports[port];
	pthread_rwlock_wrlock(&rt->direct_lock);
	if (dp->rx >= 0)
		close(dp->rx); /* leaves every epoll set; senders get EPIPE */
	if (dp->tx >= 0)
		close(dp->tx);
	dp->rx = dp->tx = -1;
	dp->claimed = false;
	pthread_rwlock_unlock(&rt->direct_lock);
}

static bool hint_set(struct pvk_rt *rt, evtchn_port_t port)
{
	return port < PVK_DIRECT_HINT_PORTS && rt->ring &&
	       (__atomic_load_n(&rt->ring->direct_hint[port / 64],
				__ATOMIC_ACQUIRE) >>
		(port % 64)) & 1;
}

/* One event into the peer's inbox we hold: 0 sent (or already pending
 * there: a full inbox), -ENOENT none held, -EPIPE the receiver closed its
 * port (the stale write end is dropped). */
static int tx_try(struct pvk_rt *rt, struct direct_port *dp)
{
	static const uint8_t one = 1;
	int fd;

	pthread_rwlock_rdlock(&rt->direct_lock);
	fd = dp->tx;
	if (fd >= 0 && (send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ||
			errno == EAGAIN || errno == ENOBUFS)) {
		pthread_rwlock_unlock(&rt->direct_lock);
		return 0;
	}
	pthread_rwlock_unlock(&rt->direct_lock);
	if (fd < 0)
		return -ENOENT;
	pthread_rwlock_wrlock(&rt->direct_lock);
	if (dp->tx == fd) {
		close(fd);
		dp->tx = -1;
	}
	pthread_rwlock_unlock(&rt->direct_lock);
	return -EPIPE;
}

/* Send straight to the peer's inbox: 0 if sent, -1 to take the hypercall
 * path. */
static int direct_send(struct pvk_rt *rt, evtchn_port_t port)
{
	struct direct_port *dp = &rt->dports[port];
	struct pvk_hc_direct a = {.port = port};
	unsigned int nfds = 1;
	int rc = tx_try(rt, dp), fd = -1;

	if (rc != -ENOENT)
		return rc ? -1 : 0;
	if (!hint_set(rt, port))
		return -1;
	if (pvk_rt_hypercall(rt, PVK_HC_evtchn_direct, PVK_DIRECT_tx, 0, &a,
			     sizeof(a), 0, &fd, &nfds) < 0 ||
	    nfds != 1 || fd < 0)
		return -1;
	pthread_rwlock_wrlock(&rt->direct_lock);
	if (dp->tx >= 0)
		close(dp->tx);
	dp->tx = fd;
	pthread_rwlock_unlock(&rt->direct_lock);
	/* Once: a dead inbox right away means the hypercall path. */
	return tx_try(rt, dp) ? -1 : 0;
}

int pvk_evtchn_direct_claim(struct pvk_rt *rt, evtchn_port_t port)
{
	struct direct_port *dp;
	int fd;

	if (port >= NR_PORTS)
		return -EINVAL;
	dp = &rt->dports[port];
	/* A port bound by someone else for us (a DomU's xenstore and console
	 * ports) has no inbox yet: ask for one. */
	pthread_rwlock_rdlock(&rt->direct_lock);
	fd = dp->rx;
	pthread_rwlock_unlock(&rt->direct_lock);
	if (fd < 0)
		direct_rx_setup(rt, port, 0);
	pthread_rwlock_wrlock(&rt->direct_lock);
	fd = dp->rx;
	if (fd >= 0 && !dp->claimed) {
		dp->claimed = true;
		epoll_ctl(rt->vcpus[dp->vcpu].epfd, EPOLL_CTL_DEL, fd, NULL);
	}
	pthread_rwlock_unlock(&rt->direct_lock);
	return fd >= 0 ? fd : -ENOENT;
}

int pvk_evtchn_direct_drain(struct pvk_rt *rt, evtchn_port_t port)
{
	int n = 0;

	if (port >= NR_PORTS)
		return -EINVAL;
	pthread_rwlock_rdlock(&rt->direct_lock);
	if (rt->dports[port].rx >= 0 && rt->dports[port].claimed)
		n = inbox_drain(rt->dports[port].rx);
	pthread_rwlock_unlock(&rt->direct_lock);
	return n;
}

/* The hypervisor hung up.  A domain does not outlive its hypervisor: a
 * DomU's process ends here (nothing it holds means anything without
 * pvkit-hvd).  A Dom0 process keeps running (its hypercalls now fail) and
 * stops watching the dead connection. */
static void hvd_gone(struct vcpu *v)
{
	struct pvk_rt *rt = v->rt;

	if (__atomic_load_n(&rt->stopping, __ATOMIC_ACQUIRE))
		return;
	if (rt->hello.has_memory) {
		pvk_err("d%u: pvkit-hvd is gone; the domain ends with it",
			rt->hello.domid);
		_exit(1);
	}
	pvk_warn("pvkit-hvd is gone; hypercalls will fail");
	epoll_ctl(v->epfd, EPOLL_CTL_DEL, rt->fd, NULL);
}

/* A look for the vCPU's polling: what is ready now, without sleeping. */
struct vcpu_look {
	struct vcpu *v;
	struct epoll_event *evs;
	int n;
};

static bool vcpu_ready(void *arg)
{
	struct vcpu_look *l = arg;

	l->n = epoll_wait(l->v->epfd, l->evs, 16, 0);
	return l->n > 0 ||
	       __atomic_load_n(&l->v->rt->stopping, __ATOMIC_ACQUIRE);
}

static void *vcpu_thread(void *p)
{
	struct vcpu *v = p;

	for (;;) {
		struct epoll_event evs[16];
		uint64_t cnt;
		int i, n;

		if (v->rt->fifo)
			dispatch_fifo(v);
		else
			dispatch(v);
		if (__atomic_load_n(&v->rt->stopping, __ATOMIC_ACQUIRE))
			break;
		/* The vCPU watches its ports a while (the one polling
		 * policy, src/common/spin.h; $PVKIT_EVTCHN_POLL_US), then
		 * sleeps until the hypervisor kicks it or a peer sends to one
		 * of its ports directly. */
		{
			struct vcpu_look look = {v, evs, 0};
			uint64_t t0;

			if (pvk_spin_wait(&v->spin, vcpu_ready, &look)) {
				n = look.n > 0 ? look.n : 0;
			} else {
				t0 = pvk_spin_enabled(&v->spin) ? pvk_spin_now()
								: 0;
				n = epoll_wait(v->epfd, evs, 16, -1);
				if (n < 0 && errno != EINTR)
					break;
				if (t0)
					pvk_spin_slept(&v->spin,
						       pvk_spin_now() - t0);
			}
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == EV_HVD)
				hvd_gone(v);
			else if (evs[i].data.u64 != EV_KICK)
				direct_input(v, (evtchn_port_t)evs[i].data.u64);
			else if (read(v->efd, &cnt, sizeof(cnt)) < 0 &&
				 errno != EAGAIN && errno != EINTR)
				return NULL;
		}
	}
	return NULL;
}

static int fifo_expand_to(struct pvk_rt *rt, evtchn_port_t port)
{
	int rc = 0;

	pthread_mutex_lock(&rt->fifo_lock);
	while (port / FIFO_WORDS >= rt->fifo_pages) {
		struct evtchn_expand_array a;
		xen_pfn_t g;

		if (rt->fifo_pages >= FIFO_MAX_PAGES) {
			rc = -ENOSPC;
			break;
		}
		rc = pvk_page_alloc(rt, &g);
		if (rc)
			break;
		a.array_gfn = g;
		rc = (int)pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					   EVTCHNOP_expand_array, 0, &a,
					   sizeof(a), 0, NULL, NULL);
		if (rc) {
			pvk_page_free(rt, g);
			break;
		}
		rt->fifo_page[rt->fifo_pages] = pvk_rt_gpfn_to_ptr(rt, g);
		__atomic_store_n(&rt->fifo_pages, rt->fifo_pages + 1,
				 __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&rt->fifo_lock);
	return rc;
}

/* Switch to the FIFO ABI: one control block per vCPU, one event page.
 * As in Linux, this happens before any port is used. */
static int fifo_init(struct pvk_rt *rt)
{
	unsigned int v;
	int rc;

	for (v = 0; v < rt->hello.nr_vcpus; v++) {
		struct evtchn_init_control a = {.vcpu = v};
		xen_pfn_t g;

		rc = pvk_page_alloc(rt, &g);
		if (rc)
			return rc;
		a.control_gfn = g;
		rc = (int)pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op,
					   EVTCHNOP_init_control, 0, &a,
					   sizeof(a), sizeof(a), NULL, NULL);
		if (rc)
			return rc;
		rt->fifo_cb[v] = pvk_rt_gpfn_to_ptr(rt, g);
	}
	rt->fifo = true;
	return fifo_expand_to(rt, FIFO_WORDS - 1);
}

int pvk_rt_start(struct pvk_rt *rt)
{
	const char *abi = getenv("PVKIT_EVTCHN_ABI");
	unsigned int i;

	if (rt->mem && abi && !strcmp(abi, "fifo")) {
		int rc = fifo_init(rt);

		if (rc) {
			pvk_err("FIFO event channels unavailable: %s",
				strerror(-rc));
			return rc;
		}
	}

	for (i = 0; i < rt->hello.nr_vcpus; i++) {
		int rc = pthread_create(&rt->vcpus[i].thread, NULL, vcpu_thread,
					&rt->vcpus[i]);

		if (rc)
			return -rc;
		rt->vcpus[i].running = true;
		{ /* "vcpuN": pvkit vcpu-list finds them by name */
			char name[16];

			snprintf(name, sizeof(name), "vcpu%u", i);
			pthread_setname_np(rt->vcpus[i].thread, name);
		}
	}
	rt->started = true;
	return 0;
}

/* The vCPUs' eventfds and epoll sets and every inbox and peer inbox. */
static void rt_close_event_fds(struct pvk_rt *rt)
{
	unsigned int i;

	for (i = 0; i < MAX_VCPUS; i++) {
		if (rt->vcpus[i].efd >= 0)
			close(rt->vcpus[i].efd);
		if (rt->vcpus[i].epfd >= 0)
			close(rt->vcpus[i].epfd);
	}
	for (i = 0; rt->dports && i < NR_PORTS; i++) {
		if (rt->dports[i].rx >= 0)
			close(rt->dports[i].rx);
		if (rt->dports[i].tx >= 0)
			close(rt->dports[i].tx);
	}
}

void pvk_rt_close(struct pvk_rt *rt)
{
	unsigned int i;
	uint64_t one = 1;

	if (!rt)
		return;
	__atomic_store_n(&rt->stopping, true, __ATOMIC_RELEASE);
	for (i = 0; i < MAX_VCPUS; i++)
		if (rt->vcpus[i].running &&
		    write(rt->vcpus[i].efd, &one, sizeof(one)) < 0)
			pvk_warn("cannot stop vCPU %u", i);
	for (i = 0; i < MAX_VCPUS; i++) {
		if (rt->vcpus[i].running)
			pthread_join(rt->vcpus[i].thread, NULL);
	}
	rt_close_event_fds(rt);
	free(rt->dports);
	if (rt->fd >= 0)
		close(rt->fd);
	if (rt->bell_fd >= 0)
		close(rt->bell_fd);
	if (rt->ring)
		munmap(rt->ring, PAGE_SIZE);
	if (rt->si)
		munmap(rt->si, PAGE_SIZE);
	if (rt->mem)
		munmap(rt->mem, rt->mem_len);
	free(rt->handlers);
	free(rt->free_pages);
	free(rt->gnt_free);
	free(rt);
}

void pvk_rt_abandon(struct pvk_rt *rt)
{
	if (!rt)
		return;
	/* After fork(): the threads are not ours; just drop descriptors. */
	rt_close_event_fds(rt);
	close(rt->fd);
	if (rt->bell_fd >= 0)
		close(rt->bell_fd);
}

/* ---- event channel calls ---- */

#define EVTCHN_CALL(rt, cmd, a)                                                \
	pvk_rt_hypercall(rt, __HYPERVISOR_event_channel_op, cmd, 0, &(a),      \
			 sizeof(a), sizeof(a), NULL, NULL)

static void handler_vcpu(struct pvk_rt *rt, evtchn_port_t port,
			 unsigned int vcpu)
{
	if (port < NR_PORTS)
		rt->handlers[port].vcpu = (uint16_t)vcpu;
	if (rt->fifo && fifo_expand_to(rt, port))
		pvk_warn("FIFO: no event word for port %u", port);
}

int pvk_evtchn_alloc_unbound(struct pvk_rt *rt, domid_t remote,
			     evtchn_port_t *port)
{
	struct evtchn_alloc_unbound a = {.dom = DOMID_SELF,
					 .remote_dom = remote};
	long rc = EVTCHN_CALL(rt, EVTCHNOP_alloc_unbound, a);

	if (rc < 0)
		return (int)rc;
	handler_vcpu(rt, a.port, 0);
	direct_rx_setup(rt, a.port, 0);
	*port = a.port;
	return 0;
}

int pvk_evtchn_bind_interdomain(struct pvk_rt *rt, domid_t remote,
				evtchn_port_t rport, evtchn_port_t *port)
{
	struct evtchn_bind_interdomain a = {.remote_dom = remote,
					    .remote_port = rport};
	long rc = EVTCHN_CALL(rt, EVTCHNOP_bind_interdomain, a);

	if (rc < 0)
		return (int)rc;
	handler_vcpu(rt, a.local_port, 0);
	direct_rx_setup(rt, a.local_port, 0);
	*port = a.local_port;
	return 0;
}

int pvk_evtchn_bind_virq(struct pvk_rt *rt, uint32_t virq, unsigned int vcpu,
			 evtchn_port_t *port)
{
	struct evtchn_bind_virq a = {.virq = virq, .vcpu = vcpu};
	long rc = EVTCHN_CALL(rt, EVTCHNOP_bind_virq, a);

	if (rc < 0)
		return (int)rc;
	handler_vcpu(rt, a.port, vcpu);
	*port = a.port;
	return 0;
}

int pvk_evtchn_bind_ipi(struct pvk_rt *rt, unsigned int vcpu,
			evtchn_port_t *port)
{
	struct evtchn_bind_ipi a = {.vcpu = vcpu};
	long rc = EVTCHN_CALL(rt, EVTCHNOP_bind_ipi, a);

	if (rc < 0)
		return (int)rc;
	handler_vcpu(rt, a.port, vcpu);
	*port = a.port;
	return 0;
}

int pvk_evtchn_bind_vcpu(struct pvk_rt *rt, evtchn_port_t port,
			 unsigned int vcpu)
{
	struct evtchn_bind_vcpu a = {.port = port, .vcpu = vcpu};
	long rc;

	if (port >= NR_PORTS)
		return -EINVAL;
	/* Deliver on the new vCPU from now on; an event racing the move is
	 * picked up by whichever vCPU scans it, checked against this. */
	rc = EVTCHN_CALL(rt, EVTCHNOP_bind_vcpu, a);
	if (rc < 0)
		return (int)rc;
	handler_vcpu(rt, port, vcpu);
	pthread_rwlock_wrlock(&rt->direct_lock);
	if (rt->dports[port].rx >= 0 && !rt->dports[port].claimed &&
	    rt->dports[port].vcpu != vcpu && vcpu < rt->hello.nr_vcpus) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = port};
		int fd = rt->dports[port].rx;

		epoll_ctl(rt->vcpus[rt->dports[port].vcpu].epfd,
			  EPOLL_CTL_DEL, fd, NULL);
		if (epoll_ctl(rt->vcpus[vcpu].epfd, EPOLL_CTL_ADD, fd, &ev))
			pvk_warn("port %u: cannot move its inbox", port);
		rt->dports[port].vcpu = (uint16_t)vcpu;
	}
	pthread_rwlock_unlock(&rt->direct_lock);
	return 0;
}

int pvk_evtchn_close(struct pvk_rt *rt, evtchn_port_t port)
{
	struct evtchn_close a = {.port = port};
	long rc;

	/* Inbox first: from now on a direct sender gets EPIPE. */
	direct_forget(rt, port);
	rc = EVTCHN_CALL(rt, EVTCHNOP_close, a);

	if (rc == 0 && port < NR_PORTS) {
		pthread_mutex_lock(&rt->handler_lock);
		memset(&rt->handlers[port], 0, sizeof(rt->handlers[port]));
		pthread_mutex_unlock(&rt->handler_lock);
	}
	return (int)rc;
}

int pvk_evtchn_send(struct pvk_rt *rt, evtchn_port_t port, bool wait)
{
	struct evtchn_send a = {.port = port};

	if (!wait && port < NR_PORTS && direct_send(rt, port) == 0)
		return 0;
	if (!wait) {
		struct pvk_send_ring *r = rt->ring;
		uint64_t one = 1;
		bool queued = false;

		pthread_mutex_lock(&rt->ring_lock);
		if (r && r->prod - __atomic_load_n(&r->cons, __ATOMIC_ACQUIRE) <
				 PVK_SEND_RING_SLOTS) {
			r->port[r->prod % PVK_SEND_RING_SLOTS] = port;
			__atomic_store_n(&r->prod, r->prod + 1,
					 __ATOMIC_RELEASE);
			queued = true;
		}
		pthread_mutex_unlock(&rt->ring_lock);
		if (queued)
			return write(rt->bell_fd, &one, sizeof(one)) < 0 ? -errno
									 : 0;
		/* Ring full: the datagram path keeps every event. */
		return hc_send_noreply(rt, __HYPERVISOR_event_channel_op,
				       EVTCHNOP_send, &a, sizeof(a));
	}
	return (int)EVTCHN_CALL(rt, EVTCHNOP_send, a);
}

void pvk_rt_send_ring(struct pvk_rt *rt, struct pvk_send_ring **ring,
		      int *doorbell)
{
	*ring = rt->ring;
	*doorbell = rt->bell_fd;
}

int pvk_evtchn_status(struct pvk_rt *rt, struct evtchn_status *st)
{
	return (int)EVTCHN_CALL(rt, EVTCHNOP_status, *st);
}

int pvk_evtchn_set_handler(struct pvk_rt *rt, evtchn_port_t port,
			   pvk_evtchn_handler_t fn, void *arg)
{
	if (port == 0 || port >= NR_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&rt->handler_lock);
	rt->handlers[port].arg = arg;
	__atomic_store_n(&rt->handlers[port].fn, fn, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rt->handler_lock);
	/* An event that came before its handler is delivered now. */
	if (fn)
		pvk_evtchn_unmask(rt, port);
	return 0;
}

void pvk_evtchn_mask(struct pvk_rt *rt, evtchn_port_t port)
{
	if (port >= NR_PORTS)
		return;
	if (rt->fifo) {
		event_word_t *w = fifo_word(rt, port);

		if (w)
			__atomic_fetch_or(w, FW_MASKED, __ATOMIC_SEQ_CST);
		return;
	}
	__atomic_fetch_or(&rt->si->evtchn_mask[port / BITS_PER_XLONG],
			  (xen_ulong_t)1 << (port % BITS_PER_XLONG),
			  __ATOMIC_SEQ_CST);
}

void pvk_evtchn_unmask(struct pvk_rt *rt, evtchn_port_t port)
{
	unsigned int w = port / BITS_PER_XLONG, b = port % BITS_PER_XLONG;
	xen_ulong_t m = (xen_ulong_t)1 << b;
	unsigned int v;
	struct vcpu_info *vi;
	uint64_t one = 1;

	if (port >= NR_PORTS)
		return;
	if (rt->fifo) {
		event_word_t *fw = fifo_word(rt, port);
		struct evtchn_unmask a = {.port = port};

		if (!fw)
			return;
		/* Pending while masked: the hypervisor links it again. */
		if (__atomic_and_fetch(fw, ~FW_MASKED, __ATOMIC_SEQ_CST) &
		    FW_PENDING)
			hc_send_noreply(rt, __HYPERVISOR_event_channel_op,
					EVTCHNOP_unmask, &a, sizeof(a));
		return;
	}
	__atomic_fetch_and(&rt->si->evtchn_mask[w], ~m, __ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&rt->si->evtchn_pending[w], __ATOMIC_SEQ_CST) &
	      m))
		return;
	/* It fired while masked: raise it locally, as Linux does for the
	 * current vCPU, instead of a hypercall. */
	v = rt->handlers[port].vcpu;
	if (v >= rt->hello.nr_vcpus)
		v = 0;
	vi = &rt->si->vcpu_info[v];
	__atomic_fetch_or(&vi->evtchn_pending_sel, (xen_ulong_t)1 << w,
			  __ATOMIC_SEQ_CST);
	if (!__atomic_exchange_n(&vi->evtchn_upcall_pending, 1,
				 __ATOMIC_SEQ_CST) &&
	    write(rt->vcpus[v].efd, &one, sizeof(one)) < 0)
		pvk_warn("unmask: cannot kick vCPU %u", v);
}

/* ---- timers and scheduling ---- */

uint64_t pvk_rt_system_time(void)
{
	return pvk_now_ns();
}

int pvk_timer_set(struct pvk_rt *rt, unsigned int vcpu, uint64_t abs_ns)
{
	struct vcpu_set_singleshot_timer a = {.timeout_abs_ns = abs_ns};

	return (int)pvk_rt_hypercall(rt, __HYPERVISOR_vcpu_op,
				     VCPUOP_set_singleshot_timer, vcpu, &a,
				     sizeof(a), 0, NULL, NULL);
}

int pvk_timer_stop(struct pvk_rt *rt, unsigned int vcpu)
{
	return (int)pvk_rt_hypercall(rt, __HYPERVISOR_vcpu_op,
				     VCPUOP_stop_singleshot_timer, vcpu, NULL,
				     0, 0, NULL, NULL);
}

int pvk_sched_yield(struct pvk_rt *rt)
{
	return (int)pvk_rt_hypercall(rt, __HYPERVISOR_sched_op, SCHEDOP_yield,
				     0, NULL, 0, 0, NULL, NULL);
}

int pvk_sched_shutdown(struct pvk_rt *rt, unsigned int reason)
{
	struct sched_shutdown a = {.reason = reason};

	return (int)pvk_rt_hypercall(rt, __HYPERVISOR_sched_op,
				     SCHEDOP_shutdown, 0, &a, sizeof(a), 0,
				     NULL, NULL);
}

/* ---- memory ---- */

void *pvk_rt_gpfn_to_ptr(struct pvk_rt *rt, xen_pfn_t gpfn)
{
	if (!rt->mem || gpfn >= rt->hello.mem_pages)
		return NULL;
	return rt->mem + gpfn * PAGE_SIZE;
}

uint64_t pvk_rt_tot_pages(const struct pvk_rt *rt)
{
	return rt->hello.tot_pages;
}

int pvk_page_alloc(struct pvk_rt *rt, xen_pfn_t *gpfn)
{
	int rc = -ENOMEM;

	pthread_mutex_lock(&rt->mem_lock);
	if (rt->nr_free) {
		*gpfn = rt->free_pages[--rt->nr_free];
		memset(rt->mem + *gpfn * PAGE_SIZE, 0, PAGE_SIZE);
		rc = 0;
	}
	pthread_mutex_unlock(&rt->mem_lock);
	return rc;
}

void pvk_page_free(struct pvk_rt *rt, xen_pfn_t gpfn)
{
	pthread_mutex_lock(&rt->mem_lock);
	if (gpfn && gpfn < rt->hello.max_pages &&
	    rt->nr_free < rt->hello.tot_pages)
		rt->free_pages[rt->nr_free++] = gpfn;
	pthread_mutex_unlock(&rt->mem_lock);
}

static long mem_op(struct pvk_rt *rt, uint32_t cmd, const xen_pfn_t *gpfns,
		   uint64_t n)
{
	struct xen_memory_reservation *r;
	size_t len;
	long rc;

	if (n > (PVK_HC_MAX_MSG - 256) / sizeof(xen_pfn_t))
		return -E2BIG;
	len = sizeof(*r) + n * sizeof(xen_pfn_t);
	r = calloc(1, len);
	if (!r)
		return -ENOMEM;
	r->nr_extents = n;
	r->domid = DOMID_SELF;
	memcpy(r + 1, gpfns, n * sizeof(xen_pfn_t));
	rc = pvk_rt_hypercall(rt, __HYPERVISOR_memory_op, cmd, 0, r, len, 0,
			      NULL, NULL);
	free(r);
	return rc;
}

long pvk_mem_decrease(struct pvk_rt *rt, const xen_pfn_t *gpfns, uint64_t n)
{
	return mem_op(rt, XENMEM_decrease_reservation, gpfns, n);
}

long pvk_mem_populate(struct pvk_rt *rt, const xen_pfn_t *gpfns, uint64_t n)
{
	return mem_op(rt, XENMEM_populate_physmap, gpfns, n);
}

int pvk_rt_hvm_param(struct pvk_rt *rt, uint32_t index, uint64_t *value)
{
	return pvk_dom_get_param(rt, DOMID_SELF, index, value);
}

/* ---- grant table client ---- */

static int gnt_setup(struct pvk_rt *rt, uint32_t frames)
{
	struct {
		struct gnttab_setup_table t;
		xen_pfn_t f[64];
	} a = {{.dom = DOMID_SELF, .nr_frames = frames}, {0}};
	uint32_t first = rt->gnt_frames * GNT_PER_FRAME, i, n;
	grant_ref_t *nf;
	long rc;

	if (frames > 64)
		return -ENOSPC;
	rc = pvk_rt_hypercall(rt, __HYPERVISOR_grant_table_op,
			      GNTTABOP_setup_table, 1, &a,
			      sizeof(a.t) + frames * sizeof(xen_pfn_t),
			      sizeof(a.t) + frames * sizeof(xen_pfn_t), NULL,
			      NULL);
	if (rc < 0)
		return (int)rc;
	if (a.t.status != GNTST_okay)
		return -ENOSPC;
	n = frames * GNT_PER_FRAME;
	nf = realloc(rt->gnt_free, n * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	rt->gnt_free = nf;
	for (i = n; i > first; i--)
		if (i - 1 >= GNT_RESERVED)
			rt->gnt_free[rt->nr_gnt_free++] = i - 1;
	rt->gnt_frames = frames;
	return 0;
}

grant_entry_v1_t *pvk_gnt_entry(struct pvk_rt *rt, grant_ref_t ref)
{
	if (!rt->mem || ref >= rt->gnt_frames * GNT_PER_FRAME)
		return NULL;
	return (grant_entry_v1_t *)(rt->mem +
				    (rt->hello.special_gpfn +
				     PVK_SPECIAL_GNTTAB) *
					    PAGE_SIZE) +
	       ref;
}

int pvk_gnt_grant(struct pvk_rt *rt, domid_t dom, xen_pfn_t gpfn,
		  bool readonly, grant_ref_t *ref)
{
	grant_entry_v1_t *e;
	grant_ref_t r;
	int rc = 0;

	if (!rt->mem)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&rt->gnt_lock);
	if (!rt->nr_gnt_free) {
		uint32_t want = rt->gnt_frames ? rt->gnt_frames * 2 : 4;

		if (want > rt->hello.max_grant_frames)
			want = rt->hello.max_grant_frames;
		if (want <= rt->gnt_frames)
			rc = -ENOSPC;
		else
			rc = gnt_setup(rt, want);
	}
	if (rc) {
		pthread_mutex_unlock(&rt->gnt_lock);
		return rc;
	}
	r = rt->gnt_free[--rt->nr_gnt_free];
	pthread_mutex_unlock(&rt->gnt_lock);
	e = pvk_gnt_entry(rt, r);
	e->frame = (uint32_t)gpfn;
	e->domid = dom;
	/* frame and domid must be visible before the flags enable it */
	__atomic_store_n(&e->flags,
			 (uint16_t)(GTF_permit_access |
				    (readonly ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
	*ref = r;
	return 0;
}

int pvk_gnt_end(struct pvk_rt *rt, grant_ref_t ref)
{
	grant_entry_v1_t *e = pvk_gnt_entry(rt, ref);
	uint16_t flags;

	if (!e || ref < GNT_RESERVED)
		return -EINVAL;
	flags = __atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);
	do {
		if (flags & (GTF_reading | GTF_writing))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&e->flags, &flags, 0, false,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST));
	pthread_mutex_lock(&rt->gnt_lock);
	rt->gnt_free[rt->nr_gnt_free++] = ref;
	pthread_mutex_unlock(&rt->gnt_lock);
	return 0;
}

/* ---- Dom0 toolstack operations ---- */

int pvk_dom_create(struct pvk_rt *rt, const char *name, uint64_t max_kib,
		   uint64_t mem_kib, unsigned int vcpus, const char *cmdline,
		   domid_t *domid, int *chan_fd)
{
	struct pvk_hc_dom_create a;
	unsigned int nfds = 1;
	int fd = -1;
	long rc;

	memset(&a, 0, sizeof(a));
	if (strlen(name) >= sizeof(a.name) ||
	    (cmdline && strlen(cmdline) >= sizeof(a.cmdline)))
		return -ENAMETOOLONG;
	strcpy(a.name, name);
	if (cmdline)
		strcpy(a.cmdline, cmdline);
	a.max_pages = max_kib / 4;
	a.tot_pages = mem_kib / 4;
	a.vcpus = vcpus;
	rc = pvk_rt_hypercall(rt, PVK_HC_dom_create, 0, 0, &a, sizeof(a),
			      sizeof(a), &fd, &nfds);
	if (rc < 0)
		return (int)rc;
	if (nfds != 1)
		return -EPROTO;
	*domid = (domid_t)a.domid;
	*chan_fd = fd;
	return 0;
}

int pvk_dom_simple(struct pvk_rt *rt, uint32_t op, domid_t domid)
{
	struct pvk_hc_domid a = {.domid = domid};

	return (int)pvk_rt_hypercall(rt, op, 0, 0, &a, sizeof(a), 0, NULL,
				     NULL);
}

int pvk_dom_list(struct pvk_rt *rt, domid_t first, struct pvk_dominfo *out,
		 unsigned int max)
{
	struct pvk_dominfo *buf;
	struct pvk_hc_domid a = {.domid = first, .value = max};
	size_t len = (size_t)max * sizeof(*out);
	long rc;

	if (len < sizeof(a))
		len = sizeof(a);
	if (len > PVK_HC_MAX_MSG - 64)
		return -E2BIG;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &a, sizeof(a));
	/* The request carries only the pvk_hc_domid; the reply the list. */
	rc = pvk_rt_hypercall(rt, PVK_HC_dom_list, 0, 0, buf, len, len, NULL,
			      NULL);
	if (rc >= 0)
		memcpy(out, buf, (size_t)rc * sizeof(*out));
	free(buf);
	return (int)rc;
}

int pvk_dom_set_param(struct pvk_rt *rt, domid_t domid, uint32_t index,
		      uint64_t value)
{
	struct xen_hvm_param a = {.domid = domid, .index = index,
				  .value = value};

	return (int)pvk_rt_hypercall(rt, __HYPERVISOR_hvm_op, HVMOP_set_param,
				     0, &a, sizeof(a), 0, NULL, NULL);
}

int pvk_dom_get_param(struct pvk_rt *rt, domid_t domid, uint32_t index,
		      uint64_t *value)
{
	struct xen_hvm_param a = {.domid = domid, .index = index};
	long rc = pvk_rt_hypercall(rt, __HYPERVISOR_hvm_op, HVMOP_get_param,
				   0, &a, sizeof(a), sizeof(a), NULL, NULL);

	if (rc < 0)
		return (int)rc;
	*value = a.value;
	return 0;
}

int pvk_foreign_map(struct pvk_rt *rt, domid_t dom, const xen_pfn_t *gfns,
		    uint32_t count, bool writable, void **addr)
{
	struct pvk_hc_foreign_map *a;
	size_t len;
	unsigned int nfds = 1;
	int fd = -1, prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint8_t *base = MAP_FAILED;
	uint32_t i;
	long rc;

	if (!count || count > (PVK_HC_MAX_MSG - 256) / sizeof(xen_pfn_t))
		return -EINVAL;
	len = sizeof(*a) + count * sizeof(xen_pfn_t);
	a = calloc(1, len);
	if (!a)
		return -ENOMEM;
	a->domid = dom;
	a->count = count;
	memcpy(a + 1, gfns, count * sizeof(xen_pfn_t));
	rc = pvk_rt_hypercall(rt, PVK_HC_foreign_map, 0, 0, a, len, 0, &fd,
			      &nfds);
	free(a);
	if (rc < 0)
		return (int)rc;
	if (nfds != 1)
		return -EPROTO;
	base = mmap(NULL, (size_t)count * PAGE_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (mmap(base + (size_t)i * PAGE_SIZE, PAGE_SIZE, prot,
			 MAP_SHARED | MAP_FIXED, fd,
			 (off_t)(gfns[i] * PAGE_SIZE)) == MAP_FAILED) {
			rc = -errno;
			munmap(base, (size_t)count * PAGE_SIZE);
			goto out;
		}
	}
	*addr = base;
	rc = 0;
out:
	close(fd);
	return (int)rc;
}
