/*
 * nettap.c - a vif as a TAP interface (nettap.h says what and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netif/netif.h"
#include "nettap.h"
#include "pvkit/netfront.h"

/* Received headers parsed from (and written from) a copy of this much. */
#define NT_HEAD 512u

struct nettap {
	struct netfront *nf;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	/* one TAP queue per netfront queue, each read by its own thread
	 * (the kernel keeps a flow to one queue, so to one netfront queue) */
	int tapfd[NETFRONT_MAX_QUEUES];
	unsigned int ntap;
	int nsfd, stopfd;
	pthread_t tx[NETFRONT_MAX_QUEUES], rx;
	bool tx_started[NETFRONT_MAX_QUEUES], rx_started, handler;
	bool stopping;	     /* atomic: the tx threads leave */
	size_t tx_cap;	     /* the largest frame netfront takes */
	uint64_t reconnects; /* netfront's, when we last announced */
};

/* ---- the namespace and the interface (on a thread of their own) ------ */

struct setup_job {
	const char *ns;
	struct nettap *t;
	unsigned int mtu, offload;
	int rc;
};

static int if_ioctl(int s, unsigned long req, struct ifreq *ifr)
{
	return ioctl(s, req, ifr) < 0 ? -errno : 0;
}

/* This thread into namespace ns, creating it if it does not exist. */
static int enter_netns(const char *ns)
{
	char path[128];
	int fd, rc;

	if (snprintf(path, sizeof(path), PVK_NETNS_DIR "/%s", ns) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
		close(fd);
		if (!rc)
			return 0;
		/* a plain file left by a namespace that is gone */
	}
	if (mkdir(PVK_NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	if (unshare(CLONE_NEWNET) < 0 || mount("/proc/thread-self/ns/net", path,
					       "none", MS_BIND, NULL) < 0) {
		rc = -errno;
		unlink(path);
		return rc;
	}
	pvk_info("network namespace %s created", ns);
	return 0;
}

static void *setup_thread(void *arg)
{
	struct setup_job *j = arg;
	struct nettap *t = j->t;
	struct ifreq ifr;
	unsigned int i;
	int s = -1, hdr = sizeof(struct virtio_net_hdr);

	j->rc = j->ns ? enter_netns(j->ns) : 0;
	if (j->rc) {
		pvk_err("network namespace %s: %s", j->ns, strerror(-j->rc));
		return NULL;
	}
	t->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->nsfd < 0 || s < 0) {
		j->rc = -errno;
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (!if_ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		if_ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	memset(&ifr, 0, sizeof(ifr));
	for (i = 0; i < t->ntap && !j->rc; i++) {
		/* not blocking: the tx threads read until empty */
		t->tapfd[i] =
		    open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
		if (t->tapfd[i] < 0) {
			j->rc = -errno;
			pvk_err("/dev/net/tun: %s (no TUN/TAP driver?)",
				strerror(errno));
			goto out;
		}
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
				(t->ntap > 1 ? IFF_MULTI_QUEUE : 0);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->ifname);
		j->rc = ioctl(t->tapfd[i], TUNSETIFF, &ifr) < 0 ? -errno : 0;
		if (!j->rc &&
		    (ioctl(t->tapfd[i], TUNSETVNETHDRSZ, &hdr) < 0 ||
		     ioctl(t->tapfd[i], TUNSETOFFLOAD, j->offload) < 0))
			j->rc = -errno;
	}
	if (!j->rc) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, t->mac, 6);
		j->rc = if_ioctl(s, SIOCSIFHWADDR, &ifr);
	}
	if (!j->rc) {
		ifr.ifr_mtu = (int)j->mtu;
		j->rc = if_ioctl(s, SIOCSIFMTU, &ifr);
	}
	if (!j->rc)
		j->rc = if_ioctl(s, SIOCGIFFLAGS, &ifr);
	if (!j->rc) {
		ifr.ifr_flags |= IFF_UP;
		j->rc = if_ioctl(s, SIOCSIFFLAGS, &ifr);
	}
out:
	if (j->rc)
		pvk_err("%s in %s: %s", t->ifname,
			j->ns ? j->ns : "this namespace", strerror(-j->rc));
	if (s >= 0)
		close(s);
	return NULL;
}

/* ---- TAP -> netfront ---------------------------------------------------- */

struct tx_job {
	struct nettap *t;
	unsigned int queue;
};

/* TAP queue -> netfront queue, each frame read straight into the pages
 * shared with the backend (netfront_tx_reserve). */
static void *tx_thread(void *arg)
{
	struct tx_job *job = arg;
	struct nettap *t = job->t;
	unsigned int qi = job->queue, i;
	struct virtio_net_hdr vh;
	struct netfront_meta m;
	struct netfront_txbuf b;
	struct pollfd p[2] = {{.fd = t->tapfd[qi], .events = POLLIN},
			      {.fd = t->stopfd, .events = POLLIN}};
	struct iovec iov[2 + NETFRONT_TX_MAX_PAGES];
	uint8_t tail; /* a frame reaching it is larger than netfront takes */
	ssize_t n;
	int rc;

	free(job);
	/* Read while frames come (the fd does not block), sleep in poll
	 * once the queue is empty. */
	while (!__atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE)) {
		rc = netfront_tx_reserve(t->nf, qi, t->tx_cap, &b, 1000);
		if (rc == -EIO)
			break; /* broken: the frames have nowhere to go */
		if (rc)
			continue;
		iov[0].iov_base = &vh;
		iov[0].iov_len = sizeof(vh);
		for (i = 0; i < b.niov; i++)
			iov[1 + i] = b.iov[i];
		iov[1 + i].iov_base = &tail;
		iov[1 + i].iov_len = 1;
		n = readv(t->tapfd[qi], iov, (int)b.niov + 2);
		if (n < 0) {
			netfront_tx_cancel(t->nf, &b, 0); /* nothing written */
			if (errno == EAGAIN &&
			    (poll(p, 2, -1) < 0 ? errno != EINTR
						: p[1].revents))
				break;
			continue;
		}
		n -= (ssize_t)sizeof(vh);
		if (n < (ssize_t)NETFRONT_MIN_FRAME || (size_t)n > t->tx_cap) {
			/* none, runt, too big */
			netfront_tx_cancel(t->nf, &b, n > 0 ? (size_t)n : 0);
			continue;
		}
		memset(&m, 0, sizeof(m));
		if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			m.flags |= NETFRONT_CSUM_BLANK;
		else if (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID)
			m.flags |= NETFRONT_DATA_VALIDATED;
		switch (vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
		case VIRTIO_NET_HDR_GSO_TCPV4:
			m.gso_type = NETFRONT_GSO_TCPV4;
			break;
		case VIRTIO_NET_HDR_GSO_TCPV6:
			m.gso_type = NETFRONT_GSO_TCPV6;
			break;
		default:
			break;
		}
		if (m.gso_type)
			m.gso_size = vh.gso_size;
		rc = netfront_tx_commit(t->nf, &b, (size_t)n, &m, 1000);
		if (rc == -EIO)
			break;
	}
	return NULL;
}

/* ---- netfront -> TAP ---------------------------------------------------- */

/* A gratuitous ARP for each IPv4 address of the interface (this thread
 * is in its namespace), as Linux's netfront has its peers notified after
 * a reconnection: switches learn where the MAC went. */
static void announce(struct nettap *t)
{
	struct ifaddrs *ifa, *i;
	uint8_t f[60];

	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *a = (const void *)i->ifa_addr;

		if (!a || a->sin_family != AF_INET ||
		    strcmp(i->ifa_name, t->ifname))
			continue;
		memset(f, 0, sizeof(f));
		memset(f, 0xff, 6);
		memcpy(f + 6, t->mac, 6);
		f[12] = 0x08, f[13] = 0x06; /* ARP */
		f[15] = 1, f[16] = 0x08, f[18] = 6,
		f[19] = 4; /* Ethernet/IPv4 */
		f[21] = 1; /* request */
		memcpy(f + 22, t->mac, 6);
		memcpy(f + 28, &a->sin_addr, 4);
		memcpy(f + 38, &a->sin_addr, 4);
		netfront_send(t->nf, f, sizeof(f), NULL, 1000);
	}
	freeifaddrs(ifa);
}

/* netfront's handler (its event thread): one frame, in place in the pages
 * the backend wrote, onto the TAP.  The headers the virtio-net header
 * describes are parsed from a copy and that copy is what the TAP gets, so
 * a backend changing the page meanwhile changes payload only. */
static void rx_frame(void *arg, const struct netfront_rx_frame *f)
{
	struct nettap *t = arg;
	struct virtio_net_hdr vh;
	uint8_t head[NT_HEAD];
	struct iovec iov[2 + NETFRONT_MAX_IOV];
	struct netif_l4 l4;
	size_t h = f->len < sizeof(head) ? f->len : sizeof(head), got, skip;
	unsigned int i, n = 2;

	for (i = 0, got = 0; i < f->niov && got < h; i++) {
		size_t c =
		    f->iov[i].iov_len < h - got ? f->iov[i].iov_len : h - got;

		memcpy(head + got, f->iov[i].iov_base, c);
		got += c;
	}
	memset(&vh, 0, sizeof(vh));
	if ((f->meta.flags & NETFRONT_CSUM_BLANK) &&
	    !netif_parse_l4(head, h, &l4)) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = l4.csum_start;
		vh.csum_offset = l4.csum_offset;
		if (f->meta.gso_type) {
			vh.gso_type = f->meta.gso_type == NETFRONT_GSO_TCPV4
					  ? VIRTIO_NET_HDR_GSO_TCPV4
					  : VIRTIO_NET_HDR_GSO_TCPV6;
			vh.gso_size = (uint16_t)f->meta.gso_size;
			vh.hdr_len = l4.hdr_len;
		}
	} else if (f->meta.flags & NETFRONT_CSUM_BLANK) {
		return; /* no header to finish it from */
	} else if (f->meta.flags & NETFRONT_DATA_VALIDATED) {
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	iov[1].iov_base = head;
	iov[1].iov_len = h;
	/* the rest, after the copied head */
	for (i = 0, skip = h; i < f->niov; i++) {
		if (f->iov[i].iov_len <= skip) {
			skip -= f->iov[i].iov_len;
			continue;
		}
		iov[n].iov_base = (uint8_t *)f->iov[i].iov_base + skip;
		iov[n].iov_len = f->iov[i].iov_len - skip;
		skip = 0;
		n++;
	}
	if (writev(t->tapfd[f->meta.queue % t->ntap], iov, (int)n) < 0 &&
	    errno != EAGAIN)
		pvk_debug("%s: TAP write: %s", t->ifname, strerror(errno));
}

/* Announce the interface after each reconnection (in its namespace). */
static void *announce_thread(void *arg)
{
	struct nettap *t = arg;
	struct netfront_stats st;
	struct pollfd p = {.fd = t->stopfd, .events = POLLIN};

	if (setns(t->nsfd, CLONE_NEWNET) < 0)
		pvk_warn("%s: cannot enter its namespace: no gratuitous ARP",
			 t->ifname);
	for (;;) {
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			break;
		if (p.revents)
			break;
		netfront_get_stats(t->nf, &st);
		if (st.reconnects != t->reconnects) {
			t->reconnects = st.reconnects;
			announce(t);
		}
		if (netfront_broken(t->nf))
			break;
	}
	return NULL;
}

/* ---- start / stop ------------------------------------------------------- */

void nettap_stop(struct nettap *t)
{
	uint64_t one = 1;
	unsigned int i;

	if (!t)
		return;
	__atomic_store_n(&t->stopping, true, __ATOMIC_RELEASE);
	if (t->stopfd >= 0 && write(t->stopfd, &one, sizeof(one)) < 0)
		pvk_warn("%s: cannot stop its threads", t->ifname);
	if (t->handler)
		netfront_set_rx_handler(t->nf, NULL, NULL);
	for (i = 0; i < t->ntap; i++)
		if (t->tx_started[i])
			pthread_join(t->tx[i], NULL);
	if (t->rx_started)
		pthread_join(t->rx, NULL);
	for (i = 0; i < t->ntap; i++)
		if (t->tapfd[i] >= 0)
			close(t->tapfd[i]); /* the interface goes with them */
	if (t->nsfd >= 0)
		close(t->nsfd);
	if (t->stopfd >= 0)
		close(t->stopfd);
	free(t);
}

int nettap_start(struct netfront *nf, const char *ns, const char *ifname,
		 struct nettap **out)
{
	const struct netfront_info *in = netfront_info(nf);
	struct setup_job j = {.ns = ns, .mtu = in->mtu};
	struct netfront_stats st;
	struct nettap *t;
	pthread_t thr;
	unsigned int i;
	int rc;

	if (!ifname[0] || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/') ||
	    strchr(ifname, ' '))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->nf = nf;
	t->nsfd = -1;
	t->ntap = in->nr_queues ? in->nr_queues : 1;
	for (i = 0; i < t->ntap; i++)
		t->tapfd[i] = -1;
	t->tx_cap = in->sg ? NETFRONT_MAX_FRAME : NETIF_PAGE_SIZE;
	t->stopfd = eventfd(0, EFD_CLOEXEC);
	memcpy(t->mac, in->mac, 6);
	netfront_get_stats(nf, &st);
	t->reconnects = st.reconnects;
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifname);
	/* What the domain's stack may hand us: partial checksums (the
	 * backend finishes them), and TSO where the backend takes GSO. */
	j.offload = in->csum_offload ? TUN_F_CSUM : 0;
	if (j.offload && in->sg && in->gso_tcpv4)
		j.offload |= TUN_F_TSO4;
	if (j.offload && in->sg && in->gso_tcpv6)
		j.offload |= TUN_F_TSO6;
	j.t = t;
	rc = t->stopfd < 0 ? -errno
			   : -pthread_create(&thr, NULL, setup_thread, &j);
	if (!rc) {
		pthread_join(thr, NULL);
		rc = j.rc;
	}
	for (i = 0; !rc && i < t->ntap; i++) {
		struct tx_job *job = malloc(sizeof(*job));

		if (!job) {
			rc = -ENOMEM;
			break;
		}
		job->t = t;
		job->queue = i;
		rc = -pthread_create(&t->tx[i], NULL, tx_thread, job);
		if (rc)
			free(job);
		t->tx_started[i] = !rc;
	}
	if (!rc)
		rc = -pthread_create(&t->rx, NULL, announce_thread, t);
	t->rx_started = !rc;
	if (!rc)
		rc = netfront_set_rx_handler(nf, rx_frame, t);
	t->handler = !rc;
	if (rc) {
		nettap_stop(t);
		return rc;
	}
	pvk_info("%s: in %s%s, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u",
		 t->ifname, ns ? "network namespace " : "this namespace",
		 ns ? ns : "", t->mac[0], t->mac[1], t->mac[2], t->mac[3],
		 t->mac[4], t->mac[5], in->mtu);
	*out = t;
	return 0;
}
